"""Geometry on the sphere and on H3 cells: great-circle distances, chords, grid positions and disks.

Distances are great-circle distances in km on a sphere of radius :data:`EARTH_RADIUS_KM`; nothing is
measured in degrees. :class:`Grid` is the checked form of a grid from
:func:`geo_engine.spatial.grid.build_grid` that the ingest and access kernels share.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.spatial import cKDTree

try:  # optional accelerator: vectorised H3 indexing, disks and outlines (same results as h3 loops)
    from h3ronpy import grid_disk as _h3r_grid_disk
    from h3ronpy.vector import cells_to_wkb_polygons as _h3r_cells_to_wkb_polygons
    from h3ronpy.vector import coordinates_to_cells as _h3r_coordinates_to_cells

    HAS_H3RONPY = True
except ImportError:  # pragma: no cover - exercised by monkeypatching HAS_H3RONPY in the tests
    HAS_H3RONPY = False

__all__ = [
    "EARTH_RADIUS_KM",
    "HAS_H3RONPY",
    "Grid",
    "arc_km",
    "cells_to_wkb",
    "check_grid",
    "disks",
    "edge_km",
    "haversine_km",
    "km_to_chord",
    "latlng_to_cells",
    "nearest_vectors",
    "positions",
    "unit_vectors",
]

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG) used for great-circle distances and kernel densities."""


@dataclass(frozen=True)
class Grid:
    """A checked grid: sorted unique H3 ids, their centres and the resolution (-1 when empty)."""

    cells: np.ndarray  # uint64, sorted, unique
    lat: np.ndarray
    lon: np.ndarray
    resolution: int

    @property
    def size(self) -> int:
        """Number of cells."""
        return len(self.cells)


def check_grid(grid: pd.DataFrame) -> Grid:
    """Return the :class:`Grid` of a grid DataFrame; raise on missing columns, unsorted or mixed cells."""
    if not isinstance(grid, pd.DataFrame):
        msg = f"`grid` must be the DataFrame returned by build_grid, not {type(grid).__name__}"
        raise TypeError(msg)
    missing = [c for c in ("h3", "lat", "lon") if c not in grid]
    if missing:
        msg = f"grid has no column(s) {missing}; build it with geo_engine.spatial.grid.build_grid"
        raise KeyError(msg)
    try:
        cells = grid["h3"].to_numpy(dtype=np.uint64)
    except (TypeError, ValueError) as err:
        msg = f"grid column `h3` must hold uint64 H3 ids (got dtype {grid['h3'].dtype})"
        raise ValueError(msg) from err
    if len(cells) and not bool(np.all(cells[1:] > cells[:-1])):
        msg = "grid cells must be unique and sorted by `h3` (as build_grid returns them)"
        raise ValueError(msg)
    resolution = -1
    if len(cells):
        res = np.unique((cells >> np.uint64(52)) & np.uint64(0xF))
        if len(res) != 1 or not h3n.is_valid_cell(cells[0]):
            msg = f"grid cells must be valid H3 cells of one resolution; found resolutions {res.tolist()}"
            raise ValueError(msg)
        resolution = int(res[0])
    return Grid(cells, grid["lat"].to_numpy(dtype=float), grid["lon"].to_numpy(dtype=float), resolution)


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return unit vectors (x, y, z) on the sphere of points in degrees."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    cos_phi = np.cos(phi)
    return np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


def km_to_chord(km: float) -> float:
    """Chord length on the unit sphere of a great-circle distance in km."""
    return float(2.0 * np.sin(min(km / EARTH_RADIUS_KM, np.pi) / 2.0))


def arc_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance in km of chords on the unit sphere."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord, 2.0) / 2.0)


def nearest_vectors(points: np.ndarray, targets: np.ndarray, *,
                    max_km: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the great-circle distance (km) from each point to the nearest target, and its position.

    Points and targets are :func:`unit_vectors` (n × 3): a caller that searches often among the
    same points computes them once. A KD-tree on the targets (chord distances turned into arcs);
    the position is -1 and the distance NaN when there is no target, or none within ``max_km``
    (a bounded search, much faster when few targets are near).
    """
    none = np.full(len(points), np.nan), np.full(len(points), -1, dtype=np.intp)
    if len(targets) == 0:
        return none
    tree = cKDTree(targets)
    bound = np.inf if max_km is None else km_to_chord(max_km)
    # the queries are independent: every core answers a share (same answers as one core)
    chord, index = tree.query(points, distance_upper_bound=bound, workers=-1)
    found = np.isfinite(chord)
    return (np.where(found, arc_km(np.where(found, chord, 0.0)), np.nan),
            np.where(found, index, -1).astype(np.intp))


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Return great-circle distances in km between pairs of points (degrees)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def latlng_to_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """Return the H3 cell (uint64) of each point at a resolution."""
    if len(lat) == 0:
        return np.empty(0, np.uint64)
    if HAS_H3RONPY:
        out = _h3r_coordinates_to_cells(np.ascontiguousarray(lat, dtype=float),
                                        np.ascontiguousarray(lon, dtype=float), resolution)
        return pa.array(out).to_numpy(zero_copy_only=False).astype(np.uint64)
    return np.fromiter((h3n.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon, strict=True)),
                       np.uint64, len(lat))


def disks(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each cell's disk of radius 1 (itself and its neighbours) as flat ids and offsets."""
    if HAS_H3RONPY and len(cells):
        out = pa.array(_h3r_grid_disk(pa.array(cells.astype(np.uint64)), 1, flatten=False))
        return (out.values.to_numpy().astype(np.uint64), out.offsets.to_numpy().astype(np.int64))
    disks = [h3n.grid_disk(c, 1) for c in cells]
    sizes = np.fromiter(map(len, disks), np.int64, len(disks))
    flat = np.concatenate(disks).astype(np.uint64) if disks else np.empty(0, np.uint64)
    return flat, np.concatenate([[0], np.cumsum(sizes)])


def positions(g: Grid, ids: np.ndarray) -> np.ndarray:
    """Return the grid row of each H3 id, -1 where the cell is not in the grid."""
    pos = np.searchsorted(g.cells, ids)
    pos[pos >= g.size] = 0
    return np.where(g.cells[pos] == ids, pos, -1) if g.size else np.full(len(ids), -1)


def edge_km(resolution: int) -> float:
    """Return the average H3 hexagon edge length in km at a resolution."""
    return float(h3.average_hexagon_edge_length(resolution, unit="km"))


def cells_to_wkb(cells: np.ndarray) -> pa.Array:
    """Return each cell's polygon as little-endian WKB, from h3ronpy (only when :data:`HAS_H3RONPY`)."""
    return pa.array(_h3r_cells_to_wkb_polygons(pa.array(np.asarray(cells, dtype=np.uint64))))
