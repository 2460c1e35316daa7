"""Find clusters of a profile: Getis-Ord Gi* hot spots on the H3 grid, grouped and profiled."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TypedDict

import geopandas as gpd
import h3.api.numpy_int as h3n
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from h3ronpy.vector import cells_to_wkb_polygons
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from geo_engine._errors import GeoEngineWarning
from geo_engine.matrix.derived import poor_population

__all__ = [
    "CELL_COLUMNS",
    "CLUSTER_COLUMNS",
    "PERMUTATION_BLOCK",
    "RANK_CRITERIA",
    "TravelMinutes",
    "benjamini_hochberg",
    "find_clusters",
    "gi_star",
    "h3_adjacency",
    "hot_spots",
    "summarize_clusters",
    "travel_minutes",
]

TRAVEL_LAYERS = {"minutes_to_town50k": "travel_town_50k", "minutes_to_port": "travel_port"}
"""Matrix layers whose medians profile each cluster (None when a region lacks them)."""


class TravelMinutes(TypedDict):
    """Travel-time arguments of :func:`summarize_clusters`."""

    minutes_to_town50k: np.ndarray | None
    minutes_to_port: np.ndarray | None


def travel_minutes(matrix: pd.DataFrame) -> TravelMinutes:
    """Return the travel-time arguments of :func:`summarize_clusters` from an indicator matrix."""
    def column(layer: str) -> np.ndarray | None:
        return matrix[layer].to_numpy() if layer in matrix else None

    return TravelMinutes(minutes_to_town50k=column(TRAVEL_LAYERS["minutes_to_town50k"]),
                         minutes_to_port=column(TRAVEL_LAYERS["minutes_to_port"]))

CELL_COLUMNS = ("h3", "score", "z", "p_value", "q_value", "significant", "cluster_id")
"""Columns of :func:`hot_spots`, one row per cell."""

CLUSTER_COLUMNS = (
    "cluster_id", "profile", "n_cells", "area_km2", "population", "poor_population", "mean_score",
    "top_layers", "median_minutes_town50k", "median_minutes_port", "districts", "provinces",
    "departments", "centroid_lat", "centroid_lon", "rank", "fdr", "permutations", "geometry",
)
"""Columns of :func:`find_clusters` and :func:`summarize_clusters`, one row per cluster."""

RANK_CRITERIA = ("poor_reach", "poor_population", "population", "mean_score", "n_cells", "area_km2")
"""Accepted ``rank_by`` values; ``poor_reach`` is poor population × mean score."""

_STRING_COLUMNS = ("profile", "top_layers", "districts", "provinces", "departments")
_INT_COLUMNS = ("cluster_id", "n_cells", "rank", "permutations")
_JOIN = ", "
_CHUNK_CELLS = 8192  # cells tested together: about 8192 × permutations × 8 bytes (65 MB at 999)

PERMUTATION_BLOCK = 64
"""Consecutive cells (in H3 id order) that share one set of permutation draws in :func:`gi_star`."""


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------


def _check_int(value: object, *, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"`{name}` was {value!r} but must be an integer of at least {minimum}"
        raise ValueError(msg)
    return int(value)


def _check_fdr(fdr: object) -> float:
    if isinstance(fdr, bool) or not isinstance(fdr, int | float | np.floating | np.integer) \
            or not 0 < float(fdr) < 1:
        msg = f"`fdr` was {fdr!r} but must be a number in (0, 1), e.g. 0.05"
        raise ValueError(msg)
    return float(fdr)


def _check_seed(seed: object) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or seed < 0):
        msg = f"`seed` was {seed!r} but must be a non-negative integer or None"
        raise ValueError(msg)
    return None if seed is None else int(seed)


def _per_cell(values: object, *, name: str, n: int, allow_nan: bool = True) -> np.ndarray:
    try:
        arr = (values.to_numpy(dtype=np.float64, na_value=np.nan) if isinstance(values, pd.Series)
               else np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as err:
        msg = f"`{name}` must be numeric, one value per cell; it could not be read as numbers ({err})"
        raise ValueError(msg) from err
    if arr.ndim != 1 or len(arr) != n:
        msg = (f"`{name}` has shape {arr.shape} but must hold one value per row of the matrix "
               f"({n} rows)")
        raise ValueError(msg)
    if np.isinf(arr).any():
        msg = (f"`{name}` has {int(np.isinf(arr).sum())} infinite values; use NaN for cells "
               "without a value")
        raise ValueError(msg)
    if not allow_nan and np.isnan(arr).any():
        msg = f"`{name}` has {int(np.isnan(arr).sum())} NaN values"
        raise ValueError(msg)
    return arr


def _cell_ids(cells: pd.DataFrame | pd.Series | np.ndarray | Sequence[int]) -> np.ndarray:
    if isinstance(cells, pd.DataFrame):
        if "h3" not in cells:
            msg = f"`grid` has no column 'h3' (uint64 cell ids); columns are {list(cells.columns)[:10]}"
            raise ValueError(msg)
        cells = cells["h3"]
    try:
        ids = np.asarray(cells, dtype=np.uint64)
    except (TypeError, ValueError, OverflowError) as err:
        msg = ("`grid` must be a grid DataFrame with an 'h3' column or an array of uint64 H3 ids "
               f"(convert strings with h3.str_to_int); got {err}")
        raise ValueError(msg) from err
    if ids.ndim != 1:
        msg = f"`grid` cell ids must be one-dimensional; got shape {ids.shape}"
        raise ValueError(msg)
    return ids


def _to_numpy(arrow_array: object) -> np.ndarray:
    return pa.array(arrow_array).to_numpy(zero_copy_only=False)


# ----------------------------------------------------------------------------------------------
# adjacency
# ----------------------------------------------------------------------------------------------


def h3_adjacency(grid: pd.DataFrame | pd.Series | np.ndarray | Sequence[int]) -> sparse.csr_matrix:
    """Return the binary neighbour matrix of the cells of an H3 grid.

    Parameters
    ----------
    grid : pandas.DataFrame or array of uint64
        A grid (its ``h3`` column is used) or the cell ids themselves, all of one resolution,
        without duplicates, in any order.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n × n`` float64 matrix, rows and columns in the order of ``grid``, with 1 where two
        cells are neighbours and 0 on the diagonal. Symmetric.

    Raises
    ------
    ValueError
        If an id is not a valid H3 cell, ids have different resolutions or repeat.

    Notes
    -----
    The neighbours of a cell are the cells of its H3 ``grid_disk`` of radius 1 (the cells sharing
    an edge with it) that are present in ``grid``: 6 for interior hexagons, 5 for the twelve
    pentagons, fewer at the edge of the region or next to cells left out of the grid.

    Examples
    --------
    >>> import h3
    >>> centre = h3.str_to_int(h3.latlng_to_cell(-12.05, -77.04, 7))
    >>> disk = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), 1)]
    >>> adj = h3_adjacency(np.array(disk, dtype=np.uint64))
    >>> int(adj[disk.index(centre)].sum()), adj.shape
    (6, (7, 7))
    """
    ids = _cell_ids(grid)
    n = len(ids)
    if n == 0:
        return sparse.csr_matrix((0, 0), dtype=np.float64)
    valid = _to_numpy(h3ronpy.cells_valid(ids, booleanarray=True)).astype(bool)
    if not valid.all():
        bad = [format(int(c), "x") for c in ids[~valid][:5]]
        msg = f"`grid` has {int((~valid).sum())} ids that are not valid H3 cells, e.g. {bad}"
        raise ValueError(msg)
    res = _to_numpy(h3ronpy.cells_resolution(ids))
    if (res != res[0]).any():
        msg = (f"`grid` mixes H3 resolutions {sorted(set(res.tolist()))}; adjacency needs cells of "
               "one resolution (use h3 cell_to_parent / cell_to_children first)")
        raise ValueError(msg)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    repeated = sorted_ids[1:] == sorted_ids[:-1]
    if repeated.any():
        dups = np.unique(sorted_ids[1:][repeated])[:5]
        msg = f"`grid` repeats cell ids, e.g. {[format(int(c), 'x') for c in dups]}; drop duplicates"
        raise ValueError(msg)
    disk = pa.array(h3ronpy.grid_disk(ids, 1, flatten=False))
    lengths = disk.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
    near = disk.flatten().to_numpy(zero_copy_only=False).astype(np.uint64)
    row = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pos = np.minimum(np.searchsorted(sorted_ids, near), n - 1)
    col = order[pos]
    keep = (sorted_ids[pos] == near) & (col != row)
    return sparse.csr_matrix((np.ones(int(keep.sum())), (row[keep], col[keep])), shape=(n, n))


# ----------------------------------------------------------------------------------------------
# Getis-Ord Gi* with conditional permutation
# ----------------------------------------------------------------------------------------------


def _binary_adjacency(adjacency: object, n: int) -> sparse.csr_matrix:
    if not sparse.issparse(adjacency):
        msg = (f"`adjacency` must be a scipy sparse matrix (see h3_adjacency); got "
               f"{type(adjacency).__name__}")
        raise ValueError(msg)
    adj = sparse.csr_matrix(adjacency, dtype=np.float64, copy=True)
    if adj.shape != (n, n):
        msg = f"`adjacency` has shape {adj.shape} but must be ({n}, {n}), one row per cell"
        raise ValueError(msg)
    if adj.diagonal().any():
        adj.setdiag(0)
    adj.eliminate_zeros()
    adj.data[:] = 1.0
    adj.sort_indices()
    return adj


def _distinct_draws(rng: np.random.Generator, *, rows: int, k_max: int, n_other: int) -> np.ndarray:
    """Return ``rows × k_max`` positions in ``[0, n_other)``, distinct within each row."""
    if n_other <= 64:
        return np.argsort(rng.random((rows, n_other)), axis=1)[:, :k_max].astype(np.int64)
    draws = rng.integers(0, n_other, size=(rows, k_max), dtype=np.int64)
    todo = np.arange(rows)
    while len(todo):  # redraw the few rows with a repeated position (probability < k² / 2 n_other)
        part = draws[todo]
        if k_max <= 8:
            bad = np.zeros(len(todo), dtype=bool)
            for a in range(k_max):
                for b in range(a + 1, k_max):
                    bad |= part[:, a] == part[:, b]
        else:
            bad = (np.diff(np.sort(part, axis=1), axis=1) == 0).any(axis=1)
        todo = todo[bad]
        draws[todo] = rng.integers(0, n_other, size=(len(todo), k_max), dtype=np.int64)
    return draws


DrawFn = Callable[[int], np.ndarray]
"""Given a number of blocks ``b``, return their draws as a ``b × k_max × P`` array of positions."""


def _exceedances(x: np.ndarray, local: np.ndarray, card: np.ndarray, *, permutations: int,
                 block: int, draw: DrawFn) -> np.ndarray:
    """Count, per cell, the random neighbour sums at least as large as the observed one.

    Cells are taken in blocks of ``block`` consecutive cells; each block gets its own
    ``k_max × P`` draws ``D`` of positions in ``[0, n - 1)``. Cell ``i`` with ``k = card[i]``
    neighbours reads the first ``k`` positions of each draw in ``y_i``, ``x`` without element
    ``i`` (``y_i[r] = x[r]`` if ``r < i`` else ``x[r + 1]``), and compares their sum with
    ``local[i]``. Within a block, ``y_i`` differs from ``y`` of the block's first cell ``s``
    only at the positions ``s ≤ r < i``, which are few: their differences are added afterwards.
    """
    n = len(x)
    counts = np.full(n, permutations, dtype=np.int64)  # no neighbours: every draw ties
    k_max = int(card.max()) if n else 0
    if k_max == 0 or n < 2:
        return counts
    scale = max(float(np.max(np.abs(x))), np.finfo(float).tiny)
    threshold = local - 1e-12 * (k_max + 1) * scale  # sums equal up to rounding are ties
    n_blocks = -(-n // block)
    per_chunk = max(1, _CHUNK_CELLS // block)
    for b0 in range(0, n_blocks, per_chunk):
        nb = min(per_chunk, n_blocks - b0)
        starts = (b0 + np.arange(nb)) * block
        ends = np.minimum(starts + block, n)
        draws = draw(nb)  # (nb, k_max, P)
        after = draws >= starts[:, None, None]
        base = np.cumsum(np.where(after, x[draws + 1], x[draws]), axis=1)  # sums of the first k
        first, last = int(starts[0]), int(ends[-1])
        k = card[first:last]
        ref = base[np.arange(last - first) // block, np.maximum(k - 1, 0)]  # (cells, P)
        # positions drawn inside their own block: cells after them read x[r] instead of x[r + 1]
        bi, ci, pi = np.nonzero(after & (draws < ends[:, None, None] - 1))
        if len(bi):
            r = draws[bi, ci, pi]
            span = ends[bi] - 1 - r
            entry = np.repeat(np.arange(len(r)), span)
            cell = r[entry] + 1 + np.arange(len(entry)) - np.repeat(np.cumsum(span) - span, span)
            hit = k[cell - first] > ci[entry]
            entry, cell = entry[hit], cell[hit]
            np.add.at(ref, (cell - first, pi[entry]), (x[r] - x[r + 1])[entry])
        counts[first:last] = np.where(k > 0, np.count_nonzero(ref >= threshold[first:last, None], axis=1),
                                      permutations)
    return counts


def gi_star(
    values: np.ndarray | pd.Series | Sequence[float],
    adjacency: sparse.spmatrix | sparse.sparray,
    *,
    permutations: int = 999,
    seed: int | None = 0,
) -> pd.DataFrame:
    r"""Return the local Getis-Ord Gi* z-score and permutation p-value of every cell.

    Parameters
    ----------
    values : array of float
        One value per cell; NaN cells are left out of the analysis (see Notes).
    adjacency : scipy sparse matrix
        ``n × n`` neighbour matrix (:func:`h3_adjacency`); any non-zero entry is a neighbour
        (binary weights) and the diagonal is ignored: every cell is its own neighbour in Gi*.
    permutations : int, default 999
        Number of conditional permutations; the smallest p-value is ``1 / (permutations + 1)``.
    seed : int or None, default 0
        Seed of the random generator; the same seed gives the same p-values.

    Returns
    -------
    pandas.DataFrame
        One row per cell, in input order: ``z`` (Gi* z-score), ``p_value`` (one-sided pseudo
        p-value for a concentration of high values) and ``neighbours`` (number of neighbours in the
        analysis, self excluded). ``z`` and ``p_value`` are NaN for NaN cells.

    Raises
    ------
    ValueError
        If ``values`` has infinite values or a length other than the side of ``adjacency``, or
        ``permutations`` is below 1.

    Notes
    -----
    Cells whose value is NaN are removed from the graph: they are neither tested nor anybody's
    neighbour, and the mean and variance below run over the :math:`n` remaining cells only.

    With binary weights :math:`w_{ij} = 1` for :math:`j` in the neighbourhood
    :math:`N[i]` of cell :math:`i` *including* :math:`i` itself, :math:`W_i = |N[i]|`,
    :math:`\bar x = \frac{1}{n}\sum_j x_j` and :math:`s^2 = \frac{1}{n}\sum_j x_j^2 - \bar x^2`,

    .. math::

        G_i^* = \frac{\sum_{j \in N[i]} x_j}{\sum_{j} x_j}, \qquad
        z_i = \frac{\sum_{j \in N[i]} x_j - \bar x W_i}
                   {s \sqrt{\left(n W_i - W_i^2\right) / (n - 1)}}

    (Getis & Ord 1992; Ord & Getis 1995), the same z as ``esda.G_Local(y, w, transform="B",
    star=True).Zs`` for a positive total. :math:`z_i = 0` where the denominator is 0 (all values
    equal, or a cell neighbouring every other).

    **Conditional permutation.** Under spatial randomness conditional on :math:`x_i`, the
    :math:`k_i = W_i - 1` neighbours of :math:`i` hold a random :math:`k_i`-subset of the other
    :math:`n - 1` values. As the total is fixed, :math:`G_i^*` of a draw exceeds the observed one
    exactly when the neighbour sum does, so with :math:`P` draws

    .. math::

        p_i = \frac{1 + \#\{p : \sum_{c=1}^{k_i} x_{\pi_p(c)} \ge \sum_{j \in N(i)} x_j\}}{P + 1},

    the upper-tail (hot-spot) pseudo p-value, where :math:`\pi_p` is a random ordering of the
    other cells. Given the same draws it equals esda's ``p_sim`` wherever the observed value lies
    above the median of the draws. To make this cheap, cells are taken in blocks of :data:`PERMUTATION_BLOCK`
    consecutive cells (H3 id order) and each block gets its own :math:`P` draws of
    :math:`\max_i k_i` distinct positions in :math:`0 \ldots n-2`; cell :math:`i` reads position
    :math:`r` as cell :math:`r` if :math:`r < i` and :math:`r + 1` otherwise (so it never draws
    itself) and uses the first :math:`k_i` positions. Every cell's p-value is thus an exact
    conditional-permutation p-value; blocks are independent. (esda shares one set of draws among
    all cells, which is the case of a single block: then the number of cells reaching the
    smallest p-value, and so the number of significant cells, swings by tens of percent from seed
    to seed; with independent blocks it varies by about 1 %.) The work is :math:`O(nP)`: random
    sums are formed once per block and the few positions drawn inside their own block are
    corrected cell by cell. Sums equal up to rounding count as ties (at least as extreme). A
    cell without neighbours gets :math:`p = 1`.
    """
    x_all = np.asarray(values, dtype=np.float64)
    if x_all.ndim != 1:
        msg = f"`values` must be one-dimensional; got shape {x_all.shape}"
        raise ValueError(msg)
    n_all = len(x_all)
    _per_cell(x_all, name="values", n=n_all)
    permutations = _check_int(permutations, name="permutations", minimum=1)
    seed = _check_seed(seed)
    adj = _binary_adjacency(adjacency, n_all)
    ok = np.flatnonzero(np.isfinite(x_all))
    z_all = np.full(n_all, np.nan)
    p_all = np.full(n_all, np.nan)
    k_all = np.zeros(n_all, dtype=np.int64)
    if len(ok):
        x = x_all[ok]
        sub = adj if len(ok) == n_all else adj[ok][:, ok].tocsr()
        card = np.diff(sub.indptr).astype(np.int64)
        local = sub @ x
        z_all[ok] = _gi_z(x, local, card)
        rng = np.random.default_rng(seed)
        k_max = int(card.max())

        def draw(blocks: int) -> np.ndarray:
            flat = _distinct_draws(rng, rows=blocks * permutations, k_max=k_max, n_other=len(x) - 1)
            return flat.reshape(blocks, permutations, k_max).transpose(0, 2, 1)

        counts = _exceedances(x, local, card, permutations=permutations, block=PERMUTATION_BLOCK,
                              draw=draw)
        p_all[ok] = (counts + 1) / (permutations + 1)
        k_all[ok] = card
    return pd.DataFrame({"z": z_all, "p_value": p_all, "neighbours": k_all})


def _gi_z(x: np.ndarray, local: np.ndarray, card: np.ndarray) -> np.ndarray:
    n = len(x)
    mean = float(x.mean()) if n else 0.0
    sd = float(x.std()) if n else 0.0
    if n < 2 or sd <= 1e-12 * float(np.max(np.abs(x))):  # constant values: no departure anywhere
        return np.zeros(n)
    w = card + 1.0
    num = x + local - mean * w
    den = sd * np.sqrt(np.maximum(n * w - w * w, 0.0) / (n - 1))
    out = np.zeros(n)
    np.divide(num, den, out=out, where=den > 0)
    return out


def benjamini_hochberg(p_values: np.ndarray | pd.Series | Sequence[float]) -> np.ndarray:
    r"""Return Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN.

    Parameters
    ----------
    p_values : array of float
        p-values in [0, 1]; NaN entries are not counted as tests.

    Returns
    -------
    numpy.ndarray
        :math:`q_{(i)} = \min_{j \ge i} \min(1, m\,p_{(j)} / j)` for the p-values sorted
        ascending, :math:`m` the number of non-NaN p-values. Rejecting every test with
        :math:`q \le \alpha` controls the false discovery rate at :math:`\alpha` (independent or
        positively dependent tests).
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if (p[ok] < 0).any() or (p[ok] > 1).any():
        msg = "`p_values` must lie in [0, 1]"
        raise ValueError(msg)
    m = len(ok)
    if m == 0:
        return out
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    q = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    out[ok[order]] = q
    return out


# ----------------------------------------------------------------------------------------------
# hot spots and clusters
# ----------------------------------------------------------------------------------------------


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
    x = _per_cell(score, name="score", n=len(matrix))
    permutations = _check_int(permutations, name="permutations", minimum=1)
    fdr = _check_fdr(fdr)
    min_cells = _check_int(min_cells, name="min_cells", minimum=1)
    seed = _check_seed(seed)
    adj = h3_adjacency(matrix) if adjacency is None else _binary_adjacency(adjacency, len(matrix))
    gi = gi_star(x, adj, permutations=permutations, seed=seed)
    z = gi["z"].to_numpy()
    p = gi["p_value"].to_numpy()
    q = benjamini_hochberg(p)
    significant = np.nan_to_num(q, nan=np.inf) <= fdr
    significant &= np.nan_to_num(z) > 0
    cluster = _label_clusters(adj, significant, min_cells=min_cells, ids=_cell_ids(matrix))
    out = pd.DataFrame({
        "h3": _cell_ids(matrix), "score": x, "z": z, "p_value": p, "q_value": q,
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
        if col in _STRING_COLUMNS:
            data[col] = pd.Series([], dtype="str")
        elif col in _INT_COLUMNS:
            data[col] = pd.Series([], dtype="int64")
        else:
            data[col] = pd.Series([], dtype="float64")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def _joined(labels: np.ndarray, values: np.ndarray, n_clusters: int) -> list[str]:
    frame = pd.DataFrame({"c": labels, "v": pd.Series(values, dtype="str")}).dropna()
    frame = frame.drop_duplicates().sort_values(["c", "v"], kind="stable")
    joined = frame.groupby("c")["v"].agg(_JOIN.join)
    return [str(joined.get(c, "")) for c in range(n_clusters)]


def _admin_values(matrix: pd.DataFrame, names: pd.DataFrame | None, rows: np.ndarray
                  ) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    levels = {"districts": ("district_code", "district"), "provinces": ("province_code", "province"),
              "departments": ("department_code", "department")}
    district = (matrix["district_code"].to_numpy(dtype=object)[rows] if "district_code" in matrix
                else None)
    for key, (code_col, name_col) in levels.items():
        codes = (matrix[code_col].to_numpy(dtype=object)[rows] if code_col in matrix
                 else np.full(len(rows), None, dtype=object))
        if names is not None and name_col in names and district is not None:
            lookup = dict(zip(names["district_code"].astype(str), names[name_col], strict=False))
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
    parts = shapely.from_wkb(_to_numpy(cells_to_wkb_polygons(np.sort(ids), link_cells=True)))
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
        ``district_code`` with ``district``, ``province``, ``department`` names
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
        wrong length, ``names`` lacks ``district_code`` or ``rank_by`` is unknown.

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
    if names is not None and (not isinstance(names, pd.DataFrame) or "district_code" not in names):
        msg = "`names` must be a DataFrame with a 'district_code' column (e.g. Run.names)"
        raise ValueError(msg)
    town = (np.full(n, np.nan) if minutes_to_town50k is None
            else _per_cell(minutes_to_town50k, name="minutes_to_town50k", n=n))
    port = (np.full(n, np.nan) if minutes_to_port is None
            else _per_cell(minutes_to_port, name="minutes_to_port", n=n))
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
        top = [_JOIN.join(str(v) for v in layer_names[b]) for b in best]

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
        "districts": pd.Series(_joined(labels, admin["districts"], m), dtype="str"),
        "provinces": pd.Series(_joined(labels, admin["provinces"], m), dtype="str"),
        "departments": pd.Series(_joined(labels, admin["departments"], m), dtype="str"),
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
