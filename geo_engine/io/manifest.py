"""Read and verify ``data/MANIFEST.yaml``: checksums, counts and provenance of the curated data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from geo_engine import settings
from geo_engine._errors import DataIntegrityError, MissingSourceError, SpecError
from geo_engine.io.yaml_io import load_yaml

__all__ = [
    "MANIFEST_NAME",
    "METADATA_FILES",
    "dataset_entry",
    "dataset_path",
    "describe_file",
    "file_sha256",
    "load_manifest",
    "verify_manifest",
]

MANIFEST_NAME = "MANIFEST.yaml"
METADATA_FILES = frozenset({MANIFEST_NAME, "LICENSES.md"})
"""Files of the data folder that describe the data rather than hold it."""


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(path: Path) -> dict[str, Any]:
    """Return checksum, size and feature count of a curated file.

    Parquet files report their row count as ``features``; GeoTIFFs report ``features`` as the number
    of valid (non-nodata) pixels and a ``raster`` block with size, CRS and data type.

    Parameters
    ----------
    path : pathlib.Path
        A ``.parquet`` or ``.tif`` file.

    Returns
    -------
    dict
        ``sha256``, ``bytes``, ``features`` and, for rasters, ``raster``.
    """
    path = Path(path)
    info: dict[str, Any] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    try:
        info.update(_count_features(path))
    except Exception as exc:  # any reader error means the file is damaged
        msg = f"{path}: cannot be read ({exc}); restore it from git or rebuild the data"
        raise DataIntegrityError(msg) from exc
    return info


def _count_features(path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        info["features"] = int(pq.ParquetFile(path).metadata.num_rows)
    elif path.suffix in {".tif", ".tiff"}:
        import numpy as np
        import rasterio

        with rasterio.open(path) as ds:
            valid = ds.read_masks(1) > 0
            info["features"] = int(np.count_nonzero(valid))
            info["raster"] = {
                "width": ds.width,
                "height": ds.height,
                "crs": ds.crs.to_string() if ds.crs else None,
                "dtype": ds.dtypes[0],
                "nodata": ds.nodata,
                "bounds": [round(float(v), 6) for v in ds.bounds],
            }
    else:
        info["features"] = None
    return info


def load_manifest(data_dir: Path | None = None) -> dict[str, Any]:
    """Load the manifest of a data folder.

    Parameters
    ----------
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.

    Returns
    -------
    dict
        The parsed manifest, with a ``datasets`` list.

    Raises
    ------
    MissingSourceError
        If the folder has no manifest.
    DataIntegrityError
        If it cannot be read as YAML (see :func:`geo_engine.io.yaml_io.load_yaml`).
    """
    data_dir = Path(data_dir or settings.data_dir)
    path = data_dir / MANIFEST_NAME
    if not path.is_file():
        msg = (
            f"no {MANIFEST_NAME} in {data_dir}. Set GEO_ENGINE_DATA to the project's data/ folder "
            "or rebuild it with `geo-engine data rebuild --from RAW_FOLDER`."
        )
        raise MissingSourceError(msg)
    try:
        manifest: dict[str, Any] = load_yaml(path, what="manifest")
    except SpecError as exc:
        raise DataIntegrityError(str(exc)) from exc
    return manifest


def dataset_entry(dataset_id: str, *, data_dir: Path | None = None) -> dict[str, Any]:
    """Return the manifest entry of one dataset.

    Raises
    ------
    KeyError
        If no dataset has that id; the message lists the known ids.
    """
    datasets = load_manifest(data_dir)["datasets"]
    for entry in datasets:
        if entry["id"] == dataset_id:
            return dict(entry)
    known = ", ".join(sorted(e["id"] for e in datasets))
    msg = f"no dataset {dataset_id!r} in the manifest; known: {known}"
    raise KeyError(msg)


def dataset_path(dataset_id: str, *, data_dir: Path | None = None) -> Path:
    """Return the absolute path of a curated dataset, checking that the file exists."""
    data_dir = Path(data_dir or settings.data_dir)
    path = data_dir / dataset_entry(dataset_id, data_dir=data_dir)["file"]
    if not path.is_file():
        msg = f"dataset {dataset_id!r} is listed in the manifest but {path} is missing"
        raise MissingSourceError(msg)
    return path


def verify_manifest(data_dir: Path | None = None, *, strict: bool = True) -> list[str]:
    """Check every file of a data folder against its manifest.

    Parameters
    ----------
    data_dir : pathlib.Path, optional
        Defaults to :data:`geo_engine.settings.data_dir`.
    strict : bool, default True
        Raise :class:`DataIntegrityError` listing the problems instead of returning them.

    Returns
    -------
    list of str
        One line per problem (empty when everything matches): missing files, files not in the
        manifest, checksum or feature-count mismatches. Hidden entries at the top of the folder
        (``.rebuild-*``, ``.rebuild.lock``: what a rebuild writes while it runs) are not data and
        are not checked.
    """
    data_dir = Path(data_dir or settings.data_dir)
    manifest = load_manifest(data_dir)
    problems: list[str] = []
    listed: set[str] = set()
    for entry in manifest["datasets"]:
        rel = entry["file"]
        listed.add(rel)
        path = data_dir / rel
        if not path.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
            continue
        try:
            actual = describe_file(path)
        except DataIntegrityError:
            problems.append(f"{rel}: sha256 {file_sha256(path)[:12]}… ≠ manifest, and the file "
                            "cannot be read")
            continue
        if actual["sha256"] != entry.get("sha256"):
            problems.append(f"{rel}: sha256 {actual['sha256'][:12]}… ≠ manifest "
                            f"{str(entry.get('sha256'))[:12]}…")
        if actual["features"] != entry.get("features"):
            problems.append(
                f"{rel}: {actual['features']} features ≠ manifest {entry.get('features')}"
            )
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir).as_posix()
        if rel.startswith("."):  # a rebuild's temporary folder, backup or lock: not data
            continue
        if path.is_file() and rel not in listed and rel not in METADATA_FILES:
            problems.append(f"{rel}: file in the data folder but not in the manifest")
    if problems and strict:
        msg = f"{data_dir}: data does not match {MANIFEST_NAME}:\n  " + "\n  ".join(problems)
        raise DataIntegrityError(msg)
    return problems
