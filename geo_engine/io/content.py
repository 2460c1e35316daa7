"""Recognise a user's file by its first bytes, so that GDAL opens only what the file's name says it is.

GDAL picks the driver for a file by its content, not by its name: a file named ``.tif`` or
``.geojson`` that is really a VRT makes GDAL read the files or URLs the VRT names, a GDALG file
makes it run a command, and a GeoJSON whose ``crs`` is a link makes it fetch that link. Before
:mod:`geo_engine.io.safe_read` hands a file to GDAL, :func:`check_content` compares the file's first
bytes with the signature of the format its suffix names and refuses any mismatch, and any file
that names other data; :func:`check_local` refuses URLs and GDAL's virtual paths.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any, Literal

from geo_engine._errors import SourceFormatError

__all__ = [
    "RASTER_SUFFIXES",
    "VECTOR_READ_SUFFIXES",
    "check_content",
    "check_local",
]

Kind = Literal["vector", "raster"]

RASTER_SUFFIXES = (".tif", ".tiff")
"""Rasters are GeoTIFF (a Cloud-Optimised GeoTIFF is one), opened with GDAL's GTiff driver only."""

VECTOR_READ_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet")
"""Vector files read: GeoPackage, GeoJSON, shapefile and FlatGeobuf by GDAL, GeoParquet by pyarrow."""

_HEAD = 2**16
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, either byte order
_SIGNATURES: tuple[tuple[tuple[bytes, ...], str, str], ...] = (
    (_TIFF, "a TIFF raster", ".tif"),
    ((b"SQLite format 3\x00",), "an SQLite database (GeoPackage)", ".gpkg"),
    ((b"\x00\x00\x27\x0a",), "a shapefile", ".shp"),
    ((b"fgb",), "a FlatGeobuf file", ".fgb"),
    ((b"PAR1",), "a Parquet file", ".parquet"),
    ((b"PK\x03\x04", b"PK\x05\x06"), "a ZIP archive", ".zip"),
    ((b"%PDF",), "a PDF document", ""),
    ((b"\xd0\xcf\x11\xe0",), "an old Office (Excel .xls) file", ""),
)
_EXPECTED = {".tif": "a GeoTIFF", ".tiff": "a GeoTIFF", ".gpkg": "a GeoPackage", ".shp": "a shapefile",
             ".fgb": "a FlatGeobuf file", ".parquet": "a Parquet file", ".geojson": "GeoJSON",
             ".json": "GeoJSON"}
_RECIPES = (
    (b"<VRTDataset", "a GDAL VRT (XML telling GDAL which files or URLs to read)"),
    (b"<OGRVRTDataSource", "an OGR VRT (XML telling GDAL which files or URLs to read)"),
    (b"gdal_streamed_alg", "a GDALG file (a command for GDAL to run)"),
)
_REMOTE = re.compile(r"^(?:/vsi|[A-Za-z][A-Za-z0-9+.-]+:/)|/vsicurl|://")
_WS = b" \t\r\n"


def _json_name(word: str) -> re.Pattern[bytes]:
    r"""Return a pattern for the start of a JSON string that GDAL takes as the member name ``word``.

    GDAL compares names in any case and as C strings, which end at a NUL: ``"CRS"``,
    ``"\u0063rs"`` and ``"crs\u0000anything"`` are all ``crs``. The pattern ends after the
    letters, before the closing quote or a NUL, so that a match is short however long the string.
    (GDAL's GeoJSON reader refuses single quotes and comments, which JSON does not have.)
    """
    letters = "".join(rf"(?:{c}|\\u00(?:{ord(c.lower()):02x}|{ord(c.upper()):02x}))" for c in word)
    return re.compile(rf'"{letters}(?="|\\u0000|\x00)'.encode(), re.IGNORECASE)


_CRS_NAME = _json_name("crs")
_STRING_END = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)


def check_local(path: Path, name: str) -> None:
    """Refuse a URL or a GDAL virtual path (``/vsicurl/…``, ``/vsizip/…``): only local files are read.

    Raises
    ------
    SourceFormatError
        If ``path`` starts with ``/vsi`` or a URL scheme, or holds ``/vsicurl`` or ``://``.
    """
    if _REMOTE.search(str(path)):
        msg = (f"{name}: a URL or a GDAL virtual path (/vsi…); only local files are read: download "
               "the file and point to the copy")
        raise SourceFormatError(msg)


def _recipe(head: bytes) -> str | None:
    """Return what a file is when its first bytes are a recipe GDAL would follow, else None."""
    for marker, what in _RECIPES:
        if marker in head:
            return what
    return None


def _mismatch(head: bytes, suffix: str, kind: Kind, name: str, convert: str) -> str:
    """Return the message for a file whose first bytes are not those of its suffix's format."""
    expected = _EXPECTED[suffix]
    text = head.removeprefix(codecs.BOM_UTF8).lstrip(_WS)
    if text.startswith(b"<"):
        return (f"{name} is named {suffix} but is an XML document (KML, GML or another XML format), "
                f"not {expected}; XML formats are not read: convert it ({convert})")
    found = [(what, right) for sigs, what, right in _SIGNATURES if head.startswith(sigs)]
    if text.startswith(b"{"):
        found.append(("JSON text", ".geojson"))
    if found:
        what, right = found[0]
        fix = f"rename it to {right}" if right else f"export the data as {expected}"
        return f"{name} is named {suffix} but is {what}, not {expected}; {fix}"
    if kind == "raster":
        return (f"{name} is not a raster GDAL can read: its content is not a GeoTIFF; it may be "
                "truncated or corrupt: inspect it with `gdalinfo FILE`, and download or export it "
                "again")
    return (f"{name} cannot be read as a vector dataset: its content is not {expected}; it may be "
            "truncated or corrupt: download or export it again")


def _fits(head: bytes, suffix: str) -> bool:
    if suffix in (".geojson", ".json"):
        return head.removeprefix(codecs.BOM_UTF8).lstrip(_WS).startswith(b"{")
    suffix = ".tif" if suffix == ".tiff" else suffix
    return any(head.startswith(sigs) for sigs, _, right in _SIGNATURES if right == suffix)


def check_content(path: Path, kind: Kind, name: str) -> None:
    r"""Refuse a file whose suffix is not read, whose content is another format, or that names other data.

    Parameters
    ----------
    path : pathlib.Path
        An existing regular file.
    kind : {"vector", "raster"}
        What the file must hold: a raster must be a GeoTIFF; a vector file one of
        :data:`VECTOR_READ_SUFFIXES`.
    name : str
        The file as the user knows it, for the messages.

    Raises
    ------
    SourceFormatError
        If the suffix is not one of the kind's; if the first 64 KiB hold a VRT, an OGR VRT or a
        GDALG recipe; if the first bytes do not carry the signature of the format the suffix names
        (GeoTIFF ``II*\0``/``MM\0*`` or BigTIFF, SQLite for a GeoPackage, ``0x0000270a`` for a
        shapefile, ``fgb`` for FlatGeobuf, ``PAR1`` for Parquet, ``{`` for GeoJSON); or (GeoJSON)
        if a ``crs`` member is a link GDAL would fetch.
    """
    suffix = path.suffix.lower()
    allowed = RASTER_SUFFIXES if kind == "raster" else VECTOR_READ_SUFFIXES
    convert = (f"`gdal_translate {path.name} out.tif` writes a GeoTIFF" if kind == "raster"
               else f"`ogr2ogr out.gpkg {path.name}` writes a GeoPackage")
    if suffix not in allowed:
        formats = ("GeoTIFF (.tif)" if kind == "raster" else "GeoPackage (.gpkg), GeoJSON (.geojson), "
                   "a shapefile (.shp, or a .zip of it), GeoParquet (.parquet) or FlatGeobuf (.fgb)")
        msg = (f"{name}: type {suffix or '(none)'} is not read; {kind} data must be {formats}: "
               f"convert it first ({convert})")
        raise SourceFormatError(msg)
    with path.open("rb") as f:
        head = f.read(_HEAD)
    recipe = _recipe(head)
    if recipe:
        msg = (f"{name} is named {suffix} but is {recipe}; refused, since GDAL would follow it: "
               f"point to the data itself (where you trust the file, {convert})")
        raise SourceFormatError(msg)
    if not _fits(head, suffix):
        raise SourceFormatError(_mismatch(head, suffix, kind, name, convert))
    if suffix in (".geojson", ".json"):
        _check_crs_members(path, name)


def _check_crs_members(path: Path, name: str) -> None:
    """Refuse a GeoJSON in which a ``crs`` member is a link or a URL, which GDAL would fetch.

    Every string equal to ``crs`` (in any case or escaping) is looked at: when a colon follows,
    it names a member, whose value (an object) is parsed; anything that cannot be checked this way
    (a comment, more than 64 KiB of value) is refused too.
    """
    tail = b""
    offset = 0
    done = -1  # where the last name checked starts: the tail may show it again
    with path.open("rb") as f, path.open("rb") as follow:
        while chunk := f.read(2**20):
            buf = tail + chunk
            start = offset - len(tail)
            offset += len(chunk)
            tail = buf[-64:]  # longer than any match, so that none is cut in two
            lower = buf.lower()
            if b"crs" not in lower and b"\\u00" not in lower:
                continue  # the usual chunk: no "crs" however written, skipped at memory speed
            for m in _CRS_NAME.finditer(buf):
                if start + m.start() > done:
                    done = start + m.start()
                    follow.seek(start + m.end())
                    _check_crs_value(follow.read(_HEAD), name, done)


def _check_crs_value(after: bytes, name: str, at: int) -> None:
    """Check what follows a string read as ``crs`` (``after``, from its letters on)."""
    unchecked = (f"{name}: the \"crs\" member at byte {at:,} cannot be checked (not plain JSON, or "
                 "too long); refused: remove it (GeoJSON is longitude/latitude in WGS 84) or write "
                 "it as {\"type\": \"name\", \"properties\": {\"name\": \"EPSG:4326\"}}")
    end = _STRING_END.match(after)
    if end is None:
        raise SourceFormatError(unchecked)
    text = after[end.end():].lstrip(_WS)
    if text[:1] in (b",", b"}", b"]"):
        return  # the string is a value, not a member name
    if text[:1] != b":":
        raise SourceFormatError(unchecked)
    value = text[1:].lstrip(_WS)
    if not value.startswith(b"{"):
        return  # GDAL reads a CRS from an object only
    try:
        pairs, _ = json.JSONDecoder(object_pairs_hook=list).raw_decode(
            value.decode("utf-8", errors="replace"))
    except ValueError:
        raise SourceFormatError(unchecked) from None
    members = {_key(k): v for k, v in pairs}
    if any(_key(k) == "type" and str(v).lower().startswith(("url", "link")) for k, v in pairs):
        props = members.get("properties")
        link = {_key(k): v for k, v in props} if isinstance(props, list) else {}
        target = str(link.get("url") or link.get("href") or "")[:80]
        msg = (f"{name}: its \"crs\" is a link ({target!r}) that GDAL would fetch from the network; "
               "refused: remove the member (GeoJSON is longitude/latitude in WGS 84) or name the "
               "CRS, e.g. \"crs\": {\"type\": \"name\", \"properties\": {\"name\": \"EPSG:4326\"}}")
        raise SourceFormatError(msg)


def _key(key: Any) -> str:
    """Return a member name as GDAL compares it: up to a NUL, in any case."""
    return str(key).partition("\x00")[0].lower()
