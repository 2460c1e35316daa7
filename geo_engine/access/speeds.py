"""Travel speeds and thresholds: the speed table, walking speed over slopes, and the friction surface type."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
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
    "FloatArray",
    "Friction",
    "IntArray",
    "SpeedTable",
    "show_value",
    "walking_speed",
]

FloatArray = npt.NDArray[np.float64]

IntArray = npt.NDArray[np.int64]

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
            msg = f"`walk_factor` was {show_value(factor)} but must be a positive multiplier (1 on paths)"
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


def show_value(value: Any) -> str:
    """Repr of a value, numpy scalars shown as Python numbers."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_speed(speed: Any, what: str) -> None:
    ok = isinstance(speed, int | float | np.number) and not isinstance(speed, bool)
    if not ok or not math.isfinite(float(speed)) or float(speed) <= 0:
        msg = (f"{what} has speed {show_value(speed)} km/h; speeds must be positive numbers (give the class "
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
                   f"{show_value(km[first])} km at {show_value(kmh[first])} km/h)")
            raise ValueError(msg)
        object.__setattr__(self, "speed_kmh", np.asarray(self.speed_kmh, dtype=float))
        object.__setattr__(self, "link_rows", rows)
        object.__setattr__(self, "link_km", km)
        object.__setattr__(self, "link_kmh", kmh)
