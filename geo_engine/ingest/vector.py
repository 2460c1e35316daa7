"""Aggregate vector features (points, lines, polygons) to the cells of an H3 grid.

Every public function takes a grid from :func:`geo_engine.spatial.grid.build_grid` (cells sorted by ``h3``
with their centre ``lat``/``lon``) and a GeoDataFrame in any CRS, and returns one float64 value per
grid row, in grid order. Distances are great-circle distances in km on a sphere of radius
:data:`EARTH_RADIUS_KM`; line lengths are geodesic lengths on the WGS 84 ellipsoid; areas are
measured in the equal-area CRS returned by :func:`equal_area_crs`. Nothing is measured in degrees.

Rows without geometry are dropped with a :class:`~geo_engine._errors.GeoEngineWarning`; an empty
layer warns and returns the documented "no feature" value (0 for counts, sums, lengths, densities
and shares; NaN for maxima, distances and intensive values). Points that fall in the grid's extent
only once longitude and latitude are exchanged warn too (:func:`geo_engine.io.safe_read.check_lonlat`).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from scipy.spatial import cKDTree

from geo_engine._errors import GeoEngineWarning
from geo_engine.io.safe_read import check_lonlat
from geo_engine.spatial.crs import Projection, grid_projection
from geo_engine.spatial.sphere import (
    EARTH_RADIUS_KM,
    HAS_H3RONPY,
    Grid,
    arc_km,
    cells_to_wkb,
    check_grid,
    disks,
    edge_km,
    haversine_km,
    km_to_chord,
    latlng_to_cells,
    nearest_vectors,
    positions,
    unit_vectors,
)

_HAS_H3RONPY = HAS_H3RONPY  # the accelerator (spatial.sphere); the tests switch it off here

__all__ = [
    "LINE_TYPES",
    "check_features",
    "distance_to_nearest",
    "kernel_density",
    "lines_to_cells",
    "nearest",
    "nearest_km",
    "point_positions",
    "points_to_cells",
    "polygons_to_cells",
]



_GEOD = Geod(ellps="WGS84")
_SAMPLE_EDGES = 0.8  # sampling step along segments, in average cell edges (a speed setting only)
_CHUNK = 200_000  # (segment, cell) pairs clipped at once: bounds the temporary arrays to ~100 MB
_KDE_PAIRS = 5_000_000  # (cell, point) pairs handled at once by kernel_density (~150 MB)
_LOOP_MAX_POLYGONS = 5_000  # beyond this, points in polygons are found with an R-tree

_POINT_TYPES = frozenset({"Point"})
LINE_TYPES = frozenset({"LineString", "MultiLineString", "LinearRing"})
_POLYGON_TYPES = frozenset({"Polygon", "MultiPolygon"})


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------






def check_features(features: gpd.GeoDataFrame, *, what: str,
                    allowed: frozenset[str]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Return the rows with a geometry (in EPSG:4326) and their geometries; check CRS and types."""
    if not isinstance(features, gpd.GeoDataFrame):
        msg = f"`{what}` must be a GeoDataFrame, not {type(features).__name__}"
        raise TypeError(msg)
    if features.crs is None:
        msg = (f"`{what}` have no CRS; set it with `.set_crs(...)` (e.g. EPSG:4326 for lon/lat) "
               "before aggregating them to cells")
        raise ValueError(msg)
    present = features.geometry.notna().to_numpy() & ~features.geometry.is_empty.to_numpy()
    if not present.all():
        warnings.warn(f"{int((~present).sum())} of {len(features)} {what} have no geometry and were "
                      "ignored", GeoEngineWarning, stacklevel=3)
        features = features[present]
    types = set(features.geom_type.unique())
    wrong = sorted(types - allowed)
    if wrong:
        hint = (" (explode multi-part geometries with `.explode(index_parts=False)`)"
                if "MultiPoint" in wrong else "")
        counts = features.geom_type.value_counts()
        found = ", ".join(f"{int(counts[t])} {t}" for t in wrong)
        msg = f"`{what}` must all be {'/'.join(sorted(allowed))} geometries; found {found}{hint}"
        raise ValueError(msg)
    if not features.crs.equals("EPSG:4326"):
        features = features.to_crs(4326)
    return features, features.geometry.to_numpy()


def _check_swapped(g: Grid, geoms: np.ndarray, *, what: str) -> None:
    """Warn when points lie in the grid's extent only once longitude and latitude are exchanged."""
    points = geoms[shapely.get_type_id(geoms) == 0]
    if g.size and len(points):
        check_lonlat(shapely.get_x(points), shapely.get_y(points), source=f"the {what}",
                     bounds=(g.lon.min(), g.lat.min(), g.lon.max(), g.lat.max()))


def _values(features: gpd.GeoDataFrame, column: str, *, what: str) -> np.ndarray:
    if column not in features:
        msg = f"`{what}` have no column {column!r}; columns are {list(features.columns)}"
        raise KeyError(msg)
    try:
        return features[column].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as err:
        msg = f"column {column!r} of `{what}` must be numeric (got dtype {features[column].dtype})"
        raise ValueError(msg) from err


def _warn_empty(what: str, result: str) -> None:
    warnings.warn(f"no {what} to aggregate; every cell gets {result}", GeoEngineWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------------------------










# --------------------------------------------------------------------------------------------
# exact clipping of straight segments by the grid's hexagons (in the equal-area CRS)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hexes:
    """Cell polygons in the equal-area CRS, sorted by grid position.

    Six-vertex cells (``regular``) are stored as counter-clockwise vertices relative to a local
    origin, with the unit inward normal and offset of each edge line (inside ⇔ n·p ≥ offset) and the
    Green integral ∮(x dy − y dx)/2 along the boundary from vertex 0 to each vertex (``cum``).
    Pentagons and cells with distortion vertices are left to GEOS (``rings``).
    """

    pos: np.ndarray
    regular: np.ndarray
    origin: np.ndarray
    verts: np.ndarray
    normals: np.ndarray
    offsets: np.ndarray
    cum: np.ndarray
    area: np.ndarray
    rings: list[np.ndarray | None]

    def lookup(self, pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.pos, pos)

    def polygons(self, idx: np.ndarray) -> np.ndarray:
        """Absolute projected polygons of the cells at ``idx``."""
        out = np.empty(len(idx), dtype=object)
        for j, i in enumerate(idx):
            ring = self.rings[i]
            out[j] = shapely.Polygon(ring if ring is not None else self.verts[i] + self.origin[i])
        return out


def _cell_rings(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the boundary vertices (lon, lat) of cells, concatenated, and their number per cell."""
    if _HAS_H3RONPY and len(cells):
        # one WKB polygon per cell: byte order, type, ring count, point count, then (x, y) doubles
        wkb = cells_to_wkb(cells)
        raw = wkb.buffers()[2]
        offsets = np.frombuffer(wkb.buffers()[1], np.int64)[wkb.offset:wkb.offset + len(wkb) + 1]
        data = np.frombuffer(raw, np.uint8)
        start = offsets[:-1]
        points = np.ascontiguousarray(data[start[:, None] + np.arange(9, 13)]).view("<u4").ravel()
        counts = points.astype(np.int64) - 1  # drop the closing vertex
        if ((data[start] == 1) & (data[start + 1] == 3) & (data[start + 5] == 1)).all() \
                and (offsets[1:] - start == 13 + 16 * (counts + 1)).all():
            first = start + 13
            out = np.empty(2 * int(counts.sum()))
            out_start = 2 * (np.cumsum(counts) - counts)
            for shift in np.unique(first % 8):  # doubles are read at 8-byte aligned views
                sel = np.flatnonzero(first % 8 == shift)
                doubles = np.frombuffer(raw, "<f8", count=(len(data) - int(shift)) // 8, offset=int(shift))
                k = 2 * counts[sel]
                within = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
                out[np.repeat(out_start[sel], k) + within] = doubles[np.repeat((first[sel] - shift) // 8, k)
                                                                     + within]
            return out.reshape(-1, 2), counts
    bnd = [h3n.cell_to_boundary(c) for c in cells]
    counts = np.fromiter(map(len, bnd), np.int64, len(bnd))
    latlon = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(bnd)), float,
                         2 * int(counts.sum())).reshape(-1, 2)
    return latlon[:, ::-1], counts


def _hexagons(g: Grid, pos: np.ndarray, proj: Projection) -> _Hexes:
    pos = np.unique(pos)
    lonlat, counts = _cell_rings(g.cells[pos])
    x, y = proj.forward(lonlat[:, 0], lonlat[:, 1])
    regular = counts == 6
    m = len(pos)
    verts = np.full((m, 6, 2), np.nan)
    rings: list[np.ndarray | None] = [None] * m
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    xy = np.column_stack([x, y])
    six = np.flatnonzero(regular)
    verts[six] = xy[starts[six, None] + np.arange(6)]
    for i in np.flatnonzero(~regular):
        rings[i] = xy[starts[i]:starts[i] + counts[i]]
    origin = verts.mean(axis=1)
    verts = verts - origin[:, None, :]
    nxt = np.roll(verts, -1, axis=1)
    cross = verts[..., 0] * nxt[..., 1] - verts[..., 1] * nxt[..., 0]
    clockwise = cross.sum(axis=1) < 0
    if clockwise.any():
        verts[clockwise] = verts[clockwise, ::-1]
        nxt = np.roll(verts, -1, axis=1)
        cross = verts[..., 0] * nxt[..., 1] - verts[..., 1] * nxt[..., 0]
    edge = nxt - verts
    length = np.hypot(edge[..., 0], edge[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        normals = np.stack([-edge[..., 1], edge[..., 0]], axis=-1) / length[..., None]
    offsets = np.einsum("mkd,mkd->mk", normals, verts)
    cum = np.concatenate([np.zeros((m, 1)), np.cumsum(cross / 2.0, axis=1)], axis=1)
    area = cum[:, 6].copy()
    if not regular.all():
        odd = np.flatnonzero(~regular)
        origin[odd] = 0.0
        area[odd] = shapely.area(np.array([shapely.Polygon(rings[i]) for i in odd], dtype=object))
    return _Hexes(pos, regular, origin, verts, normals, offsets, cum, area, rings)


@dataclass
class _Clip:
    """Cyrus–Beck clip of segments A→B (local coordinates) by convex hexagons."""

    t0: np.ndarray
    t1: np.ndarray
    inside: np.ndarray     # the clipped piece has positive length
    a_out: np.ndarray
    b_out: np.ndarray
    k_in: np.ndarray       # edge through which the segment enters (when a is outside)
    k_out: np.ndarray      # edge through which it leaves (when b is outside)
    near: np.ndarray       # an end lies on the hexagon boundary or the segment grazes a vertex


def _clip(a: np.ndarray, b: np.ndarray, hx: _Hexes, h: np.ndarray, tol: float) -> _Clip:
    n = hx.normals[h]
    off = hx.offsets[h]
    da = a[:, None, 0] * n[..., 0] + a[:, None, 1] * n[..., 1] - off  # signed distance of a to edges
    db = b[:, None, 0] * n[..., 0] + b[:, None, 1] * n[..., 1] - off
    along = (np.abs(da) <= tol) & (np.abs(db) <= tol)  # segment on an edge line: on the closed side
    da = np.where(along, 0.0, da)
    db = np.where(along, 0.0, db)
    den = db - da
    with np.errstate(divide="ignore", invalid="ignore"):
        t = da / (da - db)
    enter = den > 0
    leave = den < 0
    t_in = np.where(enter, t, -np.inf)
    t_out = np.where(leave, t, np.inf)
    k_in = np.argmax(t_in, axis=1)
    k_out = np.argmin(t_out, axis=1)
    rows = np.arange(len(h))
    t0 = np.maximum(t_in[rows, k_in], 0.0)
    t1 = np.minimum(t_out[rows, k_out], 1.0)
    blocked = ((den == 0) & (da < 0)).any(axis=1)
    inside = (t0 < t1) & ~blocked
    a_out = np.asarray((da < 0).any(axis=1))
    b_out = np.asarray((db < 0).any(axis=1))
    near_a = (da >= -tol).all(axis=1) & (da.min(axis=1) <= tol)
    near_b = (db >= -tol).all(axis=1) & (db.min(axis=1) <= tol)
    # distance from each hexagon vertex to the segment
    v = hx.verts[h]
    d = b - a
    dd = np.maximum(d[:, 0] ** 2 + d[:, 1] ** 2, 1e-300)
    u = np.clip(((v[..., 0] - a[:, None, 0]) * d[:, None, 0]
                 + (v[..., 1] - a[:, None, 1]) * d[:, None, 1]) / dd[:, None], 0.0, 1.0)
    gx = a[:, None, 0] + u * d[:, None, 0] - v[..., 0]
    gy = a[:, None, 1] + u * d[:, None, 1] - v[..., 1]
    graze = (gx * gx + gy * gy <= tol * tol).any(axis=1)
    return _Clip(t0, t1, inside, a_out, b_out, k_in, k_out, near_a | near_b | graze)


def _segment_cell_pairs(a: np.ndarray, b: np.ndarray, g: Grid, proj: Projection,
                        spacing_km: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (segment, grid position) pairs that include every cell each segment touches.

    Segments (projected coordinates) are sampled about 0.8 average cell edge apart and the samples
    indexed at the grid resolution. The straight piece between two consecutive samples in adjacent
    cells X and Y lies in the convex hull of X ∪ Y, which is X, Y and two triangles, each inside
    the cell at one end of the edge X and Y share (the two cells neighbouring both): those four
    cells are the candidates. Segments with consecutive samples in cells that are not neighbours
    (none at 0.8 edge on real data) are sampled again four times more finely, so no touched cell
    can be missed whatever the sampling step.
    """
    if len(a) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    spacing = spacing_km or _SAMPLE_EDGES * edge_km(g.resolution)
    lon_a, lat_a = proj.inverse(a[:, 0], a[:, 1])
    lon_b, lat_b = proj.inverse(b[:, 0], b[:, 1])
    length = np.maximum(haversine_km(lat_a, lon_a, lat_b, lon_b), np.hypot(*(b - a).T) / 1000.0)
    n_sub = np.maximum(np.ceil(length / spacing), 1).astype(np.int64)
    inner = n_sub - 1  # samples strictly between the two ends, in order along each segment
    seg = np.repeat(np.arange(len(a)), inner)
    t = (np.arange(len(seg)) - np.repeat(np.cumsum(inner) - inner, inner) + 1) / n_sub[seg]
    lon_i, lat_i = proj.inverse(a[seg, 0] + t * (b[seg, 0] - a[seg, 0]),
                                a[seg, 1] + t * (b[seg, 1] - a[seg, 1]))
    # order: each segment's start, its inner samples, its end
    slot = np.concatenate([np.cumsum(n_sub + 1) - n_sub - 1, np.cumsum(n_sub + 1) - 1])
    where = np.ones(int((n_sub + 1).sum()), dtype=bool)
    where[slot] = False
    lat = np.empty(len(where))
    lon = np.empty(len(where))
    lat[slot], lon[slot] = np.concatenate([lat_a, lat_b]), np.concatenate([lon_a, lon_b])
    lat[where], lon[where] = lat_i, lon_i
    owner = np.repeat(np.arange(len(a)), n_sub + 1)
    cells = latlng_to_cells(lat, lon, g.resolution)
    new = np.concatenate([[True], (cells[1:] != cells[:-1]) | (owner[1:] != owner[:-1])])
    owner, cells = owner[new], cells[new]
    step = np.flatnonzero(owner[1:] == owner[:-1])  # consecutive samples in two different cells
    base, inv = np.unique(cells[np.concatenate([step, step + 1])], return_inverse=True)
    flat, offsets = disks(base)
    sizes = np.diff(offsets)
    table = np.zeros((len(base), 7), np.uint64)
    row = np.repeat(np.arange(len(base)), sizes)
    table[row, np.arange(len(flat)) - offsets[row]] = flat
    dx, dy = table[inv[:len(step)]], table[inv[len(step):]]
    common = (dx[:, :, None] == dy[:, None, :]).any(axis=2) & (dx != 0)
    cand = np.concatenate([cells, dx[common]])
    cand_owner = np.concatenate([owner, np.repeat(owner[step], common.sum(axis=1))])
    pos = positions(g, cand)
    ok = pos >= 0
    keys = [cand_owner[ok] * np.int64(g.size) + pos[ok]]
    far = np.unique(owner[step[~(dx == cells[step + 1][:, None]).any(axis=1)]])  # not neighbours
    if len(far) and spacing > 1e-3 * edge_km(g.resolution):
        seg_f, pos_f = _segment_cell_pairs(a[far], b[far], g, proj, spacing / 4)
        keys.append(far[seg_f] * np.int64(g.size) + pos_f)
    pair = np.unique(np.concatenate(keys))
    return pair // g.size, pair % g.size


def _tolerance_m(g: Grid) -> float:
    """Distance (m) under which a vertex counts as lying on a cell edge: a millionth of an edge."""
    return 1e-6 * edge_km(g.resolution) * 1000.0


def _cross(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.asarray(p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0])


def _chunks(n: int) -> list[np.ndarray]:
    return np.array_split(np.arange(n), -(-n // _CHUNK)) if n else []


def _polygon_segments(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the ring segments (a, b, polygon index) of polygons, oriented interior-on-the-left."""
    parts, part_owner = shapely.get_parts(polys, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    if len(rings) == 0:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0, np.int64)
    exterior = np.concatenate([[True], ring_part[1:] != ring_part[:-1]])
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]
    a, b, ring = coords[:-1][same], coords[1:][same], ring_of[:-1][same]
    origin = coords[np.searchsorted(ring_of, np.arange(len(rings)))][ring]
    signed = np.bincount(ring, _cross(a - origin, b - origin), minlength=len(rings))
    flip = (signed > 0) != exterior  # exteriors counter-clockwise, holes clockwise
    swap = flip[ring]
    a, b = np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)
    keep = (a != b).any(axis=1)
    return a[keep], b[keep], part_owner[ring_part[ring[keep]]].astype(np.int64)


def _line_segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the segments (a, b, line index) of (multi)line strings."""
    parts, owner = shapely.get_parts(lines, return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0, np.int64)
    same = part_of[1:] == part_of[:-1]
    a, b, part = coords[:-1][same], coords[1:][same], part_of[:-1][same]
    keep = (a != b).any(axis=1)
    return a[keep], b[keep], owner[part[keep]].astype(np.int64)


def _points_inside(polys: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (polygon, point) index pairs with the point strictly inside the polygon."""
    if len(polys) > _LOOP_MAX_POLYGONS:  # an R-tree on the points pays for building the points
        tree = shapely.STRtree(shapely.points(x, y))
        found = tree.query(polys, predicate="contains")
        return found[0].astype(np.int64), found[1].astype(np.int64)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    bounds = shapely.bounds(polys)
    lo = np.searchsorted(xs, bounds[:, 0], side="left")
    hi = np.searchsorted(xs, bounds[:, 2], side="right")
    shapely.prepare(polys)
    found_p: list[np.ndarray] = []
    found_c: list[np.ndarray] = []
    for i in np.flatnonzero(hi > lo):
        near = np.flatnonzero((ys[lo[i]:hi[i]] >= bounds[i, 1]) & (ys[lo[i]:hi[i]] <= bounds[i, 3]))
        near += lo[i]
        inside = near[shapely.contains_xy(polys[i], xs[near], ys[near])]
        found_p.append(np.full(len(inside), i, np.int64))
        found_c.append(order[inside])
    if not found_p:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(found_p), np.concatenate(found_c).astype(np.int64)


@dataclass(frozen=True)
class _Overlaps:
    """Area of every (polygon, cell) intersection: ``area`` is NaN where the cell lies wholly inside."""

    poly: np.ndarray
    pos: np.ndarray
    area: np.ndarray
    hexes: _Hexes


def _overlaps(polys: np.ndarray, g: Grid, proj: Projection) -> _Overlaps:
    """Return the overlap areas (m², equal-area CRS) of valid projected polygons with grid cells.

    Cells crossed by a polygon's boundary get the exact area of their intersection (Green's theorem
    on the clipped boundary, or GEOS for near-degenerate configurations and for boundaries whose
    pieces in the cell do not close up); cells whose centre lies
    inside a polygon that does not cross them are wholly inside it (area NaN, meaning "all").
    """
    a, b, owner = _polygon_segments(polys)
    seg, pos = _segment_cell_pairs(a, b, g, proj)
    hx = _hexagons(g, pos, proj)
    if len(polys) == 0:
        return _Overlaps(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), hx)
    n = np.int64(max(g.size, 1))
    key = owner[seg] * n + pos
    ukey, inv = np.unique(key, return_inverse=True)
    h = hx.lookup(pos)
    total = np.zeros(len(ukey))
    balance = np.zeros(len(ukey))  # boundary pieces entering minus leaving each cell: 0 if closed
    flagged = np.zeros(len(ukey), dtype=bool)
    flagged[inv[~hx.regular[h]]] = True
    regular = np.flatnonzero(hx.regular[h])
    tol = _tolerance_m(g)
    for part in _chunks(len(regular)):
        idx = regular[part]
        hh = h[idx]
        origin = hx.origin[hh]
        pa_, pb = a[seg[idx]] - origin, b[seg[idx]] - origin
        c = _clip(pa_, pb, hx, hh, tol)
        p0 = pa_ + c.t0[:, None] * (pb - pa_)
        p1 = pa_ + c.t1[:, None] * (pb - pa_)
        f_in = hx.cum[hh, c.k_in] + _cross(hx.verts[hh, c.k_in], p0) / 2.0
        f_out = hx.cum[hh, c.k_out] + _cross(hx.verts[hh, c.k_out], p1) / 2.0
        contrib = np.where(c.inside, _cross(p0, p1) / 2.0
                           + np.where(c.a_out, f_in, 0.0) - np.where(c.b_out, f_out, 0.0), 0.0)
        total += np.bincount(inv[idx], contrib, minlength=len(ukey))
        turns = (c.inside & c.a_out).astype(float) - (c.inside & c.b_out).astype(float)
        balance += np.bincount(inv[idx], turns, minlength=len(ukey))
        flagged[inv[idx[c.near]]] = True
    # a boundary that enters a cell more often than it leaves lost a piece: a vertex within
    # centimetres of a cell edge can sit in one cell for H3 and in the next for the projected
    # hexagon; such pairs are measured by GEOS instead
    flagged |= balance != 0
    pair_poly, pair_pos = ukey // n, ukey % n
    ph = hx.lookup(pair_pos)
    area = np.empty(len(ukey))
    shapely.prepare(polys)
    ok = np.flatnonzero(~flagged)
    v0 = hx.verts[ph[ok], 0] + hx.origin[ph[ok]]
    inside0 = shapely.contains_xy(polys[pair_poly[ok]], v0[:, 0], v0[:, 1])
    area[ok] = total[ok] + hx.area[ph[ok]] * inside0
    bad = np.flatnonzero(flagged)
    if len(bad):
        area[bad] = shapely.area(shapely.intersection(polys[pair_poly[bad]], hx.polygons(ph[bad])))
    cell_area = hx.area[ph]
    area = np.clip(area, 0.0, cell_area)
    area[area <= 1e-9 * cell_area] = 0.0  # rounding noise where a polygon only touches a cell

    # cells wholly inside a polygon: centre inside, and not crossed by that polygon's boundary
    cx, cy = proj.forward(g.lon, g.lat)
    ip, ic = _points_inside(polys, cx, cy)
    ikey = ip.astype(np.int64) * n + ic
    j = np.minimum(np.searchsorted(ukey, ikey), max(len(ukey) - 1, 0))
    new = ukey[j] != ikey if len(ukey) else np.ones(len(ikey), dtype=bool)
    keep = area > 0
    return _Overlaps(np.concatenate([pair_poly[keep], ip[new]]),
                     np.concatenate([pair_pos[keep], ic[new]]),
                     np.concatenate([area[keep], np.full(int(new.sum()), np.nan)]), hx)


def _known_cell_areas(ov: _Overlaps) -> np.ndarray:
    """Return the area (m²) of the cell of every overlap pair whose hexagon was built, else NaN."""
    hx = ov.hexes
    out = np.full(len(ov.pos), np.nan)
    if len(hx.pos):
        h = np.minimum(hx.lookup(ov.pos), len(hx.pos) - 1)
        known = hx.pos[h] == ov.pos
        out[known] = hx.area[h[known]]
    return out


def _cell_areas(ov: _Overlaps, g: Grid, proj: Projection) -> np.ndarray:
    """Return the area (m², equal-area CRS) of the cell of every overlap pair."""
    out = _known_cell_areas(ov)
    unknown = np.isnan(out)
    if unknown.any():
        extra = _hexagons(g, ov.pos[unknown], proj)
        out[unknown] = extra.area[extra.lookup(ov.pos[unknown])]
    return out


def _make_valid(polys: np.ndarray, labels: pd.Index, *, repair: bool) -> np.ndarray:
    invalid = ~shapely.is_valid(polys)
    if not invalid.any():
        return polys
    count = int(invalid.sum())
    if not repair:
        examples = labels[invalid][:5].tolist()
        msg = (f"{count} invalid polygons (rows {examples}); pass `repair=True` to fix them with "
               "shapely.make_valid")
        raise ValueError(msg)
    polys = polys.copy()
    for i in np.flatnonzero(invalid):
        pieces = [p for q in shapely.get_parts(shapely.make_valid(polys[i]))
                  for p in shapely.get_parts(q) if shapely.get_type_id(p) == 3]
        polys[i] = pieces[0] if len(pieces) == 1 else shapely.MultiPolygon(pieces)
    warnings.warn(f"repaired {count} invalid polygons with make_valid", GeoEngineWarning, stacklevel=3)
    return polys


def _clip_lengths(lines: np.ndarray, g: Grid, proj: Projection) -> np.ndarray:
    """Return the geodesic length (km) of projected lines inside each grid cell."""
    out = np.zeros(g.size)
    a, b, _ = _line_segments(lines)
    seg, pos = _segment_cell_pairs(a, b, g, proj)
    if len(seg) == 0:
        return out
    hx = _hexagons(g, pos, proj)
    h = hx.lookup(pos)
    tol = _tolerance_m(g)
    regular = np.flatnonzero(hx.regular[h])
    for part in _chunks(len(regular)):
        idx = regular[part]
        hh = h[idx]
        origin = hx.origin[hh]
        pa_, pb = a[seg[idx]] - origin, b[seg[idx]] - origin
        c = _clip(pa_, pb, hx, hh, tol)
        idx, hh, origin = idx[c.inside], hh[c.inside], origin[c.inside]
        d = (pb - pa_)[c.inside]
        p0 = pa_[c.inside] + c.t0[c.inside, None] * d
        p1 = pa_[c.inside] + c.t1[c.inside, None] * d
        # a piece running along a shared edge is counted half in each of the two cells
        mid = (p0 + p1) / 2.0
        on_edge = (np.einsum("pkd,pd->pk", hx.normals[hh], mid) - hx.offsets[hh]).min(axis=1) <= tol
        lon0, lat0 = proj.inverse(p0[:, 0] + origin[:, 0], p0[:, 1] + origin[:, 1])
        lon1, lat1 = proj.inverse(p1[:, 0] + origin[:, 0], p1[:, 1] + origin[:, 1])
        km = _GEOD.inv(lon0, lat0, lon1, lat1)[2] / 1000.0
        out += np.bincount(pos[idx], km * np.where(on_edge, 0.5, 1.0), minlength=g.size)
    odd = np.flatnonzero(~hx.regular[h])
    if len(odd):
        pieces = shapely.intersection(shapely.linestrings(np.stack([a[seg[odd]], b[seg[odd]]], axis=1)),
                                      hx.polygons(h[odd]))
        lonlat = shapely.transform(pieces, lambda xy: np.column_stack(proj.inverse(xy[:, 0], xy[:, 1])))
        km = np.array([_GEOD.geometry_length(p) for p in lonlat]) / 1000.0
        out += np.bincount(pos[odd], km, minlength=g.size)
    return out


def _densify_sphere(lon: np.ndarray, lat: np.ndarray, owner: np.ndarray,
                    spacing_km: float) -> np.ndarray:
    """Return unit vectors along the great-circle segments of each vertex sequence.

    ``lon``/``lat`` hold the vertices of several sequences; ``owner`` tells which sequence each
    belongs to. Consecutive vertices of a sequence are joined by great-circle arcs with points at
    most ``spacing_km`` apart (spherical linear interpolation).
    """
    xyz = unit_vectors(lat, lon)
    same = owner[1:] == owner[:-1]
    u, v = xyz[:-1][same], xyz[1:][same]
    cross = np.cross(u, v)
    omega = np.arctan2(np.linalg.norm(cross, axis=1), np.einsum("ij,ij->i", u, v))
    n_sub = np.maximum(np.ceil(omega * EARTH_RADIUS_KM / spacing_km), 1).astype(np.int64)
    seg = np.repeat(np.arange(len(u)), n_sub)
    t = (np.arange(len(seg)) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)) / n_sub[seg]
    om = omega[seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        sin_om = np.sin(om)
        wa = np.where(om > 1e-12, np.sin((1 - t) * om) / sin_om, 1 - t)
        wb = np.where(om > 1e-12, np.sin(t * om) / sin_om, t)
    pts = wa[:, None] * u[seg] + wb[:, None] * v[seg]
    return np.vstack([pts, xyz])  # the vertices themselves (ends of every sequence included)


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def nearest_km(lat: np.ndarray, lon: np.ndarray, to_lat: np.ndarray, to_lon: np.ndarray,
               ) -> np.ndarray:
    """Return the great-circle distance (km) from each point to the nearest target point.

    A KD-tree on unit vectors (chord distances converted to arcs), as
    :func:`distance_to_nearest` uses for points; NaN when there is no target.
    """
    return nearest(lat, lon, to_lat, to_lon)[0]


def nearest(lat: np.ndarray, lon: np.ndarray, to_lat: np.ndarray, to_lon: np.ndarray, *,
            max_km: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the distance (km) to the nearest target point and that target's position.

    As :func:`nearest_km`; the position is -1 (and the distance NaN) when there is no target,
    or none within ``max_km`` (a bounded search, much faster when few points are near).
    """
    return nearest_vectors(unit_vectors(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)),
                           unit_vectors(np.asarray(to_lat, dtype=float),
                                        np.asarray(to_lon, dtype=float)), max_km=max_km)


SNAP_KM = 10.0
"""Points outside every cell but about this close (km) to the grid go to the nearest cell.

Precisely: a point no cell holds goes to the cell whose centre is nearest if that centre is
within ``SNAP_KM`` plus one hexagon edge (a point on a cell's far edge is an edge from its centre).

Coastlines and borders of admin files are simplified, so a port or a coastal city often lies a
few kilometres outside every polygon (Salvador, Belém and Santos do in Natural Earth's 1:50m
states of Brazil); dropping them would lose millions of people from a count or a sum.
"""


def _snap_outside(g: Grid, pos: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Give points outside every cell the nearest cell within :data:`SNAP_KM` of its centre."""
    out = np.flatnonzero((pos < 0) & np.isfinite(lat) & np.isfinite(lon))
    if out.size == 0 or g.size == 0:
        return pos
    reach = SNAP_KM + edge_km(g.resolution)  # a point on a cell's far edge is an edge from its centre
    tree = cKDTree(unit_vectors(g.lat, g.lon))
    chord, nearest = tree.query(unit_vectors(lat[out], lon[out]))
    close = arc_km(chord) <= reach
    pos = pos.copy()
    pos[out[close]] = nearest[close]
    return pos


def point_positions(grid: pd.DataFrame, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return the grid row of the cell holding each lat/lon point, -1 for points outside the grid.

    Parameters
    ----------
    grid : pandas.DataFrame
        The grid (sorted ``h3``).
    lat, lon : numpy.ndarray
        Coordinates in degrees (WGS 84); NaN coordinates give -1.

    Returns
    -------
    numpy.ndarray of int64
        One row position per point, aligned with the input.
    """
    g = check_grid(grid)
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    out = np.full(len(lat), -1, dtype=np.int64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.any() and g.size:
        out[ok] = positions(g, latlng_to_cells(lat[ok], lon[ok], g.resolution))
    return out


def points_to_cells(
    grid: pd.DataFrame,
    points: gpd.GeoDataFrame,
    *,
    method: Literal["count", "sum", "max"] = "count",
    column: str | None = None,
) -> np.ndarray:
    """Count points per cell, or sum or take the maximum of one of their columns.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid from :func:`geo_engine.spatial.grid.build_grid` (sorted ``h3`` ids, ``lat``, ``lon``).
    points : geopandas.GeoDataFrame
        Point features in any CRS (a CRS is required). Rows without geometry are dropped with a
        warning; multi-points are refused (explode them first).
    method : {"count", "sum", "max"}, default "count"
        ``count``: number of points in the cell (0 where none: a real zero). ``sum``: sum of
        ``column`` (0.0 where no point). ``max``: largest value of ``column`` (NaN where no point).
    column : str, optional
        Numeric column for ``sum`` and ``max`` (NaN values are skipped); not used by ``count``.

    Returns
    -------
    numpy.ndarray
        float64 values aligned with the grid rows.

    Warns
    -----
    GeoEngineWarning
        With the number of points that fall outside the grid's cells (they are ignored), and when
        there are no points at all.

    Notes
    -----
    Each point belongs to the H3 cell that contains it at the grid's resolution (H3's
    ``latlng_to_cell``), so every point is in exactly one cell and
    ``points_to_cells(...).sum()`` equals the number of points inside the grid.
    """
    if method not in ("count", "sum", "max"):
        msg = f'`method` was "{method}" but must be one of "count", "sum", "max"'
        raise ValueError(msg)
    if method == "count" and column is not None:
        msg = "`column` is not used by method='count'; use method='sum' or 'max' to aggregate it"
        raise ValueError(msg)
    if method != "count" and column is None:
        msg = f"method={method!r} needs `column`, the numeric column to aggregate"
        raise ValueError(msg)
    g = check_grid(grid)
    feats, geoms = check_features(points, what="points", allowed=_POINT_TYPES)
    _check_swapped(g, geoms, what="points")
    values = _values(feats, column, what="points") if column is not None else np.ones(len(geoms))
    empty = np.full(g.size, np.nan) if method == "max" else np.zeros(g.size)
    if len(geoms) == 0:
        _warn_empty("points", "NaN" if method == "max" else "0")
        return empty
    if g.size == 0:
        return empty
    lat, lon = shapely.get_y(geoms), shapely.get_x(geoms)
    pos = positions(g, latlng_to_cells(lat, lon, g.resolution))
    pos = _snap_outside(g, pos, lat, lon)
    inside = pos >= 0
    if not inside.all():
        warnings.warn(f"{int((~inside).sum())} of {len(pos)} points fall outside the grid's cells "
                      f"(farther than {SNAP_KM:g} km from any) and were ignored", GeoEngineWarning,
                      stacklevel=2)
    pos = pos[inside]
    if method == "count":
        return np.bincount(pos, minlength=g.size).astype(float)
    values = values[inside]
    if method == "sum":
        return np.bincount(pos, np.where(np.isnan(values), 0.0, values), minlength=g.size).astype(float)
    np.fmax.at(empty, pos, values)
    return empty


def kernel_density(
    grid: pd.DataFrame,
    points: gpd.GeoDataFrame,
    *,
    bandwidth_km: float,
    column: str | None = None,
) -> np.ndarray:
    r"""Return the quartic kernel density of points (per km²) at every cell centre.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid from :func:`geo_engine.spatial.grid.build_grid`.
    points : geopandas.GeoDataFrame
        Point features in any CRS; points outside the grid count too (their kernel reaches into
        it).
    bandwidth_km : float
        Kernel radius :math:`h` in km (great-circle): points farther than this do not count.
    column : str, optional
        Numeric weight of each point (default 1); points whose weight is NaN are skipped.

    Returns
    -------
    numpy.ndarray
        Density per km² (weighted count per km²), 0.0 where no point is within the bandwidth.

    Notes
    -----
    With :math:`d_i` the great-circle distance from the cell centre to point :math:`i` and
    :math:`w_i` its weight, the quartic (biweight) kernel estimate is

    .. math::

        f = \sum_{i : d_i < h} w_i \, \frac{3}{\pi h^2} \left(1 - \frac{d_i^2}{h^2}\right)^2 ,

    whose kernel integrates to 1 over the plane, so :math:`\sum_c f_c A_c \approx \sum_i w_i` on a
    grid fine enough compared with :math:`h` and covering every point's disc. Neighbours are found
    with a KD-tree on 3-D unit vectors (chord :math:`c = 2 \sin(d / 2R)`, arc
    :math:`d = 2R \arcsin(c / 2)`), :math:`R` = :data:`EARTH_RADIUS_KM`.
    """
    if not (isinstance(bandwidth_km, int | float | np.number) and np.isfinite(bandwidth_km)
            and bandwidth_km > 0):
        msg = f"`bandwidth_km` was {bandwidth_km!r} but must be a positive number of km"
        raise ValueError(msg)
    g = check_grid(grid)
    feats, geoms = check_features(points, what="points", allowed=_POINT_TYPES)
    _check_swapped(g, geoms, what="points")
    weights = (_values(feats, column, what="points") if column is not None
               else np.ones(len(geoms)))
    missing = np.isnan(weights)
    if missing.any():
        warnings.warn(f"{int(missing.sum())} points have no value in {column!r} and were skipped",
                      GeoEngineWarning, stacklevel=2)
        geoms, weights = geoms[~missing], weights[~missing]
    out = np.zeros(g.size)
    if len(geoms) == 0:
        _warn_empty("points", "a density of 0")
        return out
    if g.size == 0:
        return out
    h = float(bandwidth_km)
    tree = cKDTree(unit_vectors(shapely.get_y(geoms), shapely.get_x(geoms)))
    centres = unit_vectors(g.lat, g.lon)
    radius = km_to_chord(h)
    # cells in chunks of at most ~_KDE_PAIRS (cell, point) pairs, to bound memory
    near = np.asarray(tree.query_ball_point(centres, radius, return_length=True), dtype=np.int64)
    bounds = np.searchsorted(np.cumsum(near), np.arange(_KDE_PAIRS, int(near.sum()), _KDE_PAIRS))
    for part in np.split(np.arange(g.size), np.unique(bounds)):
        if len(part) == 0 or not near[part].any():
            continue
        pairs = cKDTree(centres[part]).sparse_distance_matrix(tree, radius, output_type="ndarray")
        d = arc_km(pairs["v"]) / h
        k = 3.0 / (np.pi * h * h) * np.clip(1.0 - d * d, 0.0, None) ** 2
        out[part] = np.bincount(pairs["i"], k * weights[pairs["j"]], minlength=len(part))
    return out


def distance_to_nearest(
    grid: pd.DataFrame,
    features: gpd.GeoDataFrame,
    *,
    max_km: float | None = None,
    spacing_km: float | None = None,
) -> np.ndarray:
    r"""Return the great-circle distance (km) from every cell to the nearest feature.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid from :func:`geo_engine.spatial.grid.build_grid`.
    features : geopandas.GeoDataFrame
        Points, lines or polygons (or a mix) in any CRS.
    max_km : float, optional
        Distances beyond this are NaN ("too far"), which also saves time.
    spacing_km : float, optional
        Spacing of the points that stand for lines and polygon outlines; default half the average
        cell edge at the grid's resolution.

    Returns
    -------
    numpy.ndarray
        Distance in km from the cell centre: to the nearest point; 0 for cells crossed by a line,
        else to the nearest line; 0 for cells whose centre lies inside a polygon (edges taken as
        straight in lon/lat), else to its outline. NaN where no feature is within ``max_km``, or
        when there are no features.

    Notes
    -----
    Lines and polygon outlines are replaced by points along their great-circle segments at most
    :math:`s` = ``spacing_km`` apart (the vertices included), and the nearest point is found with a
    KD-tree on 3-D unit vectors (chord :math:`c`, arc :math:`d = 2R \arcsin(c/2)`). The distance to
    the nearest of these points overestimates the distance :math:`d` to the segment by at most
    :math:`\sqrt{d^2 + (s/2)^2} - d \le s/2`: a quarter of a cell edge with the default spacing
    (0.35 km at resolution 7), and far less for cells away from the feature. Cells crossed by a
    line are found exactly (the clipping of :func:`lines_to_cells`) and set to 0.
    """
    if max_km is not None and not (np.isfinite(max_km) and max_km > 0):
        msg = f"`max_km` was {max_km!r} but must be a positive number of km (or None)"
        raise ValueError(msg)
    if spacing_km is not None and not (np.isfinite(spacing_km) and spacing_km > 0):
        msg = f"`spacing_km` was {spacing_km!r} but must be a positive number of km (or None)"
        raise ValueError(msg)
    g = check_grid(grid)
    _, geoms = check_features(features, what="features",
                               allowed=_POINT_TYPES | {"MultiPoint"} | LINE_TYPES | _POLYGON_TYPES)
    _check_swapped(g, geoms, what="features")
    out = np.full(g.size, np.nan)
    if len(geoms) == 0:
        _warn_empty("features", "a distance of NaN")
        return out
    if g.size == 0:
        return out
    spacing = spacing_km or 0.5 * edge_km(g.resolution)
    parts = shapely.get_parts(geoms)
    kind = shapely.get_type_id(parts)  # 0 point, 1 line, 2 ring, 3 polygon
    points = parts[kind == 0]
    lines = parts[(kind == 1) | (kind == 2)]
    polys = parts[kind == 3]
    clouds = [unit_vectors(shapely.get_y(points), shapely.get_x(points))]
    for seqs in (lines, shapely.get_rings(polys)):
        if len(seqs):
            coords, owner = shapely.get_coordinates(seqs, return_index=True)
            clouds.append(_densify_sphere(coords[:, 0], coords[:, 1], owner, spacing))
    tree = cKDTree(np.vstack(clouds))
    bound = km_to_chord(max_km) if max_km is not None else np.inf
    chord, _ = tree.query(unit_vectors(g.lat, g.lon), distance_upper_bound=bound)
    found = np.isfinite(chord)
    out[found] = arc_km(chord[found])
    if len(lines):
        proj = grid_projection(grid)
        out[_clip_lengths(proj.geometries(lines), g, proj) > 0] = 0.0
    if len(polys):
        _, inside = _points_inside(polys, g.lon, g.lat)
        out[inside] = 0.0
    if max_km is not None:
        out[out > max_km] = np.nan
    return out


def lines_to_cells(
    grid: pd.DataFrame,
    lines: gpd.GeoDataFrame,
    *,
    method: Literal["length"] = "length",
) -> np.ndarray:
    """Return the length (km) of lines inside every cell.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid from :func:`geo_engine.spatial.grid.build_grid`.
    lines : geopandas.GeoDataFrame
        (Multi)line strings in any CRS.
    method : {"length"}, default "length"
        Total length of the line pieces inside the cell, in km (0.0 where none).

    Returns
    -------
    numpy.ndarray
        Length in km per cell, aligned with the grid rows.

    Notes
    -----
    Each segment is clipped exactly by the cell hexagons it may touch (Cyrus–Beck clipping against
    the six edge half-planes) in the equal-area CRS of :func:`equal_area_crs`, where segments and
    cell edges are straight lines; each piece is measured as the WGS 84 geodesic between its ends.
    Candidate cells come from indexing points about 0.8 cell edge apart along each segment: between
    two consecutive points in adjacent cells the segment stays in those two cells and the two cells
    that neighbour both (points in cells further apart make the segment be sampled more finely),
    so no touched cell is missed. Straight edges in the projection differ from H3's great-circle
    edges by centimetres at resolution 7. A piece lying along the edge shared by two cells counts
    half in each. Overlapping lines are each counted.
    """
    if method != "length":
        msg = f'`method` was "{method}" but must be "length"'
        raise ValueError(msg)
    g = check_grid(grid)
    _, geoms = check_features(lines, what="lines", allowed=LINE_TYPES)
    if len(geoms) == 0:
        _warn_empty("lines", "a length of 0")
        return np.zeros(g.size)
    if g.size == 0:
        return np.zeros(0)
    proj = grid_projection(grid)
    return _clip_lengths(proj.geometries(geoms), g, proj)


def polygons_to_cells(
    grid: pd.DataFrame,
    polygons: gpd.GeoDataFrame,
    *,
    method: Literal["share", "intensive", "extensive"] = "share",
    column: str | None = None,
    classes: Collection[object] | None = None,
    class_column: str | None = None,
    repair: bool = False,
) -> np.ndarray:
    r"""Return the share of every cell covered by polygons, or an area-weighted polygon value.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid from :func:`geo_engine.spatial.grid.build_grid`.
    polygons : geopandas.GeoDataFrame
        (Multi)polygons in any CRS.
    method : {"share", "intensive", "extensive"}, default "share"
        ``share``: fraction of the cell covered by the union of the polygons, in [0, 1] (0.0 where
        uncovered). ``intensive``: area-weighted mean of ``column`` over the covered part of the cell
        (a rate, a density; NaN where uncovered). ``extensive``: the polygons' ``column`` (a count,
        an amount) spread in proportion to area (0.0 where uncovered).
    column : str, optional
        Numeric column for ``intensive`` and ``extensive``; polygons whose value is NaN are skipped
        (with a warning). Not used by ``share``.
    classes : collection, optional
        Keep only the polygons whose ``class_column`` is in ``classes`` (for every method).
    class_column : str, optional
        Column holding the class of each polygon; goes with ``classes``.
    repair : bool, default False
        Invalid polygons raise a ValueError with their count unless ``repair=True``, which fixes
        them with :func:`shapely.make_valid` (keeping their polygonal parts) and warns with the
        count.

    Returns
    -------
    numpy.ndarray
        float64 values aligned with the grid rows.

    Notes
    -----
    With :math:`a_{ic}` the area of polygon :math:`i` inside cell :math:`c`, :math:`A_c` the cell
    area, :math:`a_i` the polygon area and :math:`v_i` its value (tobler's definitions, with its
    ``allocate_total=False``):

    .. math::

        \text{share}_c = \frac{|\bigcup_i P_i \cap C|}{A_c}, \qquad
        \text{intensive}_c = \frac{\sum_i v_i a_{ic}}{\sum_i a_{ic}}, \qquad
        \text{extensive}_c = \sum_i v_i \frac{a_{ic}}{a_i}.

    Areas are planar areas in the equal-area CRS of :func:`equal_area_crs`, where polygon and cell
    edges are straight lines. Only the cells touched by a polygon's outline are intersected (found
    as in :func:`lines_to_cells`, which cannot miss one); their intersection area is computed with
    Green's theorem, :math:`a = \oint_{\partial(P \cap C)} (x\,dy - y\,dx)/2`, summed over the
    outline pieces clipped to the hexagon plus the hexagon's boundary from each exit point to the
    next entry point, which equals GEOS's intersection area to about 1e-12 in relative terms;
    degenerate contacts (a vertex on a cell edge, an outline along an edge) go to GEOS. The other
    cells lie wholly inside a polygon when their centre does (:math:`a_{ic} = A_c`), else wholly
    outside. Extensive totals are preserved (:math:`\sum_c \text{extensive}_c = \sum_i v_i`) for
    polygons covered by the grid's cells.
    """
    if method not in ("share", "intensive", "extensive"):
        msg = f'`method` was "{method}" but must be one of "share", "intensive", "extensive"'
        raise ValueError(msg)
    if method == "share" and column is not None:
        msg = "`column` is not used by method='share'; use 'intensive' or 'extensive' to spread it"
        raise ValueError(msg)
    if method != "share" and column is None:
        msg = f"method={method!r} needs `column`, the numeric column to spread to cells"
        raise ValueError(msg)
    if (classes is None) != (class_column is None):
        msg = "`classes` and `class_column` go together: give both or neither"
        raise ValueError(msg)
    g = check_grid(grid)
    feats, geoms = check_features(polygons, what="polygons", allowed=_POLYGON_TYPES)
    if class_column is not None and classes is not None:
        if class_column not in feats:
            msg = f"`polygons` have no column {class_column!r}; columns are {list(feats.columns)}"
            raise KeyError(msg)
        wanted = [classes] if isinstance(classes, str) else list(classes)
        mask = feats[class_column].isin(wanted).to_numpy(dtype=bool, na_value=False)
        feats, geoms = feats[mask], geoms[mask]
    values = np.empty(0)
    if column is not None:
        values = _values(feats, column, what="polygons")
        missing = np.isnan(values)
        if missing.any():
            warnings.warn(f"{int(missing.sum())} polygons have no value in {column!r} and were "
                          "skipped", GeoEngineWarning, stacklevel=2)
            feats, geoms, values = feats[~missing], geoms[~missing], values[~missing]
    nothing = np.full(g.size, np.nan) if method == "intensive" else np.zeros(g.size)
    if len(geoms) == 0:
        _warn_empty("polygons", "NaN" if method == "intensive" else "0")
        return nothing
    if g.size == 0:
        return nothing
    proj = grid_projection(grid)
    projected = _make_valid(proj.geometries(geoms), feats.index, repair=repair)
    if method == "share":
        parts = shapely.get_parts(shapely.union_all(projected))
        ov = _overlaps(parts[shapely.get_type_id(parts) == 3], g, proj)
        cell_area = _cell_areas(ov, g, proj)
        frac = np.where(np.isnan(ov.area), 1.0, ov.area / cell_area)
        return np.minimum(np.bincount(ov.pos, frac, minlength=g.size), 1.0).astype(float)
    ov = _overlaps(projected, g, proj)
    if method == "intensive":
        # cells wholly inside polygons weigh them equally, whatever the cell area
        known = _known_cell_areas(ov)
        weight = np.where(np.isnan(ov.area), np.where(np.isnan(known), 1.0, known), ov.area)
        den = np.bincount(ov.pos, weight, minlength=g.size)
        num = np.bincount(ov.pos, weight * values[ov.poly], minlength=g.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)
    poly_area = shapely.area(projected)
    area = np.where(np.isnan(ov.area), _cell_areas(ov, g, proj), ov.area)
    out = np.bincount(ov.pos, values[ov.poly] * area / poly_area[ov.poly], minlength=g.size)
    return out.astype(float)
