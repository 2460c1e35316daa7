"""Named scenarios: a profile with its weights, constraints and thresholds in one YAML file or URL.

The same scenario is a small YAML file (``geo-engine score --scenario FILE``, the app's
download and upload) and a set of URL parameters (the app's shareable link).
"""

from __future__ import annotations

import math
import re
import tempfile
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from geo_engine._errors import ScenarioError, SpecError, validation_lines
from geo_engine.io.yaml_io import dump_yaml, load_model, load_yaml
from geo_engine.scoring.profiles import AGGREGATIONS, Constraint, Profile

__all__ = [
    "CUSTOM",
    "Focus",
    "PlanSettings",
    "Scenario",
    "Thresholds",
    "apply_scenario",
    "check_scenario_layers",
    "constraint_text",
    "custom_extras",
    "custom_profile",
    "load_scenario",
    "read_scenario_bytes",
    "scenario_from_params",
    "scenario_id",
    "scenario_params",
    "scenario_profile",
    "scenario_yaml",
]

CUSTOM = "custom"
"""Id of the profile a user assembles from any layers (the app's custom profile)."""

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
"""Profile and layer ids in a scenario: letters, digits, ``_ . -``; at most 64 characters."""

_RULE = re.compile(r"^([A-Za-z0-9_.-]{1,64})(<=|>=|==|!=|<|>)(.{1,32})$")
"""A constraint in a link: ``layer``, operator, value (``protected_strict<0.5``)."""

_MOST_LAYERS = 200
"""At most this many layers in a scenario's custom profile."""

_LINK_RATIONALE = "Added by a scenario (the link does not carry its rationale)."

_CODE = r"^[^\x00-\x1f\x7f]{0,64}$"
"""Unit codes (a region's own may hold any printable character): at most 64, no control codes."""


class PlanSettings(BaseModel):
    """Thresholds and options of a site plan (see :class:`geo_engine.planning.sites.SiteOptions`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    sites: int | None = Field(default=None, ge=1)
    budget: float | None = Field(default=None, gt=0)
    reach_minutes: float = Field(default=120.0, gt=0)
    candidates: int = Field(default=2000, ge=1)
    min_km: float = Field(default=0.0, ge=0)
    per_department: int | None = Field(default=None, ge=1)
    niche_min: float = Field(default=2 / 3, ge=0, le=1)


class Thresholds(BaseModel):
    """Typology thresholds: the quantile of the engine and inclusion scores above which a cell counts."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    engine: float = Field(default=2 / 3, ge=0.5, le=0.95)
    inclusion: float = Field(default=2 / 3, ge=0.5, le=0.95)


class Focus(BaseModel):
    """The part of the region a view looks at: a department and province, or a unit (codes)."""

    model_config = ConfigDict(extra="forbid")
    department: str = Field(default="", pattern=_CODE)
    province: str = Field(default="", pattern=_CODE)
    unit: str = Field(default="", pattern=_CODE)


class Scenario(BaseModel):
    """A named scenario file.

    Example::

        id: agro_south
        title: Agro-food programs in the south, 12 sites
        profile: agro_food
        weights: {crop_value_andean_grains: 3, crop_value_coffee: 1}
        constraints:
          - {layer: protected_strict, op: "<", value: 0.5, rationale: No programs in parks.}
        drop_constraints: [slope]
        thresholds: {engine: 0.75, inclusion: 0.667}
        focus: {department: "21"}
        plan: {sites: 12, reach_minutes: 90, min_km: 30, per_department: 3}

    ``weights`` are relative (the app's sliders, 0–5) and need not name every layer: the others
    keep the profile's weight. ``constraints`` are added to the profile's; ``drop_constraints``
    names layers whose constraints of the profile are switched off. ``focus`` is the app's view
    (the command line scores the whole region).

    A scenario of the app's custom profile (``profile: custom``) carries that profile under
    ``custom``: a profile document checked like the region's profile files (its id ``custom``,
    its layers by id, no file paths); without it, the layers its ``weights`` name are combined
    by weighted linear combination.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    title: str = Field(default="", max_length=200)
    profile: str = Field(pattern=_NAME)
    weights: dict[str, float] = Field(default_factory=dict, max_length=500)
    constraints: list[Constraint] = Field(default_factory=list, max_length=100)
    drop_constraints: list[str] = Field(default_factory=list, max_length=100)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    focus: Focus = Field(default_factory=Focus)
    plan: PlanSettings = Field(default_factory=PlanSettings)
    custom: Profile | None = None

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        names = [k for k in value if not re.match(_NAME, k)]
        if names:
            msg = f"weights name layers by id (letters, digits, _ . -): {names[:3]}"
            raise ValueError(msg)
        bad = {k: v for k, v in value.items() if not 0 <= v <= 1e6}
        if bad:
            msg = f"weights must be ≥ 0 and at most 1e6 (0 leaves a layer out): {bad}"
            raise ValueError(msg)
        return value

    @field_validator("drop_constraints")
    @classmethod
    def _layer_ids(cls, value: list[str]) -> list[str]:
        names = [k for k in value if not re.match(_NAME, k)]
        if names:
            msg = f"drop_constraints lists layer ids (letters, digits, _ . -): {names[:3]}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _layer_names(self) -> Scenario:
        names = [c.layer for c in self.constraints if not re.match(_NAME, c.layer)]
        if names:
            msg = f"constraints name layers by id (letters, digits, _ . -): {names[:3]}"
            raise ValueError(msg)
        if self.custom is None:
            return self
        if self.profile != CUSTOM or self.custom.id != CUSTOM:
            msg = (f"`custom` defines the profile {CUSTOM!r}: write `profile: {CUSTOM}` and "
                   f"`custom: {{id: {CUSTOM}, …}}` (found profile {self.profile!r}, custom id "
                   f"{self.custom.id!r})")
            raise ValueError(msg)
        if len(self.custom.layers) > _MOST_LAYERS:
            msg = f"`custom` has {len(self.custom.layers)} layers; at most {_MOST_LAYERS}"
            raise ValueError(msg)
        names = [i for i in _profile_layer_ids(self.custom) if not re.match(_NAME, i)]
        if names:
            msg = f"`custom` names layers by id (letters, digits, _ . -): {names[:3]}"
            raise ValueError(msg)
        return self


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file.

    Raises
    ------
    SpecError
        On one line, naming the file, the key, the value and the fix (problems joined by ``;``).
    """
    try:
        return load_model(path, Scenario, what="scenario",
                          keys="id, profile, weights, constraints, thresholds, plan")
    except SpecError as exc:
        raise SpecError("; ".join(line.strip() for line in str(exc).splitlines()
                                  if line.strip()).replace("invalid scenario:; ",
                                                           "invalid scenario: ")) from None


def read_scenario_bytes(data: bytes, *, name: str) -> Scenario:
    """Load a scenario uploaded as bytes, with the checks of :func:`load_scenario`.

    Messages name the file as ``name`` (the uploaded file's name), not the temporary copy.

    Raises
    ------
    ScenarioError
        With the message of :func:`load_scenario` and its ``problems`` (:func:`_problems`).
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name)[:80] or "scenario.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / safe
        path.write_bytes(data)
        try:
            return load_scenario(path)
        except SpecError as exc:
            raise ScenarioError(str(exc).replace(str(path), name),
                                _problems(path, name)) from None


SCENARIO_KEYS = "id, title, profile, weights, constraints, drop_constraints, thresholds, focus, plan"
"""The keys a scenario file may hold."""

_NUMBER_ERRORS = {"float_parsing", "float_type", "int_parsing", "int_type", "finite_number",
                  "greater_than", "greater_than_equal", "less_than", "less_than_equal",
                  "int_from_float"}
_LIMITS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def _problems(path: Path, name: str) -> tuple[tuple[str, dict[str, str]], ...]:
    """Return why a scenario file does not load, as message ids and fields (see :class:`ScenarioError`).

    The file is read again (it is small) to find the kind of each problem: not readable as YAML
    (with the line), not a mapping, or a key with a missing, unknown or invalid value.
    """
    try:
        doc = load_yaml(path, what="scenario")
    except SpecError as exc:
        mark = (getattr(exc.__cause__, "problem_mark", None)
                or getattr(exc.__cause__, "context_mark", None))
        if mark is not None:  # an anchor or alias is refused as such, else the YAML is broken
            anchor = "anchor" in str(getattr(exc.__cause__, "problem", ""))
            return (("scenario_err_anchor" if anchor else "scenario_err_yaml",
                     {"where": name, "line": str(mark.line + 1)}),)
        return (("scenario_err_unreadable", {"where": name}),)
    if not isinstance(doc, dict):
        return (("scenario_err_not_mapping", {"where": name, "keys": SCENARIO_KEYS}),)
    try:
        Scenario.model_validate(doc)
    except ValidationError as exc:
        return _field_problems(exc, name)
    return ()


def _field_problems(exc: ValidationError, where: str, *,
                    names: Mapping[str, str] | None = None) -> tuple[tuple[str, dict[str, str]], ...]:
    """Return each problem of a validation as a message id and its fields (``names`` renames keys)."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(scenario)"
        for key, new in (names or {}).items():
            field = field.replace(key, new)
        value = err.get("input")
        fields = {"where": where, "field": field, "value": repr(value)[:60]}
        kind = err["type"]
        if kind == "missing":
            out.append(("scenario_err_missing", fields))
        elif kind == "extra_forbidden":
            out.append(("scenario_err_unknown_key", {**fields, "keys": SCENARIO_KEYS}))
        elif kind in _NUMBER_ERRORS:
            limits = " ".join(f"{_LIMITS[k]} {v}" for k, v in (err.get("ctx") or {}).items()
                              if k in _LIMITS)
            out.append(("scenario_err_number", {**fields, "limits": limits or "—"}))
        elif kind.startswith("string_"):
            out.append(("scenario_err_text", fields))
        elif kind == "value_error" and field.split(".")[0] == "weights":
            out.append(("scenario_err_weights", fields))
        else:
            out.append(("scenario_err_value", fields))
    return tuple(out)


def scenario_id(title: str) -> str:
    """Return a scenario id (lower case, digits, ``_``) made from a title.

    Examples
    --------
    >>> scenario_id("Agro-food: the South, 12 sites")
    'agro_food_the_south_12_sites'
    """
    plain = "".join(c for c in unicodedata.normalize("NFKD", title)
                    if not unicodedata.combining(c)).lower()
    words = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:60].strip("_")
    return words if re.match(r"^[a-z]", words) else f"scenario_{words}".strip("_")


def custom_profile(layer_ids: Sequence[str], *, aggregation: str = "wlc",
                   title: str = "Custom") -> Profile:
    """Return a profile of the given layers with equal weights (changed later by the sliders)."""
    agg: dict[str, Any] = {"method": aggregation}
    if aggregation == "owa":
        agg["orness"] = 0.5
    return Profile.model_validate({
        "id": CUSTOM, "kind": "custom", "title": {"es": title, "en": title},
        "description": "Layers and weights chosen by the user.", "aggregation": agg,
        "layers": [{"id": lid, "weight": 1.0, "rationale": "chosen by the user"}
                   for lid in layer_ids]})


def custom_extras(profile: Profile) -> list[str]:
    """Return the keys of a custom profile beyond what :func:`custom_profile` sets.

    The app builds its custom profile from layers, weights and an aggregation method only; the
    keys returned (``missing``, ``evidence``, ``layers.0.normalization``…) are those a scenario's
    custom profile sets that the app cannot show (the command line scores them).

    Examples
    --------
    >>> mine = custom_profile(["roads"], aggregation="wgm")
    >>> custom_extras(mine), custom_extras(mine.model_copy(update={"missing": "exclude"}))
    ([], ['missing'])
    """
    built = custom_profile([lay.id for lay in profile.layers], aggregation=profile.aggregation.method)
    ours, plain = profile.model_dump(), built.model_dump()
    keys = [k for k in ours if k not in ("title", "description", "layers") and ours[k] != plain[k]]
    return keys + [f"layers.{i}.{key}" for i, lay in enumerate(profile.layers)
                   for key in ("direction", "normalization", "missing")
                   if getattr(lay, key) is not None]


def scenario_profile(scenario: Scenario, profiles: Mapping[str, Profile], *,
                     layers: Collection[str]) -> Profile:
    """Return the profile a scenario scores: its base profile with the scenario's changes.

    The base is the region's profile the scenario names, or for ``profile: custom`` the
    custom profile it carries (or, without one, the layers its weights name, combined by
    weighted linear combination).

    Parameters
    ----------
    scenario : Scenario
    profiles : mapping of str to Profile
        The region's profiles by id.
    layers : collection of str
        The layers the region has (the indicator matrix's columns).

    Raises
    ------
    SpecError
        If the region lacks the profile, or a layer the scenario's profile or constraints name;
        and as :func:`apply_scenario`.
    """
    if scenario.profile == CUSTOM and CUSTOM not in profiles:
        if scenario.custom is None and not scenario.weights:
            msg = (f"scenario {scenario.id!r} is for the custom profile but neither carries it "
                   "(`custom:`) nor names its layers (`weights:`); add either")
            raise SpecError(msg)
        base = scenario.custom or custom_profile(list(scenario.weights))
    elif scenario.profile in profiles:
        base = profiles[scenario.profile]
    else:
        msg = (f"scenario {scenario.id!r}: no profile {scenario.profile!r} in the region; "
               f"known: {sorted(profiles)} or {CUSTOM!r} (with a `custom:` profile)")
        raise SpecError(msg)
    profile = apply_scenario(base, scenario)
    check_scenario_layers(scenario, profile, layers=layers)
    return profile


def check_scenario_layers(scenario: Scenario, profile: Profile, *, layers: Collection[str]) -> None:
    """Raise :class:`SpecError` if the scenario's profile names layers the region does not have.

    The message names the scenario, each unknown layer with its key in the profile
    (``layers.2.id``, ``constraints.0.layer``…) and the region's layers.
    """
    try:
        profile.check_layers(set(layers), source="the region")
    except SpecError as exc:
        raise SpecError(f"scenario {scenario.id!r}: "
                        + str(exc).split(": ", 1)[-1]) from None


def constraint_text(constraint: Constraint) -> str:
    """Return a constraint as a link writes it: layer, operator and value.

    Examples
    --------
    >>> constraint_text(Constraint(layer="slope", op="<=", value=15, rationale="r"))
    'slope<=15.0'
    """
    return f"{constraint.layer}{constraint.op}{float(constraint.value)!r}"


def apply_scenario(profile: Profile, scenario: Scenario) -> Profile:
    """Return the profile with the scenario's weights (for the layers it names) and constraints.

    The scenario's constraints are added to the profile's, less those on ``drop_constraints``.

    Raises
    ------
    SpecError
        If the scenario is for another profile, weighs layers the profile does not have, or
        drops constraints the profile does not have.
    """
    if scenario.profile != profile.id:
        msg = f"scenario {scenario.id!r} is for profile {scenario.profile!r}, not {profile.id!r}"
        raise SpecError(msg)
    ids = [layer.id for layer in profile.layers]
    unknown = sorted(set(scenario.weights) - set(ids))
    if unknown:
        msg = (f"scenario {scenario.id!r} weighs layers {unknown} that profile {profile.id!r} "
               f"lacks; its layers are {ids}")
        raise SpecError(msg)
    own = {c.layer for c in profile.constraints}
    absent = [layer for layer in scenario.drop_constraints if layer not in own]
    if absent:
        msg = (f"scenario {scenario.id!r} drops constraints on {absent} but profile "
               f"{profile.id!r} constrains only {sorted(own)}")
        raise SpecError(msg)
    layers = [layer.model_copy(update={"weight": scenario.weights.get(layer.id, layer.weight)})
              for layer in profile.layers]
    kept = [c for c in profile.constraints if c.layer not in scenario.drop_constraints]
    doc = profile.model_dump()
    doc.update(layers=[lay.model_dump() for lay in layers],
               constraints=[c.model_dump() for c in [*kept, *scenario.constraints]])
    try:
        return Profile.model_validate(doc)
    except ValidationError as exc:
        raise SpecError(f"scenario {scenario.id!r}: " + validation_lines(
            exc, prefix=scenario.id, whole="(profile)")) from exc


def _profile_layer_ids(profile: Profile) -> list[str]:
    """Return every layer id a profile names: layers, constraints, evidence, gate, hubs."""
    return [*(lay.id for lay in profile.layers), *(c.layer for c in profile.constraints),
            *(e.layer for e in [*profile.evidence, *profile.gate, *profile.hubs])]


def scenario_yaml(scenario: Scenario) -> str:
    """Return a scenario as the YAML text :func:`load_scenario` reads back."""
    return dump_yaml(scenario.model_dump(mode="json", exclude_defaults=True), width=100)


def scenario_params(scenario: Scenario) -> dict[str, str]:
    """Return the URL parameters of a scenario's view (those at their default are left out).

    ``profile``, ``weights`` (``layer:weight,…``), ``off`` (layers whose constraints are off),
    ``add`` (added constraints, ``layer<value,…``: :func:`constraint_text`), ``agg`` (the custom
    profile's aggregation), ``thresholds`` (``engine,inclusion``) and the focus as ``dep``,
    ``prov``, ``unit``. The id, title, the rationale of added constraints, plan settings and
    anything of a custom profile beyond its layers and aggregation stay in the file only.
    """
    agg = scenario.custom.aggregation.method if scenario.custom is not None else "wlc"
    params = {"profile": scenario.profile,
              "weights": ",".join(f"{k}:{v:g}" for k, v in scenario.weights.items()),
              "off": ",".join(scenario.drop_constraints),
              "add": ",".join(constraint_text(c) for c in scenario.constraints),
              "agg": agg if agg != "wlc" else ""}
    th = scenario.thresholds
    if not (math.isclose(th.engine, 2 / 3, abs_tol=5e-3)
            and math.isclose(th.inclusion, 2 / 3, abs_tol=5e-3)):
        params["thresholds"] = f"{th.engine:g},{th.inclusion:g}"
    params |= {"dep": scenario.focus.department, "prov": scenario.focus.province,
               "unit": scenario.focus.unit}
    return {k: v for k, v in params.items() if v}


def scenario_from_params(params: Mapping[str, str]) -> Scenario:
    """Return the scenario a link's URL parameters describe (:func:`scenario_params`).

    Raises
    ------
    ScenarioError
        On one line, naming the parameter, its value and the form it takes; its ``problems``
        say the same by message id.
    """
    def pairs(name: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for item in filter(None, params.get(name, "").split(",")):
            key, sep, value = item.partition(":")
            try:
                out[key] = float(value) if sep else math.nan
            except ValueError:
                out[key] = math.nan
            if not math.isfinite(out[key]):
                msg = (f"URL parameter {name}: {item[:40]!r} is not layer:weight; write e.g. "
                       f"{name}=crops:3,roads:1")
                raise ScenarioError(msg, (("link_err_pairs", {"name": name,
                                                               "value": repr(item[:40])}),))
        return out

    text = params.get("thresholds", "")
    parts = text.split(",") if text else []
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if parts and len(values) != 2:
        msg = f"URL parameter thresholds: {text[:40]!r} is not two numbers; write e.g. 0.7,0.67"
        raise ScenarioError(msg, (("link_err_thresholds", {"value": repr(text[:40])}),))
    weights = pairs("weights")
    doc = {"id": "link", "profile": params.get("profile", ""), "weights": weights,
           "drop_constraints": [v for v in params.get("off", "").split(",") if v],
           "constraints": [_link_constraint(item) for item in params.get("add", "").split(",")
                           if item],
           "thresholds": dict(zip(("engine", "inclusion"), values, strict=True)) if values else {},
           "focus": {"department": params.get("dep", ""), "province": params.get("prov", ""),
                     "unit": params.get("unit", "")}}
    agg = params.get("agg", "")
    if agg and (doc["profile"] != CUSTOM or agg not in AGGREGATIONS):
        msg = (f"URL parameter agg: {agg[:40]!r} is the custom profile's aggregation, one of "
               f"{list(AGGREGATIONS)}, with profile={CUSTOM}")
        raise ScenarioError(msg, (("link_err_agg", {"value": repr(agg[:40]),
                                                    "options": ", ".join(AGGREGATIONS)}),))
    if doc["profile"] == CUSTOM and weights:
        doc["custom"] = custom_profile(list(weights), aggregation=agg or "wlc").model_dump()
    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        lines = validation_lines(exc, prefix="URL", whole="(link)", word="parameter")
        names = {"focus.department": "dep", "focus.province": "prov", "focus.unit": "unit",
                 "drop_constraints": "off", "constraints": "add", "custom": "weights"}
        for key, name in names.items():
            lines = lines.replace(f"`{key}", f"`{name}")
        raise ScenarioError("; ".join(lines.splitlines()),
                            _field_problems(exc, "URL", names=names)) from None


def _link_constraint(item: str) -> dict[str, Any]:
    """Return a constraint written in a link (:func:`constraint_text`) as a document.

    Raises
    ------
    ScenarioError
        If ``item`` is not a layer id, an operator and a finite number.
    """
    match = _RULE.match(item)
    try:
        value = float(match.group(3)) if match else math.nan
    except ValueError:
        value = math.nan
    if match is None or not math.isfinite(value):
        msg = (f"URL parameter add: {item[:40]!r} is not layer, operator, number; write e.g. "
               "add=protected_strict<0.5,slope<=15")
        raise ScenarioError(msg, (("link_err_add", {"value": repr(item[:40])}),))
    return {"layer": match.group(1), "op": match.group(2), "value": value,
            "rationale": _LINK_RATIONALE}
