"""Build a site-selection problem from a scored region: candidates, demand, niche evidence, reach."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo_engine.access import Friction, reach_table
from geo_engine.planning.plan import (
    CoverProblem,
    Plan,
    conflict_pairs,
    coverage_by_distance,
    coverage_from_reach,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_engine.pipeline import Run
    from geo_engine.scoring.profiles import Profile
    from geo_engine.scoring.score import ScoreResult

__all__ = [
    "DEMAND_COLUMN",
    "SITE_LEVELS",
    "SiteOptions",
    "SiteProblem",
    "destination_points",
    "growth_value",
    "poor_population",
    "region_problem",
    "site_costs",
    "site_problem",
    "site_table",
    "travel_cost",
    "travel_costs",
]

DEMAND_COLUMN = "poor_population"
"""Name of the column of poor people per cell in scored outputs."""


def poor_population(cells: pd.DataFrame, *, column: str = DEMAND_COLUMN,
                    rate: str = "poverty_2018", population: str = "population_2020") -> np.ndarray:
    """Return poor people per cell: ``column`` when the table has it, else rate (%) × population.

    The fallback reads the poverty rate (percent of the population, ``layers/peru/social.yaml``)
    and the population layer; missing values count as 0 poor people.

    Raises
    ------
    KeyError
        If neither ``column`` nor both layers are in the table (the message names them).
    """
    if column in cells:
        values = cells[column].to_numpy(dtype=float)
    elif rate in cells and population in cells:
        values = cells[rate].to_numpy(dtype=float) / 100.0 * cells[population].to_numpy(dtype=float)
    else:
        msg = (f"the table has no {column!r} column and not both {rate!r} and {population!r} to "
               "compute it from; pass the demand column's name")
        raise KeyError(msg)
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


def growth_value(engine: npt.ArrayLike, linkage: npt.ArrayLike, typology: npt.ArrayLike) -> np.ndarray:
    """Return the growth potential of a cell: its engine score in engine hubs and dual zones, else linkage.

    Linkage (supplier potential of poor cells near hubs) is 0 away from hubs, so covering cells
    with neither a hub nor a link adds no growth.
    """
    e = np.nan_to_num(np.asarray(engine, dtype=float), nan=0.0)
    link = np.nan_to_num(np.asarray(linkage, dtype=float), nan=0.0)
    hub = np.isin(np.asarray(typology, dtype=object), ["engine_hub", "dual_zone"])
    return np.where(hub, e, link)


@dataclass(frozen=True)
class SiteOptions:
    """What the planner asks for.

    Attributes
    ----------
    sites : int, optional
        At most this many sites.
    budget : float, optional
        At most this total cost (with ``cost`` per grid row).
    reach_minutes : float, default 120
        A site serves the cells within this travel time.
    candidates : int, default 2000
        Candidate sites: the best cells by score (plus the must-include ones).
    min_km : float, default 0
        Minimum great-circle distance between two chosen sites.
    per_department : int, optional
        At most this many sites per department.
    include, exclude : sequence of int
        H3 ids of cells that must / must not be sites.
    speed_kmh : float, optional
        Measure reach as great-circle distance at this speed instead of travel time over the
        friction surface (quicker, and for regions without a terrain raster).
    site_level : {"cell", "district", "province", "department", "cluster"}, default "cell"
        What a site is: a cell, an admin unit, or a significant hot-spot cluster of the profile
        (at most one site per unit or cluster, placed at its best-scoring cell, from which its
        reach is measured).
    """

    sites: int | None = None
    budget: float | None = None
    reach_minutes: float = 120.0
    candidates: int = 2000
    min_km: float = 0.0
    per_department: int | None = None
    include: Sequence[int] = field(default_factory=tuple)
    exclude: Sequence[int] = field(default_factory=tuple)
    speed_kmh: float | None = None
    site_level: str = "cell"


SITE_LEVELS = {"cell": None, "district": "unit_code", "province": "parent_code",
               "department": "grandparent_code", "cluster": "cluster_id"}
"""What a site can be, and the matrix column of the unit it stands for."""


def _best_per_unit(matrix: pd.DataFrame, s: np.ndarray, allowed: np.ndarray, level: str
                   ) -> np.ndarray:
    """Return the rows of each unit's best-scoring allowed cell (one candidate per unit).

    Cells outside every unit (no cluster) are no candidates.
    """
    if level not in SITE_LEVELS:
        msg = f"`site_level` was {level!r} but must be one of {list(SITE_LEVELS)}"
        raise ValueError(msg)
    column = SITE_LEVELS[level]
    rows = np.flatnonzero(allowed)
    if column is None:
        return rows
    if column not in matrix:
        msg = f"sites by {level} need the matrix column {column!r}, which this region lacks"
        raise ValueError(msg)
    frame = pd.DataFrame({"row": rows, "unit": matrix[column].to_numpy()[rows], "s": s[rows]})
    frame = frame[frame["unit"].notna()]
    best = frame.sort_values(["s", "row"], ascending=[False, True]).drop_duplicates("unit")
    return best["row"].to_numpy(dtype=np.int64)


def travel_cost(minutes: npt.ArrayLike, *, base: float = 0.0, per_minute: float = 0.0
                ) -> np.ndarray:
    """Return a site's cost from its travel time to where the programme is run from.

    ``base + per_minute × minutes``; NaN (not a possible site) where the minutes are unknown.
    """
    if base < 0 or per_minute < 0 or not (np.isfinite(base) and np.isfinite(per_minute)):
        msg = f"cost base ({base}) and cost per minute ({per_minute}) must be finite numbers >= 0"
        raise ValueError(msg)
    return base + per_minute * np.asarray(minutes, dtype=float)


@dataclass(frozen=True)
class SiteProblem:
    """A :class:`~geo_engine.planning.plan.CoverProblem` with the grid rows behind its sites and points."""

    problem: CoverProblem
    site_rows: np.ndarray
    point_rows: np.ndarray
    minutes: pd.DataFrame


def _rows_of(h3: np.ndarray, ids: Sequence[int], what: str) -> np.ndarray:
    wanted = np.asarray(list(ids), dtype=np.uint64)
    pos = np.searchsorted(h3, wanted)
    ok = (pos < len(h3)) & (h3[np.minimum(pos, len(h3) - 1)] == wanted)
    if not ok.all():
        bad = [format(int(c), "x") for c in wanted[~ok][:3]]
        msg = f"{what} cells {bad} are not cells of this grid (check the region and resolution)"
        raise ValueError(msg)
    return pos.astype(np.int64)


def site_problem(
    matrix: pd.DataFrame,
    *,
    score: npt.ArrayLike,
    demand: npt.ArrayLike,
    niche: npt.ArrayLike,
    growth: npt.ArrayLike | None = None,
    friction: Friction | npt.ArrayLike | None = None,
    cost: npt.ArrayLike | None = None,
    options: SiteOptions,
) -> SiteProblem:
    """Return the covering problem of a region: best-scoring candidates, demand with a niche, reach.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix (``h3`` sorted, ``lat``, ``lon``, ``grandparent_code`` for the per-department
        cap).
    score : array_like
        Score per row; the ``options.candidates`` best cells are the candidate sites.
    demand : array_like
        Value of reaching each row (poor people, see :func:`poor_population`).
    niche : array_like of bool
        Rows with niche evidence: only their demand counts.
    growth : array_like, optional
        Second aim per row (see :func:`growth_value`), for the front.
    friction : Friction or array_like, optional
        Speeds for travel time; required unless ``options.speed_kmh`` is given.
    cost : array_like, optional
        Cost of a site at each row (for a budget); rows with NaN are not candidates.
    options : SiteOptions

    Notes
    -----
    Reach is the travel time of :func:`geo_engine.access.reach_table` (one Dijkstra search per
    candidate, bounded at the reach; about 3.5 s for 2,000 candidates on Peru's 218,678 cells at
    resolution 7) or, with ``speed_kmh``, the great-circle distance ``speed × minutes / 60``.
    Limiting the candidates to the best cells by score keeps the integer program small; the
    demand side is every cell.
    """
    h3 = matrix["h3"].to_numpy(dtype=np.uint64)
    s = np.nan_to_num(np.asarray(score, dtype=float), nan=-np.inf)
    value = np.where(np.asarray(niche, dtype=bool), np.asarray(demand, dtype=float), 0.0)
    grow = None if growth is None else np.nan_to_num(np.asarray(growth, dtype=float), nan=0.0)
    inc, exc = (_rows_of(h3, options.include, "must-include"),
                _rows_of(h3, options.exclude, "excluded"))
    allowed = np.isfinite(s)
    if cost is not None:  # cells without a cost cannot be sites
        allowed &= np.isfinite(np.asarray(cost, dtype=float))
    allowed[exc] = False
    pool = _best_per_unit(matrix, s, allowed, options.site_level)
    top = pool[np.argsort(-s[pool], kind="stable")[:options.candidates]]
    site_rows = np.union1d(top, inc)
    useful = (value > 0) | (grow > 0 if grow is not None else False)
    point_rows = np.flatnonzero(useful)
    if options.speed_kmh is not None:
        km = options.speed_kmh * options.reach_minutes / 60.0
        lat, lon = matrix["lat"].to_numpy(float), matrix["lon"].to_numpy(float)
        cov = coverage_by_distance(lat[site_rows], lon[site_rows], lat[point_rows],
                                   lon[point_rows], reach_km=km)
        coo = cov.tocoo()
        reach = pd.DataFrame({"origin": coo.row, "row": point_rows[coo.col],
                              "minutes": np.nan})
    else:
        if friction is None:
            msg = "reach by travel time needs `friction` (or set `options.speed_kmh`)"
            raise ValueError(msg)
        reach = reach_table(matrix, friction, site_rows, max_minutes=options.reach_minutes)
        cov = coverage_from_reach(reach, point_rows, sites=len(site_rows),
                                  max_minutes=options.reach_minutes)
    groups = None
    if options.per_department is not None:
        groups = matrix["grandparent_code"].astype(str).to_numpy(dtype=object)[site_rows]
    lat_s, lon_s = matrix["lat"].to_numpy(float)[site_rows], matrix["lon"].to_numpy(float)[site_rows]
    problem = CoverProblem(
        coverage=cov, demand=value[point_rows],
        growth=None if grow is None else grow[point_rows],
        sites=options.sites, budget=options.budget,
        cost=None if cost is None else np.asarray(cost, dtype=float)[site_rows],
        conflicts=conflict_pairs(lat_s, lon_s, min_km=options.min_km),
        groups=groups, per_group=options.per_department,
        include=np.searchsorted(site_rows, inc).tolist(),
        exclude=[])
    return SiteProblem(problem=problem, site_rows=site_rows, point_rows=point_rows, minutes=reach)


def site_table(sp: SiteProblem, plan: Plan, matrix: pd.DataFrame, *,
               extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the chosen sites and the cells they reach, one row per cell, ``role`` site/covered.

    Site rows carry ``rank`` (order of the demand they add), ``demand_added`` (reached by no
    earlier site), ``demand_reached`` (all within reach) and ``cost``; covered rows the
    ``site`` (H3 of the nearest chosen site) and ``minutes`` to it (NaN with distance reach).
    ``extra`` (same rows as ``matrix``) adds columns to both, e.g. niche family and names.
    """
    p = sp.problem
    chosen_rows = sp.site_rows[plan.sites]
    h3 = matrix["h3"].to_numpy(dtype=np.uint64)
    reach = sp.minutes[sp.minutes["origin"].isin(plan.sites)].copy()
    reach["site"] = h3[sp.site_rows[reach["origin"].to_numpy()]]
    reach = reach.sort_values(["row", "minutes"], kind="stable").drop_duplicates("row")
    point_value = pd.Series(p.demand, index=sp.point_rows)
    reached_all = [float(p.demand[p.coverage[[s]].toarray().ravel() > 0].sum()) for s in plan.sites]
    sites = pd.DataFrame({
        "h3": h3[chosen_rows], "role": "site", "rank": np.arange(1, len(chosen_rows) + 1),
        "demand_added": plan.marginal, "demand_reached": reached_all,
        "cost": p.costs[plan.sites], "site": h3[chosen_rows], "minutes": 0.0,
        "row": chosen_rows})
    covered = pd.DataFrame({
        "h3": h3[reach["row"].to_numpy()], "role": "covered", "rank": np.nan,
        "demand_added": np.nan, "demand_reached": np.nan, "cost": np.nan,
        "site": reach["site"].to_numpy(), "minutes": reach["minutes"].to_numpy(),
        "row": reach["row"].to_numpy()})
    covered = covered[~np.isin(covered["row"], chosen_rows)]
    out = pd.concat([sites, covered], ignore_index=True)
    out["demand"] = point_value.reindex(out["row"]).fillna(0.0).to_numpy()
    out["lat"] = matrix["lat"].to_numpy()[out["row"]]
    out["lon"] = matrix["lon"].to_numpy()[out["row"]]
    if extra is not None:
        for col in extra.columns:
            out[col] = extra[col].to_numpy()[out["row"]]
    out["site"] = [format(int(c), "x") for c in out["site"]]
    return out.drop(columns="row")


def region_problem(run: Run, profile: Profile, *, options: SiteOptions, niche_min: float = 2 / 3,
                   demand_column: str = DEMAND_COLUMN, cost: npt.ArrayLike | None = None
                   ) -> tuple[SiteProblem, ScoreResult]:
    """Return the covering problem of a scored region for a profile, and the profile's scores.

    Parameters
    ----------
    run : geo_engine.pipeline.Run
        The scored region.
    profile : Profile
        Ranks the candidates, and its standing marks niche evidence (see Notes).
    options : SiteOptions
    niche_min : float, default 2/3
        Standing in the profile (percentile among scored cells) from which a cell counts as
        having niche evidence.
    demand_column : str, default "poor_population"
        Column of the matrix with poor people per cell (computed by :func:`poor_population` when
        absent).
    cost : array_like, optional
        Cost of a site per matrix row.

    Notes
    -----
    Niche evidence is, for now, the cell's standing in the profile at or above ``niche_min``
    (the top third by default): a stand-in until the curated evidence of each family is a layer
    of its own. Growth is :func:`growth_value` of the dual model. Reach is travel time over the
    region's friction surface when it has a terrain raster, else great-circle distance at
    ``options.speed_kmh`` (required then).
    """
    from geo_engine.access import region_friction
    from geo_engine.scoring.score import score_profile

    result = (run.dual.results[profile.id] if run.profiles.get(profile.id) == profile
              else score_profile(run.matrix, profile, specs=dict(run.specs)))
    friction = None
    if options.speed_kmh is None:
        if run.hub_minutes is None:
            msg = (f"region {run.region.id!r} has no terrain raster for travel times; give a "
                   "speed (km/h) to measure reach as distance")
            raise ValueError(msg)
        friction = region_friction(run.matrix, data_dir=run.region.data_dir, region=run.region.id,
                                   files=None if run.region.access_files is None
                                   else dict(run.region.access_files))
    d = run.dual
    matrix = run.matrix
    if options.site_level == "cluster":
        from geo_engine.clusters import hot_spots

        cells = hot_spots(run.matrix, result.score)
        if cells["cluster_id"].notna().sum() == 0:
            msg = (f"profile {profile.id!r} has no significant hot-spot cluster to place sites in; "
                   "choose cells or admin units as sites")
            raise ValueError(msg)
        matrix = run.matrix.assign(cluster_id=cells["cluster_id"].to_numpy())
    sp = site_problem(matrix, score=result.score,
                      demand=poor_population(run.matrix, column=demand_column),
                      niche=np.nan_to_num(result.standing, nan=0.0) >= niche_min,
                      growth=growth_value(d.engine, d.linkage, d.typology),
                      friction=friction, cost=cost, options=options)
    return sp, result


def site_costs(matrix: pd.DataFrame, table: pd.DataFrame, *, source: str = "the cost table"
               ) -> np.ndarray:
    """Return the cost per matrix row from a table of ``h3`` (hexadecimal text or integer) and ``cost``.

    Rows the table does not list get NaN (they cannot be sites).

    Raises
    ------
    ValueError
        If a column is missing, a cost is negative or not a number, or an id is not an H3 id.
    """
    missing = [c for c in ("h3", "cost") if c not in table]
    if missing:
        msg = f"{source}: columns {missing} are missing; it needs `h3` (cell id) and `cost`"
        raise ValueError(msg)
    cost = pd.to_numeric(table["cost"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(cost) & (cost >= 0)).all():
        msg = f"{source}: `cost` must be a number ≥ 0 on every row"
        raise ValueError(msg)
    try:
        ids = np.array([int(v, 16) if isinstance(v, str) else int(v) for v in table["h3"]],
                       dtype=np.uint64)
    except (ValueError, OverflowError) as exc:
        msg = f"{source}: `h3` holds a value that is not an H3 cell id ({exc})"
        raise ValueError(msg) from None
    out = pd.Series(cost, index=ids).groupby(level=0).min()
    return out.reindex(matrix["h3"].to_numpy(dtype=np.uint64)).to_numpy(dtype=float)


def destination_points(run: Run, to: str) -> gpd.GeoDataFrame | None:
    """Return the points ``to`` names when it is a point layer of the region or a file, else None.

    None means ``to`` is one of the named destination sets
    (:data:`geo_engine.access.DESTINATION_SETS`), which :func:`geo_engine.access.access_minutes`
    reads itself. A layer's features come with its filter applied.

    Raises
    ------
    ValueError
        When ``to`` names a layer that is not of points, or nothing known (the message lists the
        sets and the region's point layers).
    """
    from geo_engine.access import DESTINATION_SETS
    from geo_engine.io.safe_read import read_vector
    from geo_engine.matrix.indicators import layer_features

    if to in DESTINATION_SETS:
        return None
    if to in run.specs:
        spec = run.specs[to]
        if spec.kind != "points":
            msg = f"--to {to}: layer {to!r} holds {spec.kind}, not points; give a point layer"
            raise ValueError(msg)
        return layer_features(spec, run.region.data_dir)
    if Path(to).suffix and Path(to).is_file():
        return read_vector(Path(to))
    points = sorted(s.id for s in run.specs.values() if s.kind == "points")
    msg = (f"--to {to}: not a destination set ({', '.join(DESTINATION_SETS)}), nor a point layer of "
           f"region {run.region.id!r} ({', '.join(points[:12]) or 'none'}), nor a file")
    raise ValueError(msg)


def travel_costs(run: Run, *, base: float, per_minute: float, origin: str) -> np.ndarray:
    """Return each cell's cost as a site: :func:`travel_cost` of its minutes from ``origin``.

    ``origin`` is a destination set, a point layer of the region or a point file
    (:func:`destination_points`): where the programme is run from.
    """
    from geo_engine.access import access_minutes

    reg = run.region
    minutes = access_minutes(run.matrix, to=origin, data_dir=reg.data_dir, region=reg.id,
                             targets=destination_points(run, origin),
                             files=None if reg.access_files is None else dict(reg.access_files))
    return travel_cost(minutes, base=base, per_minute=per_minute)
