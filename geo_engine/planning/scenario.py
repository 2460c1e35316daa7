"""Named scenarios: a profile with its weights, extra constraints and plan thresholds in one YAML file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geo_engine._errors import SpecError, validation_lines
from geo_engine.io.yaml_io import dump_yaml, load_model
from geo_engine.scoring.profiles import Constraint, Profile

__all__ = ["PlanSettings", "Scenario", "apply_scenario", "load_scenario", "scenario_yaml"]


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


class Scenario(BaseModel):
    """A named scenario file.

    Example::

        id: agro_south
        title: Agro-food programs in the south, 12 sites
        profile: agro_food
        weights: {crop_value_andean_grains: 3, crop_value_coffee: 1}
        constraints:
          - {layer: protected_strict, op: "<", value: 0.5, rationale: No programs in parks.}
        plan: {sites: 12, reach_minutes: 90, min_km: 30, per_department: 3}
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    profile: str = Field(min_length=1)
    weights: dict[str, float] = Field(default_factory=dict)
    constraints: list[Constraint] = Field(default_factory=list)
    plan: PlanSettings = Field(default_factory=PlanSettings)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if v < 0}
        if bad:
            msg = f"weights must be ≥ 0 (0 leaves a layer out): {bad}"
            raise ValueError(msg)
        return value


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file; errors name the file, the key and the fix."""
    return load_model(path, Scenario, what="scenario",
                      keys="id, profile, weights, constraints, plan")


def apply_scenario(profile: Profile, scenario: Scenario) -> Profile:
    """Return the profile with the scenario's weights (for the layers it names) and constraints added.

    Raises
    ------
    SpecError
        If the scenario is for another profile, or weighs layers the profile does not have.
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
    layers = [layer.model_copy(update={"weight": scenario.weights.get(layer.id, layer.weight)})
              for layer in profile.layers]
    doc = profile.model_dump()
    doc.update(layers=[lay.model_dump() for lay in layers],
               constraints=[c.model_dump() for c in [*profile.constraints, *scenario.constraints]])
    try:
        return Profile.model_validate(doc)
    except ValidationError as exc:
        raise SpecError(f"scenario {scenario.id!r}: " + validation_lines(
            exc, prefix=scenario.id, whole="(profile)")) from exc


def scenario_yaml(scenario: Scenario) -> str:
    """Return a scenario as the YAML text :func:`load_scenario` reads back."""
    return dump_yaml(scenario.model_dump(mode="json", exclude_defaults=True), width=100)
