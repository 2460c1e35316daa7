"""Write results to files: the indicator matrix as Parquet or CSV, atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from geo_engine.grid import h3_to_str

__all__ = ["write_matrix"]


def write_matrix(matrix: pd.DataFrame, path: str | Path) -> Path:
    """Write an indicator matrix with the H3 id as text, atomically.

    Parameters
    ----------
    matrix : pandas.DataFrame
        From :func:`geo_engine.indicators.build_indicators` (``h3`` as uint64).
    path : str or pathlib.Path
        ``.parquet`` (zstd) or ``.csv``. The file appears only once completely written (temporary
        file in the same folder, then renamed); an existing file is replaced.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    if path.suffix not in {".parquet", ".csv"}:
        msg = f"cannot write {path.name}: use a .parquet or .csv file name"
        raise ValueError(msg)
    out = matrix.copy()
    out["h3"] = h3_to_str(out["h3"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if path.suffix == ".parquet":
            out.to_parquet(tmp, compression="zstd", index=False)
        else:
            out.to_csv(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
