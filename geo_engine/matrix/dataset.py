"""An indicator matrix stored as a hive-style Parquet dataset, one folder per H3 parent cell.

The folder holds ``parent=<hex id>/part-<n>.parquet`` files (the cells of one parent cell at the
dataset's parent resolution, in one or more files) and a ``_manifest.json`` written last, which
lists every file with its rows and SHA-256, the columns and the build report. A folder without a
manifest, or whose files differ from it, is not a dataset (a build was interrupted): it is read as
missing and built again. Any Parquet reader opens the folder (pyarrow, DuckDB, GDAL, Spark read the
``parent`` key from the folder names); :func:`read_dataset` reads it back into the matrix that
:func:`~geo_engine.matrix.indicators.build_indicators` returns, whole or for some parents only.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo_engine._errors import GeoEngineWarning
from geo_engine.io.manifest import file_sha256

__all__ = [
    "DATASET_FORMAT",
    "MANIFEST",
    "DatasetWriter",
    "dataset_folder",
    "parent_cells",
    "read_dataset",
]

DATASET_FORMAT = 1
"""Version of the manifest's layout."""

MANIFEST = "_manifest.json"
"""Name of the manifest, written last: a folder without it is an unfinished dataset."""

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT


def dataset_folder(path: Path) -> Path:
    """Return the dataset folder of a cached matrix file (``name.parquet`` → ``name.parts``)."""
    return path.with_name(f"{path.stem}.parts")


def parent_cells(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Return the parent of each H3 cell at a coarser resolution (vectorised ``cell_to_parent``).

    Parameters
    ----------
    cells : numpy.ndarray
        H3 cell ids (uint64), all at resolutions finer than or equal to ``resolution``.
    resolution : int
        Resolution of the parents, 0 to 15.

    Returns
    -------
    numpy.ndarray of uint64
        One parent id per cell.

    Notes
    -----
    An H3 cell id holds its resolution in bits 52–55 and one 3-bit digit per resolution, digit
    :math:`r` in bits :math:`3(15 - r)` to :math:`3(15 - r) + 2`; digits finer than the cell's
    resolution are 7. The parent at resolution :math:`p` is the id with the resolution set to
    :math:`p` and digits :math:`p + 1` to 15 set to 7.
    """
    if not 0 <= resolution <= 15:
        msg = f"`resolution` was {resolution!r} but must be an H3 resolution from 0 to 15"
        raise ValueError(msg)
    ids = np.asarray(cells, dtype=np.uint64)
    finer = int(15 - resolution) * 3
    unused = np.uint64((1 << finer) - 1)
    return (ids & ~_RES_MASK) | (np.uint64(resolution) << _RES_SHIFT) | unused


class DatasetWriter:
    """Write a matrix part by part into a dataset folder, made visible whole by :meth:`finish`.

    Parts are written under a temporary folder beside ``folder``; :meth:`finish` writes the
    manifest and renames the temporary folder into place (replacing an older dataset), so readers
    never see half a dataset. Use it as a context manager: leaving the block without
    :meth:`finish` removes the temporary folder.

    Parameters
    ----------
    folder : pathlib.Path
        The dataset folder to create.
    parent_resolution : int
        Resolution of the parent cells the files are split by.
    """

    def __init__(self, folder: Path, *, parent_resolution: int) -> None:
        self.folder = Path(folder)
        self.parent_resolution = parent_resolution
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.folder.parent))
        self._files: list[dict[str, Any]] = []
        self._columns: list[str] | None = None

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def add(self, frame: pd.DataFrame) -> None:
        """Write the rows of ``frame`` (matrix columns, ``h3`` among them) by parent cell."""
        columns = [str(c) for c in frame.columns]
        if self._columns is None:
            self._columns = columns
        elif columns != self._columns:
            msg = f"a part has columns {columns[:8]}…, the dataset {self._columns[:8]}…"
            raise ValueError(msg)
        if not len(frame):
            return
        parents = parent_cells(frame["h3"].to_numpy(dtype=np.uint64), self.parent_resolution)
        order = np.argsort(parents, kind="stable")
        bounds = np.flatnonzero(np.diff(parents[order])) + 1
        for rows in np.split(order, bounds):
            key = format(int(parents[rows[0]]), "x")
            sub = self._tmp / f"parent={key}"
            sub.mkdir(exist_ok=True)
            name = f"part-{sum(1 for _ in sub.iterdir())}.parquet"
            frame.iloc[np.sort(rows)].to_parquet(sub / name, compression="zstd", index=False)
            self._files.append({"path": f"parent={key}/{name}", "parent": key, "rows": len(rows),
                                "sha256": file_sha256(sub / name)})

    def finish(self, report: Mapping[str, Any]) -> Path:
        """Write the manifest, move the dataset into place and return its folder."""
        record = {"format": DATASET_FORMAT, "parent_resolution": self.parent_resolution,
                  "rows": sum(f["rows"] for f in self._files), "columns": self._columns or [],
                  "files": self._files, "report": dict(report)}
        (self._tmp / MANIFEST).write_text(json.dumps(record, indent=1), encoding="utf-8")
        old = self.folder.with_name(f".{self.folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        self._tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)
        return self.folder


def read_dataset(folder: Path, *, parents: Collection[str] | None = None,
                 columns: Sequence[str] | None = None) -> pd.DataFrame | None:
    """Read a dataset folder back into a matrix, whole or for some parent cells only.

    Parameters
    ----------
    folder : pathlib.Path
        A folder written by :class:`DatasetWriter`.
    parents : collection of str, optional
        Hexadecimal ids of the parent cells to read (all by default): only their files are opened.
    columns : sequence of str, optional
        Columns to read (``h3`` is always read); all by default.

    Returns
    -------
    pandas.DataFrame or None
        Rows sorted by ``h3`` with a fresh index, the columns in the order written; ``attrs``
        holds ``report`` (the build report) and ``parent_resolution``. None when the folder is
        not there; None with a :class:`GeoEngineWarning` when it is unfinished or damaged.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    try:
        record = _manifest(folder)
        files = [f for f in record["files"] if parents is None or f["parent"] in set(parents)]
        wanted = None if columns is None else ["h3", *[c for c in columns if c != "h3"]]
        frames = [_read_part(folder, f, wanted) for f in files]
    except (OSError, ValueError, KeyError) as exc:
        warnings.warn(f"partitioned matrix {folder} is unfinished or damaged ({exc}); it is built "
                      "again", GeoEngineWarning, stacklevel=2)
        return None
    names = wanted or record["columns"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in names})
    matrix = pd.concat(frames, ignore_index=True)
    matrix = matrix.sort_values("h3", kind="stable", ignore_index=True)[names]
    matrix.attrs.update(report=record["report"], parent_resolution=record["parent_resolution"])
    return matrix


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        msg = f"no {MANIFEST}"
        raise ValueError(msg)
    record = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(record, dict) or record.get("format") != DATASET_FORMAT:
        msg = f"{MANIFEST} is not a format-{DATASET_FORMAT} manifest"
        raise ValueError(msg)
    return record


def _read_part(folder: Path, entry: Mapping[str, Any], columns: Sequence[str] | None
               ) -> pd.DataFrame:
    """Read one file of the dataset once its checksum matches the manifest's."""
    path = folder / entry["path"]
    if file_sha256(path) != entry["sha256"]:
        msg = f"the SHA-256 of {entry['path']} differs from the manifest's"
        raise ValueError(msg)
    frame = pd.read_parquet(path, columns=list(columns) if columns is not None else None)
    if len(frame) != entry["rows"]:
        msg = f"{entry['path']} has {len(frame)} rows, the manifest says {entry['rows']}"
        raise ValueError(msg)
    return frame
