"""Travel time: least-cost minutes from every cell to the nearest destination, and reach tables."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from geo_engine._errors import GeoEngineWarning
from geo_engine.access.friction import are_adjacent
from geo_engine.access.graph import Graph, neighbour_graph
from geo_engine.access.speeds import SNAP_EDGES, FloatArray, Friction, IntArray, show_value
from geo_engine.ingest.vector import (
    check_features,
    point_positions,
)
from geo_engine.spatial.sphere import (
    Grid,
    arc_km,
    check_grid,
    edge_km,
    km_to_chord,
    unit_vectors,
)

__all__ = [
    "cell_centres",
    "reach_table",
    "travel_time",
]

def _check_speeds(speeds: npt.ArrayLike, n: int) -> FloatArray:
    try:
        v = np.asarray(speeds, dtype=float)
    except (TypeError, ValueError) as err:
        msg = "`speeds` must be an array of numbers (km/h), one per grid row"
        raise ValueError(msg) from err
    if v.shape != (n,):
        msg = f"`speeds` has shape {v.shape} but the grid has {n} cells; give one speed (km/h) per row"
        raise ValueError(msg)
    bad = (v < 0) | np.isinf(v)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (f"`speeds` has {int(bad.sum())} negative or infinite values "
               f"(e.g. {show_value(v[first])} at row {first}); speeds are km/h >= 0, with 0 or NaN "
               "for impassable cells")
        raise ValueError(msg)
    return v


def cell_centres(ids: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return the latitude and longitude of H3 cells given as integers or hexadecimal strings."""
    arr = np.asarray(ids)
    if arr.dtype.kind in "USO":
        try:
            cells = np.array([h3n.str_to_int(str(c)) for c in arr.ravel()], dtype=np.uint64)
        except (ValueError, TypeError) as err:
            msg = "destination cells must be H3 ids (64-bit integers or hexadecimal strings)"
            raise ValueError(msg) from err
    elif arr.dtype.kind in "iu":
        cells = arr.ravel().astype(np.uint64)
    else:
        msg = (f"destinations must be a GeoDataFrame of points or an array of H3 cell ids, not an array "
               f"of {arr.dtype}")
        raise TypeError(msg)
    valid = np.fromiter((h3n.is_valid_cell(c) for c in cells), bool, len(cells))
    if not valid.all():
        msg = (f"{int((~valid).sum())} destination ids are not valid H3 cells, e.g. "
               f"{int(cells[~valid][0])}")
        raise ValueError(msg)
    latlng = np.array([h3n.cell_to_latlng(c) for c in cells], dtype=float).reshape(-1, 2)
    return latlng[:, 0], latlng[:, 1]


def _destination_rows(grid: pd.DataFrame, g: Grid, graph: Graph,
                      targets: gpd.GeoDataFrame | npt.ArrayLike, snap_km: float | None, *,
                      outside_ok: bool = False) -> IntArray:
    """Grid rows of the cells holding the destinations (snapped if just outside; see travel_time).

    With ``outside_ok`` destinations outside the grid are left out silently (the grid is part of
    a larger one whose times reach it through known start minutes).
    """
    if isinstance(targets, gpd.GeoDataFrame | gpd.GeoSeries):
        frame = targets if isinstance(targets, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=targets)
        if len(frame) == 0:
            lat = lon = np.empty(0)
        else:
            _, geoms = check_features(frame, what="destinations", allowed=frozenset({"Point"}))
            lat, lon = shapely.get_y(geoms), shapely.get_x(geoms)
    elif isinstance(targets, pd.DataFrame):
        msg = "`destinations` must be a GeoDataFrame of points (with a CRS) or an array of H3 cell ids"
        raise TypeError(msg)
    else:
        lat, lon = cell_centres(targets)
    total = len(lat)
    if total == 0:
        msg = ("`destinations` is empty: travel time needs at least one destination (points or H3 "
               "cells); check the filter or threshold that built the set")
        raise ValueError(msg)
    rows = point_positions(grid, lat, lon)
    snap = SNAP_EDGES * edge_km(g.resolution) if snap_km is None else float(snap_km)
    if not (math.isfinite(snap) and snap >= 0):
        msg = f"`snap_km` was {snap_km!r} but must be a distance >= 0 km (or None for the default)"
        raise ValueError(msg)
    out = rows < 0
    if out.any() and snap > 0:
        chord, nearest = graph.tree.query(unit_vectors(lat[out], lon[out]),
                                          distance_upper_bound=km_to_chord(snap))
        near = np.isfinite(chord) & (arc_km(np.where(np.isfinite(chord), chord, 0.0)) <= snap)
        rows[np.flatnonzero(out)[near]] = nearest[near]
    dropped = int((rows < 0).sum())
    if outside_ok:
        return np.unique(rows[rows >= 0])
    if dropped == total:
        msg = (f"none of the {total} destinations lies in the grid or within {snap:.1f} km of one of its "
               "cells; check that they are in the region and have the right CRS (or raise `snap_km`)")
        raise ValueError(msg)
    if dropped:
        warnings.warn(f"{dropped} of {total} destinations lie outside the grid (more than {snap:.1f} km "
                      "from any cell) and were dropped", GeoEngineWarning, stacklevel=3)
    return np.unique(rows[rows >= 0])


def _with_links(graph: Graph, weight: FloatArray, friction: Friction) -> csr_array:
    """Return the weighted graph plus the links of ``friction`` (the faster edge of two on one pair)."""
    n = graph.size
    a, b = friction.link_rows[:, 0], friction.link_rows[:, 1]
    minutes = 60.0 * friction.link_km / friction.link_kmh
    other = a != b
    row = np.concatenate([a[other], b[other]])
    col = np.concatenate([b[other], a[other]])
    data = np.concatenate([minutes[other], minutes[other]])
    order = np.lexsort((data, col, row))  # the fastest of duplicate links first
    first = np.ones(len(order), dtype=bool)
    first[1:] = (row[order][1:] != row[order][:-1]) | (col[order][1:] != col[order][:-1])
    row, col, data = row[order[first]], col[order[first]], data[order[first]]
    weight = weight.copy()
    adjacent = are_adjacent(graph, row, col)
    for r, c, m in zip(row[adjacent], col[adjacent], data[adjacent], strict=True):
        at = graph.indptr[r] + int(np.flatnonzero(graph.indices[graph.indptr[r]:graph.indptr[r + 1]] == c)[0])
        weight[at] = min(weight[at], m)
    base = graph.matrix(weight, np.isfinite(weight))
    far = ~adjacent
    return csr_array(base + csr_array((data[far], (row[far], col[far])), shape=(n, n)))


def _minutes_graph(g: Grid, graph: Graph, speeds: Friction | npt.ArrayLike
                   ) -> tuple[csr_array, npt.NDArray[np.bool_]]:
    """Return the graph weighted by crossing minutes (see :func:`travel_time`) and the passable cells."""
    friction = speeds if isinstance(speeds, Friction) else None
    v = _check_speeds(speeds.speed_kmh if isinstance(speeds, Friction) else speeds, g.size)
    if friction is not None and len(friction.link_rows) and not (
            (friction.link_rows >= 0).all() and (friction.link_rows < g.size).all()):
        msg = f"the links of `speeds` join rows outside the grid's {g.size} rows; build them on this grid"
        raise ValueError(msg)
    passable = np.isfinite(v) & (v > 0)
    inv = np.divide(1.0, v, out=np.full(g.size, np.inf), where=passable)
    weight = 30.0 * graph.km * (inv[graph.row] + inv[graph.indices])
    if friction is None or len(friction.link_rows) == 0:
        return graph.matrix(weight, np.isfinite(weight)), passable
    return _with_links(graph, weight, friction), passable


def reach_table(
    grid: pd.DataFrame,
    speeds: Friction | npt.ArrayLike,
    rows: npt.ArrayLike,
    *,
    max_minutes: float,
    batch: int = 32,
) -> pd.DataFrame:
    """Return, for each origin row, every cell reachable within ``max_minutes`` and its time.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid or indicator matrix (cells sorted by ``h3`` with ``lat``, ``lon``).
    speeds : Friction or array_like
        As in :func:`travel_time`.
    rows : array_like of int
        Grid rows of the origins (e.g. candidate sites).
    max_minutes : float
        Reach: cells farther than this are left out.
    batch : int, default 32
        Origins searched at once (memory: ``batch`` × cells floats).

    Returns
    -------
    pandas.DataFrame
        ``origin`` (position in ``rows``), ``row`` (grid row reached) and ``minutes``, one line
        per reached pair, origins in order (each origin reaches at least itself).

    Notes
    -----
    One Dijkstra search per origin, bounded at ``max_minutes`` (the ``limit`` of
    :func:`scipy.sparse.csgraph.dijkstra`), over the same graph and crossing times as
    :func:`travel_time`; times are symmetric, so this is also the time *from* each cell *to*
    the origin.
    """
    if not (isinstance(max_minutes, int | float) and max_minutes > 0):
        msg = f"`max_minutes` was {max_minutes!r} but must be a positive number of minutes"
        raise ValueError(msg)
    g = check_grid(grid)
    origins = np.asarray(rows, dtype=np.int64).ravel()
    if origins.size and not ((origins >= 0).all() and (origins < g.size).all()):
        msg = f"`rows` holds rows outside the grid's {g.size} rows"
        raise ValueError(msg)
    matrix, _ = _minutes_graph(g, neighbour_graph(g), speeds)
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    for start in range(0, origins.size, max(int(batch), 1)):
        chunk = origins[start:start + max(int(batch), 1)]
        dist = dijkstra(matrix, directed=True, indices=chunk, limit=float(max_minutes))
        o, r = np.nonzero(np.isfinite(dist))
        parts.append((o + start, r, dist[o, r]))
    if not parts:
        return pd.DataFrame({"origin": np.empty(0, np.int64), "row": np.empty(0, np.int64),
                             "minutes": np.empty(0)})
    return pd.DataFrame({"origin": np.concatenate([p[0] for p in parts]),
                         "row": np.concatenate([p[1] for p in parts]),
                         "minutes": np.concatenate([p[2] for p in parts])})


def travel_time(
    grid: pd.DataFrame,
    speeds: Friction | npt.ArrayLike,
    destinations: gpd.GeoDataFrame | npt.ArrayLike,
    *,
    max_minutes: float | None = None,
    snap_km: float | None = None,
    start: npt.ArrayLike | None = None,
) -> FloatArray:
    r"""Return the travel time (minutes) from every cell to the nearest destination.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid or indicator matrix (cells sorted by ``h3`` with ``lat``, ``lon``).
    speeds : Friction or array_like
        The friction surface from :func:`cell_speeds`, or just a speed (km/h) per grid row; 0 or NaN
        marks an impassable cell.
    destinations : geopandas.GeoDataFrame or array_like
        Destination points (any CRS), or H3 cell ids (integers or hexadecimal strings, any
        resolution: their centres are used).
    max_minutes : float, optional
        Stop the search at this time; cells farther away are NaN. Saves time for local questions.
    snap_km : float, optional
        Destinations outside the grid but within this distance of a cell centre are moved to that
        cell (coastal ports, border towns); default :data:`SNAP_EDGES` average cell edges, 0 turns
        snapping off.
    start : array_like, optional
        Minutes already known for some grid rows (NaN elsewhere), e.g. the border cells of a part
        of a larger grid: a search also starts from those cells with those minutes. Destinations
        outside the grid are then left out without a warning.

    Returns
    -------
    numpy.ndarray
        Minutes per grid row from the cell centre to the centre of the nearest destination cell
        (0 in destination cells); NaN where no destination can be reached (islands, cells cut off by
        impassable ones) or beyond ``max_minutes``.

    Raises
    ------
    ValueError
        If ``destinations`` is empty or none of them is in (or near) the grid, or ``speeds`` does not
        match the grid or holds negative values.

    Warns
    -----
    GeoEngineWarning
        With the count of destinations dropped for lying outside the grid, and of those in
        impassable cells (they reach only their own cell).

    Notes
    -----
    Cells are the nodes of the graph of :func:`cell_graph`; the edge between neighbours :math:`i`
    and :math:`j`, whose centres are :math:`d_{ij}` km apart (great circle), is half in each cell, so
    crossing it takes

    .. math::

        t_{ij} = 60\,\frac{d_{ij}}{2}\left(\frac{1}{v_i} + \frac{1}{v_j}\right)
               = 60\,\frac{d_{ij}}{H(v_i, v_j)} \text{ minutes},

    :math:`H` the harmonic mean of the two speeds (an arithmetic mean would let a fast cell hide a
    slow neighbour). Edges touching an impassable cell are removed. The links of a
    :class:`Friction` are further edges, crossed in :math:`60\,d_{ab} / v_{ab}` minutes. The time of
    cell :math:`c` is :math:`T_c = \min_{s \in S} \min_{\text{paths } c \to s} \sum t_{ij}` over the
    destination cells :math:`S`, found by one multi-source Dijkstra run
    (:func:`scipy.sparse.csgraph.dijkstra` with ``min_only=True``). Times are symmetric (the graph is
    undirected), never shorter than :math:`60\,d(c, s) / \max v` over cell and link speeds (the
    triangle inequality on the sphere) and never shorter with lower speeds.

    With ``start`` minutes :math:`m_b` on cells :math:`B`, a further node joined to each
    :math:`b \in B` by an edge of :math:`m_b` minutes is a source too, so
    :math:`T_c = \min(\min_{s \in S} d(c, s), \min_{b \in B} d(c, b) + m_b)`. When :math:`B` is the
    edge of a part of a larger grid and :math:`m_b` the larger grid's times, a shortest path of
    the larger grid leaves the part through some :math:`b`, so :math:`T_c` is its time (up to
    the links cut by the part's edge).
    """
    if max_minutes is not None and not (isinstance(max_minutes, int | float) and max_minutes > 0):
        msg = f"`max_minutes` was {max_minutes!r} but must be a positive number of minutes (or None)"
        raise ValueError(msg)
    g = check_grid(grid)
    graph = neighbour_graph(g)
    known = None if start is None else _check_start(start, g.size)
    sources = _destination_rows(grid, g, graph, destinations, snap_km, outside_ok=known is not None)
    matrix, passable = _minutes_graph(g, graph, speeds)
    if not passable[sources].all():
        stuck = int((~passable[sources]).sum())
        warnings.warn(f"{stuck} destination cells are impassable (speed 0 or NaN); they reach only "
                      "their own cell", GeoEngineWarning, stacklevel=2)
    limit = np.inf if max_minutes is None else float(max_minutes)
    if known is not None:
        matrix, sources = _with_start(matrix, sources, known)
    if not len(sources):
        return np.full(g.size, np.nan)
    dist = dijkstra(matrix, directed=True, indices=sources, min_only=True, limit=limit)[:g.size]
    return np.where(np.isfinite(dist), dist, np.nan)


def _check_start(start: npt.ArrayLike, n: int) -> FloatArray:
    """Return known start minutes per grid row (NaN for none), checked."""
    m = np.asarray(start, dtype=float)
    if m.shape != (n,) or (m < 0).any():
        msg = (f"`start` has shape {m.shape} or negative minutes; give one number of minutes >= 0 "
               f"(or NaN) per grid row, {n} rows")
        raise ValueError(msg)
    return m


def _with_start(matrix: csr_array, sources: IntArray, known: FloatArray
                ) -> tuple[csr_array, IntArray]:
    """Return the graph with one more node joined to the cells of known minutes, and the sources.

    The new node (the last) is a source; an edge from it to a cell costs the cell's minutes. Cells
    with 0 minutes are sources themselves.
    """
    n = matrix.shape[0]
    given = np.isfinite(known)
    zero = np.flatnonzero(given & (known == 0))
    rows = np.flatnonzero(given & (known > 0))
    indptr = np.append(matrix.indptr, matrix.indptr[-1] + len(rows))
    indices = np.concatenate([matrix.indices, rows]).astype(matrix.indices.dtype)
    data = np.concatenate([matrix.data, known[rows]])
    grown = csr_array((data, indices, indptr), shape=(n + 1, n + 1))
    extra = np.array([n]) if len(rows) else np.empty(0, np.int64)
    return grown, np.unique(np.concatenate([sources, zero, extra])).astype(np.int64)
