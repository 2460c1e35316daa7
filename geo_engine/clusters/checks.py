"""Argument checks shared by the cluster functions (integers, FDR level, seeds, per-cell arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "cell_ids",
    "check_fdr",
    "check_int",
    "check_seed",
    "per_cell",
    "to_numpy",
]

def check_int(value: object, *, name: str, minimum: int) -> int:
    """Return ``value`` as an int; raise when it is not an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"`{name}` was {value!r} but must be an integer of at least {minimum}"
        raise ValueError(msg)
    return int(value)


def check_fdr(fdr: object) -> float:
    """Return the false discovery rate as a float in (0, 1); raise otherwise."""
    if isinstance(fdr, bool) or not isinstance(fdr, int | float | np.floating | np.integer) \
            or not 0 < float(fdr) < 1:
        msg = f"`fdr` was {fdr!r} but must be a number in (0, 1), e.g. 0.05"
        raise ValueError(msg)
    return float(fdr)


def check_seed(seed: object) -> int | None:
    """Return a random seed (None or a non-negative integer); raise otherwise."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or seed < 0):
        msg = f"`seed` was {seed!r} but must be a non-negative integer or None"
        raise ValueError(msg)
    return None if seed is None else int(seed)


def per_cell(values: object, *, name: str, n: int, allow_nan: bool = True) -> np.ndarray:
    """Return one float per cell; raise on a wrong length, non-numbers or (unless allowed) NaN."""
    try:
        arr = (values.to_numpy(dtype=np.float64, na_value=np.nan) if isinstance(values, pd.Series)
               else np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as err:
        msg = f"`{name}` must be numeric, one value per cell; it could not be read as numbers ({err})"
        raise ValueError(msg) from err
    if arr.ndim != 1 or len(arr) != n:
        msg = (f"`{name}` has shape {arr.shape} but must hold one value per row of the matrix "
               f"({n} rows)")
        raise ValueError(msg)
    if np.isinf(arr).any():
        msg = (f"`{name}` has {int(np.isinf(arr).sum())} infinite values; use NaN for cells "
               "without a value")
        raise ValueError(msg)
    if not allow_nan and np.isnan(arr).any():
        msg = f"`{name}` has {int(np.isnan(arr).sum())} NaN values"
        raise ValueError(msg)
    return arr


def cell_ids(cells: pd.DataFrame | pd.Series | np.ndarray | Sequence[int]) -> np.ndarray:
    """Return uint64 H3 ids from a grid, a Series or a sequence of ids."""
    if isinstance(cells, pd.DataFrame):
        if "h3" not in cells:
            msg = f"`grid` has no column 'h3' (uint64 cell ids); columns are {list(cells.columns)[:10]}"
            raise ValueError(msg)
        cells = cells["h3"]
    try:
        ids = np.asarray(cells, dtype=np.uint64)
    except (TypeError, ValueError, OverflowError) as err:
        msg = ("`grid` must be a grid DataFrame with an 'h3' column or an array of uint64 H3 ids "
               f"(convert strings with h3.str_to_int); got {err}")
        raise ValueError(msg) from err
    if ids.ndim != 1:
        msg = f"`grid` cell ids must be one-dimensional; got shape {ids.shape}"
        raise ValueError(msg)
    return ids


def to_numpy(arrow_array: object) -> np.ndarray:
    """Return a NumPy copy of an Arrow array (or chunked array)."""
    return pa.array(arrow_array).to_numpy(zero_copy_only=False)
