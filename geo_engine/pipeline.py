"""Run the whole chain for a region: indicator matrix, layer specs, profiles, dual model, names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h3
import numpy as np
import pandas as pd

from geo_engine.ingest.specs import LayerSpec, load_layers
from geo_engine.matrix.derived import with_derived
from geo_engine.matrix.indicators import Progress, build_indicators
from geo_engine.matrix.within import build_within
from geo_engine.regions.focus import parse_focus
from geo_engine.regions.region import Region, admin_names, load_region
from geo_engine.scoring.cache import ScoringCache
from geo_engine.scoring.dual import INCLUSION, DualResult, dual_model, inclusion_profile, inclusion_result
from geo_engine.scoring.profiles import Profile, load_profiles
from geo_engine.scoring.score import ScoreResult

__all__ = ["Run", "run"]

@dataclass(frozen=True)
class Run:
    """Everything computed for one region and resolution.

    Attributes
    ----------
    matrix : pandas.DataFrame
        Indicator matrix with the derived columns (:func:`geo_engine.matrix.derived.with_derived`);
        its ``attrs`` are empty (the build report is
        :func:`~geo_engine.matrix.indicators.build_indicators`'s).
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
    shared_units : mapping
        Units too small to own a cell at this resolution: code → {cell hex id: share of the
        unit's area} (:func:`geo_engine.spatial.grid.build_grid`); roll-ups and briefs use them.
    cache : ScoringCache, optional
        What scoring the matrix computed that no weight changes (normalized layers, evidence,
        distances and travel times to the hubs), for re-scoring with other weights, constraints
        or profiles (:class:`geo_engine.scoring.cache.ScoringCache`).
    """

    matrix: pd.DataFrame
    specs: dict[str, LayerSpec]
    profiles: dict[str, Profile]
    dual: DualResult
    names: pd.DataFrame
    region: Region
    hub_minutes: Callable[[np.ndarray], np.ndarray] | None = None
    shared_units: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    cache: ScoringCache | None = field(default=None, repr=False, compare=False)

    def unit_rows(self, code: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the matrix rows of a unit and, for a unit too small to own a cell, their weights.

        A unit that owns cells gives a boolean mask and ``None``; a unit of
        :attr:`shared_units` the mask of the cells it overlaps and the share of its area in each
        (aligned with the mask's True rows); an unknown code an all-False mask.
        """
        codes = self.matrix["unit_code"].astype(str).to_numpy()
        rows = codes == code
        if rows.any() or code not in self.shared_units:
            return rows, None
        shares = {int(c, 16): w for c, w in self.shared_units[code].items()}
        ids = self.matrix["h3"].to_numpy(dtype=np.uint64)
        rows = np.isin(ids, np.fromiter(shares, np.uint64, len(shares)))
        return rows, np.array([shares[int(c)] for c in ids[rows]])

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
    region: str | Path | Region | None = None,
    resolution: int | None = None,
    data_dir: Path | None = None,
    layers: str | Path | None = None,
    profiles: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    within: str | None = None,
) -> Run:
    """Build (or load from cache) the matrix and score every profile of a region.

    Parameters
    ----------
    region : str, pathlib.Path or Region, optional
        A shipped region id or one's own region file (see :mod:`geo_engine.regions.region`).
    resolution : int, optional
        H3 resolution; the region's default (7 for Peru) when omitted.
    data_dir : pathlib.Path, optional
        Data folder of shipped regions (a region file's own ``data_dir`` otherwise).
    layers, profiles : path, optional
        Spec file/folder and profile folder; the region's own by default.
    force : bool, default False
        Allow very large grids.
    progress : callable, optional
        Called as ``progress(layer_id, i, n)`` while the matrix is built (not when it is cached)
        and as ``progress("", n, n)`` before scoring.
    within : str, optional
        ``LEVEL=VALUE`` (``department=Cusco``): the matrix of that unit's cells only
        (:func:`geo_engine.matrix.within.build_within`); scores are then normalised over them.

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
    files = dict(reg.access_files) if reg.access_files is not None else None
    options = {"region": reg.id, "resolution": resolution, "layers": list(specs.values()),
               "units": units, "data_dir": reg.data_dir, "force": force,
               "urban_centre_weight": reg.urban_centre_weight, "access_files": files,
               "progress": progress}
    built = (build_indicators(**options) if within is None
             else build_within(within=parse_focus(within, reg, units).within, **options))
    shared = built.attrs.get("report", {}).get("grid", {}).get("shared_units", {})
    matrix = with_derived(built)
    # the build report stays with build_indicators: pandas deep-copies attrs into every column
    # read, and the app reads the run's columns hundreds of times a second
    matrix.attrs = {}
    # a region without a profiles folder has no profiles: only custom profiles score it
    profs = (load_profiles(profiles or reg.profiles)
             if profiles is not None or reg.profiles.exists() else {})
    hub_minutes = _hub_minutes(matrix, data_dir=reg.data_dir, region=reg.id, files=files)
    cache = ScoringCache(matrix)
    dual = dual_model(matrix, profs, specs=specs, hub_minutes=hub_minutes, partial=True,
                      cache=cache)
    names = (admin_names(pd.DataFrame(units)) if "unit" in units
             else pd.DataFrame({"unit_code": pd.Series(dtype="string")}))
    return Run(matrix=matrix, specs=specs, profiles=profs, dual=dual, names=names,
               hub_minutes=hub_minutes, region=reg, shared_units=shared, cache=cache)


def _hub_minutes(matrix: pd.DataFrame, *, data_dir: Path, region: str,
                 files: Mapping[str, str] | None = None
                 ) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return a function giving travel times to hub cells, or None without a region's terrain."""
    from geo_engine.access import access_paths, region_friction, travel_time

    if not access_paths(data_dir, region, files)["elevation"].is_file():
        return None

    def minutes(hubs: np.ndarray) -> np.ndarray:
        friction = region_friction(matrix, data_dir=data_dir, region=region, files=files)
        targets = matrix["h3"].to_numpy()[np.asarray(hubs, dtype=bool)]
        return travel_time(matrix, friction, targets)

    return minutes
