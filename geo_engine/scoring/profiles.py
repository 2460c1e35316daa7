"""Scoring profiles: which layers, with what weights, aggregation, constraints and missing-data policy."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from geo_engine import settings
from geo_engine._errors import SpecError
from geo_engine.ingest.specs import Title
from geo_engine.io.yaml_io import load_model

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_RANK_BY",
    "MISSING_POLICIES",
    "RANK_BY",
    "Aggregation",
    "Constraint",
    "Evidence",
    "Normalization",
    "Profile",
    "ProfileLayer",
    "Ranking",
    "default_profiles_path",
    "load_profile",
    "load_profiles",
    "localized",
]

AGGREGATIONS = ("wlc", "wgm", "owa", "topsis")
"""Weighted linear combination, weighted geometric mean, ordered weighted averaging, TOPSIS."""

MISSING_POLICIES = ("exclude", "worst", "impute_admin")
"""What a profile does with a cell that has no value for a layer."""


Text = Annotated[str, Field(min_length=1)] | Title
"""A profile's prose: one text (English), or ``{es: …, en: …}``."""


def localized(text: Text, lang: str) -> str:
    """Return a profile text in ``lang`` (English when it has no such language, or is one string).

    Examples
    --------
    >>> localized(Title(es="Cobre", en="Copper"), "es"), localized("Copper", "es")
    ('Cobre', 'Copper')
    """
    if isinstance(text, Title):
        return str(getattr(text, lang, None) or text.en)
    return text


class Normalization(BaseModel):
    """How a layer is scaled to [0, 1] (see :func:`geo_engine.scoring.normalize.normalize`).

    ``winsorize`` (min–max only): ``auto`` (the default) clips skewed layers at the 1st and 99th
    percentiles (:func:`geo_engine.scoring.normalize.robust_limits`), ``[low, high]`` clips every layer at
    those percentiles, ``null`` keeps the plain range. ``decay`` turns a distance or travel time
    into :math:`2^{-x/h}` with ``half`` = :math:`h` in the layer's units, and needs a
    ``rationale`` for the half-distance chosen.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    method: Literal["minmax", "percentile", "zscore", "fuzzy", "decay"] = "minmax"
    winsorize: tuple[float, float] | Literal["auto"] | None = "auto"
    fuzzy_shape: Literal["linear", "sigmoid", "jshaped"] = "linear"
    fuzzy_points: list[float] | None = None
    half: float | None = Field(default=None, gt=0)
    rationale: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _method_parameters(self) -> Normalization:
        if self.method == "fuzzy" and not self.fuzzy_points:
            msg = "fuzzy normalization needs `fuzzy_points` (2 or 4 values in the layer's units)"
            raise ValueError(msg)
        if self.method == "decay" and (self.half is None or self.rationale is None):
            msg = ("decay normalization needs `half` (the distance or travel time, in the layer's "
                   "units, at which the score is 0.5) and a `rationale` for it")
            raise ValueError(msg)
        if self.method != "decay" and self.half is not None:
            msg = f"`half` is a parameter of method 'decay', not of {self.method!r}"
            raise ValueError(msg)
        if isinstance(self.winsorize, tuple) and not 0 <= self.winsorize[0] < self.winsorize[1] <= 100:
            msg = f"`winsorize` was {list(self.winsorize)} but needs 0 <= low < high <= 100"
            raise ValueError(msg)
        return self


class Aggregation(BaseModel):
    """How normalized layers combine into one score.

    ``owa`` takes either ``orness`` in [0, 1] (0 = the worst layer decides, 0.5 = WLC, 1 = the best
    layer decides) or explicit ``order_weights`` (one per layer, best value first).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    method: Literal["wlc", "wgm", "owa", "topsis"] = "wlc"
    orness: float | None = Field(default=None, ge=0, le=1)
    order_weights: list[float] | None = None

    @model_validator(mode="after")
    def _owa_parameters(self) -> Aggregation:
        if self.method == "owa" and self.orness is None and self.order_weights is None:
            msg = "owa needs `orness` (0–1) or `order_weights`"
            raise ValueError(msg)
        if self.order_weights is not None and (
            any(w < 0 for w in self.order_weights) or sum(self.order_weights) <= 0
        ):
            msg = "`order_weights` must be non-negative and not all zero"
            raise ValueError(msg)
        return self


class ProfileLayer(BaseModel):
    """A layer in a profile, with its weight and the reason for it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    weight: float
    rationale: Text
    direction: Literal["benefit", "cost"] | None = None
    normalization: Normalization | None = None
    missing: Literal["exclude", "worst", "impute_admin"] | None = None

    @field_validator("weight")
    @classmethod
    def _finite_weight(cls, value: float, info: ValidationInfo) -> float:
        if not math.isfinite(value) or value < 0:
            msg = (f"layer {info.data.get('id', '?')!r}: weight {value} is not a finite number ≥ 0; "
                   "write a plain number such as 1 or 0.5 (0 leaves the layer out)")
            raise ValueError(msg)
        return value


class Constraint(BaseModel):
    """A mask on raw values: cells that fail it are excluded before normalization."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    layer: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float
    rationale: Text


class Evidence(BaseModel):
    """An absolute level of one layer that is evidence of an activity or of its assets.

    Used three ways by a profile: ``evidence`` (a niche family exists where the level is met),
    ``gate`` (the profile's score is multiplied by the strength of the evidence: no resource, no
    score) and ``hubs`` (the cells where the level is met are real operations, for linkage).
    ``threshold`` and ``full`` are in the layer's own units, per ``per``:

    - ``cell``: the cell's value as the matrix holds it (shares, densities, distances…);
    - ``km2``: the cell's value divided by its area — for extensive layers spread over cells
      (production value, hectares), a density that does not depend on the H3 resolution;
    - ``district``: the sum of the layer over the cell's district — the district total of the
      source, for counts spread among cells (centres, permits, mining units).

    ``unless`` lists levels of other layers (each an :class:`Evidence`, its ``full`` and
    ``within_km`` unused) under which the item counts nowhere: a cell that meets one of them
    takes no strength from the item, even within reach of a cell that has it (a site's visitors
    are not the niche of a metropolis of millions).

    See :func:`geo_engine.scoring.evidence.evidence_strength` for the strength in [0, 1].
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    layer: str
    op: Literal[">=", "<="] = ">="
    threshold: float = Field(gt=0)
    full: float | None = Field(default=None, gt=0)
    per: Literal["cell", "km2", "district"] = "cell"
    within_km: float | None = Field(default=None, gt=0)
    unless: list[Evidence] = Field(default_factory=list)
    rationale: Text

    @model_validator(mode="after")
    def _full_beyond_threshold(self) -> Evidence:
        if self.full is not None and (
            (self.op == ">=" and self.full <= self.threshold)
            or (self.op == "<=" and self.full >= self.threshold)
        ):
            side = "above" if self.op == ">=" else "below"
            msg = (f"evidence {self.layer!r}: `full` ({self.full}) must be {side} `threshold` "
                   f"({self.threshold}) for op {self.op!r}")
            raise ValueError(msg)
        return self


class Ranking(BaseModel):
    """How admin units are ranked by a profile's score: the roll-up statistic and why.

    ``by`` is one of :data:`RANK_BY`: ``pop_weighted_mean`` (the score where
    the unit's people live: need, inclusion, services) or ``max`` (the unit's best cell: a
    resource known by its best site, wherever few people live), among others. ``geo-engine
    rank``, the app's rankings and ``geo-engine evaluate`` all rank the profile this way unless
    the user chooses another statistic.
    """

    model_config = ConfigDict(extra="forbid")
    by: str
    rationale: Text

    @field_validator("by")
    @classmethod
    def _known_statistic(cls, value: str) -> str:
        if value not in RANK_BY:
            msg = f"ranking.by was {value!r} but must be one of {list(RANK_BY)}"
            raise ValueError(msg)
        return value


RANK_BY = ("pop_weighted_mean", "mean", "max", "share_pop_top", "score_km2")
"""Statistics a roll-up can rank units by (:func:`geo_engine.reporting.rollup.rollup`)."""

DEFAULT_RANK_BY = "pop_weighted_mean"
"""The roll-up statistic of a profile without a ``ranking`` section: the score where people live."""


class Profile(BaseModel):
    """A scoring recipe (``layers/profiles/*.yaml``)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Title
    description: Text
    kind: Literal["engine", "need", "access", "family", "custom"] = "custom"
    aggregation: Aggregation = Field(default_factory=Aggregation)
    normalization: Normalization = Field(default_factory=Normalization)
    missing: Literal["exclude", "worst", "impute_admin"] = "worst"
    layers: list[ProfileLayer] = Field(min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    gate: list[Evidence] = Field(default_factory=list)
    hubs: list[Evidence] = Field(default_factory=list)
    ranking: Ranking | None = None
    _source: str = PrivateAttr(default="profile")

    @property
    def rank_by(self) -> str:
        """The statistic that ranks admin units by this profile (:class:`Ranking`)."""
        return self.ranking.by if self.ranking is not None else DEFAULT_RANK_BY

    @model_validator(mode="after")
    def _weights(self) -> Profile:
        ids = [layer.id for layer in self.layers]
        dups = sorted({i for i in ids if ids.count(i) > 1})
        if dups:
            msg = f"layers listed twice: {dups}"
            raise ValueError(msg)
        if sum(layer.weight for layer in self.layers) <= 0:
            msg = "all weights are zero; give at least one layer a positive weight"
            raise ValueError(msg)
        ow = self.aggregation.order_weights
        if ow is not None and len(ow) != len(self.layers):
            msg = f"`order_weights` has {len(ow)} values for {len(self.layers)} layers"
            raise ValueError(msg)
        return self

    def weights(self) -> dict[str, float]:
        """Return the layer weights normalized to sum to 1."""
        total = sum(layer.weight for layer in self.layers)
        return {layer.id: layer.weight / total for layer in self.layers}

    def check_layers(self, available: set[str], *, source: str = "the indicator matrix") -> None:
        """Raise :class:`SpecError` if the profile names layers that are not available.

        The message names the profile's file (when loaded from one), the keys and the layers
        ``source`` offers.
        """
        unknown = [f"layers.{i}.id = {layer.id!r}" for i, layer in enumerate(self.layers)
                   if layer.id not in available]
        unknown += [f"constraints.{i}.layer = {c.layer!r}" for i, c in enumerate(self.constraints)
                    if c.layer not in available]
        unknown += [f"{key}.{i}.{sub}layer = {e.layer!r}"
                    for key, items in (("evidence", self.evidence), ("gate", self.gate),
                                       ("hubs", self.hubs))
                    for i, item in enumerate(items)
                    for sub, e in [("", item), *((f"unless.{j}.", u)
                                                 for j, u in enumerate(item.unless))]
                    if e.layer not in available]
        if unknown:
            msg = (f"{self._source}: profile {self.id!r} names layers that {source} does not have: "
                   f"{'; '.join(unknown)}; available: {sorted(available)}")
            raise SpecError(msg)


def default_profiles_path(region: str | None = None) -> Path:
    """Return the folder of the shipped profiles of a region (``layers/<region>/profiles``)."""
    return Path(__file__).resolve().parents[2] / "layers" / settings.region_or_default(region) / "profiles"


def load_profile(path: str | Path) -> Profile:
    """Load and validate one profile file; errors name the file, the key and the allowed values."""
    profile = load_model(path, Profile, what="profile", keys="id, title, description, layers…")
    profile._source = str(path)
    return profile


def load_profiles(path: str | Path | None = None, *, region: str | None = None) -> dict[str, Profile]:
    """Load every profile of a folder (the region's shipped profiles by default), keyed by id."""
    root = Path(path) if path is not None else default_profiles_path(region)
    files = sorted(root.glob("*.y*ml")) if root.is_dir() else [root]
    profiles: dict[str, Profile] = {}
    for file in files:
        profile = load_profile(file)
        if profile.id in profiles:
            msg = f"{file}: profile id {profile.id!r} is used twice"
            raise SpecError(msg)
        profiles[profile.id] = profile
    if not profiles:
        msg = f"{root}: no profile files"
        raise SpecError(msg)
    return profiles
