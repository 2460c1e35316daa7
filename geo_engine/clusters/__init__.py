"""Find clusters of a profile: Getis-Ord Gi* hot spots on the H3 grid, grouped and profiled."""

from __future__ import annotations

from geo_engine.clusters.adjacency import h3_adjacency
from geo_engine.clusters.schema import (
    CELL_COLUMNS,
    CLUSTER_COLUMNS,
    PERMUTATION_BLOCK,
    RANK_CRITERIA,
    TravelMinutes,
    travel_minutes,
)
from geo_engine.clusters.statistic import benjamini_hochberg, gi_star
from geo_engine.clusters.summary import find_clusters, hot_spots, summarize_clusters

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
