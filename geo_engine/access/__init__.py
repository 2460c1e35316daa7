"""Compute travel time to markets on the H3 grid: a friction surface and least-cost paths between cells.

The method is the one of Weiss et al. (2018), *A global map of travel time to cities to assess
inequalities in accessibility in 2015*, Nature 553, 333–336: every place gets a travel speed from the
fastest way of crossing it (road, river boat, lake boat, town streets, else walking over the
terrain), and the travel time to a set of destinations is the least-cost path over that friction
surface. Here the surface is the H3 grid itself: a cell's speed is a property of the cell, and paths
go from cell centre to cell centre through neighbouring cells.

Three steps, each a public function:

:func:`cell_speeds`
    The :class:`Friction` of a grid: the speed (km/h) of every cell from a digital elevation model
    and the road, river, lake and town layers, with the speeds and thresholds of a
    :class:`SpeedTable`, plus links where a road or river leaves the grid and comes back.
:func:`travel_time`
    Minutes from every cell to the nearest destination (multi-source Dijkstra over the neighbour
    graph of :func:`cell_graph`).
:func:`destinations`
    The named destination sets of the shipped data (towns by size, ports, airports, engine hubs).

:func:`region_friction` builds the friction from a region's curated files (cached), and
:func:`access_minutes` chains it with a named destination set. Distances are great-circle
distances in km on a sphere of radius :data:`geo_engine.spatial.sphere.EARTH_RADIUS_KM`; slopes are
computed in metres from the raster's own pixel sizes. Nothing is measured in degrees.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import WindowError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo_engine import settings
from geo_engine._errors import GeoEngineWarning, MissingSourceError, SourceFormatError
from geo_engine.ingest.raster import raster_to_cells
from geo_engine.ingest.vector import (
    LINE_TYPES,
    check_features,
    lines_to_cells,
    point_positions,
    polygons_to_cells,
)
from geo_engine.io.safe_read import open_raster
from geo_engine.spatial.sphere import (
    EARTH_RADIUS_KM,
    Grid,
    arc_km,
    check_grid,
    disks,
    edge_km,
    haversine_km,
    km_to_chord,
    positions,
    unit_vectors,
)

__all__ = [
    "DESTINATION_SETS",
    "LAKE_BOAT_KMH",
    "LAKE_MIN_SHARE",
    "LINK_MAX_GAP_EDGES",
    "MIN_EDGE_FRACTION",
    "RIVER_BOAT_KMH",
    "RIVER_MAX_ELEVATION_M",
    "RIVER_MAX_SCALERANK",
    "RIVER_MIN_REACH_KM",
    "ROAD_CLASS_COLUMN",
    "ROAD_FLAT_SLOPE",
    "ROAD_SPEEDS_KMH",
    "ROAD_SPEED_COLUMN",
    "ROAD_STEEP_FACTOR",
    "ROAD_STEEP_SLOPE",
    "SNAP_EDGES",
    "TOBLER_MAX_KMH",
    "TOWN_DENSITY_PER_KM2",
    "TOWN_KMH",
    "TOWN_MIN_POPULATION",
    "WALK_FACTOR",
    "Friction",
    "SpeedTable",
    "access_minutes",
    "cell_graph",
    "cell_speeds",
    "destinations",
    "reach_table",
    "region_friction",
    "travel_time",
    "walking_speed",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# --------------------------------------------------------------------------------------------
# speeds and thresholds
# --------------------------------------------------------------------------------------------

TOBLER_MAX_KMH = 6.0
"""Top speed (km/h) of Tobler's hiking function, reached walking down a 5 % gradient.

Tobler, W. (1993), *Three presentations on geographical analysis and modeling*, NCGIA Technical
Report 93-1: :math:`W(s) = 6\\,e^{-3.5|s + 0.05|}` km/h on footpaths, :math:`s` the gradient
(rise over run), fitted to Imhof's (1950) marching data; 5.04 km/h on the flat. Weiss et al. (2018)
adjust their off-road speeds for slope with the same function.
"""

WALK_FACTOR = 1.0
"""Multiplier of Tobler's speeds for travel off the road network.

Tobler (1993) gives 1 on footpaths and 3/5 off paths. Rural Peru is crossed by footpaths, mule tracks
and departmental and local roads that the national road layer does not hold, so the footpath speed
is the default; set 0.6 for cross-country travel.
"""

ROAD_SPEEDS_KMH: Mapping[str, float] = MappingProxyType({"perpe": 60.0, "persf": 40.0})
"""Speed (km/h) on flat ground of each road class of the ``system`` column of the shipped roads.

``perpe`` (Red Vial Nacional, the national network): 60 km/h, the average speed of intercity buses
on the paved two-lane national roads of the coast (Lima–Arequipa, about 1,000 km, is timetabled at
15–17 hours); Weiss et al. (2018) likewise give primary roads speeds of this order. ``persf``
(urban expressways of Lima): 40 km/h, an assumption for expressways in city traffic. Both are
lowered on steep terrain by :data:`ROAD_STEEP_FACTOR`.
"""

ROAD_CLASS_COLUMN = "system"
"""Column of a roads layer holding the class looked up in ``SpeedTable.road_speeds_kmh``."""

ROAD_SPEED_COLUMN = "speed_kmh"
"""Column of a roads layer holding each road's own speed (km/h); used instead of the class if present."""

ROAD_FLAT_SLOPE = 0.05
"""Mean terrain gradient of a cell up to which roads keep their full speed.

The gradient is the rise over run of the DEM's pixels (about 1 km for a 30″ DEM) averaged over the
cell; half of the road cells below 500 m (the coast) are below 0.02 and three quarters below 0.05.
"""

ROAD_STEEP_SLOPE = 0.25
"""Mean terrain gradient of a cell from which roads run at :data:`ROAD_STEEP_FACTOR` of their speed.

Between :data:`ROAD_FLAT_SLOPE` and this gradient the factor falls linearly. A gradient of 0.25 at
the 1 km scale of a 30″ DEM is the terrain of the high Andean valleys crossed by the Carretera
Central; almost all coastal road cells are below 0.05.
"""

ROAD_STEEP_FACTOR = 0.65
"""Share of a road's flat-ground speed kept on steep terrain (curves, gradients, single lanes).

Intercity buses cover the Andean roads at about 40 km/h (Lima–Huancayo, about 300 km over the
4,818 m Ticlio pass, is timetabled at 7–8 hours) against about 60 km/h on the coast: 40 / 60 ≈ 0.65.
"""

RIVER_BOAT_KMH = 10.0
"""Speed (km/h) of river boats on navigable rivers.

The cargo-and-passenger boats (*lanchas*) of the Peruvian Amazon take three to four days downstream
and five to six days upstream between Pucallpa and Iquitos (about 1,000 km of river): 8–14 km/h,
10 km/h as a round-trip mean.
"""

RIVER_MAX_ELEVATION_M = 400.0
"""Mean elevation (m) of a cell below which a river crossing it may be navigable.

The upper limit of the Amazonian lowlands (*selva baja* or *omagua*, 80–400 m) in Pulgar Vidal's
natural regions of Peru; above it rivers run through the rapids and gorges of the *selva alta*.
Yurimaguas, Pucallpa and Puerto Maldonado, the heads of regular navigation, lie at 150–200 m.
"""

RIVER_MAX_SCALERANK = 9
"""Largest Natural Earth ``scalerank`` of a river considered navigable (0 = most important).

Natural Earth's Peruvian rivers of rank 9 or less are the main stems of the Amazon system (Amazonas,
Ucayali, Marañón, Huallaga, Napo, Putumayo, Madre de Dios, Purús…) and the larger coastal rivers;
the coastal ones are excluded by :data:`RIVER_MAX_ELEVATION_M` and :data:`RIVER_MIN_REACH_KM`.
Used only when a rivers layer has a ``scalerank`` column and no ``navigable`` column.
"""

RIVER_MIN_REACH_KM = 150.0
"""Shortest connected lowland river reach (km of river) that carries boat traffic.

The lowland stretches of the Pacific rivers (Tumbes, Santa, Pisco, Ocoña…) run a few tens of km to
the sea and are not navigated; the Amazonian reaches run for hundreds of km.
"""

LAKE_MIN_SHARE = 0.5
"""Share of a cell covered by lakes above which the cell is water: not passable on foot."""

LAKE_BOAT_KMH: float | None = 10.0
"""Speed (km/h) of lake boats across water cells; ``None`` makes water cells impassable.

The boats from Puno to the islands of Lake Titicaca (Uros, Amantaní, Taquile) cover 35–40 km in
about three hours.
"""

TOWN_KMH = 25.0
"""Speed (km/h) across the built-up area of towns: motor traffic on city streets (an assumption)."""

TOWN_DENSITY_PER_KM2 = 10_000.0
"""People per km² of built-up area, which sets the radius of a town from its population.

About the density of Lima's urban area (some 10 million people on some 1,000 km²).
"""

TOWN_MIN_POPULATION = 10_000.0
"""Smallest town (people) whose own cell gets :data:`TOWN_KMH`, whatever the radius.

About 1 km² of streets at :data:`TOWN_DENSITY_PER_KM2`, and the smallest town of the ``towns10k``
destination set.
"""

MIN_EDGE_FRACTION = 0.25
"""Shortest piece of a road or river, as a fraction of the average cell edge, that gives a cell its speed.

A line that only clips the corner of a cell does not let one cross the cell; dropping such pieces
never breaks a road's chain of cells, because the cells on both sides of a clipped corner are
neighbours themselves.
"""

LINK_MAX_GAP_EDGES = 8.0
"""Longest stretch of line outside the grid, in average cell edges, across which a road or river links cells.

A road along the coast or a river along a border passes through cells whose centre is at sea or
abroad, which the grid leaves out; the grid cells on either side of such a gap are then joined
directly at the line's speed, so the coastal highway is not cut into pieces. Along Peru's national
roads at resolution 7 the gaps are 1.4 to 7.7 edges long.
"""

SNAP_EDGES = 2.0
"""Destinations outside the grid but within this many average cell edges of a cell centre snap to it.

Ports, coastal towns and border towns often have coordinates a little out at sea or across the
border; at resolution 7 this is about 2.8 km.
"""


@dataclass(frozen=True)
class SpeedTable:
    """Speeds (km/h) and thresholds of the friction surface; the defaults are the module constants.

    Parameters
    ----------
    road_speeds_kmh : mapping of str to float
        Flat-ground speed of each road class (:data:`ROAD_SPEEDS_KMH`).
    road_class_column : str
        Column of the roads layer holding the class (:data:`ROAD_CLASS_COLUMN`).
    road_flat_slope, road_steep_slope, road_steep_factor : float
        Terrain slowdown of roads (:data:`ROAD_FLAT_SLOPE`, :data:`ROAD_STEEP_SLOPE`,
        :data:`ROAD_STEEP_FACTOR`).
    river_kmh : float or None
        Boat speed on navigable rivers (:data:`RIVER_BOAT_KMH`); None ignores rivers.
    river_max_elevation_m, river_max_scalerank, river_min_reach_km : float
        Navigability rules (:data:`RIVER_MAX_ELEVATION_M`, :data:`RIVER_MAX_SCALERANK`,
        :data:`RIVER_MIN_REACH_KM`).
    lake_kmh : float or None
        Boat speed across water cells (:data:`LAKE_BOAT_KMH`); None makes them impassable.
    lake_min_share : float
        Lake share above which a cell is water (:data:`LAKE_MIN_SHARE`).
    town_kmh, town_density_per_km2, town_min_population : float
        Town speed and extent (:data:`TOWN_KMH`, :data:`TOWN_DENSITY_PER_KM2`,
        :data:`TOWN_MIN_POPULATION`).
    walk_factor : float
        Multiplier of Tobler's walking speeds (:data:`WALK_FACTOR`).
    min_edge_fraction : float
        Shortest line piece that counts in a cell (:data:`MIN_EDGE_FRACTION`).
    link_max_gap_edges : float
        Longest stretch outside the grid bridged by a road or river link
        (:data:`LINK_MAX_GAP_EDGES`).

    Raises
    ------
    ValueError
        If a speed is not a positive number (the message names the class and the value), or a
        threshold is out of range.
    """

    road_speeds_kmh: Mapping[str, float] = field(default_factory=lambda: dict(ROAD_SPEEDS_KMH))
    road_class_column: str = ROAD_CLASS_COLUMN
    road_flat_slope: float = ROAD_FLAT_SLOPE
    road_steep_slope: float = ROAD_STEEP_SLOPE
    road_steep_factor: float = ROAD_STEEP_FACTOR
    river_kmh: float | None = RIVER_BOAT_KMH
    river_max_elevation_m: float = RIVER_MAX_ELEVATION_M
    river_max_scalerank: float = RIVER_MAX_SCALERANK
    river_min_reach_km: float = RIVER_MIN_REACH_KM
    lake_kmh: float | None = LAKE_BOAT_KMH
    lake_min_share: float = LAKE_MIN_SHARE
    town_kmh: float = TOWN_KMH
    town_density_per_km2: float = TOWN_DENSITY_PER_KM2
    town_min_population: float = TOWN_MIN_POPULATION
    walk_factor: float = WALK_FACTOR
    min_edge_fraction: float = MIN_EDGE_FRACTION
    link_max_gap_edges: float = LINK_MAX_GAP_EDGES

    def __post_init__(self) -> None:
        if not isinstance(self.road_speeds_kmh, Mapping):
            msg = (f"`road_speeds_kmh` must map road classes to km/h, not "
                   f"{type(self.road_speeds_kmh).__name__}")
            raise TypeError(msg)
        for cls, speed in self.road_speeds_kmh.items():
            _check_speed(speed, f"road class {cls!r} in `road_speeds_kmh`")
        object.__setattr__(self, "road_speeds_kmh",
                           MappingProxyType({str(k): float(v) for k, v in self.road_speeds_kmh.items()}))
        for name in ("river_kmh", "lake_kmh"):
            if getattr(self, name) is not None:
                _check_speed(getattr(self, name), f"`{name}`")
        _check_speed(self.town_kmh, "`town_kmh`")
        factor = self.walk_factor
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor > 0):
            msg = f"`walk_factor` was {_show(factor)} but must be a positive multiplier (1 on paths)"
            raise ValueError(msg)
        if not 0 < self.road_steep_factor <= 1:
            msg = f"`road_steep_factor` was {self.road_steep_factor!r} but must be in (0, 1]"
            raise ValueError(msg)
        if not 0 <= self.road_flat_slope < self.road_steep_slope:
            msg = (f"`road_flat_slope` ({self.road_flat_slope!r}) must be >= 0 and less than "
                   f"`road_steep_slope` ({self.road_steep_slope!r})")
            raise ValueError(msg)
        if not 0 <= self.lake_min_share < 1:
            msg = f"`lake_min_share` was {self.lake_min_share!r} but must be in [0, 1)"
            raise ValueError(msg)
        for name in ("river_min_reach_km", "town_density_per_km2", "min_edge_fraction",
                     "link_max_gap_edges"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                msg = f"`{name}` was {value!r} but must be a number >= 0"
                raise ValueError(msg)


def _show(value: Any) -> str:
    """Repr of a value, numpy scalars shown as Python numbers."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_speed(speed: Any, what: str) -> None:
    ok = isinstance(speed, int | float | np.number) and not isinstance(speed, bool)
    if not ok or not math.isfinite(float(speed)) or float(speed) <= 0:
        msg = (f"{what} has speed {_show(speed)} km/h; speeds must be positive numbers (give the class "
               "a speed above 0, or leave it out of the layer)")
        raise ValueError(msg)


def walking_speed(slope: npt.ArrayLike) -> FloatArray:
    r"""Return the walking speed (km/h) on terrain of a given gradient, the same both ways.

    Parameters
    ----------
    slope : array_like
        Terrain gradient magnitude :math:`s \ge 0` (rise over run, not degrees).

    Returns
    -------
    numpy.ndarray
        Speed in km/h: 5.04 on the flat, 2.6 at a gradient of 0.2, 1.0 at 0.5.

    Notes
    -----
    Tobler's hiking function :math:`W(s) = 6\,e^{-3.5|s + 0.05|}` (:data:`TOBLER_MAX_KMH`) is faster
    downhill than uphill. Travel times on the grid must be the same both ways, so a cell's speed is
    the speed of a walk up and back down the slope, the harmonic mean of the two directions:

    .. math::

        \bar W(s) = \frac{2}{1/W(s) + 1/W(-s)} .

    The gradient is the steepest one (the DEM slope), as in Weiss et al. (2018); paths across the
    slope are less steep, so this is the cautious choice.
    """
    s = np.abs(np.asarray(slope, dtype=float))
    up = TOBLER_MAX_KMH * np.exp(-3.5 * np.abs(s + 0.05))
    down = TOBLER_MAX_KMH * np.exp(-3.5 * np.abs(0.05 - s))
    return np.asarray(2.0 / (1.0 / up + 1.0 / down), dtype=float)


@dataclass(frozen=True)
class Friction:
    """The friction surface of a grid: a speed per cell, and links along lines that leave the grid.

    Parameters
    ----------
    speed_kmh : numpy.ndarray
        Speed (km/h) across every grid row; 0 or NaN for impassable cells.
    link_rows : numpy.ndarray, optional
        ``(k, 2)`` grid rows joined directly by a road or river that runs outside the grid between
        them (see :func:`cell_speeds`); none by default.
    link_km : numpy.ndarray, optional
        Length (km) of each link: the great-circle distance between the two cell centres.
    link_kmh : numpy.ndarray, optional
        Speed (km/h) along each link.

    Raises
    ------
    ValueError
        If the link arrays do not have one row per link, or a link has no positive length or speed.
    """

    speed_kmh: FloatArray
    link_rows: IntArray = field(default_factory=lambda: np.empty((0, 2), np.int64))
    link_km: FloatArray = field(default_factory=lambda: np.empty(0))
    link_kmh: FloatArray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        rows = np.asarray(self.link_rows, dtype=np.int64).reshape(-1, 2)
        km = np.asarray(self.link_km, dtype=float).ravel()
        kmh = np.asarray(self.link_kmh, dtype=float).ravel()
        if not len(rows) == len(km) == len(kmh):
            msg = (f"`link_rows`, `link_km` and `link_kmh` must have one entry per link; got {len(rows)}, "
                   f"{len(km)} and {len(kmh)}")
            raise ValueError(msg)
        bad = ~(np.isfinite(km) & (km > 0) & np.isfinite(kmh) & (kmh > 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            msg = (f"{int(bad.sum())} links have no positive length or speed (e.g. link {first}: "
                   f"{_show(km[first])} km at {_show(kmh[first])} km/h)")
            raise ValueError(msg)
        object.__setattr__(self, "speed_kmh", np.asarray(self.speed_kmh, dtype=float))
        object.__setattr__(self, "link_rows", rows)
        object.__setattr__(self, "link_km", km)
        object.__setattr__(self, "link_kmh", kmh)


# --------------------------------------------------------------------------------------------
# the neighbour graph
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Graph:
    """Directed CSR structure of the cell adjacency (both directions of every pair)."""

    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.int32]
    row: npt.NDArray[np.int32]
    km: FloatArray
    lat: FloatArray
    lon: FloatArray

    @property
    def size(self) -> int:
        return len(self.indptr) - 1

    def matrix(self, data: FloatArray, keep: npt.NDArray[np.bool_] | None = None) -> csr_array:
        """Return the graph with ``data`` as edge weights, without the edges not in ``keep``."""
        n = self.size
        if keep is None or keep.all():
            return csr_array((data, self.indices, self.indptr), shape=(n, n))
        counts = np.bincount(self.row[keep], minlength=n)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return csr_array((data[keep], self.indices[keep], indptr), shape=(n, n))

    @cached_property
    def tree(self) -> cKDTree:
        """KD-tree of the cell centres as unit vectors (for snapping points to cells)."""
        return cKDTree(unit_vectors(self.lat, self.lon))


_GRAPHS: OrderedDict[bytes, _Graph] = OrderedDict()
_GRAPH_CACHE_SIZE = 4


def _digest(g: Grid) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for arr in (g.cells, g.lat, g.lon):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.digest()


def _graph(g: Grid) -> _Graph:
    key = _digest(g)
    if key in _GRAPHS:
        _GRAPHS.move_to_end(key)
        return _GRAPHS[key]
    n = g.size
    if n:
        flat, offsets = disks(g.cells)
        src = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
        dst = positions(g, flat)
        keep = (dst >= 0) & (dst != src)
        src, dst = src[keep], dst[keep]
    else:
        src = dst = np.empty(0, np.int64)
    # src is sorted (disks come cell by cell), so (src, dst) is already in CSR row order
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]).astype(np.int32)
    km = haversine_km(g.lat[src], g.lon[src], g.lat[dst], g.lon[dst])
    graph = _Graph(indptr, dst.astype(np.int32), src.astype(np.int32), km, g.lat, g.lon)
    _GRAPHS[key] = graph
    while len(_GRAPHS) > _GRAPH_CACHE_SIZE:
        _GRAPHS.popitem(last=False)
    return graph


def cell_graph(grid: pd.DataFrame) -> csr_array:
    """Return the neighbour graph of a grid: great-circle km between the centres of adjacent cells.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid (or indicator matrix) from :func:`geo_engine.spatial.grid.build_grid`: cells sorted by ``h3``,
        with their centre ``lat`` and ``lon``.

    Returns
    -------
    scipy.sparse.csr_array
        Symmetric ``n × n`` matrix in grid-row order; entry ``(i, j)`` is the distance in km between
        the centres of cells ``i`` and ``j`` when they share an edge, absent otherwise. An interior
        hexagon has 6 entries in its row, a pentagon 5, a cell on the region's edge fewer.

    Notes
    -----
    The neighbours are H3's ``grid_disk(cell, 1)`` less the cell itself, kept when they are in the
    grid. The structure is cached for the last few grids (keyed by a hash of the cells and their
    centres), so repeated travel-time runs on one grid build it once.
    """
    graph = _graph(check_grid(grid))
    return graph.matrix(graph.km.copy())


# --------------------------------------------------------------------------------------------
# the friction surface
# --------------------------------------------------------------------------------------------


def _dem_window(src: Any, g: Grid) -> Window:
    """Window of the DEM covering the grid's cells with a margin of two cell edges."""
    pad = 2.0 * edge_km(g.resolution) / (EARTH_RADIUS_KM * math.pi / 180.0)  # in degrees of latitude
    coslat = max(math.cos(math.radians(float(np.abs(g.lat).max()) + pad)), 1e-6)
    bounds = (float(g.lon.min()) - pad / coslat, float(g.lat.min()) - pad,
              float(g.lon.max()) + pad / coslat, float(g.lat.max()) + pad)
    if not CRS.from_user_input(src.crs).equals("EPSG:4326"):
        bounds = transform_bounds("EPSG:4326", src.crs, *bounds)
    raw = from_bounds(*bounds, transform=src.transform)
    col0, row0 = math.floor(raw.col_off), math.floor(raw.row_off)
    win = Window(col0, row0, math.ceil(raw.col_off + raw.width) - col0,
                 math.ceil(raw.row_off + raw.height) - row0)
    try:
        return win.intersection(Window(0, 0, src.width, src.height))
    except WindowError as err:
        msg = f"the elevation raster {src.name} does not cover the grid; use a DEM of the region"
        raise SourceFormatError(msg) from err


def _terrain_raster(elevation: str | os.PathLike[str], g: Grid, table: SpeedTable, folder: str) -> Path:
    """Write walking pace (h/km), slope and elevation of the DEM window over the grid to a GeoTIFF."""
    path = Path(elevation)
    if not path.is_file():
        msg = f"elevation raster {path} not found; pass the path of a DEM (e.g. data/peru/elevation.tif)"
        raise MissingSourceError(msg)
    with open_raster(path) as src:  # a GeoTIFF with a CRS, checked like every user raster
        t = src.transform
        if t.b != 0 or t.d != 0:
            msg = f"elevation raster {path} is rotated; warp it to a north-up grid first (gdalwarp)"
            raise SourceFormatError(msg)
        win = _dem_window(src, g)
        data = src.read(1, window=win, masked=True)
        z = np.ma.filled(data.astype(np.float64), np.nan)
        z = z * float(src.scales[0]) + float(src.offsets[0])
        wt = src.window_transform(win)
        crs = CRS.from_user_input(src.crs)
        profile = {"driver": "GTiff", "width": z.shape[1], "height": z.shape[0], "count": 3,
                   "dtype": "float32", "crs": src.crs, "transform": wt, "nodata": np.nan}
    if crs.is_geographic:
        rows = np.arange(z.shape[0]) + 0.5
        lat = wt.f + wt.e * rows
        metres_per_degree = EARTH_RADIUS_KM * 1000.0 * math.pi / 180.0
        dy = abs(wt.e) * metres_per_degree
        dx = (abs(wt.a) * metres_per_degree * np.cos(np.radians(lat)))[:, None]
    else:
        unit = float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0
        dx, dy = abs(wt.a) * unit, abs(wt.e) * unit
    if min(z.shape) >= 2:
        gy, gx = np.gradient(z)
        slope = np.hypot(gx / dx, gy / dy)
    else:
        slope = np.zeros_like(z)
    pace = 1.0 / (table.walk_factor * walking_speed(slope))
    out = Path(folder) / "terrain.tif"
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack([pace, slope, z]).astype(np.float32))
    return out


def _adjacent(graph: _Graph, a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """Whether cells ``a[k]`` and ``b[k]`` are neighbours in the graph."""
    out = np.zeros(len(a), dtype=bool)
    if len(a) == 0:
        return out
    start = graph.indptr[a].astype(np.int64)
    degree = graph.indptr[a + 1].astype(np.int64) - start
    for k in range(int(degree.max())):
        has = k < degree
        out[has] |= graph.indices[start[has] + k] == b[has]
    return out


def _line_links(g: Grid, graph: _Graph, geoms: np.ndarray, speed: FloatArray, max_gap_km: float
                ) -> tuple[IntArray, FloatArray]:
    """Pairs of grid rows joined by a line that runs outside the grid between them, and its speed.

    Each line is sampled every quarter of a cell edge (linear steps in lon/lat, far shorter than a
    cell); consecutive samples that fall in grid cells, with only samples outside the grid between
    them, mark a gap. A gap of at most ``max_gap_km`` of line between two cells that are not
    neighbours gives a link.
    """
    empty = (np.empty((0, 2), np.int64), np.empty(0))
    if len(geoms) == 0 or g.size == 0:
        return empty
    parts, line = shapely.get_parts(geoms, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return empty
    lon, lat = coords[:, 0], coords[:, 1]
    seg_km = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    same = part[1:] == part[:-1]
    seg = np.flatnonzero(same)
    along = np.concatenate([[0.0], np.cumsum(np.where(same, seg_km, 0.0))])  # km from the part's start
    step = 0.25 * edge_km(g.resolution)
    n_sub = np.maximum(np.ceil(seg_km[seg] / step), 1).astype(np.int64)
    which = np.repeat(seg, n_sub)
    t = (np.arange(len(which)) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)) / np.repeat(n_sub, n_sub)
    ends = np.flatnonzero(np.concatenate([~same, [True]]))  # the last vertex of every part
    order = np.argsort(np.concatenate([which + t, ends.astype(float)]), kind="stable")
    s_lat = np.concatenate([lat[which] + t * (lat[which + 1] - lat[which]), lat[ends]])[order]
    s_lon = np.concatenate([lon[which] + t * (lon[which + 1] - lon[which]), lon[ends]])[order]
    s_km = np.concatenate([along[which] + t * seg_km[which], along[ends]])[order]
    s_part = np.concatenate([part[which], part[ends]])[order]
    rows = point_positions(pd.DataFrame({"h3": g.cells, "lat": g.lat, "lon": g.lon}), s_lat, s_lon)
    inside = np.flatnonzero(rows >= 0)
    a, b = inside[:-1], inside[1:]
    gap = ((b - a) > 1) & (s_part[a] == s_part[b]) & (rows[a] != rows[b]) \
        & (s_km[b] - s_km[a] <= max_gap_km)
    a, b = a[gap], b[gap]
    ra, rb = rows[a], rows[b]
    keep = ~_adjacent(graph, ra, rb)
    pairs = np.column_stack([ra[keep], rb[keep]]).astype(np.int64)
    return pairs, speed[line[s_part[a[keep]]]].astype(float)


def _line_cells(grid: pd.DataFrame, lines: gpd.GeoDataFrame, min_km: float) -> FloatArray:
    """Length (km) of lines in each cell, 0 where it is shorter than ``min_km``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # an empty group is not news here
        length = lines_to_cells(grid, lines)
    return np.where(length >= min_km, length, 0.0)


def _road_line_speeds(roads: gpd.GeoDataFrame, table: SpeedTable) -> FloatArray:
    if ROAD_SPEED_COLUMN in roads:
        speed = pd.to_numeric(roads[ROAD_SPEED_COLUMN], errors="coerce").to_numpy(dtype=float,
                                                                                   na_value=np.nan)
        bad = ~(np.isfinite(speed) & (speed > 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            value = _show(roads[ROAD_SPEED_COLUMN].iloc[first])
            msg = (f"{int(bad.sum())} roads have no positive speed in {ROAD_SPEED_COLUMN!r}, e.g. row "
                   f"{_show(roads.index[first])} with {value}; every road needs a speed above 0 km/h "
                   "(drop the rows that are not roads)")
            raise ValueError(msg)
        return speed
    column = table.road_class_column
    if column not in roads:
        msg = (f"`roads` have neither a {ROAD_SPEED_COLUMN!r} column nor the class column {column!r}; "
               f"columns are {list(roads.columns)}; add speeds or set SpeedTable(road_class_column=...)")
        raise KeyError(msg)
    classes = roads[column]
    if classes.isna().any():
        msg = (f"{int(classes.isna().sum())} roads have no class in {column!r}; give them one of "
               f"{sorted(table.road_speeds_kmh)} or a {ROAD_SPEED_COLUMN!r} column")
        raise ValueError(msg)
    names = classes.astype(str)
    unknown = sorted(set(names) - set(table.road_speeds_kmh))
    if unknown:
        msg = (f"road classes {unknown} of column {column!r} have no speed; known classes are "
               f"{sorted(table.road_speeds_kmh)}: add them to SpeedTable(road_speeds_kmh=...)")
        raise ValueError(msg)
    return names.map(dict(table.road_speeds_kmh)).to_numpy(dtype=float)


@dataclass(frozen=True)
class _Lines:
    """Line features in EPSG:4326 with one value per feature."""

    frame: gpd.GeoDataFrame
    geoms: np.ndarray


def _lines(features: gpd.GeoDataFrame, what: str) -> _Lines:
    frame, geoms = check_features(features, what=what, allowed=LINE_TYPES)
    return _Lines(frame, geoms)


def _road_speeds(cells: pd.DataFrame, g: Grid, graph: _Graph, roads: _Lines, table: SpeedTable,
                 min_km: float, max_gap_km: float) -> tuple[FloatArray, IntArray, FloatArray]:
    """Fastest flat-ground road speed of each cell (0 where no road counts) and the road links."""
    line_speed = _road_line_speeds(roads.frame, table)
    out = np.zeros(len(cells))
    for speed in np.unique(line_speed)[::-1]:
        length = _line_cells(cells, roads.frame[line_speed == speed], min_km)
        out[(length > 0) & (out == 0)] = speed
    pairs, link_speed = _line_links(g, graph, roads.geoms, line_speed, max_gap_km)
    return out, pairs, link_speed


def _river_cells(cells: pd.DataFrame, g: Grid, graph: _Graph, rivers: _Lines, table: SpeedTable,
                 min_km: float, max_gap_km: float, terrain: Path
                 ) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """Cells crossed by a navigable river, and the river links between them."""
    frame, geoms = rivers.frame, rivers.geoms
    ruled = "navigable" not in frame
    if not ruled:
        flag = frame["navigable"]
        if not pd.api.types.is_bool_dtype(flag):
            msg = f"rivers column 'navigable' must be true/false, not {flag.dtype}"
            raise ValueError(msg)
        keep = flag.fillna(False).to_numpy(dtype=bool)
    elif "scalerank" in frame:
        rank = pd.to_numeric(frame["scalerank"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        keep = rank <= table.river_max_scalerank
    else:
        keep = np.ones(len(frame), dtype=bool)
    frame, geoms = frame[keep], geoms[keep]
    length = _line_cells(cells, frame, min_km)
    pairs, _ = _line_links(g, graph, geoms, np.zeros(len(geoms)), max_gap_km)
    candidate = length > 0
    candidate[pairs.ravel()] = True
    rows = np.flatnonzero(candidate)
    boat = np.zeros(len(cells), dtype=bool)
    if len(rows) and ruled:
        elev = raster_to_cells(cells.iloc[rows][["h3"]], terrain, method="mean", band=3)
        rows = rows[elev < table.river_max_elevation_m]
        local = np.full(len(cells), -1, dtype=np.int64)
        local[rows] = np.arange(len(rows))
        sub = graph.matrix(graph.km)[rows][:, rows].tocoo()
        la, lb = local[pairs[:, 0]], local[pairs[:, 1]]
        both = (la >= 0) & (lb >= 0)
        link = csr_array((np.ones(int(both.sum())), (la[both], lb[both])), shape=sub.shape)
        n_comp, label = connected_components(csr_array(sub) + link, directed=False)
        reach = np.bincount(label, weights=length[rows], minlength=n_comp)
        rows = rows[reach[label] >= table.river_min_reach_km]
    boat[rows] = True
    return boat, pairs[boat[pairs[:, 0]] & boat[pairs[:, 1]]]


def _town_cells(cells: pd.DataFrame, towns: gpd.GeoDataFrame, table: SpeedTable, graph: _Graph
                ) -> npt.NDArray[np.bool_]:
    """Cells whose centre lies in a town's built-up disc, or that hold a large enough town."""
    feats, geoms = check_features(towns, what="towns", allowed=frozenset({"Point"}))
    if "population" not in feats:
        msg = f"`towns` need a 'population' column; columns are {list(feats.columns)}"
        raise KeyError(msg)
    pop = pd.to_numeric(feats["population"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(pop) & (pop > 0)
    pop, geoms = pop[ok], geoms[ok]
    out = np.zeros(len(cells), dtype=bool)
    if len(pop) == 0 or len(cells) == 0:
        return out
    lat, lon = shapely.get_y(geoms), shapely.get_x(geoms)
    radius_km = np.sqrt(pop / (math.pi * table.town_density_per_km2)) if table.town_density_per_km2 \
        else np.zeros(len(pop))
    chords = 2.0 * np.sin(np.minimum(radius_km / EARTH_RADIUS_KM, np.pi) / 2.0)
    hits = graph.tree.query_ball_point(unit_vectors(lat, lon), chords)
    inside = [np.asarray(h, dtype=np.int64) for h in hits if len(h)]
    if inside:
        out[np.concatenate(inside)] = True
    big = pop >= table.town_min_population
    pos = point_positions(cells, lat[big], lon[big])
    out[pos[pos >= 0]] = True
    return out


def cell_speeds(
    grid: pd.DataFrame,
    *,
    elevation: str | os.PathLike[str],
    roads: gpd.GeoDataFrame | None = None,
    rivers: gpd.GeoDataFrame | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    towns: gpd.GeoDataFrame | None = None,
    table: SpeedTable | None = None,
) -> Friction:
    r"""Return the friction surface of a grid: the travel speed across every cell, and line links.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid or indicator matrix (cells sorted by ``h3`` with ``lat``, ``lon``); other columns are
        not used.
    elevation : str or os.PathLike
        Digital elevation model in metres (any CRS, north-up), e.g. ``data/peru/elevation.tif``.
    roads : geopandas.GeoDataFrame, optional
        Road lines with a ``speed_kmh`` column, or a class column (``table.road_class_column``,
        default ``system``) whose values are keys of ``table.road_speeds_kmh``.
    rivers : geopandas.GeoDataFrame, optional
        River lines; a boolean ``navigable`` column, if present, says which are navigable, else the
        lowland rule of the Notes applies (and ``scalerank`` filters them if present).
    lakes : geopandas.GeoDataFrame, optional
        Lake polygons.
    towns : geopandas.GeoDataFrame, optional
        Town points with a ``population`` column (towns without one are skipped).
    table : SpeedTable, optional
        Speeds and thresholds; the module defaults when omitted.

    Returns
    -------
    Friction
        ``speed_kmh`` per grid row (> 0, except 0 for water cells when ``table.lake_kmh`` is None)
        and the links of roads and rivers across gaps in the grid; pass it to :func:`travel_time`.

    Raises
    ------
    ValueError
        If a road has no positive speed, or a road class has no speed (the message names them).
    MissingSourceError, SourceFormatError
        If the elevation raster is missing, has no CRS, is rotated or does not cover the grid.

    Notes
    -----
    As in Weiss et al. (2018), a cell takes the speed of the fastest way of crossing it:

    .. math::

        v_c = \max(w_c, r_c, b_c, l_c, u_c).

    - **Walking** :math:`w_c`: with :math:`s_p` the steepest gradient of DEM pixel :math:`p` (central
      differences over the pixel's neighbours, pixel sizes in metres), the walking pace
      :math:`1 / \bar W(s_p)` of :func:`walking_speed` (divided by ``walk_factor``) is averaged over
      the pixels of the cell (:func:`~geo_engine.ingest.raster.raster_to_cells`), and
      :math:`w_c = 1 / \overline{\text{pace}}`, the harmonic mean of the pixel speeds: the time to
      cross the cell is the mean of the pixels' times. Averaging paces of ~1 km pixels keeps the
      steepness of the terrain whatever the cell size, where a slope between cell centres would
      flatten it at coarse resolutions. Cells without DEM pixels walk at the flat speed. Water
      cells (lake share > ``lake_min_share``) cannot be walked: :math:`w_c = 0`.
    - **Roads** :math:`r_c`: the fastest road class with at least ``min_edge_fraction`` of an average
      cell edge inside the cell, times the terrain factor
      :math:`f = 1 - (1 - f_s)\,\mathrm{clip}\big((\bar s_c - s_0)/(s_1 - s_0), 0, 1\big)`, with
      :math:`\bar s_c` the cell's mean pixel gradient, :math:`s_0, s_1, f_s` = ``road_flat_slope``,
      ``road_steep_slope``, ``road_steep_factor``.
    - **River boats** :math:`b_c` = ``river_kmh`` in cells holding at least ``min_edge_fraction``
      of an edge of navigable river: rivers in cells of mean elevation below
      ``river_max_elevation_m``, in connected reaches (over the cell graph and the river links) of
      at least ``river_min_reach_km`` of river.
    - **Lake boats** :math:`l_c` = ``lake_kmh`` in water cells.
    - **Towns** :math:`u_c` = ``town_kmh`` in land cells whose centre lies within
      :math:`\rho_t = \sqrt{P_t / (\pi D)}` km of a town of population :math:`P_t` (:math:`D` =
      ``town_density_per_km2``, the built-up disc), and in the cell holding any town of at least
      ``town_min_population``.

    **Links.** Where a road or a navigable river leaves the grid (a coast, a border) and comes back
    within ``link_max_gap_edges`` average edges of line, the grid cells on either side are joined
    directly; the link is crossed at the line's speed (a road's flat-ground speed, ``river_kmh``)
    over the great-circle distance between the two centres.

    A layer left out (None) contributes nothing.
    """
    table = table if table is not None else SpeedTable()
    if not isinstance(table, SpeedTable):
        msg = f"`table` must be a SpeedTable, not {type(table).__name__}"
        raise TypeError(msg)
    g = check_grid(grid)
    n = g.size
    road_lines = _lines(roads, "roads") if roads is not None else None
    river_lines = _lines(rivers, "rivers") if rivers is not None and table.river_kmh is not None else None
    if n == 0:
        return Friction(np.zeros(0))
    graph = _graph(g)
    edge = edge_km(g.resolution)
    min_km, max_gap_km = table.min_edge_fraction * edge, table.link_max_gap_edges * edge
    cells = pd.DataFrame({"h3": g.cells, "lat": g.lat, "lon": g.lon})
    flat = float(walking_speed(0.0)) * table.walk_factor
    links: list[tuple[IntArray, FloatArray]] = []
    with tempfile.TemporaryDirectory(prefix="geo-engine-access-") as folder:
        terrain = _terrain_raster(elevation, g, table, folder)
        pace = raster_to_cells(cells[["h3"]], terrain, method="mean", band=1)
        walk = np.where(np.isfinite(pace) & (pace > 0), 1.0 / pace, flat)
        water = np.zeros(n, dtype=bool)
        if lakes is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GeoEngineWarning)
                water = polygons_to_cells(cells, lakes) > table.lake_min_share
        speed = np.where(water, 0.0, walk)
        if road_lines is not None:
            road, pairs, link_speed = _road_speeds(cells, g, graph, road_lines, table, min_km, max_gap_km)
            links.append((pairs, link_speed))
            rows = np.flatnonzero(road > 0)
            if len(rows):
                slope = raster_to_cells(cells.iloc[rows][["h3"]], terrain, method="mean", band=2)
                ramp = np.clip((slope - table.road_flat_slope)
                               / (table.road_steep_slope - table.road_flat_slope), 0.0, 1.0)
                factor = 1.0 - (1.0 - table.road_steep_factor) * np.nan_to_num(ramp, nan=0.0)
                speed[rows] = np.maximum(speed[rows], road[rows] * factor)
        if river_lines is not None and table.river_kmh is not None:
            boat, pairs = _river_cells(cells, g, graph, river_lines, table, min_km, max_gap_km, terrain)
            speed[boat] = np.maximum(speed[boat], table.river_kmh)
            links.append((pairs, np.full(len(pairs), float(table.river_kmh))))
    if table.lake_kmh is not None:
        speed[water] = np.maximum(speed[water], table.lake_kmh)
    if towns is not None:
        town = _town_cells(cells, towns, table, graph) & ~water
        speed[town] = np.maximum(speed[town], table.town_kmh)
    pairs = np.concatenate([p for p, _ in links]) if links else np.empty((0, 2), np.int64)
    link_speed = np.concatenate([v for _, v in links]) if links else np.empty(0)
    link_km = haversine_km(g.lat[pairs[:, 0]], g.lon[pairs[:, 0]], g.lat[pairs[:, 1]], g.lon[pairs[:, 1]])
    return Friction(speed, pairs, link_km, link_speed)


# --------------------------------------------------------------------------------------------
# travel time
# --------------------------------------------------------------------------------------------


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
        msg = (f"`speeds` has {int(bad.sum())} negative or infinite values (e.g. {_show(v[first])} at row "
               f"{first}); speeds are km/h >= 0, with 0 or NaN for impassable cells")
        raise ValueError(msg)
    return v


def _cell_centres(ids: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
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


def _destination_rows(grid: pd.DataFrame, g: Grid, graph: _Graph,
                      targets: gpd.GeoDataFrame | npt.ArrayLike, snap_km: float | None) -> IntArray:
    """Grid rows of the cells holding the destinations (snapped if just outside; see travel_time)."""
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
        lat, lon = _cell_centres(targets)
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
    if dropped == total:
        msg = (f"none of the {total} destinations lies in the grid or within {snap:.1f} km of one of its "
               "cells; check that they are in the region and have the right CRS (or raise `snap_km`)")
        raise ValueError(msg)
    if dropped:
        warnings.warn(f"{dropped} of {total} destinations lie outside the grid (more than {snap:.1f} km "
                      "from any cell) and were dropped", GeoEngineWarning, stacklevel=3)
    return np.unique(rows[rows >= 0])


def _with_links(graph: _Graph, weight: FloatArray, friction: Friction) -> csr_array:
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
    adjacent = _adjacent(graph, row, col)
    for r, c, m in zip(row[adjacent], col[adjacent], data[adjacent], strict=True):
        at = graph.indptr[r] + int(np.flatnonzero(graph.indices[graph.indptr[r]:graph.indptr[r + 1]] == c)[0])
        weight[at] = min(weight[at], m)
    base = graph.matrix(weight, np.isfinite(weight))
    far = ~adjacent
    return csr_array(base + csr_array((data[far], (row[far], col[far])), shape=(n, n)))


def _minutes_graph(g: Grid, graph: _Graph, speeds: Friction | npt.ArrayLike
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
    matrix, _ = _minutes_graph(g, _graph(g), speeds)
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
    """
    if max_minutes is not None and not (isinstance(max_minutes, int | float) and max_minutes > 0):
        msg = f"`max_minutes` was {max_minutes!r} but must be a positive number of minutes (or None)"
        raise ValueError(msg)
    g = check_grid(grid)
    graph = _graph(g)
    sources = _destination_rows(grid, g, graph, destinations, snap_km)
    matrix, passable = _minutes_graph(g, graph, speeds)
    if not passable[sources].all():
        stuck = int((~passable[sources]).sum())
        warnings.warn(f"{stuck} destination cells are impassable (speed 0 or NaN); they reach only "
                      "their own cell", GeoEngineWarning, stacklevel=2)
    limit = np.inf if max_minutes is None else float(max_minutes)
    dist = dijkstra(matrix, directed=True, indices=sources, min_only=True, limit=limit)
    return np.where(np.isfinite(dist), dist, np.nan)


# --------------------------------------------------------------------------------------------
# destination sets and the region's data
# --------------------------------------------------------------------------------------------

DESTINATION_SETS: Mapping[str, str] = MappingProxyType({
    "towns10k": "towns of 10,000 people or more (towns.parquet)",
    "towns50k": "towns of 50,000 people or more (towns.parquet)",
    "towns500k": "cities of 500,000 people or more (towns.parquet)",
    "ports": "sea and river ports (ports.parquet)",
    "airports": "airports with an IATA code (airports.parquet)",
    "hubs": "engine-hub cells of the dual model (their centres; pass `hubs`)",
})
"""Named destination sets of :func:`destinations`, with what each holds."""

_TOWN_THRESHOLDS = {"towns10k": 10_000, "towns50k": 50_000, "towns500k": 500_000}


def _region_path(name: str, data_dir: Path | None, region: str | None) -> Path:
    return Path(data_dir or settings.data_dir) / (region or settings.default_region) / name


def destinations(
    name: str,
    *,
    data_dir: Path | None = None,
    region: str | None = None,
    hubs: npt.ArrayLike | None = None,
) -> gpd.GeoDataFrame:
    """Return one of the named destination sets as points.

    Parameters
    ----------
    name : str
        One of :data:`DESTINATION_SETS`: ``towns10k``, ``towns50k``, ``towns500k`` (towns by
        population), ``ports``, ``airports`` (with an IATA code), ``hubs``.
    data_dir : pathlib.Path, optional
        Folder of the curated data; :data:`geo_engine.settings.data_dir` when omitted.
    region : str, optional
        Region sub-folder; :data:`geo_engine.settings.default_region` when omitted.
    hubs : array_like, optional
        For ``hubs``: the H3 ids (integers or hexadecimal strings) of the engine-hub cells, e.g.
        ``run.matrix["h3"][np.isin(run.dual.typology, ["engine_hub", "dual_zone"])]``.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 with ``name`` and the set's own attribute (``population``,
        ``harbour_size``, ``iata``; ``h3`` for hubs). May be empty (:func:`travel_time` then
        raises).

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the known sets), or ``hubs`` is missing for the
        ``hubs`` set.
    MissingSourceError
        If the set's file is not in the region's data folder.
    """
    if name not in DESTINATION_SETS:
        msg = f"unknown destination set {name!r}; known sets are {', '.join(DESTINATION_SETS)}"
        raise ValueError(msg)
    if name == "hubs":
        if hubs is None:
            msg = ("the 'hubs' destination set needs `hubs`: the H3 ids of the engine-hub cells "
                   "(e.g. the matrix's h3 where the dual typology is engine_hub or dual_zone)")
            raise ValueError(msg)
        cells = np.asarray(hubs)
        lat, lon = _cell_centres(cells) if cells.size else (np.empty(0), np.empty(0))
        ids = (np.array([h3n.str_to_int(str(c)) for c in cells.ravel()], dtype=np.uint64)
               if cells.dtype.kind in "USO" else cells.ravel().astype(np.uint64))
        return gpd.GeoDataFrame({"name": [format(int(c), "x") for c in ids], "h3": ids},
                                geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    from geo_engine.io.safe_read import read_vector

    if name in _TOWN_THRESHOLDS:
        towns = read_vector(_region_path("towns.parquet", data_dir, region))
        pop = pd.to_numeric(towns["population"], errors="coerce")
        keep = (pop >= _TOWN_THRESHOLDS[name]).fillna(False).to_numpy(dtype=bool)
        out = towns.loc[keep, ["name", "population", "geometry"]]
    elif name == "ports":
        out = read_vector(_region_path("ports.parquet", data_dir, region))[["name", "harbour_size",
                                                                            "geometry"]]
    else:
        airports = read_vector(_region_path("airports.parquet", data_dir, region))
        out = airports.loc[airports["iata"].notna().to_numpy(dtype=bool), ["name", "iata", "geometry"]]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry").to_crs(4326)


_FRICTIONS: OrderedDict[tuple[Any, ...], Friction] = OrderedDict()

_REGION_FILES = {"elevation": "elevation.tif", "roads": "roads_national.parquet",
                 "rivers": "rivers.parquet", "lakes": "lakes.parquet", "towns": "towns.parquet"}


def region_friction(
    grid: pd.DataFrame,
    *,
    data_dir: Path | None = None,
    region: str | None = None,
) -> Friction:
    """Return :func:`cell_speeds` of a grid from a region's curated files, with the default table.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid or indicator matrix of the region.
    data_dir : pathlib.Path, optional
        Folder of the curated data; :data:`geo_engine.settings.data_dir` when omitted.
    region : str, optional
        Region sub-folder; :data:`geo_engine.settings.default_region` when omitted.

    Returns
    -------
    Friction
        Speeds and links from ``elevation.tif``, ``roads_national.parquet``,
        ``rivers.parquet``, ``lakes.parquet`` and ``towns.parquet`` of the region (a missing
        optional file — all but the DEM — leaves that mode out). The result is cached for the last
        few grids as long as the files are unchanged, so its arrays are read-only (copy them to
        change them).
    """
    from geo_engine.io.safe_read import read_vector

    paths = {k: _region_path(v, data_dir, region) for k, v in _REGION_FILES.items()}
    g = check_grid(grid)
    stamp = tuple((str(p), p.stat().st_mtime_ns if p.is_file() else None) for p in paths.values())
    key = (_digest(g), stamp)
    if key in _FRICTIONS:
        _FRICTIONS.move_to_end(key)
        return _FRICTIONS[key]
    layers = {k: read_vector(p) for k, p in paths.items() if k != "elevation" and p.is_file()}
    friction = cell_speeds(grid, elevation=paths["elevation"], roads=layers.get("roads"),
                           rivers=layers.get("rivers"), lakes=layers.get("lakes"),
                           towns=layers.get("towns"))
    for arr in (friction.speed_kmh, friction.link_rows, friction.link_km, friction.link_kmh):
        arr.setflags(write=False)  # shared by the cache: read-only
    _FRICTIONS[key] = friction
    while len(_FRICTIONS) > _GRAPH_CACHE_SIZE:
        _FRICTIONS.popitem(last=False)
    return friction


def access_minutes(
    matrix: pd.DataFrame,
    *,
    to: str,
    data_dir: Path | None = None,
    region: str | None = None,
    hubs: npt.ArrayLike | None = None,
    max_minutes: float | None = None,
) -> FloatArray:
    """Return the travel time (minutes) from every cell of a region to a named destination set.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix (or grid) of the region: ``h3``, ``lat``, ``lon``.
    to : str
        Destination set, one of :data:`DESTINATION_SETS`.
    data_dir : pathlib.Path, optional
        Folder of the curated data; :data:`geo_engine.settings.data_dir` when omitted.
    region : str, optional
        Region sub-folder; :data:`geo_engine.settings.default_region` when omitted.
    hubs : array_like, optional
        For ``to="hubs"``: the engine-hub cells, as H3 ids or as a boolean mask aligned with the rows
        of ``matrix``.
    max_minutes : float, optional
        Cells farther than this are NaN (see :func:`travel_time`).

    Returns
    -------
    numpy.ndarray
        Minutes per matrix row; NaN where unreachable.

    Examples
    --------
    >>> from geo_engine.matrix.indicators import build_indicators  # doctest: +SKIP
    >>> m = build_indicators(resolution=5)  # doctest: +SKIP
    >>> minutes = access_minutes(m, to="towns50k")  # doctest: +SKIP
    """
    if to not in DESTINATION_SETS:
        msg = f"`to` was {to!r}; known destination sets are {', '.join(DESTINATION_SETS)}"
        raise ValueError(msg)
    if hubs is not None:
        mask = np.asarray(hubs)
        if mask.dtype == bool:
            if mask.shape != (len(matrix),):
                msg = (f"`hubs` is a boolean mask of shape {mask.shape} but the matrix has "
                       f"{len(matrix)} rows; give one value per row, or H3 ids")
                raise ValueError(msg)
            hubs = matrix["h3"].to_numpy(dtype=np.uint64)[mask]
    targets = destinations(to, data_dir=data_dir, region=region, hubs=hubs)
    friction = region_friction(matrix, data_dir=data_dir, region=region)
    return travel_time(matrix, friction, targets, max_minutes=max_minutes)
