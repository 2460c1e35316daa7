"""Spread admin-unit tables onto H3 cells: intensive values copied, extensive values split dasymetrically."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from geo_engine._errors import GeoEngineWarning, SourceFormatError

__all__ = ["centre_weights", "table_to_cells"]


def centre_weights(
    urban_counts: np.ndarray, rural_counts: np.ndarray, *, urban_weight: float
) -> np.ndarray:
    """Return dasymetric weights per cell from counts of urban and rural populated centres.

    Parameters
    ----------
    urban_counts, rural_counts : numpy.ndarray
        Number of urban and rural centres in each cell (aligned with the grid).
    urban_weight : float
        How many rural centres one urban centre counts for
        (:data:`geo_engine.settings.urban_centre_weight`).

    Returns
    -------
    numpy.ndarray
        ``rural + urban_weight * urban`` per cell, float64.
    """
    if urban_weight <= 0:
        msg = f"`urban_weight` was {urban_weight} but must be positive"
        raise ValueError(msg)
    return np.asarray(rural_counts, float) + urban_weight * np.asarray(urban_counts, float)


def table_to_cells(
    grid: pd.DataFrame,
    table: pd.DataFrame,
    *,
    column: str,
    key: str,
    level: str,
    method: str = "intensive",
    weights: np.ndarray | None = None,
    name: str = "table",
) -> np.ndarray:
    r"""Return one value per cell from a table keyed by an admin code.

    Parameters
    ----------
    grid : pandas.DataFrame
        The grid (:func:`geo_engine.grid.build_grid`), with the admin-code column ``level`` and
        ``area_km2``.
    table : pandas.DataFrame
        One row per admin unit.
    column : str
        Column of ``table`` holding the value.
    key : str
        Column of ``table`` holding the admin code.
    level : str
        Column of ``grid`` holding the codes ``key`` refers to (``district_code``,
        ``province_code``…).
    method : {"intensive", "extensive"}
        ``intensive`` copies the unit's value to each of its cells (rates, indices). ``extensive``
        splits the unit's total among its cells in proportion to ``weights`` (counts, amounts).
    weights : numpy.ndarray, optional
        Non-negative weight per cell for ``extensive``; cell area when omitted. A unit whose cells
        all weigh 0 is split by area.
    name : str
        Name of the source, for messages.

    Returns
    -------
    numpy.ndarray
        float64 per cell; NaN for cells whose unit has no row or no value.

    Raises
    ------
    SourceFormatError
        Missing columns, duplicate codes, no code matching the grid, or a non-numeric value column.

    Warns
    -----
    GeoEngineWarning
        When codes of the table match no unit of the grid (count and examples), and, for
        ``extensive``, the total that could not be placed because its unit has no cell.

    Notes
    -----
    Dasymetric split: for a unit :math:`u` with total :math:`V_u` and cells :math:`c \in C_u` with
    weights :math:`w_c`, the cell value is :math:`V_u\, w_c / \sum_{c' \in C_u} w_{c'}`, so the
    cell values of every unit that has cells add up to :math:`V_u` exactly (up to floating point).
    """
    if method not in {"intensive", "extensive"}:
        msg = f"`method` was {method!r} but must be 'intensive' or 'extensive'"
        raise ValueError(msg)
    for col, frame, what in ((key, table, name), (column, table, name), (level, grid, "grid")):
        if col not in frame:
            msg = f"{what}: no column {col!r}; columns are {list(frame.columns)[:25]}"
            raise SourceFormatError(msg)
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        example = table.loc[bad, column].iloc[0]
        msg = (f"{name}: column {column!r} must be numeric; {int(bad.sum())} values are not, "
               f"e.g. {example!r}")
        raise SourceFormatError(msg)
    codes = table[key].astype("string")
    dups = codes[codes.duplicated(keep=False)]
    if len(dups):
        msg = (f"{name}: {dups.nunique()} codes in {key!r} appear more than once, e.g. "
               f"{sorted(dups.unique())[:5]}; aggregate the table to one row per unit first "
               "(or filter it)")
        raise SourceFormatError(msg)
    per_unit = pd.Series(values.to_numpy(), index=codes.to_numpy())
    if per_unit.empty:
        warnings.warn(f"{name}: the table has no rows (after filtering); all values NaN",
                      GeoEngineWarning, stacklevel=2)
        return np.full(len(grid), np.nan)

    cell_codes = grid[level].astype("string")
    unit_index, units = pd.factorize(cell_codes, use_na_sentinel=True)
    known = set(units)
    unmatched = [c for c in per_unit.index if c not in known]
    if len(unmatched) == len(per_unit) and len(per_unit):
        msg = (f"{name}: none of the {len(per_unit)} codes in {key!r} matches the grid's {level!r} "
               f"(e.g. table {list(per_unit.index[:3])} vs grid {list(units[:3])}); check the code "
               "format (zero-padding) and the admin level")
        raise SourceFormatError(msg)
    if unmatched:
        lost = float(np.nansum(per_unit.loc[unmatched])) if method == "extensive" else None
        extra = f" (a total of {lost:,.6g} not placed)" if lost else ""
        warnings.warn(f"{name}: {len(unmatched)} codes of {key!r} match no unit of the grid, e.g. "
                      f"{unmatched[:5]}{extra}", GeoEngineWarning, stacklevel=2)

    unit_values = per_unit.reindex(units).to_numpy(dtype=float)
    out = np.full(len(grid), np.nan)
    has_unit = unit_index >= 0
    if method == "intensive":
        out[has_unit] = unit_values[unit_index[has_unit]]
        return out

    w = np.asarray(grid["area_km2"] if weights is None else weights, dtype=float)
    if w.shape != (len(grid),) or np.any(w < 0) or not np.all(np.isfinite(w)):
        msg = "`weights` must be a finite, non-negative array with one value per grid cell"
        raise ValueError(msg)
    n_units = len(units)
    idx = unit_index[has_unit]
    total_w = np.bincount(idx, weights=w[has_unit], minlength=n_units)
    area = grid["area_km2"].to_numpy(dtype=float)[has_unit]
    total_area = np.bincount(idx, weights=area, minlength=n_units)
    by_area = total_w[idx] <= 0
    share = np.where(by_area, area / total_area[idx],
                     w[has_unit] / np.where(total_w[idx] > 0, total_w[idx], 1.0))
    out[has_unit] = unit_values[idx] * share
    return out
