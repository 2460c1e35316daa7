"""Run the whole chain for a region: indicator matrix, layer specs, profiles, dual model, names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h3
import numpy as np
import pandas as pd

from geo_engine import settings
from geo_engine.derived import with_derived
from geo_engine.dual import DualResult, dual_model
from geo_engine.indicators import build_indicators
from geo_engine.layers import LayerSpec, load_layers
from geo_engine.outputs import admin_names
from geo_engine.profiles import Profile, load_profiles
from geo_engine.region import Region, load_region
from geo_engine.score import Prepared, ScoreResult, aggregate

__all__ = ["INCLUSION", "Run", "inclusion_profile", "inclusion_result", "run"]

INCLUSION = "inclusion"
"""Id under which the dual model's inclusion score is scored, exported, clustered and ranked."""


@dataclass(frozen=True)
class Run:
    """Everything computed for one region and resolution.

    Attributes
    ----------
    matrix : pandas.DataFrame
        Indicator matrix with the derived columns (:func:`geo_engine.derived.with_derived`); its
        ``attrs`` are empty (the build report is :func:`~geo_engine.indicators.build_indicators`'s).
    specs : dict
        Layer specs by id.
    profiles : dict
        Profiles by id.
    dual : DualResult
        Engine, inclusion, families, typology and linkage with the profiles' own weights.
    names : pandas.DataFrame
        District, province and department names by district code (unit names for a user's region).
    region : Region
        The region it was computed for.
    hub_minutes : callable, optional
        Travel time to given hub cells (regions with a terrain raster only).
    """

    matrix: pd.DataFrame
    specs: dict[str, LayerSpec]
    profiles: dict[str, Profile]
    dual: DualResult
    names: pd.DataFrame
    region: Region
    hub_minutes: Callable[[np.ndarray], np.ndarray] | None = None

    def profile(self, profile_id: str) -> Profile:
        """Return a profile by id (:data:`INCLUSION` too); the error lists the known ids."""
        if profile_id == INCLUSION and INCLUSION not in self.profiles:
            return inclusion_profile()
        if profile_id not in self.profiles:
            msg = f"no profile {profile_id!r}; known: {sorted([*self.profiles, INCLUSION])}"
            raise KeyError(msg)
        return self.profiles[profile_id]

    def scored(self, profile_id: str) -> ScoreResult:
        """Return a profile's score result (with its own weights); the error lists the known ids.

        :data:`INCLUSION` gives the dual model's inclusion score (:func:`inclusion_result`).
        """
        if profile_id == INCLUSION and INCLUSION not in self.profiles:
            return inclusion_result(self.dual)
        return self.dual.results[self.profile(profile_id).id]

    @property
    def resolution(self) -> int:
        """H3 resolution of the grid (the region's default for an empty grid)."""
        if not len(self.matrix):
            return self.region.resolution
        return int(h3.get_resolution(format(int(self.matrix["h3"].iloc[0]), "x")))


def run(
    *,
    region: str | Path | Region = "peru",
    resolution: int | None = None,
    data_dir: Path | None = None,
    layers: str | Path | None = None,
    profiles: str | Path | None = None,
    force: bool = False,
) -> Run:
    """Build (or load from cache) the matrix and score every profile of a region.

    Parameters
    ----------
    region : str, pathlib.Path or Region, default "peru"
        A shipped region id or one's own region file (see :mod:`geo_engine.region`).
    resolution : int, optional
        H3 resolution; the region's default (7 for Peru) when omitted.
    data_dir : pathlib.Path, optional
        Data folder of shipped regions (a region file's own ``data_dir`` otherwise).
    layers, profiles : path, optional
        Spec file/folder and profile folder; the region's own by default.
    force : bool, default False
        Allow very large grids.

    Returns
    -------
    Run
        ``dual.missing`` lists the dual-model parts the region's profiles cannot score (all of
        them for a region without a profiles folder, whose ``profiles`` is then empty).
    """
    reg = load_region(region, data_dir=data_dir)
    resolution = reg.resolution if resolution is None else resolution
    specs = {s.id: s for s in load_layers(layers or reg.layers)}
    units = reg.units()
    matrix = with_derived(build_indicators(region=reg.id, resolution=resolution,
                                           layers=list(specs.values()), units=units,
                                           data_dir=reg.data_dir, force=force))
    # the build report stays with build_indicators: pandas deep-copies attrs into every column
    # read, and the app reads the run's columns hundreds of times a second
    matrix.attrs = {}
    # a region without a profiles folder has no profiles: only custom profiles score it
    profs = (load_profiles(profiles or reg.profiles)
             if profiles is not None or reg.profiles.exists() else {})
    hub_minutes = _hub_minutes(matrix, data_dir=reg.data_dir, region=reg.id)
    dual = dual_model(matrix, profs, specs=specs, hub_minutes=hub_minutes, partial=True)
    names = (admin_names(pd.DataFrame(units)) if "district" in units
             else pd.DataFrame({"district_code": pd.Series(dtype="string")}))
    return Run(matrix=matrix, specs=specs, profiles=profs, dual=dual, names=names,
               hub_minutes=hub_minutes, region=reg)


def _hub_minutes(matrix: pd.DataFrame, *, data_dir: Path, region: str
                 ) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return a function giving travel times to hub cells, or None without a region's terrain."""
    if not (data_dir / region / "elevation.tif").is_file():
        return None

    def minutes(hubs: np.ndarray) -> np.ndarray:
        from geo_engine.access import region_friction, travel_time

        friction = region_friction(matrix, data_dir=data_dir, region=region)
        targets = matrix["h3"].to_numpy()[np.asarray(hubs, dtype=bool)]
        return travel_time(matrix, friction, targets)

    return minutes


_PARTS = ("niche", "need", "access")


def inclusion_profile() -> Profile:
    """Return the recipe of the inclusion score as a profile: a weighted geometric mean of its parts.

    The weights are the exponents of :func:`geo_engine.dual.dual_model`'s inclusion (niche 1,
    need :data:`~geo_engine.settings.inclusion_need_exponent`, access
    :data:`~geo_engine.settings.inclusion_access_exponent`), so the profile ranks cells exactly as
    inclusion does.
    """
    why = {"niche": "strength of the evidence of the cell's best niche family",
           "need": "the need profile's score (poverty and gaps in services)",
           "access": "the access profile's score (reach to markets and services)"}
    return Profile.model_validate({
        "id": INCLUSION, "kind": "custom",
        "title": {"es": "Inclusión", "en": "Inclusion"},
        "description": "Poverty-fighter potential of the dual model: niche × need × access.",
        "aggregation": {"method": "wgm"},
        "layers": [{"id": part, "weight": weight, "rationale": why[part]}
                   for part, weight in _exponents().items()]})


def _exponents() -> dict[str, float]:
    """Return the exponent of each part of inclusion (niche, need, access)."""
    return {"niche": 1.0, "need": settings.inclusion_need_exponent,
            "access": settings.inclusion_access_exponent}


def inclusion_result(dual: DualResult) -> ScoreResult:
    r"""Return the dual model's inclusion score as a :class:`ScoreResult` of :func:`inclusion_profile`.

    The score is ``dual.inclusion`` itself; the "layers" are its parts (niche, need, access), so
    the result can be exported, clustered, ranked and put through the sensitivity analysis like
    any profile's.

    Raises
    ------
    ValueError
        When no cell has an inclusion score (the region lacks a need, access or family profile).

    Notes
    -----
    With :math:`I = E \cdot N^{a} \cdot A^{b}`, the contributions are in log space,
    :math:`e \log x` per part with :math:`e` its exponent (each part floored at
    :data:`geo_engine.score.WGM_FLOOR`), and add up to :math:`\log I` wherever every part is
    above the floor. Re-weighting draws (sensitivity) change the parts' shares of the exponents;
    a weighted geometric mean normalises them to 1, which changes the score by a power but not
    the order of the cells.
    """
    score = np.asarray(dual.inclusion, dtype=float)
    if not np.isfinite(score).any():
        msg = (f"no cell has an inclusion score: the region has no profile of kind "
               f"{', '.join(dual.missing) or 'need, access or family'}; add one to its profiles")
        raise ValueError(msg)
    profile = inclusion_profile()
    eligible = np.isfinite(score)
    values = np.column_stack([np.asarray(getattr(dual, part), dtype=float) for part in _PARTS])
    values = np.where(eligible[:, None], values, np.nan)
    weights = profile.weights()
    _, contrib, space = aggregate(values, np.array([weights[p] for p in _PARTS]),
                                  profile.aggregation, eligible)
    contrib = contrib * sum(_exponents().values())  # normalised weights → the exponents
    return ScoreResult(
        score=score, contributions=pd.DataFrame(contrib, columns=list(_PARTS),
                                                index=dual.families.index),
        contribution_space=space, weights=weights,
        prepared=Prepared(profile=profile, layer_ids=list(_PARTS), values=values,
                          eligible=eligible, report={"cells": len(score),
                                                     "eligible": int(eligible.sum())}))
