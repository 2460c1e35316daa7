"""Roll cell scores up to a region's admin units and their parents, and rank them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo_engine.matrix.derived import poor_population
from geo_engine.scoring.profiles import RANK_BY

if TYPE_CHECKING:
    from geo_engine.regions.region import Level

__all__ = ["LEVELS", "RANK_BY", "cluster_levels", "level_columns", "level_names", "plural", "rollup",
           "unit_layer", "with_labels"]

LEVELS = {"unit": "unit_code", "parent": "parent_code",
          "grandparent": "grandparent_code"}
"""Admin levels and the grid column holding their code."""



def rollup(
    matrix: pd.DataFrame,
    score: np.ndarray,
    *,
    level: str = "unit",
    population: str | np.ndarray = "population_2020",
    quantile: float = 0.9,
    rank_by: str = "pop_weighted_mean",
    shared: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    r"""Summarize a cell score per admin unit and rank the units.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix with the admin code columns of :data:`LEVELS`.
    score : numpy.ndarray
        One score per cell (NaN = not scored).
    level : {"unit", "parent", "grandparent"}
    population : str or numpy.ndarray, default "population_2020"
        Column of ``matrix`` or array with the population of each cell.
    quantile : float, default 0.9
        Cells at or above this quantile of the scored cells are "top" (top decile).
    rank_by : str, default "pop_weighted_mean"
        One of :data:`RANK_BY`; rank 1 is the highest.
    shared : mapping, optional
        Units too small to own a cell (``Run.shared_units``: code → {cell hex id: area share}).
        At the unit level each gets a row scored through the cells it overlaps: ``mean``, ``max``
        and ``pop_weighted_mean`` are the area-share-weighted mean and the maximum of those cells'
        scores, ``cells`` is 0 and the population figures are NaN (those people are counted in
        the cells' own units); ``via_overlap`` is True on those rows.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``code``, ``cells``, ``cells_scored``, ``population``,
        ``poor_population``, ``mean``, ``max``, ``pop_weighted_mean``, ``population_top``,
        ``poor_population_top``, ``share_pop_top``, ``score_km2``, ``via_overlap`` and ``rank``,
        sorted by rank.

    Notes
    -----
    ``pop_weighted_mean`` is :math:`\sum_c p_c s_c / \sum_c p_c` over scored cells;
    ``share_pop_top`` is the population living in top cells over the unit's population;
    ``score_km2`` is :math:`\sum_c a_c s_c` with :math:`a_c` the cell's ``area_km2``: the extent
    and strength of what the score measures, in km² at full score — the same at every H3
    resolution, and NaN when the matrix has no ``area_km2``;
    ``poor_population`` the poor people of the unit (:func:`geo_engine.matrix.derived.poor_population`,
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
    out["via_overlap"] = False
    if shared and level == "unit":
        out = pd.concat([out, _overlap_rows(matrix, s, shared, set(out["code"].astype(str)))],
                        ignore_index=True)
    out["rank"] = out[rank_by].rank(ascending=False, method="min", na_option="bottom").astype(int)
    return out.sort_values(["rank", "code"], kind="stable").reset_index(drop=True)


def _overlap_rows(matrix: pd.DataFrame, s: np.ndarray, shared: Mapping[str, Mapping[str, float]],
                  present: set[str]) -> pd.DataFrame:
    """Return one roll-up row per shared unit, scored through the cells it overlaps."""
    pos = pd.Series(np.arange(len(matrix)), index=matrix["h3"].to_numpy(dtype=np.uint64))
    rows = []
    for code, cells in shared.items():
        if code in present:
            continue
        ids = [np.uint64(int(c, 16)) for c in cells]
        at = pos.reindex(ids).to_numpy()
        ok = np.isfinite(at)
        values = s[at[ok].astype(int)] if ok.any() else np.empty(0)
        weights = np.array(list(cells.values()))[ok]
        good = np.isfinite(values)
        mean = (float(np.average(values[good], weights=weights[good]))
                if good.any() and weights[good].sum() > 0 else np.nan)
        rows.append({"code": code, "cells": 0, "cells_scored": 0, "mean": mean,
                     "max": float(values[good].max()) if good.any() else np.nan,
                     "pop_weighted_mean": mean, "via_overlap": True})
    return pd.DataFrame(rows, columns=["code", "cells", "cells_scored", "mean", "max",
                                       "pop_weighted_mean", "via_overlap"])


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
        ``unit_code`` with ``unit``, ``parent``, ``grandparent`` names; returned
        unchanged when it has no names (custom regions).
    level : {"unit", "parent", "grandparent"}

    Returns
    -------
    pandas.DataFrame
        ``ranked`` with the name columns of ``level`` and the levels above it.
    """
    if "unit" not in names:
        return ranked
    codes = [c for c in LEVELS.values() if c in matrix]
    units = matrix[codes].drop_duplicates("unit_code").merge(names, on="unit_code",
                                                                 how="left")
    labels = {"unit": ["unit", "parent", "grandparent"],
              "parent": ["parent", "grandparent"], "grandparent": ["grandparent"]}[level]
    key = LEVELS[level]
    if level == "unit":  # every unit's names, also of units that own no cell (shared units)
        units = names.merge(matrix[codes].drop_duplicates("unit_code"), on="unit_code",
                            how="left")
    table = units[[key, *[c for c in labels if c in units]]].drop_duplicates(key)
    return ranked.merge(table.rename(columns={key: "code"}), on="code", how="left")


def level_names(levels: Sequence[Level]) -> dict[str, str]:
    """Return ``{slot: the region's id}`` for the levels a region names differently (column renames).

    A table of :func:`with_labels` names its columns by the platform's slots (``unit``,
    ``parent``, ``grandparent``); renaming them with this mapping gives every region its own
    words: district, province and department for Peru, state for Brazil, comuna or region for
    a user's region (an uploaded region's unit stays unit).
    """
    return {lv.slot: lv.id for lv in levels if lv.slot != lv.id}


def level_columns(levels: Sequence[Level]) -> dict[str, str]:
    """Return renames of both the name (``parent``) and code (``parent_code``) columns.

    For cell tables, rankings and exports: ``comuna_code`` and ``comuna`` for a region of
    comunas instead of ``unit_code`` and ``unit`` (and Peru's district code and name).
    """
    names = level_names(levels)
    return {**names, **{f"{slot}_code": f"{ident}_code" for slot, ident in names.items()}}


def plural(word: str) -> str:
    """Return the English plural of a level id (``districts``, ``comunas``, ``counties``).

    Examples
    --------
    >>> [plural(w) for w in ("state", "comuna", "county", "parish", "unit", "region")]
    ['states', 'comunas', 'counties', 'parishes', 'units', 'regions']
    """
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return f"{word}es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
        return f"{word[:-1]}ies"
    return f"{word}s"


def cluster_levels(table: pd.DataFrame, levels: Sequence[Level]) -> pd.DataFrame:
    """Return a cluster table whose lists of units touched take the region's own level names.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`geo_engine.clusters.find_clusters` output, with ``units``, ``parents`` and
        ``grandparents`` (the platform's slots, plural).
    levels : sequence of Level
        The region's levels, finest first (:attr:`geo_engine.regions.region.Region.levels`).

    Returns
    -------
    pandas.DataFrame
        A copy whose list of each level is named by the plural (:func:`plural`) of the region's
        id for it (``districts``, ``provinces`` and ``departments`` for Peru, ``states`` for
        Brazil, ``comunas``), without the lists of levels the region does not have (they would be
        empty); a region without declared levels is returned as it is.
    """
    if not levels:
        return table.copy()
    own = {f"{lv.slot}s": plural(lv.id) for lv in levels}
    lacking = [f"{slot}s" for slot in LEVELS if f"{slot}s" not in own and f"{slot}s" in table]
    return table.drop(columns=lacking).rename(columns=own)


def unit_layer(levels: Sequence[Level]) -> str:
    """Return the name of the GeoPackage layer of ranked units.

    The plural of the region's id for its units, as :func:`cluster_levels` names their lists:
    ``districts`` for Peru, ``states`` for Brazil, ``units`` for an uploaded region (and a
    region without declared levels).
    """
    return plural(levels[0].id) if levels else "units"
