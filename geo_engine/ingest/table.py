"""Spread admin-unit tables onto H3 cells: intensive values copied, extensive values split dasymetrically."""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from geo_engine._errors import GeoEngineWarning, SourceFormatError

__all__ = [
    "ALLOCATION_COLUMNS",
    "CROPLAND_PRIORITY",
    "SUITABLE_PRIORITY",
    "centre_allocation",
    "code_mismatch_hint",
    "combine_allocations",
    "placement_priority",
    "suitable_allocation",
    "table_to_cells",
    "to_numbers",
]

ALLOCATION_COLUMNS = ("unit", "cell", "weight", "priority")
"""Columns of an allocation table: admin code, grid row, weight, and priority (lower first)."""


_DECIMAL_COMMA = r"^\s*[+-]?\d+,\d+\s*$"


def to_numbers(values: pd.Series, *, name: str, column: str) -> pd.Series:
    """Convert a column of a table to numbers; text that is not a number is an error.

    Numbers written with a decimal comma (``45,5``, usual in Spanish and Portuguese spreadsheets)
    are read as such, with a warning, when no value of the column uses a decimal point.

    Raises
    ------
    SourceFormatError
        Naming the file, the column, how many values are not numbers and the first of them.
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip()
    commas = text.str.match(_DECIMAL_COMMA).fillna(False)
    if commas.any() and not text.str.contains(".", regex=False).fillna(False).any():
        example = text[commas].iloc[0]
        warnings.warn(f"{name}: column {column!r} uses a decimal comma ({example!r} read as "
                      f"{example.replace(',', '.')}); write a decimal point to silence this",
                      GeoEngineWarning, stacklevel=3)
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text.replace("", pd.NA), errors="coerce")
    bad = numbers.isna() & text.notna() & (text != "")
    if bad.any():
        example = values[bad].iloc[0]
        msg = (f"{name}: column {column!r} must be numeric; {int(bad.sum())} values are not, "
               f"e.g. {example!r}; write plain numbers (no units, thousands separators or notes) "
               "and leave unknown values empty")
        raise SourceFormatError(msg)
    return numbers.astype(float)


def centre_allocation(
    units: np.ndarray, cells: np.ndarray, urban: np.ndarray, *, urban_weight: float
) -> pd.DataFrame:
    """Return allocation pairs from populated centres: each centre weighs on the cell it lies in.

    Parameters
    ----------
    units : numpy.ndarray
        Admin code of each centre (at the level of the table to spread).
    cells : numpy.ndarray
        Grid row of each centre, -1 when outside the grid (dropped).
    urban : numpy.ndarray of bool
        Whether each centre is urban.
    urban_weight : float
        How many rural centres one urban centre counts for
        (:data:`geo_engine.settings.urban_centre_weight`).

    Returns
    -------
    pandas.DataFrame
        :data:`ALLOCATION_COLUMNS`, priority 0, summed per (unit, cell).
    """
    if urban_weight <= 0:
        msg = f"`urban_weight` was {urban_weight} but must be positive"
        raise ValueError(msg)
    cells = np.asarray(cells)
    keep = cells >= 0
    frame = pd.DataFrame({
        "unit": pd.Series(np.asarray(units)[keep], dtype="string"),
        "cell": cells[keep].astype(np.int64),
        "weight": np.where(np.asarray(urban, dtype=bool)[keep], urban_weight, 1.0),
    })
    frame = frame.dropna(subset=["unit"]).groupby(["unit", "cell"], as_index=False)["weight"].sum()
    frame["priority"] = 0
    return frame


SUITABLE_PRIORITY = 0.25
"""Priority of the qualifying cells without populated centres in :func:`suitable_allocation`."""

CROPLAND_PRIORITY = 0.5
"""Priority of the cropland fallback of :func:`suitable_allocation`: after the suitable cells,
before the cells a unit owns by area (1, added by :func:`table_to_cells`)."""


def suitable_allocation(
    units: np.ndarray | pd.Series,
    *,
    area: np.ndarray,
    suitable: np.ndarray,
    cropland: np.ndarray | None = None,
    centres: np.ndarray | None = None,
) -> pd.DataFrame:
    r"""Return allocation pairs that put each unit's total on the cells where a crop can grow.

    Parameters
    ----------
    units : numpy.ndarray or pandas.Series
        Admin code of each grid cell (the cell's own unit; missing codes are skipped); a
        categorical Series is used as it is, without spelling out a code per cell.
    area : numpy.ndarray
        Area of each cell (km²).
    suitable : numpy.ndarray of bool
        Whether each cell meets the crop's conditions (e.g. an elevation band).
    cropland : numpy.ndarray, optional
        Cropland share of each cell (0–100 %, NaN read as none). When given, only cells with
        cropland qualify, they weigh by their cropland area, and the unit's cropland cells are
        the fallback when none of them is suitable.
    centres : numpy.ndarray, optional
        Populated centres in each cell. When given, the qualifying cells that hold centres come
        first, weighted by their number of centres (land is farmed from villages), then the
        other qualifying cells.

    Returns
    -------
    pandas.DataFrame
        :data:`ALLOCATION_COLUMNS` with the tiers as priorities: qualifying cells with centres
        (0), qualifying cells (:data:`SUITABLE_PRIORITY`), cropland cells
        (:data:`CROPLAND_PRIORITY`); a unit with none of them falls to its cells by area
        (priority 1) in :func:`table_to_cells`. ``unit`` is categorical (text codes).

    Notes
    -----
    With cropland share :math:`s_c` and area :math:`a_c`, cell :math:`c` weighs
    :math:`w_c = a_c s_c / 100` (or :math:`a_c` without ``cropland``), or its number of centres in
    the first tier. A unit's total :math:`V_u` is split as :math:`V_u w_c / \sum_{c' \in S_u}
    w_{c'}` over the cells :math:`S_u` of the first tier it has, so the total is kept.
    """
    codes = _text_categories(units)
    weight = np.asarray(area, dtype=float)
    qualifies = np.asarray(suitable, dtype=bool)
    tiers = []
    if cropland is not None:
        share = np.nan_to_num(np.asarray(cropland, dtype=float), nan=0.0)
        weight = weight * share / 100.0
        qualifies = qualifies & (share > 0)
        tiers.append((share > 0, weight, CROPLAND_PRIORITY))
    tiers.insert(0, (qualifies, weight, SUITABLE_PRIORITY))
    if centres is not None:
        count = np.asarray(centres, dtype=float)
        tiers.insert(0, (qualifies & (count > 0), count, 0.0))
    known = codes.codes >= 0
    parts = []
    for mask, tier_weight, priority in tiers:
        keep = mask & (tier_weight > 0) & known
        parts.append(pd.DataFrame({"unit": codes[keep],
                                   "cell": np.flatnonzero(keep).astype(np.int64),
                                   "weight": tier_weight[keep], "priority": priority}))
    return combine_allocations(parts)


def combine_allocations(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Return allocation tables (:data:`ALLOCATION_COLUMNS`) one after the other, in one table.

    The ``unit`` columns become one categorical column of text codes, so that tables of a
    million cells are joined without spelling out a code per cell.
    """
    units = union_categoricals([_text_categories(p["unit"]) for p in parts], ignore_order=True)
    frame = pd.concat([p[list(ALLOCATION_COLUMNS[1:])] for p in parts], ignore_index=True)
    frame.insert(0, "unit", units)
    return frame


def _text_categories(codes: np.ndarray | pd.Series | pd.Categorical) -> pd.Categorical:
    """Return codes as a categorical of text (missing codes stay missing)."""
    values = codes.array if isinstance(codes, pd.Series) else codes
    if isinstance(values, pd.Categorical):
        text = values.categories.astype("string")
        if text.is_unique:
            return pd.Categorical.from_codes(values.codes, categories=text)
        values = np.asarray(values)
    return pd.Categorical(pd.array(np.asarray(values, dtype=object), dtype="string"))


def placement_priority(allocation: pd.DataFrame, units: pd.Index) -> pd.Series:
    """Return, for each unit, the lowest allocation priority with a positive weight (NaN: none)."""
    pairs = allocation[allocation["weight"] > 0]
    best = pairs["priority"].groupby(_text_categories(pairs["unit"]), observed=True).min()
    best.index = pd.Index(best.index, dtype="string")
    return best.reindex(units.astype("string"))


def _owned_cells(grid: pd.DataFrame, level: str) -> pd.DataFrame:
    return pd.DataFrame({"unit": grid[level].astype("string").to_numpy(),
                         "cell": np.arange(len(grid), dtype=np.int64),
                         "weight": grid["area_km2"].to_numpy(dtype=float), "priority": 1})


def table_to_cells(
    grid: pd.DataFrame,
    table: pd.DataFrame,
    *,
    column: str,
    key: str,
    level: str,
    method: str = "intensive",
    allocation: pd.DataFrame | None = None,
    name: str = "table",
) -> np.ndarray:
    r"""Return one value per cell from a table keyed by an admin code.

    Parameters
    ----------
    grid : pandas.DataFrame
        The grid (:func:`geo_engine.spatial.grid.build_grid`), with the admin-code column ``level`` and
        ``area_km2``.
    table : pandas.DataFrame
        One row per admin unit.
    column : str
        Column of ``table`` holding the value.
    key : str
        Column of ``table`` holding the admin code.
    level : str
        Column of ``grid`` holding the codes ``key`` refers to (``unit_code``,
        ``parent_code``…).
    method : {"intensive", "extensive"}
        ``intensive`` copies the unit's value to each cell it owns (rates, indices). ``extensive``
        splits the unit's total among cells (counts, amounts).
    allocation : pandas.DataFrame, optional
        For ``extensive``: pairs (:data:`ALLOCATION_COLUMNS`) saying on which cells each unit's
        total falls and with what weight, e.g. :func:`centre_allocation`. For each unit the pairs
        of the lowest priority with a positive total weight are used; the cells the unit owns,
        weighted by area, are added with priority 1.
    name : str
        Name of the source, for messages.

    Returns
    -------
    numpy.ndarray
        float64 per cell; NaN for cells whose unit has no row or no value (intensive), and for
        cells that receive nothing while their own unit has no value (extensive).

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
    Dasymetric split: for a unit :math:`u` with total :math:`V_u` and allocation pairs
    :math:`(u, c, w_{uc})`, cell :math:`c` receives :math:`\sum_u V_u\, w_{uc} / \sum_{c'} w_{uc'}`.
    The values placed for every unit that has at least one pair add up to :math:`V_u` exactly
    (up to floating point), whatever the resolution: a unit too small to own a cell still
    places its total on the cells where its populated centres are.
    """
    if method not in {"intensive", "extensive"}:
        msg = f"`method` was {method!r} but must be 'intensive' or 'extensive'"
        raise ValueError(msg)
    for col, frame, what in ((key, table, name), (column, table, name), (level, grid, "grid")):
        if col not in frame:
            msg = f"{what}: no column {col!r}; columns are {list(frame.columns)[:25]}"
            raise SourceFormatError(msg)
    values = to_numbers(table[column], name=name, column=column)
    codes = table[key].astype("string")
    dups = codes[codes.duplicated(keep=False)]
    if len(dups):
        msg = (f"{name}: {dups.nunique()} codes in {key!r} appear more than once, e.g. "
               f"{sorted(dups.unique())[:5]}; aggregate the table to one row per unit first "
               "(params.aggregate) or filter it")
        raise SourceFormatError(msg)
    per_unit = pd.Series(values.to_numpy(), index=codes.to_numpy())
    if per_unit.empty:
        warnings.warn(f"{name}: the table has no rows (after filtering); all values NaN",
                      GeoEngineWarning, stacklevel=2)
        return np.full(len(grid), np.nan)

    names = pd.Index(per_unit.index, dtype="string")
    cell_unit, units = _unit_ids(grid[level], names)
    alloc_unit = alloc_names = None
    if allocation is not None:
        alloc_unit, alloc_names = _unit_ids(_allocation_units(allocation), names)
    known = set(units) | (set(alloc_names) if alloc_names is not None else set())
    unmatched = [c for c in per_unit.index if c not in known]
    if len(unmatched) == len(per_unit):
        hint = code_mismatch_hint(unmatched, known, column=key) or (
            "; check the code format and the admin level (`params.level`)")
        msg = (f"{name}: none of the {len(per_unit)} codes in {key!r} matches the grid's {level!r} "
               f"(e.g. table {list(per_unit.index[:3])} vs grid {list(units[:3])}){hint}")
        raise SourceFormatError(msg)

    unit_values = per_unit.to_numpy(dtype=float)
    own = np.where(cell_unit >= 0, unit_values[np.maximum(cell_unit, 0)], np.nan)
    if method == "intensive":
        if unmatched:
            hint = code_mismatch_hint(unmatched, known, column=key)
            warnings.warn(f"{name}: {len(unmatched)} codes of {key!r} match no unit of the grid, "
                          f"e.g. {unmatched[:5]}{hint}", GeoEngineWarning, stacklevel=2)
        return own

    unit = cell_unit
    cell = np.arange(len(grid), dtype=np.int64)
    weight = grid["area_km2"].to_numpy(dtype=float)
    priority = np.ones(len(grid))
    if allocation is not None and alloc_unit is not None:
        missing_cols = [c for c in ALLOCATION_COLUMNS if c not in allocation]
        if missing_cols:
            msg = f"`allocation` lacks columns {missing_cols}"
            raise ValueError(msg)
        alloc_weight = allocation["weight"].to_numpy(dtype=float)
        if (alloc_weight < 0).any() or not np.isfinite(alloc_weight).all():
            msg = "`allocation` weights must be finite and non-negative"
            raise ValueError(msg)
        unit = np.concatenate([alloc_unit, unit])
        cell = np.concatenate([allocation["cell"].to_numpy(dtype=np.int64), cell])
        weight = np.concatenate([alloc_weight, weight])
        priority = np.concatenate([allocation["priority"].to_numpy(dtype=float), priority])
    keep = (weight > 0) & (unit >= 0)
    unit, cell, weight, priority = unit[keep], cell[keep], weight[keep], priority[keep]
    best = np.full(len(names), np.inf)
    np.minimum.at(best, unit, priority)
    chosen = priority == best[unit]
    unit, cell, weight = unit[chosen], cell[chosen], weight[chosen]
    total = np.bincount(unit, weights=weight, minlength=len(names))
    amount = unit_values[unit] * (weight / total[unit])
    placed = np.bincount(unit, minlength=len(names)) > 0
    lost_at = np.flatnonzero(~placed & np.isfinite(unit_values))
    if len(lost_at):
        lost = names[lost_at].tolist()
        total_lost = float(np.nansum(unit_values[lost_at]))
        warnings.warn(f"{name}: {len(lost)} codes of {key!r} have no cell to receive their value, "
                      f"e.g. {lost[:5]} (a total of {total_lost:,.6g} not placed)", GeoEngineWarning,
                      stacklevel=2)
    ok = np.isfinite(amount)
    out = np.bincount(cell[ok], weights=amount[ok], minlength=len(grid)).astype(float)
    # a cell that received nothing and whose own unit has no value stays unknown, not 0
    received = np.bincount(cell[ok], minlength=len(grid)) > 0
    out[~received & ~np.isfinite(own)] = np.nan
    return out


def _allocation_units(allocation: pd.DataFrame) -> pd.Series:
    if "unit" not in allocation:
        msg = f"`allocation` lacks columns {[c for c in ALLOCATION_COLUMNS if c not in allocation]}"
        raise ValueError(msg)
    return allocation["unit"]


def _unit_ids(codes: pd.Series, names: pd.Index) -> tuple[np.ndarray, list[str]]:
    """Return the position in ``names`` of every code (-1 when absent) and the distinct codes.

    Codes are compared as text (as ``astype("string")`` writes them); a categorical column is
    matched through its categories, so a million cells cost one look-up per distinct code.
    """
    if isinstance(codes.dtype, pd.CategoricalDtype):
        index, uniques = codes.cat.codes.to_numpy(), codes.cat.categories
        present = np.unique(index[index >= 0])
        uniques_text = pd.Index(uniques).astype("string")
        seen = uniques_text[present].tolist()
    else:
        index, uniques = pd.factorize(codes, use_na_sentinel=True)
        uniques_text = pd.Index(uniques).astype("string")
        seen = uniques_text.tolist()
    lookup = np.append(names.get_indexer(uniques_text), -1)  # the last slot serves index -1
    return lookup[index], [c for c in seen if c is not pd.NA]


def code_mismatch_hint(unmatched: Sequence[str], known: Collection[str], *, column: str) -> str:
    """Return a hint (``"; …"``) when unmatched codes match once their format is repaired, else "".

    Two slips are recognised: codes that lost their leading zeros (``10101`` for ``010101``, as
    spreadsheets and numeric columns do) and integral codes written as decimals (``101.0``).
    """
    known = set(map(str, known))
    digits = {len(k) for k in known if k.isdigit()}
    if len(digits) == 1:
        width = digits.pop()
        padded = [c for c in unmatched if c.isdigit() and len(c) < width and c.zfill(width) in known]
        if padded:
            return (f"; {len(padded)} of them match once zero-padded to {width} digits (e.g. "
                    f"{padded[0]!r} → {padded[0].zfill(width)!r}): column {column!r} lost its leading "
                    "zeros; store the codes as text")
    decimals = [c for c in unmatched if re.fullmatch(r"-?\d+\.0+", c) and c.split(".")[0] in known]
    if decimals:
        return (f"; {len(decimals)} of them match without their decimals (e.g. {decimals[0]!r} → "
                f"{decimals[0].split('.')[0]!r}): column {column!r} holds codes as decimal numbers; "
                "store them as integers or text")
    return ""
