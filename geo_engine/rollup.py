"""Roll cell scores up to districts, provinces and departments, and rank them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo_engine.derived import poor_population

__all__ = ["LEVELS", "RANK_BY", "rollup", "with_labels"]

LEVELS = {"district": "district_code", "province": "province_code",
          "department": "department_code"}
"""Admin levels and the grid column holding their code."""

RANK_BY = ("pop_weighted_mean", "mean", "max", "share_pop_top", "score_km2")
"""Statistics a roll-up can be ranked by."""


def rollup(
    matrix: pd.DataFrame,
    score: np.ndarray,
    *,
    level: str = "district",
    population: str | np.ndarray = "population_2020",
    quantile: float = 0.9,
    rank_by: str = "pop_weighted_mean",
) -> pd.DataFrame:
    r"""Summarize a cell score per admin unit and rank the units.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix with the admin code columns of :data:`LEVELS`.
    score : numpy.ndarray
        One score per cell (NaN = not scored).
    level : {"district", "province", "department"}
    population : str or numpy.ndarray, default "population_2020"
        Column of ``matrix`` or array with the population of each cell.
    quantile : float, default 0.9
        Cells at or above this quantile of the scored cells are "top" (top decile).
    rank_by : str, default "pop_weighted_mean"
        One of :data:`RANK_BY`; rank 1 is the highest.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``code``, ``cells``, ``cells_scored``, ``population``,
        ``poor_population``, ``mean``, ``max``, ``pop_weighted_mean``, ``population_top``,
        ``poor_population_top``, ``share_pop_top``, ``score_km2`` and ``rank``, sorted by rank.

    Notes
    -----
    ``pop_weighted_mean`` is :math:`\sum_c p_c s_c / \sum_c p_c` over scored cells;
    ``share_pop_top`` is the population living in top cells over the unit's population;
    ``score_km2`` is :math:`\sum_c a_c s_c` with :math:`a_c` the cell's ``area_km2``: the extent
    and strength of what the score measures, in km² at full score — the same at every H3
    resolution, and NaN when the matrix has no ``area_km2``;
    ``poor_population`` the poor people of the unit (:func:`geo_engine.derived.poor_population`,
    poverty rate × population per cell, summed) and ``poor_population_top`` those living in its
    top cells. The population columns sum to the cells' totals: nothing is lost or added by the
    roll-up. Where a unit has no population (or the region has no population or poverty layer),
    those figures are NaN and ``pop_weighted_mean`` equals ``mean``.
    """
    if level not in LEVELS:
        msg = f"`level` was {level!r} but must be one of {list(LEVELS)}"
        raise ValueError(msg)
    if rank_by not in RANK_BY:
        msg = f"`rank_by` was {rank_by!r} but must be one of {list(RANK_BY)}"
        raise ValueError(msg)
    if not 0 < quantile < 1:
        msg = f"`quantile` was {quantile} but must be in (0, 1)"
        raise ValueError(msg)
    column = LEVELS[level]
    if column not in matrix:
        msg = f"the matrix has no {column!r} column for level {level!r}"
        raise KeyError(msg)
    s = np.asarray(score, dtype=float)
    if isinstance(population, str):  # a region without a population layer: counts stay missing
        pop = (matrix[population].to_numpy(dtype=float) if population in matrix
               else np.full(len(matrix), np.nan))
    else:
        pop = np.asarray(population, dtype=float)
    known_pop = np.isfinite(pop).any()
    pop = np.where(np.isfinite(pop), pop, 0.0 if known_pop else np.nan)
    poor = poor_population(matrix)
    poor = np.where(np.isfinite(poor), poor, 0.0 if np.isfinite(poor).any() else np.nan)
    area = (matrix["area_km2"].to_numpy(dtype=float) if "area_km2" in matrix
            else np.full(len(matrix), np.nan))
    scored = np.isfinite(s)
    threshold = np.quantile(s[scored], quantile) if scored.any() else np.inf
    top = scored & (s >= threshold)
    frame = pd.DataFrame({
        "code": matrix[column].to_numpy(),
        "cells": 1,
        "cells_scored": scored.astype(int),
        "population": pop,
        "s": np.where(scored, s, np.nan),
        "ps": np.where(scored, pop * np.where(scored, s, 0.0), 0.0),
        "p_scored": np.where(scored, pop, 0.0),
        "population_top": np.where(top, pop, 0.0 if known_pop else np.nan),
        "poor_population": poor,
        "poor_population_top": np.where(top, poor, poor * 0.0),
        "score_km2": np.where(scored, area * np.where(scored, s, 0.0), 0.0),
    })
    g = frame.groupby("code", sort=True)
    out = g[["cells", "cells_scored", "population", "poor_population", "ps", "p_scored",
             "population_top", "poor_population_top", "score_km2"]].sum(min_count=1)
    out["mean"] = g["s"].mean()
    out["max"] = g["s"].max()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pop_weighted_mean"] = np.where(out["p_scored"] > 0, out["ps"] / out["p_scored"],
                                            out["mean"])
        out["share_pop_top"] = np.where(out["population"] > 0,
                                        out["population_top"] / out["population"], np.nan)
    out = out.drop(columns=["ps", "p_scored"]).reset_index()
    out["rank"] = out[rank_by].rank(ascending=False, method="min", na_option="bottom").astype(int)
    return out.sort_values(["rank", "code"], kind="stable").reset_index(drop=True)


def with_labels(ranked: pd.DataFrame, matrix: pd.DataFrame, names: pd.DataFrame, *,
                level: str) -> pd.DataFrame:
    """Add the unit's name and its parents' names to a :func:`rollup` table.

    Parameters
    ----------
    ranked : pandas.DataFrame
        :func:`rollup` output for ``level``.
    matrix : pandas.DataFrame
        The matrix rolled up (for the codes of each level).
    names : pandas.DataFrame
        ``district_code`` with ``district``, ``province``, ``department`` names; returned
        unchanged when it has no names (custom regions).
    level : {"district", "province", "department"}

    Returns
    -------
    pandas.DataFrame
        ``ranked`` with the name columns of ``level`` and the levels above it.
    """
    if "district" not in names:
        return ranked
    codes = [c for c in LEVELS.values() if c in matrix]
    units = matrix[codes].drop_duplicates("district_code").merge(names, on="district_code",
                                                                 how="left")
    labels = {"district": ["district", "province", "department"],
              "province": ["province", "department"], "department": ["department"]}[level]
    key = LEVELS[level]
    table = units[[key, *[c for c in labels if c in units]]].drop_duplicates(key)
    return ranked.merge(table.rename(columns={key: "code"}), on="code", how="left")
