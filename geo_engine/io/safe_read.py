"""Open user-supplied files defensively: size, archive, encoding, CRS and geometry checks with clear errors.

Every reader here either returns a usable result or raises a :class:`~geo_engine._errors.GeoEngineError`
subclass whose message names the file, the problem and the fix: :class:`MissingSourceError` when the
file is not there, :class:`SourceFormatError` for everything wrong with its content (too large, empty,
corrupt or truncated, not what its name says or a recipe GDAL would follow, a hostile archive, no or
wrong CRS, too many vertices). GDAL sees a file only once :mod:`geo_engine.io.content` has matched
its first bytes to its suffix, and rasters are opened with the GTiff driver only. Problems that can be
repaired without guessing are repaired with a :class:`~geo_engine._errors.GeoEngineWarning` (a CSV
that is not UTF-8, latitude and longitude swapped, features crossing the antimeridian).

Limits come from :mod:`geo_engine.settings` (``max_vector_bytes`` and so on) through :class:`Limits`;
pass ``limits=Limits(...)`` to a reader to change them for one call.

Vector data keep their CRS: the aggregation functions of :mod:`geo_engine.ingest.vector` and the
grid builder reproject to EPSG:4326 themselves.
"""

from __future__ import annotations

import codecs
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity

from geo_engine import settings
from geo_engine._errors import GeoEngineError, GeoEngineWarning, MissingSourceError, SourceFormatError
from geo_engine.io.content import check_content, check_local
from geo_engine.io.gdal import skip_reference_drivers

__all__ = [
    "VECTOR_SUFFIXES",
    "Limits",
    "check_file",
    "check_lonlat",
    "check_raster",
    "drop_missing_geometries",
    "extract_archive",
    "looks_swapped",
    "open_raster",
    "read_csv_file",
    "read_table_file",
    "read_vector",
    "read_vector_file",
]

VECTOR_SUFFIXES = (".shp", ".geojson", ".gpkg", ".parquet", ".fgb", ".json")
"""Files taken as the vector dataset of a ZIP archive (``.json`` only when nothing else is there).

KML and GML are not read: GML may name schemas to fetch, and both convert losslessly to a
GeoPackage (``ogr2ogr out.gpkg FILE.kml``).
"""

Kind = Literal["vector", "table", "raster", "archive"]

skip_reference_drivers()  # no OGR VRT, GDALG or web-service driver in the GDAL that reads vectors

_RATIO_MIN_BYTES = 2**20
"""Members smaller than this (1 MiB) are not held to the compression-ratio limit."""

_CHUNK = 2**20
_SAMPLE = 2**16
_DEGREE_TOLERANCE = 1e-7
_SIBLINGS = (".shx", ".dbf")
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook is one): export the sheet as CSV UTF-8",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Office file: export the sheet as CSV UTF-8",
    b"%PDF": "a PDF document: a CSV table is needed",
    b"PAR1": "a Parquet file: name it .parquet",
    b"SQLite format 3\x00": "an SQLite database or GeoPackage: name it .gpkg or export a CSV",
}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _setting(name: str) -> Callable[[], Any]:
    return lambda: getattr(settings, name)


@dataclass(frozen=True)
class Limits:
    """Limits applied to user-supplied files; each defaults to the setting of the same name.

    Parameters
    ----------
    max_vector_bytes, max_table_bytes, max_raster_bytes : int
        Largest file of each kind, in bytes (:data:`geo_engine.settings.max_vector_bytes`…).
    max_raster_pixels : int
        Largest raster, width × height.
    max_archive_members : int
        Most members in a ZIP archive.
    max_archive_bytes : int
        Largest total size a ZIP archive may expand to.
    max_compression_ratio : float
        Largest uncompressed / compressed size of a ZIP member above 1 MiB, and of the whole archive.
    max_feature_vertices, max_vertices : int
        Most vertices in one feature, and in a whole vector file.

    Examples
    --------
    >>> Limits(max_archive_members=10).max_archive_members
    10
    """

    max_vector_bytes: int = field(default_factory=_setting("max_vector_bytes"))
    max_table_bytes: int = field(default_factory=_setting("max_table_bytes"))
    max_raster_bytes: int = field(default_factory=_setting("max_raster_bytes"))
    max_raster_pixels: int = field(default_factory=_setting("max_raster_pixels"))
    max_archive_members: int = field(default_factory=_setting("max_archive_members"))
    max_archive_bytes: int = field(default_factory=_setting("max_archive_bytes"))
    max_compression_ratio: float = field(default_factory=_setting("max_compression_ratio"))
    max_feature_vertices: int = field(default_factory=_setting("max_feature_vertices"))
    max_vertices: int = field(default_factory=_setting("max_vertices"))


def _size(n: float) -> str:
    """Return a byte count for people: ``1.5 GiB``, ``300 KiB``, ``12 bytes``."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{int(n)} bytes"


def _detail(exc: BaseException) -> str:
    """Return the message of an exception and of its cause, on one line, at most 300 characters."""
    text = str(exc).rstrip(".") or type(exc).__name__
    if isinstance(exc, KeyError):
        text = f"missing entry {text}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({str(cause).rstrip('.')})"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------------------------
# files and archives
# --------------------------------------------------------------------------------------------


_LIMIT_NAMES = {"vector": "max_vector_bytes", "archive": "max_vector_bytes",
                "table": "max_table_bytes", "raster": "max_raster_bytes"}
_CLIP_HINTS = {
    "vector": "clip it to the region first (e.g. `ogr2ogr -clipsrc W S E N out.gpkg FILE`)",
    "archive": "unzip it and clip the dataset to the region first (`ogr2ogr -clipsrc W S E N`)",
    "table": "keep only the rows and columns of the region",
    "raster": "clip it to the region first (e.g. `gdal_translate -projwin W N E S FILE out.tif`)",
}


def _check_file(path: Path, kind: Kind, limits: Limits, name: str) -> None:
    check_local(path, name)
    if not path.exists():
        msg = f"{name}: {kind} file not found; check the path"
        raise MissingSourceError(msg)
    if not path.is_file():
        msg = (f"{name} is a folder, not a file; point to the dataset inside it (a .gpkg, .geojson, "
               ".shp, .parquet, .csv or .tif file)")
        raise SourceFormatError(msg)
    size = path.stat().st_size
    if size == 0:
        msg = f"{name} is empty (0 bytes); the download or copy probably failed: fetch it again"
        raise SourceFormatError(msg)
    limit_name = _LIMIT_NAMES[kind]
    limit = getattr(limits, limit_name)
    if size > limit:
        msg = (f"{name} is {_size(size)}, above the {_size(limit)} limit for {kind} files; "
               f"{_CLIP_HINTS[kind]}, or raise geo_engine.settings.{limit_name}")
        raise SourceFormatError(msg)
    if kind == "vector" and path.suffix.lower() == ".shp":
        missing = [s for s in _SIBLINGS
                   if not (path.with_suffix(s).is_file() or path.with_suffix(s.upper()).is_file())]
        if missing:
            msg = (f"{name}: the shapefile's {' and '.join(missing)} file is missing next to it; a "
                   "shapefile is several files (.shp, .shx, .dbf, .prj) that must stay together: "
                   "copy them all, or zip them and point to the .zip")
            raise SourceFormatError(msg)


def check_file(path: str | Path, *, kind: Kind, limits: Limits | None = None) -> Path:
    """Check that a user-supplied file exists, is a regular non-empty file and is not too large.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    kind : {"vector", "table", "raster", "archive"}
        What the file holds, which sets the size limit (archives count as vector files).
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Returns
    -------
    pathlib.Path
        ``path`` as a Path.

    Raises
    ------
    MissingSourceError
        If nothing is at ``path``.
    SourceFormatError
        If ``path`` is a URL or a GDAL virtual path (``/vsicurl/…``), is a folder, is empty, is
        larger than the limit, or is a shapefile whose ``.shx`` or ``.dbf`` is missing.
    """
    if kind not in _LIMIT_NAMES:
        msg = f"`kind` was {kind!r} but is expected to be one of {list(_LIMIT_NAMES)}"
        raise ValueError(msg)
    path = Path(path)
    _check_file(path, kind, limits or Limits(), str(path))
    return path


def _member_parts(name: str) -> list[str] | None:
    """Return the path components of an archive member, or None if it could escape the folder."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return None
    parts = [p for p in re.split(r"[/\\]", name) if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return parts


def _check_members(path: Path, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse an archive before writing anything: member names, links, counts and declared sizes."""
    if len(infos) > limits.max_archive_members:
        msg = (f"{path} has {len(infos):,} members, above the limit of {limits.max_archive_members:,}; "
               "a zipped dataset has a handful of files: unzip it and point to the dataset, or raise "
               "geo_engine.settings.max_archive_members")
        raise SourceFormatError(msg)
    refuse = ("; refused. Do not use this archive; if you trust it, unzip it by hand, check its "
              "contents and point to the dataset")
    for info in infos:
        if _member_parts(info.filename) is None:
            msg = (f"{path}: member {info.filename!r} would be written outside the extraction folder "
                   f"(absolute path or `..`){refuse}")
            raise SourceFormatError(msg)
        if stat.S_ISLNK(info.external_attr >> 16):
            msg = f"{path}: member {info.filename!r} is a symbolic link{refuse}"
            raise SourceFormatError(msg)
        if info.flag_bits & 0x1:
            msg = f"{path}: member {info.filename!r} is encrypted; unzip it with its password first"
            raise SourceFormatError(msg)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
            msg = (f"{path}: member {info.filename!r} expands {ratio:,.0f} times ("
                   f"{_size(info.compress_size)} to {_size(info.file_size)}), above the "
                   f"{limits.max_compression_ratio:g}:1 limit: this is how zip bombs look{refuse}")
            raise SourceFormatError(msg)
    total = sum(info.file_size for info in infos)
    if total > limits.max_archive_bytes:
        msg = (f"{path} would expand to {_size(total)}, above the {_size(limits.max_archive_bytes)} "
               "limit (a zip bomb, or a dataset too large to use whole); unzip it by hand and clip "
               "the dataset to the region, or raise geo_engine.settings.max_archive_bytes")
        raise SourceFormatError(msg)
    ratio = total / max(path.stat().st_size, 1)
    if total > _RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
        msg = (f"{path} expands {ratio:,.0f} times in all ({_size(path.stat().st_size)} to "
               f"{_size(total)}), above the {limits.max_compression_ratio:g}:1 limit: this is how "
               f"zip bombs look{refuse}")
        raise SourceFormatError(msg)


def _copy_member(src: Any, out: Any, info: zipfile.ZipInfo, *, budget: int, path: Path) -> int:
    """Copy one member, counting the bytes really produced; return their number."""
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        if written > info.file_size or written > budget:
            msg = (f"{path}: member {info.filename!r} expands beyond the size its header declares "
                   f"({_size(info.file_size)}) or beyond the archive limit; the archive is forged or "
                   "corrupt: refused")
            raise SourceFormatError(msg)
        out.write(chunk)
    return written


def _find_dataset(path: Path, files: list[Path], root: Path) -> Path:
    names = [f.relative_to(root).as_posix() for f in files]
    usable = [f for f, n in zip(files, names, strict=True)
              if not any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(n).parts)]
    found = [f for f in usable if f.suffix.lower() in VECTOR_SUFFIXES and f.suffix.lower() != ".json"]
    if not found:
        found = [f for f in usable if f.suffix.lower() == ".json"]
    if len(found) == 1:
        return found[0]
    if not found:
        listing = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        msg = (f"{path} holds no vector dataset (a .shp with its .shx and .dbf, .geojson, .gpkg, "
               f".parquet or .fgb; convert KML or GML with `ogr2ogr out.gpkg FILE`); it holds: "
               f"{listing or 'nothing'}")
        raise SourceFormatError(msg)
    listing = ", ".join(sorted(f.relative_to(root).as_posix() for f in found))
    msg = (f"{path} holds {len(found)} datasets ({listing}); unzip it and point `source` to the one "
           "to use")
    raise SourceFormatError(msg)


def extract_archive(path: str | Path, dest: str | Path, *, limits: Limits | None = None) -> Path:
    """Extract a ZIP archive holding one vector dataset into ``dest``, refusing hostile archives.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.zip`` file: a zipped shapefile (with its siblings), GeoJSON, GeoPackage, GeoParquet…
    dest : str or pathlib.Path
        Folder to extract into (created if needed); existing files in it are never overwritten.
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Returns
    -------
    pathlib.Path
        The dataset inside ``dest``: the only file with one of :data:`VECTOR_SUFFIXES` (outside
        hidden and ``__MACOSX`` folders); for a shapefile, its ``.shp``.

    Raises
    ------
    MissingSourceError
        If ``path`` does not exist.
    SourceFormatError
        If the archive is unreadable, or any member has an absolute name, a ``..`` component, is a
        symbolic link or encrypted, or appears twice; if it has too many members, would expand
        beyond the size limit or more than the compression-ratio limit (by its declared sizes, or
        by the bytes actually produced, which catches forged headers); if it holds no dataset or
        several. When a member is refused or fails to extract, the files extracted so far are
        removed again.

    Notes
    -----
    All checks on names and declared sizes are made before anything is written; while extracting,
    the bytes produced are counted, so a header that understates a member's size cannot make the
    archive expand beyond the limits.
    """
    limits = limits or Limits()
    path = check_file(path, kind="archive", limits=limits)
    try:
        archive = zipfile.ZipFile(path)
    except Exception as exc:  # whatever the header holds: BadZipFile, NotImplementedError (version)…
        msg = (f"{path} is not a readable ZIP archive ({_detail(exc)}); it may be truncated: "
               "download it again, or test it with `unzip -t FILE`")
        raise SourceFormatError(msg) from exc
    written: list[Path] = []
    with archive:
        infos = archive.infolist()
        _check_members(path, infos, limits)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        budget = limits.max_archive_bytes
        try:
            for info in infos:
                parts = _member_parts(info.filename)
                target = root.joinpath(*parts) if parts else root
                if not target.resolve().is_relative_to(root):  # a folder in dest may be a link
                    msg = f"{path}: member {info.filename!r} would be written outside {dest}; refused"
                    raise SourceFormatError(msg)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("xb") as out:
                    written.append(target)  # created by us: removed again if extraction fails
                    budget -= _copy_member(src, out, info, budget=budget, path=path)
        except FileExistsError as exc:
            msg = (f"{path}: member {info.filename!r} is there twice or would overwrite an existing "
                   f"file in {dest}; refused")
            _remove(written)
            raise SourceFormatError(msg) from exc
        except GeoEngineError:
            _remove(written)
            raise
        except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError…
            _remove(written)
            msg = (f"{path}: member {info.filename!r} cannot be extracted ({_detail(exc)}); the "
                   "archive is corrupt or truncated, or uses an unsupported compression: test it "
                   "with `unzip -t FILE`, then zip the dataset again with standard (deflate) "
                   "compression")
            raise SourceFormatError(msg) from exc
    return _find_dataset(path, written, root)


def _remove(files: list[Path]) -> None:
    for f in files:
        f.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# vector files
# --------------------------------------------------------------------------------------------


def _read_vector(path: Path, name: str) -> gpd.GeoDataFrame:
    """Read a vector file whose content fits its name, as 2D geometries, empty ones missing.

    Any failure of the underlying library becomes a SourceFormatError.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        msg = (f"{name} has no geometry column: a CSV is read as a table; use it in a `table` layer "
               "(values by admin code) or a `points` layer (latitude/longitude columns)")
        raise SourceFormatError(msg)
    check_content(path, "vector", name)
    try:
        if suffix == ".parquet":
            frame = gpd.read_parquet(path)
        else:
            layer = _only_layer(path, name) if suffix == ".gpkg" else None
            with warnings.catch_warnings():  # GDAL's note on XYZM coordinates: Z and M are dropped
                warnings.filterwarnings("ignore", "OGRGeoJSONReadRaw.*too many members",
                                        RuntimeWarning)
                frame = gpd.read_file(path.resolve(), engine="pyogrio", layer=layer, force_2d=True)
    except GeoEngineError:
        raise
    except Exception as exc:
        inspect = "" if suffix == ".parquet" else "inspect it with `ogrinfo -so FILE`, and "
        msg = (f"{name} cannot be read as a vector dataset: {_detail(exc)}. The file may be "
               f"truncated or corrupt: {inspect}download or export it again")
        raise SourceFormatError(msg) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
        msg = (f"{name} has no geometry column; a table without geometry goes in a `table` layer, "
               "or add geometry (e.g. `ogr2ogr -oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat`)")
        raise SourceFormatError(msg)
    return _flat(frame)


def _only_layer(path: Path, name: str) -> str | None:
    """Return the one layer with geometry of a multi-layer file; refuse a file with several."""
    import pyogrio

    layers = pyogrio.list_layers(path.resolve())
    spatial = [str(n) for n, geometry in layers if geometry is not None]
    if len(spatial) > 1:
        listing = ", ".join(spatial[:20]) + (", …" if len(spatial) > 20 else "")
        msg = (f"{name} holds {len(spatial)} layers ({listing}); which one? Export it to a file of "
               f"its own and point to that, e.g. `ogr2ogr out.gpkg {path.name} {spatial[0]}`")
        raise SourceFormatError(msg)
    if spatial:
        return spatial[0]
    return str(layers[0][0]) if len(layers) else None


def _flat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop Z and M coordinates (and the height axis of a 3D CRS); make empty geometries missing."""
    geoms = frame.geometry.to_numpy()
    deep = shapely.get_coordinate_dimension(geoms) > 2
    empty = shapely.is_empty(geoms)
    if deep.any() or empty.any():
        geoms = shapely.force_2d(geoms)
        geoms[empty] = None
        frame = _replace_geometry(frame, geoms)
    crs = frame.crs
    if crs is not None and len(crs.axis_info) > 2:
        frame = frame.set_crs(crs.to_2d(), allow_override=True)
    return frame


def drop_missing_geometries(frame: gpd.GeoDataFrame, *, source: str) -> gpd.GeoDataFrame:
    """Return the features that have a geometry, warning with the count of those left out.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Features, as :func:`read_vector_file` returns them (empty geometries are missing).
    source : str
        What the features are (a file name), for the message.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows whose geometry is neither missing nor empty (``frame`` itself when all are).

    Warns
    -----
    GeoEngineWarning
        When features were left out, with their number.
    """
    missing = frame.geometry.isna().to_numpy() | frame.geometry.is_empty.to_numpy()
    if not missing.any():
        return frame
    warnings.warn(f"{source}: {int(missing.sum())} of {len(frame)} features have no geometry (null or "
                  "empty) and were left out; drop or fix them in the file to silence this",
                  GeoEngineWarning, stacklevel=2)
    return frame[~missing]


def _sequences(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the lines and polygon rings of ``geoms`` with the index of the geometry owning each."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    kind = shapely.get_type_id(parts)
    polys = kind == 3
    rings, ring_owner = shapely.get_rings(parts[polys], return_index=True)
    lines = (kind == 1) | (kind == 2)
    return (np.concatenate([parts[lines], rings]),
            np.concatenate([owner[lines], owner[polys][ring_owner]]))


def _crosses_antimeridian(geoms: np.ndarray) -> np.ndarray:
    """Whether each geometry has a segment jumping more than 180° in longitude (not along ±180°)."""
    out = np.zeros(len(geoms), dtype=bool)
    if not len(geoms):
        return out
    bounds = shapely.bounds(geoms)
    wide = np.flatnonzero((bounds[:, 2] - bounds[:, 0] > 180)
                          & np.isin(shapely.get_type_id(geoms), [1, 2, 3, 5, 6]))
    if not len(wide):
        return out
    seqs, owner = _sequences(geoms[wide])
    coords, seq = shapely.get_coordinates(seqs, return_index=True)
    x0, x1 = coords[:-1, 0], coords[1:, 0]
    on_meridian = (np.abs(x0) == 180) & (np.abs(x1) == 180)
    jump = (seq[1:] == seq[:-1]) & (np.abs(x1 - x0) > 180) & ~on_meridian
    out[wide[np.unique(owner[seq[1:][jump]])]] = True
    return out


def _shift_east(xy: np.ndarray) -> np.ndarray:
    return np.column_stack([np.where(xy[:, 0] < 0, xy[:, 0] + 360.0, xy[:, 0]), xy[:, 1]])


def _split_antimeridian(geom: Any, name: str, row: object) -> Any:
    """Split a line or polygon crossing ±180° into its parts west and east of it (multi-part)."""
    shifted = shapely.transform(geom, _shift_east)
    if _crosses_antimeridian(np.array([shifted]))[0]:
        msg = (f"{name}: feature {row} crosses the antimeridian (±180°) and spans more than half the "
               "globe, so it cannot be split automatically; split it at ±180° first (e.g. "
               "`ogr2ogr -wrapdateline out.gpkg FILE`)")
        raise SourceFormatError(msg)
    try:
        west = shapely.intersection(shifted, shapely.box(0.0, -91.0, 180.0, 91.0))
        east = shapely.intersection(shifted, shapely.box(180.0, -91.0, 360.0, 91.0))
    except shapely.errors.GEOSException as exc:
        msg = (f"{name}: feature {row} crosses the antimeridian (±180°) and cannot be split there "
               f"({exc}); repair it and split it at ±180° first (e.g. `ogr2ogr -makevalid "
               "-wrapdateline out.gpkg FILE`)")
        raise SourceFormatError(msg) from exc
    east = shapely.transform(east, lambda xy: xy - np.array([360.0, 0.0]))
    dim = shapely.get_dimensions(geom)
    parts = [p for p in (*shapely.get_parts(west), *shapely.get_parts(east))
             if shapely.get_dimensions(p) == dim and not p.is_empty]
    return shapely.MultiPolygon(parts) if dim == 2 else shapely.MultiLineString(parts)


def _replace_geometry(frame: gpd.GeoDataFrame, geoms: np.ndarray) -> gpd.GeoDataFrame:
    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
    return out


def _check_vertices(geoms: np.ndarray, frame: gpd.GeoDataFrame, name: str, limits: Limits) -> None:
    counts = shapely.get_num_coordinates(geoms)
    if len(counts) and counts.max() > limits.max_feature_vertices:
        i = int(counts.argmax())
        msg = (f"{name}: feature {frame.index[i]!r} has {int(counts[i]):,} vertices, above the limit "
               f"of {limits.max_feature_vertices:,} per feature; simplify it first (e.g. "
               "`ogr2ogr -simplify 0.0001 out.gpkg FILE`, a tolerance in the data's units) or raise "
               "geo_engine.settings.max_feature_vertices")
        raise SourceFormatError(msg)
    total = int(counts.sum())
    if total > limits.max_vertices:
        msg = (f"{name} has {total:,} vertices in all, above the limit of {limits.max_vertices:,}; "
               "clip it to the region or simplify it first (`ogr2ogr -clipsrc W S E N -simplify "
               "TOLERANCE out.gpkg FILE`), or raise geo_engine.settings.max_vertices")
        raise SourceFormatError(msg)


def _in_degrees(bounds: np.ndarray) -> bool:
    west, south, east, north = bounds
    tol = _DEGREE_TOLERANCE
    return bool(west >= -180 - tol and east <= 180 + tol and south >= -90 - tol and north <= 90 + tol)


def _wrap_east(geom: Any) -> Any:
    """Bring a geometry with longitudes in 180–360 back to -180–180, splitting it at 180°."""
    if geom is None or geom.is_empty or shapely.bounds(geom)[2] <= 180:
        return geom
    west = shapely.clip_by_rect(geom, -180, -90, 180, 90)
    east = shapely.affinity.translate(shapely.clip_by_rect(geom, 180, -90, 360, 90), xoff=-360)
    parts = [p for p in (west, east) if not p.is_empty]
    if len(parts) == 1:
        return parts[0]
    return shapely.union(parts[0], parts[1]) if geom.geom_type != "Point" else parts[0]


def _check_coordinates(frame: gpd.GeoDataFrame, geoms: np.ndarray, name: str) -> gpd.GeoDataFrame:
    """Check coordinates against the CRS; swap x/y when they are plainly (latitude, longitude)."""
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not present.any():
        return frame
    bounds = shapely.bounds(geoms[present])
    bad = ~np.isfinite(bounds).all(axis=1)
    if bad.any():
        rows = frame.index[np.flatnonzero(present)[bad]][:5].tolist()
        msg = (f"{name}: {int(bad.sum())} feature(s) have coordinates that are not finite numbers "
               f"(NaN or infinity), e.g. rows {rows}; fix or drop them in the file")
        raise SourceFormatError(msg)
    total = np.array([bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()])
    extent = (f"x {total[0]:.6g} to {total[2]:.6g}, y {total[1]:.6g} to {total[3]:.6g}")
    crs = frame.crs
    if crs.is_geographic and not _in_degrees(total):
        if _in_degrees(total[[1, 0, 3, 2]]):
            warnings.warn(
                f"latitude and longitude look swapped in {name} ({extent}: y goes beyond ±90°); "
                "read them as x = longitude, y = latitude. Swap the coordinate columns in the file "
                "to silence this warning", GeoEngineWarning, stacklevel=3)
            return _replace_geometry(frame, shapely.transform(geoms, lambda xy: xy[:, ::-1]))
        if total[0] >= -180 and total[2] <= 360 and total[1] >= -90 and total[3] <= 90:
            warnings.warn(
                f"longitudes of {name} run beyond 180° ({extent}): read as 0–360° and brought to "
                "-180–180 (features across 180° split in two). To silence this, convert the file "
                "(e.g. `ogr2ogr -wrapdateline out.gpkg FILE`)", GeoEngineWarning, stacklevel=3)
            return _replace_geometry(frame, np.array([_wrap_east(g) for g in geoms], dtype=object))
        msg = (f"{name}: coordinates span {extent}, outside longitude -180 to 180 and latitude -90 to "
               f"90, although the declared CRS ({crs.name}) is in degrees: they are probably "
               "projected (metres) and the CRS wrong. Assign the right one, e.g. "
               "`ogr2ogr -a_srs EPSG:32718 out.gpkg FILE` for UTM zone 18S (if longitudes run from "
               "0 to 360, shift them to -180 to 180 instead)")
        raise SourceFormatError(msg)
    if crs.is_projected and _in_degrees(total):
        msg = (f"{name}: coordinates span {extent}, which look like degrees, but the declared CRS "
               f"({crs.name}) is projected (metres); if they are longitude/latitude, assign "
               "EPSG:4326 (e.g. `ogr2ogr -a_srs EPSG:4326 out.gpkg FILE`)")
        raise SourceFormatError(msg)
    return frame


def _fix_antimeridian(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    geoms = frame.geometry.to_numpy()
    crossing = np.flatnonzero(_crosses_antimeridian(geoms))
    if not len(crossing):
        return frame
    fixed = geoms.copy()
    for i in crossing:
        fixed[i] = _split_antimeridian(geoms[i], name, frame.index[i])
    warnings.warn(f"{len(crossing)} feature(s) of {name} cross the antimeridian (±180°) and were split "
                  "into parts on either side; to silence this, split them in the file (e.g. "
                  "`ogr2ogr -wrapdateline out.gpkg FILE`)", GeoEngineWarning, stacklevel=3)
    return _replace_geometry(frame, fixed)


def read_vector_file(path: str | Path, *, limits: Limits | None = None) -> gpd.GeoDataFrame:
    """Read a user-supplied vector file, checking its size, content, CRS and geometries.

    Parameters
    ----------
    path : str or pathlib.Path
        GeoPackage (``.gpkg``), GeoJSON (``.geojson``, ``.json``), shapefile (``.shp``),
        FlatGeobuf (``.fgb``), GeoParquet (``.parquet``), or a ZIP archive holding one of them
        (``.zip``, see :func:`extract_archive`).
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Returns
    -------
    geopandas.GeoDataFrame
        The features in their own CRS, in two dimensions (Z and M coordinates are dropped, and so
        is the height axis of a 3D CRS); empty geometries (an empty GeometryCollection…) are
        missing; geometries repaired as the warnings say.

    Raises
    ------
    MissingSourceError
        If the file does not exist.
    SourceFormatError
        If the file (or archive) fails :func:`check_file` or :func:`extract_archive`; is of
        another type, or its content is not what its name says, or is a recipe GDAL would follow
        (a VRT, a GDALG file, a GeoJSON whose CRS is a link: see
        :func:`geo_engine.io.content.check_content`); holds several layers with geometry (a
        GeoPackage); cannot be read (corrupt, truncated); has no geometry column or no CRS; has
        non-finite coordinates; has coordinates outside ±180°/±90° in a geographic CRS (a wrong
        CRS) or within them in a projected CRS (degrees declared as metres); or has more vertices
        than the limits.

    Warns
    -----
    GeoEngineWarning
        If latitude and longitude are swapped (a geographic CRS, y beyond ±90° but every value within
        ±90° as x): they are exchanged. If lines or polygons cross the antimeridian (a segment
        jumping more than 180° in longitude, in a geographic CRS): each is split into a multi-part
        geometry with parts on either side of ±180°.
    """
    limits = limits or Limits()
    path = Path(path)
    if path.suffix.lower() != ".zip":
        _check_file(path, "vector", limits, str(path))
        frame = _read_vector(path, str(path))
        name = str(path)
    else:
        with tempfile.TemporaryDirectory(prefix="geo-engine-") as tmp:
            inner = extract_archive(path, tmp, limits=limits)
            name = f"{path} (member {inner.relative_to(Path(tmp).resolve()).as_posix()})"
            _check_file(inner, "vector", limits, name)
            frame = _read_vector(inner, name)
    if frame.crs is None:
        hint = " (a shapefile keeps it in its .prj file)" if path.suffix.lower() in (".shp", ".zip") else ""
        msg = f"{path}: no CRS; set one (e.g. `ogr2ogr -a_srs EPSG:4326`) before using it{hint}"
        raise SourceFormatError(msg)
    geoms = frame.geometry.to_numpy()
    _check_vertices(geoms, frame, name, limits)
    frame = _check_coordinates(frame, geoms, name)
    if frame.crs.is_geographic:
        frame = _fix_antimeridian(frame, name)
    return frame


def looks_swapped(lon: np.ndarray, lat: np.ndarray, *, bounds: tuple[float, float, float, float]
                  ) -> tuple[bool, float, float]:
    r"""Whether points fall in a region only once their longitude and latitude are exchanged.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Point coordinates as given (x taken as longitude, y as latitude), in degrees.
    bounds : tuple of float
        The region's extent ``(west, south, east, north)`` in degrees.

    Returns
    -------
    tuple
        ``(swapped, as_given, exchanged)``: the verdict and the shares of the (finite) points
        inside ``bounds`` as given and once exchanged.

    Notes
    -----
    With :math:`s_{xy}` the share as given and :math:`s_{yx}` the share once exchanged, the
    points look swapped when :math:`s_{yx} \ge 0.5 > s_{xy}`: most points are in the region only
    when exchanged. A region symmetric about the diagonal (where both shares are high) never is.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return False, 0.0, 0.0
    x, y = x[ok], y[ok]
    west, south, east, north = bounds

    def share(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((a >= west) & (a <= east) & (b >= south) & (b <= north)))

    as_given, exchanged = share(x, y), share(y, x)
    return exchanged >= 0.5 > as_given, as_given, exchanged


def check_lonlat(lon: np.ndarray, lat: np.ndarray, *, bounds: tuple[float, float, float, float],
                 source: str) -> bool:
    """Warn when points fall in a region only once their longitude and latitude are exchanged.

    Parameters
    ----------
    lon, lat, bounds
        As in :func:`looks_swapped`.
    source : str
        What the points are (a file name), for the message.

    Returns
    -------
    bool
        True (after a :class:`~geo_engine._errors.GeoEngineWarning`) when the coordinates look
        swapped; the points are not changed.
    """
    swapped, as_given, exchanged = looks_swapped(lon, lat, bounds=bounds)
    if swapped:
        warnings.warn(f"latitude and longitude look swapped in {source}: {exchanged:.0%} of the points "
                      f"fall in the region once exchanged, {as_given:.0%} as given; swap them (x must "
                      "be the longitude, y the latitude)", GeoEngineWarning, stacklevel=3)
    return swapped


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _check_text(path: Path, sample: bytes) -> None:
    for magic, what in _MAGIC.items():
        if sample.startswith(magic):
            msg = f"{path} is not a CSV text file but {what}"
            raise SourceFormatError(msg)
    if b"\x00" in sample and not sample.startswith(_UTF16_BOMS):
        msg = (f"{path} is not a CSV text file (it holds binary data: NUL bytes near the start); "
               "export the table as CSV UTF-8")
        raise SourceFormatError(msg)


def _encoding(path: Path, sample: bytes) -> str:
    """Return the encoding to read a CSV with; warn when it is not UTF-8."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(_UTF16_BOMS):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8"
    encoding = "cp1252" if _decodes(path, "cp1252") else "latin-1"
    warnings.warn(f"{path} is not UTF-8; read it as {encoding} (Windows Western European). Check that "
                  "accented names (ñ, é) look right, and save it as CSV UTF-8 to silence this "
                  "warning", GeoEngineWarning, stacklevel=3)
    return encoding


def _delimiter(sample: bytes, encoding: str) -> str:
    """Return ``;`` or a tab when the header line has no comma but one of those, else a comma."""
    header = sample.decode(encoding, errors="replace").lstrip("\ufeff").partition("\n")[0]
    if "," not in header:
        for sep in (";", "\t"):
            if sep in header:
                return sep
    return ","


def read_csv_file(path: str | Path, *, limits: Limits | None = None) -> pd.DataFrame:
    """Read a user-supplied CSV with every column as text, whatever its encoding and delimiter.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Returns
    -------
    pandas.DataFrame
        Every column as text (codes keep their leading zeros), empty cells NaN.

    Raises
    ------
    MissingSourceError
        If the file does not exist.
    SourceFormatError
        If it fails :func:`check_file`, is binary (a spreadsheet, a PDF, a Parquet file…), or is not
        well-formed (a line with more fields than the header, a quote left open); the message names
        the line.

    Warns
    -----
    GeoEngineWarning
        If the file is not UTF-8: it is read as Windows-1252 (the usual encoding of spreadsheets
        saved on Windows in Spanish or Portuguese), or as Latin-1 when it is not valid Windows-1252.

    Notes
    -----
    A UTF-8 byte-order mark is dropped; UTF-16 with a byte-order mark is read as such. When the
    header line holds no comma but semicolons (or tabs), as spreadsheets write in locales with a
    decimal comma, that is the delimiter.
    """
    limits = limits or Limits()
    path = Path(path)
    _check_file(path, "table", limits, str(path))
    with path.open("rb") as f:
        sample = f.read(_SAMPLE)
    _check_text(path, sample)
    encoding = _encoding(path, sample)
    sep = _delimiter(sample, encoding)
    try:
        return pd.read_csv(path, dtype=str, encoding=encoding, sep=sep)
    except pd.errors.EmptyDataError as exc:
        msg = f"{path} holds no table (no header line); export the table again as CSV UTF-8"
        raise SourceFormatError(msg) from exc
    except Exception as exc:
        msg = (f"{path} is not a well-formed CSV: {_detail(exc)}. Check that line for an extra "
               "delimiter, an unclosed quote or a truncated end of file, and save it again as CSV UTF-8")
        raise SourceFormatError(msg) from exc


def read_table_file(path: str | Path, *, limits: Limits | None = None) -> pd.DataFrame:
    """Read a user-supplied table: Parquet as stored, anything else with :func:`read_csv_file`.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.parquet`` file or a CSV.
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Returns
    -------
    pandas.DataFrame
        The table.

    Raises
    ------
    MissingSourceError
        If the file does not exist.
    SourceFormatError
        If it fails :func:`check_file` or cannot be read (corrupt or truncated Parquet, bad CSV).
    """
    limits = limits or Limits()
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        return read_csv_file(path, limits=limits)
    _check_file(path, "table", limits, str(path))
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        msg = (f"{path} cannot be read as a Parquet table: {_detail(exc)}. The file may be truncated "
               "or corrupt: write or download it again")
        raise SourceFormatError(msg) from exc


# --------------------------------------------------------------------------------------------
# rasters
# --------------------------------------------------------------------------------------------


def open_raster(path: str | Path, *, limits: Limits | None = None) -> Any:
    """Open a user-supplied GeoTIFF with GDAL's GTiff driver only, after checking it; the caller closes it.

    Parameters
    ----------
    path : str or pathlib.Path
        A GeoTIFF (``.tif`` or ``.tiff``; a Cloud-Optimised GeoTIFF is one).
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Returns
    -------
    rasterio.io.DatasetReader
        The open raster.

    Raises
    ------
    MissingSourceError
        If the file does not exist.
    SourceFormatError
        If it fails :func:`check_file`; is not a GeoTIFF by its name or its content (a VRT named
        ``.tif`` is refused before GDAL sees it, see :func:`geo_engine.io.content.check_content`);
        cannot be opened; has no band, no CRS, or more pixels than the limit; or its first or last
        pixel of a band cannot be read (a truncated file usually opens, since its header is whole,
        and fails there).
    """
    import rasterio

    limits = limits or Limits()
    path = Path(path)
    _check_file(path, "raster", limits, str(path))
    check_content(path, "raster", str(path))
    try:
        src = rasterio.open(path.resolve(), driver="GTiff")
    except Exception as exc:
        msg = (f"{path} is not a raster GDAL can read: {_detail(exc)}; it may be truncated or "
               "corrupt: inspect it with `gdalinfo FILE`")
        raise SourceFormatError(msg) from exc
    try:
        _check_dataset(src, path, limits)
    except BaseException:
        src.close()
        raise
    return src


def check_raster(path: str | Path, *, limits: Limits | None = None) -> None:
    """Check that a user-supplied raster opens, has a CRS, sane dimensions and readable pixels.

    Parameters
    ----------
    path : str or pathlib.Path
        A GeoTIFF.
    limits : Limits, optional
        Defaults to the limits in :mod:`geo_engine.settings`.

    Raises
    ------
    MissingSourceError, SourceFormatError
        As :func:`open_raster`.
    """
    open_raster(path, limits=limits).close()


def _check_dataset(src: Any, path: Path, limits: Limits) -> None:
    from rasterio.windows import Window

    pixels = int(src.width) * int(src.height)
    if pixels > limits.max_raster_pixels:
        msg = (f"raster {path} is {src.width:,} × {src.height:,} pixels, above the limit of "
               f"{limits.max_raster_pixels:,}; clip it to the region first (e.g. "
               "`gdal_translate -projwin W N E S FILE out.tif`) or raise "
               "geo_engine.settings.max_raster_pixels")
        raise SourceFormatError(msg)
    if src.count == 0 or pixels == 0:
        msg = f"raster {path} has no pixels or no band; export it again"
        raise SourceFormatError(msg)
    if src.crs is None:
        msg = (f"raster {path} has no CRS; assign the right one, e.g. "
               f"`rio edit-info --crs EPSG:4326 {path}` or `gdal_edit.py -a_srs EPSG:4326 {path}`")
        raise SourceFormatError(msg)
    try:
        for band in range(1, src.count + 1):
            src.read(band, window=Window(0, 0, 1, 1))
            src.read(band, window=Window(src.width - 1, src.height - 1, 1, 1))
    except Exception as exc:
        msg = (f"raster {path}: its pixels cannot be read ({_detail(exc)}); the file is probably "
               "truncated or corrupt: download or export it again (`gdalinfo -checksum FILE` "
               "shows the damage)")
        raise SourceFormatError(msg) from exc

def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Read a vector file (GeoParquet, GeoPackage, GeoJSON, shapefile, a ZIP of one…); refuse one without CRS.

    The checks of :func:`geo_engine.io.safe_read.read_vector_file` apply (size, archive, CRS, geometries).
    """
    if not path.is_file():
        msg = f"{path}: layer source not found; check `source` in the layer spec"
        raise MissingSourceError(msg)
    return read_vector_file(path)
