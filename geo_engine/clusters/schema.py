"""Column names of the cluster outputs and the travel-time layers that profile clusters."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import pandas as pd

__all__ = [
    "CELL_COLUMNS",
    "CHUNK_CELLS",
    "CLUSTER_COLUMNS",
    "INT_COLUMNS",
    "JOIN",
    "PERMUTATION_BLOCK",
    "RANK_CRITERIA",
    "STRING_COLUMNS",
    "TRAVEL_LAYERS",
    "TravelMinutes",
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
    "top_layers", "median_minutes_town50k", "median_minutes_port", "units", "parents",
    "grandparents", "centroid_lat", "centroid_lon", "rank", "fdr", "permutations", "geometry",
)
"""Columns of :func:`find_clusters` and :func:`summarize_clusters`, one row per cluster."""

RANK_CRITERIA = ("poor_reach", "poor_population", "population", "mean_score", "n_cells", "area_km2")
"""Accepted ``rank_by`` values; ``poor_reach`` is poor population × mean score."""

STRING_COLUMNS = ("profile", "top_layers", "units", "parents", "grandparents")
INT_COLUMNS = ("cluster_id", "n_cells", "rank", "permutations")
JOIN = ", "
CHUNK_CELLS = 8192  # cells tested together: about 8192 × permutations × 8 bytes (65 MB at 999)

PERMUTATION_BLOCK = 64
"""Consecutive cells (in H3 id order) that share one set of permutation draws in :func:`gi_star`."""
