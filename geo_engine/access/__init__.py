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

from geo_engine.access.destinations import (
    DESTINATION_SETS,
    REGION_FILES,
    access_minutes,
    access_paths,
    clear_caches,
    destinations,
    region_friction,
)
from geo_engine.access.friction import cell_speeds
from geo_engine.access.graph import cell_graph
from geo_engine.access.speeds import (
    LAKE_BOAT_KMH,
    LAKE_MIN_SHARE,
    LINK_MAX_GAP_EDGES,
    MIN_EDGE_FRACTION,
    RIVER_BOAT_KMH,
    RIVER_MAX_ELEVATION_M,
    RIVER_MAX_SCALERANK,
    RIVER_MIN_REACH_KM,
    ROAD_CLASS_COLUMN,
    ROAD_FLAT_SLOPE,
    ROAD_SPEED_COLUMN,
    ROAD_SPEEDS_KMH,
    ROAD_STEEP_FACTOR,
    ROAD_STEEP_SLOPE,
    SNAP_EDGES,
    TOBLER_MAX_KMH,
    TOWN_DENSITY_PER_KM2,
    TOWN_KMH,
    TOWN_MIN_POPULATION,
    WALK_FACTOR,
    Friction,
    SpeedTable,
    walking_speed,
)
from geo_engine.access.travel import reach_table, travel_time

__all__ = [
    "DESTINATION_SETS",
    "LAKE_BOAT_KMH",
    "LAKE_MIN_SHARE",
    "LINK_MAX_GAP_EDGES",
    "MIN_EDGE_FRACTION",
    "REGION_FILES",
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
    "access_paths",
    "cell_graph",
    "cell_speeds",
    "clear_caches",
    "destinations",
    "reach_table",
    "region_friction",
    "travel_time",
    "walking_speed",
]
