"""Cache entries on disk: built once under a lock, written whole, checked against a sidecar when read.

An entry is a Parquet file and a ``.json`` sidecar beside it. The sidecar records the file's SHA-256,
size, row count and columns, plus whatever the builder wants to keep (a build report). Each entry
has its own lock file (``<name>.lock``), so two processes that need the same entry build it once:
the second waits, then reads what the first wrote. Files are written under unique temporary names
in the same folder and renamed into place, the table first and the sidecar last, so a reader never
sees half a file; a damaged entry (a truncated table, a missing or unreadable sidecar, a checksum
that does not match) is discarded with a :class:`~geo_engine._errors.GeoEngineWarning` and rebuilt.

The locks are :class:`filelock.FileLock`: an ``flock`` on POSIX and a locked file on Windows, both
released by the operating system when a process dies, so a killed build never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from filelock import FileLock

from geo_engine._errors import GeoEngineWarning
from geo_engine.io.manifest import file_sha256

__all__ = ["Entry", "cached", "read_entry", "write_entry"]

SIDECAR_FORMAT = 1
"""Version of the sidecar's layout."""

Reader = Callable[[Path], pd.DataFrame]
Writer = Callable[[pd.DataFrame, Path], None]


class Entry(NamedTuple):
    """A table read from or written to the cache, what its builder kept with it, and whether it was found."""

    frame: pd.DataFrame
    meta: dict[str, Any]
    hit: bool


def _to_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, compression="zstd", index=False)


def cached(
    path: Path,
    build: Callable[[], tuple[pd.DataFrame, dict[str, Any]]],
    *,
    read: Reader = pd.read_parquet,
    write: Writer = _to_parquet,
) -> Entry:
    """Return the cache entry at ``path``, building and writing it first when missing or damaged.

    Parameters
    ----------
    path : pathlib.Path
        The entry's table (``.parquet``); its sidecar is ``path.with_suffix(".json")``.
    build : callable
        Returns the table and a JSON-serialisable mapping kept in the sidecar.
    read, write : callable, optional
        Read and write the table (:func:`pandas.read_parquet` and ``DataFrame.to_parquet``).

    Returns
    -------
    Entry
        The table, the builder's mapping and ``hit`` (True when read from the cache).

    Warns
    -----
    GeoEngineWarning
        When the entry is damaged (it is rebuilt) or the cache folder cannot be written (the table
        is built and returned, but not kept).
    """
    try:
        lock = _acquire(path)
    except OSError as exc:
        found = read_entry(path, read=read, discard=False)
        if found is not None:
            return found
        _warn_unwritable(path, exc)
        frame, meta = build()
        return Entry(frame, meta, hit=False)
    try:
        found = read_entry(path, read=read)
        if found is not None:
            return found
        _remove_temporaries(path)  # left by a build that was killed while writing
        frame, meta = build()
        try:
            write_entry(path, frame, meta, write=write)
        except OSError as exc:
            _warn_unwritable(path, exc)
        return Entry(frame, meta, hit=False)
    finally:
        lock.release()


def read_entry(path: Path, *, read: Reader = pd.read_parquet, discard: bool = True) -> Entry | None:
    """Return a cache entry when it is there and whole, None otherwise.

    Parameters
    ----------
    path : pathlib.Path
        The entry's table.
    read : callable, default pandas.read_parquet
        Reads the table.
    discard : bool, default True
        Delete a damaged entry's files (the caller holds the entry's lock).

    Returns
    -------
    Entry or None
        None when neither the table nor its sidecar exists, or when the entry is damaged.

    Warns
    -----
    GeoEngineWarning
        For a damaged entry: the table or its sidecar missing, a sidecar that is not valid JSON
        or lacks a field, a size or checksum different from the sidecar's, a table that cannot be
        read or whose rows and columns differ from the sidecar's.
    """
    sidecar = path.with_suffix(".json")
    if not path.exists() and not sidecar.exists():
        return None
    try:
        record = _checked_record(path, sidecar)
    except (OSError, ValueError) as exc:
        problem = str(exc)
    else:
        try:
            frame = read(path)
        except Exception as exc:  # any reader error (pyarrow's ArrowInvalid…) means a damaged file
            problem = f"{path.name} cannot be read ({type(exc).__name__}: {exc})"
        else:
            if len(frame) == record["rows"] and [str(c) for c in frame.columns] == record["columns"]:
                return Entry(frame, record["meta"], hit=True)
            problem = (f"{path.name} has {len(frame)} rows and columns {list(frame.columns)}, "
                       f"the sidecar says {record['rows']} and {record['columns']}")
    warnings.warn(f"cache entry {path} is damaged ({problem}); it is built again",
                  GeoEngineWarning, stacklevel=3)
    if discard:
        for p in (path, sidecar):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)
    return None


def write_entry(path: Path, frame: pd.DataFrame, meta: dict[str, Any], *,
                write: Writer = _to_parquet) -> None:
    """Write a table and its sidecar, each under a temporary name renamed into place.

    The caller holds the entry's lock. The table is renamed first and the sidecar last, so an
    entry whose sidecar is there is complete; a failure removes the temporary files.

    Raises
    ------
    OSError
        When the folder cannot be written (full disk, read-only folder…).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar = path.with_suffix(".json")
    temps: list[Path] = []
    try:
        table = _temporary(path, temps)
        write(frame, table)
        record = {"format": SIDECAR_FORMAT, "sha256": file_sha256(table),
                  "bytes": table.stat().st_size, "rows": len(frame),
                  "columns": [str(c) for c in frame.columns], "meta": meta}
        side = _temporary(sidecar, temps)
        side.write_text(json.dumps(record, indent=1), encoding="utf-8")
        table.replace(path)
        side.replace(sidecar)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _checked_record(path: Path, sidecar: Path) -> dict[str, Any]:
    """Return the sidecar's record once the table's size and checksum match it; raise otherwise."""
    if not path.exists():
        msg = f"{path.name} is missing"
        raise ValueError(msg)
    if not sidecar.exists():
        msg = f"its sidecar {sidecar.name} is missing"
        raise ValueError(msg)
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"its sidecar {sidecar.name} is not valid JSON ({exc})"
        raise ValueError(msg) from exc
    fields = {"format": int, "sha256": str, "bytes": int, "rows": int, "columns": list, "meta": dict}
    if not isinstance(record, dict) or record.get("format") != SIDECAR_FORMAT or not all(
            isinstance(record.get(k), kind) for k, kind in fields.items()):
        msg = f"its sidecar {sidecar.name} is not a format-{SIDECAR_FORMAT} cache record"
        raise ValueError(msg)
    size = path.stat().st_size
    if size != record["bytes"]:
        msg = f"{path.name} is {size:,} bytes, the sidecar says {record['bytes']:,}"
        raise ValueError(msg)
    if file_sha256(path) != record["sha256"]:
        msg = f"the SHA-256 of {path.name} differs from the sidecar's"
        raise ValueError(msg)
    return record


def _acquire(path: Path) -> FileLock:
    """Create the entry's folder and take its lock, waiting while another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_name(path.name + ".lock"))
    lock.acquire()
    return lock


def _temporary(path: Path, made: list[Path]) -> Path:
    """Return a unique unused name beside ``path``, recorded in ``made``.

    The name is reserved with ``mkstemp`` and freed again, so that the writer creates the file
    with the usual permissions (``mkstemp``'s own file is readable by its owner only, which would
    shut out other users sharing the cache).
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    Path(name).unlink()
    made.append(Path(name))
    return Path(name)


def _remove_temporaries(path: Path) -> None:
    for target in (path, path.with_suffix(".json")):
        for tmp in target.parent.glob(f".{target.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _warn_unwritable(path: Path, exc: OSError) -> None:
    warnings.warn(f"cache folder {path.parent} cannot be written ({exc.strerror or exc}); the result "
                  "is not kept: set GEO_ENGINE_CACHE to a writable folder", GeoEngineWarning,
                  stacklevel=4)
