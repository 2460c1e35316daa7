"""Assemble the per-cell output table of a profile: score, rank, dual model, names and contributions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_engine.ingest.specs import LayerSpec
from geo_engine.matrix.derived import POPULATION_LAYER, POVERTY_LAYER, poor_population
from geo_engine.scoring.dual import DualResult
from geo_engine.scoring.profiles import Profile
from geo_engine.scoring.score import ScoreResult, score_profile

if TYPE_CHECKING:
    from geo_engine.regions.region import Level

__all__ = ["POPULATION_LAYER", "POVERTY_LAYER", "cell_table", "geopackage_layers",
           "score_rank"]


def score_rank(score: np.ndarray) -> np.ndarray:
    """Return ranks (1 = highest score, ties share the best rank); NaN for unscored cells."""
    s = pd.Series(score)
    return s.rank(ascending=False, method="min").to_numpy()




def cell_table(
    matrix: pd.DataFrame,
    *,
    profile: Profile,
    specs: Mapping[str, LayerSpec] | None = None,
    dual: DualResult | None = None,
    names: pd.DataFrame | None = None,
    result: ScoreResult | None = None,
) -> pd.DataFrame:
    """Return one row per cell with the profile's score and everything a user reads next to it.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix.
    profile : Profile
        The profile whose score and contributions are reported.
    specs : mapping, optional
        Layer specs by id.
    dual : DualResult, optional
        Adds ``engine``, ``inclusion``, ``need``, ``access``, ``typology``, ``niche_family``,
        ``niche_margin``, ``hub_distance_km``, ``hub_minutes`` and ``linkage``.
    names : pandas.DataFrame, optional
        :func:`admin_names` output, adds ``unit``, ``parent``, ``grandparent``.
    result : ScoreResult, optional
        Reuse a score result of ``profile``.

    Returns
    -------
    pandas.DataFrame
        ``h3``, ``lat``, ``lon``, admin codes and names, ``score``, ``rank``, the dual-model
        columns, ``population``, ``poverty_rate``, ``poor_population`` (rate × population, see
        :func:`geo_engine.matrix.derived.poor_population`) and ``contrib_<layer>`` per profile layer (in log
        space for a geometric mean, see ``attrs["contribution_space"]``).
    """
    if result is None:
        result = dual.results.get(profile.id) if dual is not None else None
    if result is None:
        result = score_profile(matrix, profile, specs=dict(specs or {}))
    base = [c for c in ("h3", "lat", "lon", "area_km2", "unit_code", "parent_code",
                        "grandparent_code") if c in matrix]
    out = matrix[base].copy()
    if names is not None:
        out = out.merge(names, on="unit_code", how="left", validate="many_to_one")
        out.index = matrix.index
    out["score"] = result.score
    out["rank"] = score_rank(result.score)
    if dual is not None:
        frame = dual.frame()
        for col in ("engine", "inclusion", "need", "access", "typology", "niche_family",
                    "niche_margin", "hub_distance_km", "hub_minutes", "linkage"):
            out[col] = frame[col].to_numpy()
    out["population"] = (matrix[POPULATION_LAYER].to_numpy(dtype=float)
                         if POPULATION_LAYER in matrix else np.nan)
    out["poverty_rate"] = (matrix[POVERTY_LAYER].to_numpy(dtype=float)
                           if POVERTY_LAYER in matrix else np.nan)
    out["poor_population"] = poor_population(matrix)
    contrib = result.contributions.add_prefix("contrib_")
    contrib.index = out.index
    out = pd.concat([out, contrib], axis=1)
    out.attrs.update(profile=profile.id, weights=result.weights,
                     contribution_space=result.contribution_space,
                     aggregation=profile.aggregation.method)
    return out


def geopackage_layers(
    matrix: pd.DataFrame,
    table: pd.DataFrame,
    result: ScoreResult,
    *,
    profile: str,
    names: pd.DataFrame,
    districts: gpd.GeoDataFrame | None = None,
    rank_by: str = "pop_weighted_mean",
    levels: Sequence[Level] = (),
) -> dict[str, gpd.GeoDataFrame]:
    """Return the layers of a scored profile for one GeoPackage: cells, clusters, districts.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix.
    table : pandas.DataFrame
        :func:`cell_table` of the profile.
    result : ScoreResult
        The profile's score (for its clusters and the district ranking).
    profile : str
        Profile id.
    names : pandas.DataFrame
        :func:`geo_engine.regions.region.admin_names`.
    districts : geopandas.GeoDataFrame, optional
        District polygons (``unit_code``); without them there is no ``districts`` layer.
    rank_by : str, default "pop_weighted_mean"
        Statistic that ranks the districts (the profile's
        :attr:`~geo_engine.scoring.profiles.Profile.rank_by`).
    levels : sequence of Level, optional
        The region's admin levels (:attr:`geo_engine.regions.region.Region.levels`): a region
        whose levels are not Peru's gets its own words in every layer (``comuna_code``, a
        ``comunas`` list in the clusters, a ``comunas`` layer instead of ``districts``).

    Returns
    -------
    dict
        ``cells`` (hexagons), ``clusters`` (:func:`geo_engine.clusters.find_clusters`) and, with
        polygons, ``districts`` (or the region's own units) ranked by
        :func:`geo_engine.reporting.rollup.rollup`.
    """
    from geo_engine.clusters import find_clusters, travel_minutes
    from geo_engine.reporting.rollup import (
        cluster_levels,
        level_columns,
        level_names,
        rollup,
        unit_layer,
        with_labels,
    )
    from geo_engine.spatial.grid import cell_polygons, h3_to_str

    cells = table.assign(h3=h3_to_str(table["h3"])).rename(columns=level_columns(levels))
    found = find_clusters(matrix, result.score, profile=profile, contributions=result.contributions,
                          names=names, **travel_minutes(matrix))
    layers = {
        "cells": gpd.GeoDataFrame(cells, geometry=cell_polygons(table["h3"]).to_numpy(),
                                  crs="EPSG:4326"),
        "clusters": cluster_levels(found, levels),
    }
    if districts is not None:
        ranked = with_labels(rollup(matrix, result.score, level="unit", rank_by=rank_by),
                             matrix, names, level="unit")
        polygons = districts.loc[districts.geometry.notna(), ["unit_code", "geometry"]]
        layers[unit_layer(levels)] = polygons.rename(columns={"unit_code": "code"}).merge(
            ranked, on="code", how="inner").rename(columns=level_names(levels))
    return layers
