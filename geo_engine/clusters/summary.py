"""Hot spots grouped into clusters and profiled: size, people, poor people, places, travel time."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from h3ronpy.vector import cells_to_wkb_polygons
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from geo_engine._errors import GeoEngineWarning
from geo_engine.clusters.adjacency import h3_adjacency
from geo_engine.clusters.checks import cell_ids, check_fdr, check_int, check_seed, per_cell, to_numpy
from geo_engine.clusters.schema import (
    CELL_COLUMNS,
    CLUSTER_COLUMNS,
    INT_COLUMNS,
    JOIN,
    RANK_CRITERIA,
    STRING_COLUMNS,
)
from geo_engine.clusters.statistic import benjamini_hochberg, binary_adjacency, gi_star
from geo_engine.matrix.derived import poor_population

__all__ = [
    "find_clusters",
    "hot_spots",
    "summarize_clusters",
]

def hot_spots(
    matrix: pd.DataFrame,
    score: np.ndarray | pd.Series | Sequence[float],
    *,
    permutations: int = 999,
    fdr: float = 0.05,
    min_cells: int = 5,
    seed: int | None = 0,
    adjacency: sparse.spmatrix | sparse.sparray | None = None,
) -> pd.DataFrame:
    r"""Return, per cell, its Gi* hot-spot test and the cluster of significant hot cells it is in.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Grid or indicator matrix, one row per cell, with an ``h3`` column (uint64).
    score : array of float
        The score tested, one value per row; NaN cells are not tested (see :func:`gi_star`).
    permutations : int, default 999
        Conditional permutations per cell.
    fdr : float, default 0.05
        False discovery rate :math:`q` of the Benjamini-Hochberg procedure, in (0, 1).
    min_cells : int, default 5
        Smallest number of connected significant hot cells that make a cluster.
    seed : int or None, default 0
        Seed of the permutations.
    adjacency : scipy sparse matrix, optional
        :func:`h3_adjacency` of ``matrix``, to reuse across profiles; built when omitted.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``matrix``, columns :data:`CELL_COLUMNS`: ``h3``, ``score``, ``z``
        (Gi* z-score), ``p_value`` (pseudo p-value for high values), ``q_value`` (BH-adjusted),
        ``significant`` (a significant hot spot: ``q_value ≤ fdr`` and ``z > 0``) and
        ``cluster_id`` (``Int64``; 1, 2, … by decreasing size, then by smallest cell id; ``<NA>``
        outside clusters). ``attrs`` holds ``permutations``, ``fdr``, ``min_cells``, ``seed``,
        ``n_tested``, ``n_significant``, ``n_clustered`` and ``n_clusters``.

    Raises
    ------
    ValueError
        If ``score`` does not hold one finite-or-NaN number per row, or ``permutations < 1``,
        ``fdr`` is not in (0, 1), ``min_cells < 1``.

    Notes
    -----
    Every tested cell is one hypothesis, "no concentration of high values around this cell",
    tested in the upper tail only (hot spots; cold spots are not reported). The
    Benjamini-Hochberg procedure over the :math:`m` tested cells keeps the expected share of
    false hot spots among the declared ones at or below ``fdr``; it stays valid under the
    positive dependence between overlapping neighbourhoods (Benjamini & Yekutieli 2001). With
    :math:`P` permutations no p-value is below :math:`1/(P+1)`, so a cell can only be declared
    when at least about :math:`m / ((P+1)\,q)` cells reach that floor (4,374 of 218,678 cells at
    :math:`P = 999`, :math:`q = 0.05`): pure noise yields nothing, and more permutations raise
    the power for small hot regions. Clusters are the connected components (H3 adjacency) of the
    significant hot cells with at least ``min_cells`` cells; smaller groups stay ``significant``
    but get no ``cluster_id``.
    """
    if not isinstance(matrix, pd.DataFrame):
        msg = f"`matrix` must be a pandas DataFrame with an 'h3' column; got {type(matrix).__name__}"
        raise ValueError(msg)
    x = per_cell(score, name="score", n=len(matrix))
    permutations = check_int(permutations, name="permutations", minimum=1)
    fdr = check_fdr(fdr)
    min_cells = check_int(min_cells, name="min_cells", minimum=1)
    seed = check_seed(seed)
    adj = h3_adjacency(matrix) if adjacency is None else binary_adjacency(adjacency, len(matrix))
    gi = gi_star(x, adj, permutations=permutations, seed=seed)
    z = gi["z"].to_numpy()
    p = gi["p_value"].to_numpy()
    q = benjamini_hochberg(p)
    significant = np.nan_to_num(q, nan=np.inf) <= fdr
    significant &= np.nan_to_num(z) > 0
    cluster = _label_clusters(adj, significant, min_cells=min_cells, ids=cell_ids(matrix))
    out = pd.DataFrame({
        "h3": cell_ids(matrix), "score": x, "z": z, "p_value": p, "q_value": q,
        "significant": significant, "cluster_id": pd.array(cluster, dtype="Int64"),
    }, index=matrix.index)
    clustered = out["cluster_id"].notna().to_numpy()
    out.attrs = {
        "permutations": permutations, "fdr": fdr, "min_cells": min_cells, "seed": seed,
        "n_tested": int(np.isfinite(x).sum()), "n_significant": int(significant.sum()),
        "n_clustered": int(clustered.sum()),
        "n_clusters": int(out["cluster_id"].max()) if clustered.any() else 0,
    }
    return out


def _label_clusters(adj: sparse.csr_matrix, significant: np.ndarray, *, min_cells: int, ids: np.ndarray
                    ) -> np.ndarray:
    """Return cluster ids (float with NaN outside clusters) numbered by size, then smallest cell id."""
    out = np.full(len(significant), np.nan)
    sig = np.flatnonzero(significant)
    if len(sig) == 0:
        return out
    _, labels = connected_components(adj[sig][:, sig], directed=False)
    sizes = np.bincount(labels)
    first = np.full(len(sizes), np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(first, labels, ids[sig])
    big = np.flatnonzero(sizes >= min_cells)
    order = big[np.lexsort((first[big], -sizes[big]))]
    new_id = np.full(len(sizes), np.nan)
    new_id[order] = np.arange(1, len(order) + 1)
    out[sig] = new_id[labels]
    return out


def _empty_clusters() -> gpd.GeoDataFrame:
    data: dict[str, object] = {}
    for col in CLUSTER_COLUMNS[:-1]:
        if col in STRING_COLUMNS:
            data[col] = pd.Series([], dtype="str")
        elif col in INT_COLUMNS:
            data[col] = pd.Series([], dtype="int64")
        else:
            data[col] = pd.Series([], dtype="float64")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def _joined(labels: np.ndarray, values: np.ndarray, n_clusters: int) -> list[str]:
    frame = pd.DataFrame({"c": labels, "v": pd.Series(values, dtype="str")}).dropna()
    frame = frame.drop_duplicates().sort_values(["c", "v"], kind="stable")
    joined = frame.groupby("c")["v"].agg(JOIN.join)
    return [str(joined.get(c, "")) for c in range(n_clusters)]


def _admin_values(matrix: pd.DataFrame, names: pd.DataFrame | None, rows: np.ndarray
                  ) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    levels = {"units": ("unit_code", "unit"), "parents": ("parent_code", "parent"),
              "grandparents": ("grandparent_code", "grandparent")}
    district = (matrix["unit_code"].to_numpy(dtype=object)[rows] if "unit_code" in matrix
                else None)
    for key, (code_col, name_col) in levels.items():
        codes = (matrix[code_col].to_numpy(dtype=object)[rows] if code_col in matrix
                 else np.full(len(rows), None, dtype=object))
        if names is not None and name_col in names and district is not None:
            lookup = dict(zip(names["unit_code"].astype(str), names[name_col], strict=False))
            named = np.array([lookup.get(str(d)) for d in district], dtype=object)
            missing = pd.isna(named)
            named[missing] = codes[missing]  # unknown codes keep the code
            out[key] = named
        else:
            out[key] = codes
    return out


def _centroids(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray, labels: np.ndarray, m: int
               ) -> tuple[np.ndarray, np.ndarray]:
    phi, lam = np.radians(lat), np.radians(lon)
    xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)
    sums = np.stack([np.bincount(labels, weights=xyz[:, d] * weight, minlength=m) for d in range(3)], 1)
    lat_c = np.degrees(np.arctan2(sums[:, 2], np.hypot(sums[:, 0], sums[:, 1])))
    lon_c = np.degrees(np.arctan2(sums[:, 1], sums[:, 0]))
    return lat_c, lon_c


def _cluster_polygon(ids: np.ndarray) -> shapely.Geometry:
    parts = shapely.from_wkb(to_numpy(cells_to_wkb_polygons(np.sort(ids), link_cells=True)))
    geom = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    if not geom.is_valid:  # not expected from linked H3 cells; repaired rather than dropped
        geom = shapely.make_valid(geom, method="structure")
    return shapely.orient_polygons(geom)  # exterior counter-clockwise, holes clockwise (RFC 7946)


def summarize_clusters(
    matrix: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    profile: str,
    contributions: pd.DataFrame | None = None,
    minutes_to_town50k: np.ndarray | pd.Series | Sequence[float] | None = None,
    minutes_to_port: np.ndarray | pd.Series | Sequence[float] | None = None,
    names: pd.DataFrame | None = None,
    rank_by: str = "poor_reach",
    population_column: str = "population_2020",
    poverty_column: str = "poverty_2018",
) -> gpd.GeoDataFrame:
    r"""Return one row per cluster of a :func:`hot_spots` result: who lives there, what drives it.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix (or grid) the cells were computed on, same rows and order.
    cells : pandas.DataFrame
        :func:`hot_spots` output for ``matrix``.
    profile : str
        Profile id written in the ``profile`` column.
    contributions : pandas.DataFrame, optional
        Per-cell, per-layer contributions to the score (``ScoreResult.contributions``), same rows
        as ``matrix``; gives ``top_layers``.
    minutes_to_town50k, minutes_to_port : array of float, optional
        Travel time per cell to the nearest town of 50,000 people and to the nearest port; NaN or
        omitted gives NaN medians.
    names : pandas.DataFrame, optional
        ``unit_code`` with ``unit``, ``parent``, ``grandparent`` names
        (``Run.names``); admin units are then listed by name instead of code.
    rank_by : str, default "poor_reach"
        Ranking criterion, one of :data:`RANK_CRITERIA`, descending; ``poor_reach`` is
        ``poor_population × mean_score``.
    population_column : str, default "population_2020"
        Matrix column of people per cell.
    poverty_column : str, default "poverty_2018"
        Matrix column of the share of poor people per cell, in % of its population.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`CLUSTER_COLUMNS` in EPSG:4326, sorted by ``rank`` (1 = first); empty, with
        the same columns, and a :class:`~geo_engine.GeoEngineWarning` when there is no cluster.
        ``attrs`` copies the ``cells`` attrs and adds ``profile`` and ``rank_by``.

    Raises
    ------
    ValueError
        If ``cells`` is not a :func:`hot_spots` result for ``matrix``, a per-cell argument has the
        wrong length, ``names`` lacks ``unit_code`` or ``rank_by`` is unknown.

    Notes
    -----
    For a cluster :math:`C`: ``area_km2`` :math:`= \sum_C a_i`; ``population``
    :math:`= \sum_C P_i` (``population_column``); ``poor_population``
    :math:`= \sum_C P_i\,\pi_i / 100` (``poverty_column``, % of the population), cells with a
    missing value adding 0, and NaN when the matrix lacks the column; ``mean_score`` the
    unweighted mean score of its cells; ``top_layers`` the three layers with the largest
    :math:`\sum_C c_{ij}` (in log space for ``wgm`` profiles); medians skip NaN;
    ``districts``, ``provinces``, ``departments`` the sorted distinct codes (or names: equal
    names of different units appear once); ``centroid_lat``/``centroid_lon`` the area-weighted
    mean of the cell centres on the sphere, which may fall outside a crescent-shaped cluster.
    Ties in ``rank_by`` are broken by higher ``mean_score``, then lower ``cluster_id``. The
    geometry is the union of the cluster's hexagons traced along shared H3 edges (holes kept),
    valid, exteriors counter-clockwise.
    """
    return _summarize(matrix, cells, profile=profile, contributions=contributions,
                      minutes_to_town50k=minutes_to_town50k, minutes_to_port=minutes_to_port,
                      names=names, rank_by=rank_by, population_column=population_column,
                      poverty_column=poverty_column, warn=lambda msg: warnings.warn(
                          msg, GeoEngineWarning, stacklevel=4))


def _summarize(
    matrix: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    profile: str,
    contributions: pd.DataFrame | None,
    minutes_to_town50k: np.ndarray | pd.Series | Sequence[float] | None,
    minutes_to_port: np.ndarray | pd.Series | Sequence[float] | None,
    names: pd.DataFrame | None,
    rank_by: str,
    population_column: str,
    poverty_column: str,
    warn: Callable[[str], None],
) -> gpd.GeoDataFrame:
    if not isinstance(matrix, pd.DataFrame):
        msg = f"`matrix` must be a pandas DataFrame; got {type(matrix).__name__}"
        raise ValueError(msg)
    n = len(matrix)
    missing_cols = [c for c in CELL_COLUMNS if c not in getattr(cells, "columns", ())]
    if not isinstance(cells, pd.DataFrame) or missing_cols or len(cells) != n:
        msg = (f"`cells` must be the hot_spots() result for `matrix` ({n} rows, columns "
               f"{list(CELL_COLUMNS)}); got {type(cells).__name__} with {len(cells)} rows"
               + (f", missing {missing_cols}" if missing_cols else ""))
        raise ValueError(msg)
    if not isinstance(profile, str) or not profile:
        msg = f"`profile` was {profile!r} but must be a non-empty profile id string"
        raise ValueError(msg)
    if rank_by not in RANK_CRITERIA:
        msg = f"`rank_by` was {rank_by!r} but must be one of {list(RANK_CRITERIA)}"
        raise ValueError(msg)
    if contributions is not None and (not isinstance(contributions, pd.DataFrame)
                                      or len(contributions) != n):
        msg = (f"`contributions` must be a DataFrame with one row per cell ({n} rows, e.g. "
               "ScoreResult.contributions)")
        raise ValueError(msg)
    if names is not None and (not isinstance(names, pd.DataFrame) or "unit_code" not in names):
        msg = "`names` must be a DataFrame with a 'unit_code' column (e.g. Run.names)"
        raise ValueError(msg)
    town = (np.full(n, np.nan) if minutes_to_town50k is None
            else per_cell(minutes_to_town50k, name="minutes_to_town50k", n=n))
    port = (np.full(n, np.nan) if minutes_to_port is None
            else per_cell(minutes_to_port, name="minutes_to_port", n=n))
    attrs = dict(cells.attrs)
    permutations = int(attrs.get("permutations", 0))
    fdr = float(attrs.get("fdr", np.nan))

    cid = cells["cluster_id"].to_numpy(dtype="float64", na_value=np.nan)
    rows = np.flatnonzero(np.isfinite(cid))
    if len(rows) == 0:
        n_sig = int(np.asarray(cells["significant"], dtype=bool).sum())
        why = ("no cell is a significant hot spot" if n_sig == 0 else
               f"{n_sig} cells are significant hot spots but no connected group has "
               f"min_cells={attrs.get('min_cells', '?')} cells or more")
        warn(f"no cluster for profile {profile!r}: {why} (Gi* with {permutations} permutations, "
             f"FDR {fdr:g}, {int(np.isfinite(cells['score'].to_numpy(dtype=float)).sum())} cells "
             "tested); raise `fdr`, lower `min_cells` or add permutations for small hot regions")
        empty = _empty_clusters()
        empty.attrs = {**attrs, "profile": profile, "rank_by": rank_by}
        return empty

    cluster_ids, labels = np.unique(cid[rows].astype(np.int64), return_inverse=True)
    m = len(cluster_ids)
    count = np.bincount(labels, minlength=m)

    def total(col: str) -> np.ndarray:
        return np.bincount(labels, weights=col_values(col), minlength=m)

    def col_values(col: str) -> np.ndarray:
        return np.nan_to_num(matrix[col].to_numpy(dtype=float)[rows]) if col in matrix \
            else np.full(len(rows), np.nan)

    area = total("area_km2")
    score = cells["score"].to_numpy(dtype=float)[rows]
    mean_score = np.bincount(labels, weights=score, minlength=m) / count
    if population_column in matrix:
        pop = col_values(population_column)
        population = np.bincount(labels, weights=pop, minlength=m)
        if poverty_column in matrix:
            rate_pop = poor_population(matrix, rate=poverty_column, population=population_column)
            poor = np.bincount(labels, weights=np.nan_to_num(rate_pop[rows]), minlength=m)
        else:
            poor = np.full(m, np.nan)
    else:
        population = poor = np.full(m, np.nan)

    top = [""] * m
    if contributions is not None:
        contrib = contributions.select_dtypes("number")
        layer_names = np.array(contrib.columns, dtype=object)
        values = np.nan_to_num(contrib.to_numpy(dtype=float)[rows])
        ind = sparse.csr_matrix((np.ones(len(rows)), (labels, np.arange(len(rows)))), shape=(m, len(rows)))
        sums = np.asarray(ind @ values)
        best = np.argsort(-sums, axis=1, kind="stable")[:, :3]
        top = [JOIN.join(str(v) for v in layer_names[b]) for b in best]

    frame = pd.DataFrame({"c": labels, "town": town[rows], "port": port[rows]})
    medians = frame.groupby("c")[["town", "port"]].median().reindex(range(m))
    admin = _admin_values(matrix, names, rows)
    ids = cells["h3"].to_numpy(dtype=np.uint64)
    if "lat" in matrix and "lon" in matrix:
        lat = matrix["lat"].to_numpy(dtype=float)[rows]
        lon = matrix["lon"].to_numpy(dtype=float)[rows]
    else:  # a bare grid without centres
        centres = np.array([h3n.cell_to_latlng(c) for c in ids[rows]]).reshape(-1, 2)
        lat, lon = centres[:, 0], centres[:, 1]
    cell_area = matrix["area_km2"].to_numpy(dtype=float)[rows] if "area_km2" in matrix else None
    usable = cell_area is not None and bool(np.all(np.isfinite(cell_area) & (cell_area > 0)))
    cell_w = cell_area if usable and cell_area is not None else np.ones(len(rows))
    clat, clon = _centroids(lat, lon, cell_w, labels, m)

    by_cluster = np.argsort(labels, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(count)))
    cells_by_cluster = ids[rows][by_cluster]
    geoms = [_cluster_polygon(cells_by_cluster[bounds[c]:bounds[c + 1]]) for c in range(m)]

    out = pd.DataFrame({
        "cluster_id": cluster_ids.astype(np.int64),
        "profile": pd.Series([profile] * m, dtype="str"),
        "n_cells": count.astype(np.int64),
        "area_km2": area,
        "population": population,
        "poor_population": poor,
        "mean_score": mean_score,
        "top_layers": pd.Series(top, dtype="str"),
        "median_minutes_town50k": medians["town"].to_numpy(dtype=float),
        "median_minutes_port": medians["port"].to_numpy(dtype=float),
        "units": pd.Series(_joined(labels, admin["units"], m), dtype="str"),
        "parents": pd.Series(_joined(labels, admin["parents"], m), dtype="str"),
        "grandparents": pd.Series(_joined(labels, admin["grandparents"], m), dtype="str"),
        "centroid_lat": clat,
        "centroid_lon": clon,
    })
    key = (out["poor_population"] * out["mean_score"] if rank_by == "poor_reach"
           else out[rank_by].astype(float)).to_numpy(dtype=float)
    key = np.where(np.isnan(key), -np.inf, key)
    order = np.lexsort((out["cluster_id"].to_numpy(), -out["mean_score"].to_numpy(), -key))
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(1, m + 1)
    out["rank"] = rank
    out["fdr"] = fdr
    out["permutations"] = np.int64(permutations)
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    result = result.iloc[order].reset_index(drop=True)
    result.attrs = {**attrs, "profile": profile, "rank_by": rank_by}
    return result


def find_clusters(
    matrix: pd.DataFrame,
    score: np.ndarray | pd.Series | Sequence[float],
    *,
    profile: str,
    contributions: pd.DataFrame | None = None,
    minutes_to_town50k: np.ndarray | pd.Series | Sequence[float] | None = None,
    minutes_to_port: np.ndarray | pd.Series | Sequence[float] | None = None,
    permutations: int = 999,
    fdr: float = 0.05,
    min_cells: int = 5,
    seed: int | None = 0,
    names: pd.DataFrame | None = None,
    rank_by: str = "poor_reach",
    adjacency: sparse.spmatrix | sparse.sparray | None = None,
    population_column: str = "population_2020",
    poverty_column: str = "poverty_2018",
) -> gpd.GeoDataFrame:
    """Return the ranked clusters of significant hot spots of a profile's score.

    :func:`hot_spots` followed by :func:`summarize_clusters`; call those two to keep the per-cell
    results as well.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix (``Run.matrix``): ``h3``, ``lat``, ``lon``, ``area_km2``, admin codes
        and the population and poverty columns.
    score : array of float
        The profile's score per row (``ScoreResult.score``); NaN cells are not tested.
    profile : str
        Profile id, written in the ``profile`` column.
    contributions, minutes_to_town50k, minutes_to_port, names, rank_by, population_column, poverty_column
        See :func:`summarize_clusters`.
    permutations, fdr, min_cells, seed, adjacency
        See :func:`hot_spots`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cluster, columns :data:`CLUSTER_COLUMNS`, EPSG:4326, sorted by ``rank``;
        empty with the same columns and a :class:`~geo_engine.GeoEngineWarning` when no cluster
        is found.

    Raises
    ------
    ValueError
        For a score of the wrong length, ``permutations < 1``, ``fdr`` outside (0, 1),
        ``min_cells < 1`` and the errors of :func:`summarize_clusters`.

    Examples
    --------
    >>> from geo_engine.pipeline import run  # doctest: +SKIP
    >>> r = run(resolution=7)  # doctest: +SKIP
    >>> res = r.dual.results["agro_food"]  # doctest: +SKIP
    >>> find_clusters(r.matrix, res.score, profile="agro_food",
    ...               contributions=res.contributions, names=r.names).head()  # doctest: +SKIP
    """
    if rank_by not in RANK_CRITERIA:  # fail before the permutations
        msg = f"`rank_by` was {rank_by!r} but must be one of {list(RANK_CRITERIA)}"
        raise ValueError(msg)
    if not isinstance(profile, str) or not profile:
        msg = f"`profile` was {profile!r} but must be a non-empty profile id string"
        raise ValueError(msg)
    cells = hot_spots(matrix, score, permutations=permutations, fdr=fdr, min_cells=min_cells,
                      seed=seed, adjacency=adjacency)
    return _summarize(matrix, cells, profile=profile, contributions=contributions,
                      minutes_to_town50k=minutes_to_town50k, minutes_to_port=minutes_to_port,
                      names=names, rank_by=rank_by, population_column=population_column,
                      poverty_column=poverty_column, warn=lambda msg: warnings.warn(
                          msg, GeoEngineWarning, stacklevel=4))
