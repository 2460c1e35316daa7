"""Keep a user's uploaded files in a folder named by their content, and build a region from them.

The app hands over what a user uploaded (a boundary, data files, a layers YAML and optional
profiles) as names and bytes. :func:`save_uploads` checks every name and size, then writes the files
into ``<root>/<digest>/`` (profiles into its ``profiles/`` sub-folder), where the digest covers
every name and byte: the same files always land in the same folder, so the indicator matrix built
from them is found again in the cache. Archives are stored as they are: the readers open a zipped
shapefile themselves. :func:`build_region` then writes the region file over those files.

A server bounds what one visitor can store: :func:`charge_uploads` keeps a session's total within
:data:`~geo_engine.settings.max_uploads_per_session` files and
:data:`~geo_engine.settings.max_upload_bytes_per_session` bytes, and :func:`cleanup_uploads`
removes upload folders older than :data:`~geo_engine.settings.upload_max_age_hours`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path

import pandas as pd

from geo_engine import settings
from geo_engine._errors import GeoEngineError
from geo_engine.io.manifest import file_sha256
from geo_engine.regions.region import LevelSpec, Region, load_region, write_region

__all__ = [
    "MAX_UPLOAD_BYTES",
    "UPLOAD_SUFFIXES",
    "UploadError",
    "boundary_columns",
    "build_region",
    "charge_uploads",
    "cleanup_uploads",
    "safe_name",
    "save_uploads",
    "uploaded_files",
]

MAX_UPLOAD_BYTES = 200 * 2**20
"""Largest file accepted (200 MiB), the same as ``server.maxUploadSize`` in ``.streamlit/config.toml``."""

UPLOAD_SUFFIXES = frozenset({".geojson", ".json", ".gpkg", ".zip", ".parquet", ".tif", ".tiff",
                             ".csv", ".yaml", ".yml"})
"""File types a region can be built from: boundaries, layer sources, spec and profile files."""

PROFILES = "profiles"
"""Sub-folder of an upload folder holding the profile files."""


class UploadError(GeoEngineError, ValueError):
    """An uploaded file is refused: unsafe name, unknown type, too large or a clashing name."""


def safe_name(name: str) -> str:
    """Return ``name`` when it is a plain file name of a known type; raise otherwise.

    Raises
    ------
    UploadError
        For a name with a folder part (``/`` or a backslash), ``..``, a leading dot, a control
        character, or a type outside :data:`UPLOAD_SUFFIXES`.

    Examples
    --------
    >>> safe_name("units.geojson")
    'units.geojson'
    """
    if not name or name != Path(name).name or "/" in name or "\\" in name:
        msg = f"file name {name!r} has a folder part; upload the file itself (e.g. units.geojson)"
        raise UploadError(msg)
    if ".." in name or name.startswith("."):
        msg = f"file name {name!r} starts with a dot or holds '..'; rename the file"
        raise UploadError(msg)
    if any(ord(c) < 32 for c in name):
        msg = f"file name {name!r} holds a control character; rename the file"
        raise UploadError(msg)
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        msg = (f"file {name!r}: type {Path(name).suffix or '(none)'} is not accepted; use one of "
               f"{', '.join(sorted(UPLOAD_SUFFIXES))}")
        raise UploadError(msg)
    return name


def _check(files: Mapping[str, bytes], max_bytes: int) -> None:
    for name, data in files.items():
        safe_name(name)
        if len(data) > max_bytes:
            msg = (f"file {name!r} is {len(data) / 2**20:,.1f} MiB, more than the "
                   f"{max_bytes / 2**20:,.0f} MiB accepted; clip it to the region or compress it")
            raise UploadError(msg)
    lower = [n.lower() for n in files]
    clash = sorted({n for n in lower if lower.count(n) > 1})
    if clash:
        msg = f"two uploaded files are named {clash[0]!r} (names are compared ignoring case); rename one"
        raise UploadError(msg)


def save_uploads(
    files: Mapping[str, bytes],
    root: Path,
    *,
    profiles: Mapping[str, bytes] | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Path:
    """Write uploaded files into a folder named by their content and return the folder.

    Parameters
    ----------
    files : mapping of str to bytes
        File name → content: the boundary, the data files and the layers YAML.
    root : pathlib.Path
        Parent of the upload folders (the app uses ``settings.cache_dir / "uploads"``).
    profiles : mapping of str to bytes, optional
        Profile files, written to the ``profiles/`` sub-folder.
    max_bytes : int, default MAX_UPLOAD_BYTES
        Largest file accepted.

    Returns
    -------
    pathlib.Path
        ``root / <first 16 hex digits of the SHA-256 of every name and content>``; the same files
        give the same folder, which is then not written again.

    Raises
    ------
    UploadError
        For an unsafe name, an unknown type, a file above ``max_bytes``, or two files of the
        same name; nothing is written then.
    """
    profiles = dict(profiles or {})
    _check(files, max_bytes)
    _check(profiles, max_bytes)
    digest = hashlib.sha256()
    for role, group in (("file", files), ("profile", profiles)):
        for name in sorted(group):
            data = group[name]
            digest.update(f"{role}\0{name}\0{len(data)}\0".encode())
            digest.update(data)
    folder = Path(root) / digest.hexdigest()[:16]
    if folder.is_dir():
        with contextlib.suppress(OSError):
            os.utime(folder)  # used again: its age starts over (see cleanup_uploads)
        return folder
    Path(root).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if profiles:
            (tmp / PROFILES).mkdir()
            for name, data in profiles.items():
                (tmp / PROFILES / name).write_bytes(data)
        tmp.replace(folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # another session may have written the same folder meanwhile
            raise
    return folder


def charge_uploads(
    spent: Mapping[str, int],
    files: Iterable[tuple[str, bytes]],
    *,
    max_files: int | None = None,
    max_bytes: int | None = None,
) -> dict[str, int]:
    """Return a session's record of uploads with ``files`` added; refuse them beyond its budget.

    Parameters
    ----------
    spent : mapping of str to int
        What the session uploaded so far (``{}`` at first): one key per distinct file (its name
        and the SHA-256 of its content) → its size in bytes. Not changed.
    files : iterable of (str, bytes)
        The files about to be saved, as (name, content) pairs.
    max_files : int, optional
        Most distinct files per session; :data:`geo_engine.settings.max_uploads_per_session`
        by default.
    max_bytes : int, optional
        Most bytes per session; :data:`geo_engine.settings.max_upload_bytes_per_session` by
        default.

    Returns
    -------
    dict
        The new record. A file already in ``spent`` (same name and content: the same upload seen
        again on a rerun, or uploaded twice) is not counted again.

    Raises
    ------
    UploadError
        When the session's files would then number more than ``max_files`` or weigh more than
        ``max_bytes``; the message gives both figures and the setting to raise.
    """
    max_files = settings.max_uploads_per_session if max_files is None else max_files
    max_bytes = settings.max_upload_bytes_per_session if max_bytes is None else max_bytes
    record = dict(spent)
    for name, data in files:
        record[f"{name}\0{hashlib.sha256(data).hexdigest()}"] = len(data)
    total = sum(record.values())
    if len(record) > max_files:
        msg = (f"upload refused: this session would have sent {len(record)} files, more than the "
               f"{max_files} allowed per session (setting max_uploads_per_session); open the app "
               "in a new session or ask its administrator to raise the limit")
        raise UploadError(msg)
    if total > max_bytes:
        new = total - sum(spent.values())
        msg = (f"upload refused: this session would have sent {_size(total)} ({_size(new)} in "
               f"these files), more than the {_size(max_bytes)} allowed per session (setting "
               "max_upload_bytes_per_session); open the app in a new session or ask its "
               "administrator to raise the limit")
        raise UploadError(msg)
    return record


def _size(n: int) -> str:
    return f"{n:,} byte{'' if n == 1 else 's'}" if n < 2**20 else f"{n / 2**20:,.1f} MiB"


_UPLOAD_FOLDER = re.compile(r"[0-9a-f]{16}|\.upload-.+")
"""Names of what :func:`save_uploads` writes in its root: a content digest, or a temporary folder."""


def cleanup_uploads(root: Path, *, max_age: timedelta | None = None) -> list[Path]:
    """Remove the upload folders of ``root`` last written or used more than ``max_age`` ago.

    Parameters
    ----------
    root : pathlib.Path
        Parent of the upload folders (as given to :func:`save_uploads`).
    max_age : datetime.timedelta, optional
        :data:`geo_engine.settings.upload_max_age_hours` by default.

    Returns
    -------
    list of pathlib.Path
        The folders removed. Only folders :func:`save_uploads` makes are considered (named by
        16 hex digits, or its ``.upload-*`` temporary folders); other entries and symbolic links
        are left alone, and a folder that cannot be removed is skipped.
    """
    age = max_age if max_age is not None else timedelta(hours=settings.upload_max_age_hours)
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = time.time() - age.total_seconds()
    removed = []
    for entry in sorted(root.iterdir()):
        if not _UPLOAD_FOLDER.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            if entry.stat().st_mtime >= cutoff:
                continue
            shutil.rmtree(entry)
        except OSError:  # removed by another session meanwhile, or not ours to remove
            continue
        removed.append(entry)
    return removed


def boundary_columns(path: Path) -> dict[str, bool]:
    """Return the columns of a boundary file and whether each could be the unit code.

    A column could be the code when every unit has a value and no value repeats.
    """
    from geo_engine.io.safe_read import read_vector

    frame = read_vector(Path(path))
    out = {}
    for col in frame.columns:
        if col == frame.geometry.name:
            continue
        values = frame[col]
        out[str(col)] = bool(values.notna().all() and not values.astype(str).duplicated().any())
    return out


def build_region(
    folder: Path,
    *,
    region_id: str,
    boundary: str,
    code_column: str,
    layers: str,
    name_column: str | None = None,
    resolution: int = 6,
    parent_column: str | None = None,
    parent_name_column: str | None = None,
) -> Region:
    """Write (or reuse) the region file of an upload folder and return the region.

    ``parent_column`` (with ``parent_name_column``) names a parent level of the units (e.g. the
    province of each comuna), so rankings roll up to it as ``parent`` (see
    :func:`geo_engine.regions.region.write_region`).

    The file is named by the choices made (``region-<digest>.yaml``), so choosing other columns
    or another resolution gives another region rather than a stale one. The ``profiles/``
    sub-folder is the region's profiles when it exists; without it the region has none.

    Raises
    ------
    SpecError, SourceFormatError, MissingSourceError
        As :func:`geo_engine.regions.region.write_region`: bad id, missing column, repeated codes…
    """
    folder = Path(folder)
    choice = (f"{region_id}\0{boundary}\0{code_column}\0{name_column or ''}\0{layers}\0{resolution}"
              f"\0{parent_column or ''}\0{parent_name_column or ''}")
    out = folder / f"region-{hashlib.sha256(choice.encode()).hexdigest()[:12]}.yaml"
    if out.is_file():
        return load_region(out)
    profiles = folder / PROFILES
    return write_region(out, region_id=region_id, boundary=folder / safe_name(boundary),
                        code_column=code_column, name_column=name_column or None,
                        layers=folder / safe_name(layers),
                        profiles=profiles if profiles.is_dir() else None, resolution=resolution,
                        parents=[LevelSpec(id="parent", code=parent_column,
                                           name=parent_name_column or None, label=None)]
                        if parent_column else ())


def uploaded_files(folder: Path) -> pd.DataFrame:
    """Return every file of an upload folder with its size and SHA-256 (the app's provenance table)."""
    rows = [{"file": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size,
             "sha256": file_sha256(p)}
            for p in sorted(Path(folder).rglob("*")) if p.is_file()]
    return pd.DataFrame(rows, columns=["file", "bytes", "sha256"])
