"""Write results to files (Parquet, CSV, GeoJSON, GeoPackage), atomically and GIS-ready."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo_engine.io.atomic import atomic_output
from geo_engine.spatial.grid import cell_polygons, h3_to_str

__all__ = [
    "CELL_FORMATS",
    "TABLE_FORMATS",
    "csv_safe",
    "export_meta",
    "to_csv_bytes",
    "write_cells",
    "write_document",
    "write_features",
    "write_geopackage",
    "write_matrix",
    "write_table",
]

_GPKG_OPTIONS = {"dataset_options": {"VERSION": "1.2"}}
"""GeoPackage 1.2: opens without warnings in the GDAL/QGIS versions planners have installed."""

CELL_FORMATS = (".geojson", ".gpkg", ".parquet", ".csv")
"""File types :func:`write_cells` writes, chosen by the file name's extension."""

TABLE_FORMATS = (".parquet", ".csv")
"""File types :func:`write_table` and :func:`write_matrix` write."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP CSV injection)."""


def write_matrix(matrix: pd.DataFrame, path: str | Path, *, force: bool = True) -> Path:
    """Write an indicator matrix with the H3 id as text, atomically.

    Parameters
    ----------
    matrix : pandas.DataFrame
        From :func:`geo_engine.matrix.indicators.build_indicators` (``h3`` as uint64).
    path : str or pathlib.Path
        ``.parquet`` (zstd) or ``.csv``, written as by :func:`write_table`.
    force : bool, default True
        Replace an existing file, as in :func:`write_table`.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    out = matrix.copy()
    out["h3"] = h3_to_str(out["h3"])
    return write_table(out, path, force=force)


def write_table(table: pd.DataFrame, path: str | Path, *, force: bool = True) -> Path:
    """Write a table without geometry (rankings, sensitivity, travel times), atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        Written without its index.
    path : str or pathlib.Path
        ``.parquet`` (zstd) or ``.csv`` (text cells made safe for spreadsheets, see
        :func:`csv_safe`). The file appears only once completely written (see
        :func:`geo_engine.io.atomic.atomic_output`).
    force : bool, default True
        Replace an existing file; without it an existing file raises :class:`OutputExistsError`.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For another file type.
    OutputError
        When the file cannot be written (folder, permission, full disk, name too long).
    """
    path = Path(path)
    if path.suffix.lower() not in TABLE_FORMATS:
        msg = f"cannot write {path.name}: use a .parquet or .csv file name"
        raise ValueError(msg)
    with atomic_output(path, force=force) as tmp:
        if path.suffix.lower() == ".parquet":
            table.to_parquet(tmp, compression="zstd", index=False)
        else:
            _to_csv(table, tmp)
    return path


def write_document(content: str | bytes, path: str | Path, *, force: bool = True) -> Path:
    """Write a finished document (an HTML page as UTF-8 text, a PDF as bytes) atomically.

    ``force`` replaces an existing file, as in :func:`write_table`; returns the path written.
    """
    path = Path(path)
    with atomic_output(path, force=force) as tmp:
        tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a table whose text cells a spreadsheet will not run as formulas.

    Parameters
    ----------
    table : pandas.DataFrame
        Any table about to be written as CSV.

    Returns
    -------
    pandas.DataFrame
        The same table, where every text cell and column name that starts with ``=``, ``+``,
        ``-``, ``@``, a tab or a carriage return is prefixed with a single quote ``'``, the rule of
        the OWASP "CSV injection" guidance. Numbers, negative ones included, stay numbers.

    Examples
    --------
    >>> csv_safe(pd.DataFrame({"name": ["=1+1", "Lima"], "x": [-1.5, 2.0]})).to_dict("list")
    {'name': ["'=1+1", 'Lima'], 'x': [-1.5, 2.0]}
    """
    out = table.rename(columns=_safe_cell)
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[col] = values.cat.rename_categories(_safe_cell)
        elif values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            out[col] = values.map(_safe_cell, na_action="ignore").astype(values.dtype)
    return out


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """Return a table as UTF-8 CSV without its index, made safe by :func:`csv_safe` (downloads)."""
    buffer = io.BytesIO()
    _to_csv(table, buffer)
    return buffer.getvalue()


def _to_csv(table: pd.DataFrame, target: Path | io.BytesIO) -> None:
    """Write the CSV of :func:`csv_safe`'s copy, with RFC 4180 line ends (CR LF).

    With CR LF as the line end, a value holding a carriage return is quoted instead of
    breaking its row in two.
    """
    csv_safe(table).to_csv(target, index=False, encoding="utf-8", lineterminator="\r\n")


def _safe_cell(value: Any) -> Any:
    """Prefix ``'`` to a text value a spreadsheet would read as a formula; other values as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_cells(table: pd.DataFrame, path: str | Path, *, layer: str = "cells",
                meta: Mapping[str, Any] | None = None, force: bool = True) -> Path:
    """Write a per-cell table with hexagon geometries; the format follows the extension.

    Parameters
    ----------
    table : pandas.DataFrame
        With ``h3`` (uint64) and any columns; object columns are written as text.
    path : str or pathlib.Path
        ``.geojson`` (RFC 7946: WGS84 lon/lat, counter-clockwise exterior rings), ``.gpkg``
        (layer ``layer``), ``.parquet`` (GeoParquet) or ``.csv`` (no geometry; ``h3`` and the
        centre ``lat``/``lon``; text made safe by :func:`csv_safe`). Written to a temporary file,
        then renamed.
    layer : str, default "cells"
        GeoPackage layer name.
    meta : mapping, optional
        Written as the top-level ``meta`` member of a GeoJSON file (profile, weights, sources…;
        see :func:`export_meta`).
    force : bool, default True
        Replace an existing file, as in :func:`write_table`.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    if path.suffix.lower() not in CELL_FORMATS:
        msg = f"cannot write {path.name}: use one of {', '.join(CELL_FORMATS)}"
        raise ValueError(msg)
    out = table.copy()
    out["h3"] = h3_to_str(out["h3"])
    for col in ("lat", "lon"):  # cell centres, to the precision of the geometry
        if col in out:
            out[col] = out[col].round(6)
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].astype("string")
    if path.suffix.lower() == ".csv":
        return write_table(out, path, force=force)
    gdf = gpd.GeoDataFrame(out, geometry=cell_polygons(table["h3"]).to_numpy(), crs="EPSG:4326")
    return write_features(gdf, path, layer=layer, meta=meta, force=force)


def write_features(features: gpd.GeoDataFrame, path: str | Path, *, layer: str = "features",
                   meta: Mapping[str, Any] | None = None, force: bool = True) -> Path:
    """Write a GeoDataFrame (e.g. dissolved clusters) by extension, atomically, in EPSG:4326.

    ``.geojson`` follows RFC 7946, with ``meta`` as a top-level foreign member (the software
    and the layer name when none is given: every GeoJSON carries one);
    ``.gpkg`` holds one layer named ``layer`` (the file is replaced as a whole); ``.csv`` drops
    the geometry and keeps the attributes (made safe by :func:`csv_safe`). An existing file is
    replaced only with ``force``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CELL_FORMATS:
        msg = f"cannot write {path.name}: use one of {', '.join(CELL_FORMATS)}"
        raise ValueError(msg)
    gdf = features.to_crs(4326) if features.crs is not None else features.set_crs(4326)
    for col in gdf.columns:
        if col != gdf.geometry.name and gdf[col].dtype == object:
            gdf[col] = gdf[col].astype("string")
    if suffix == ".csv":
        return write_table(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), path, force=force)
    with atomic_output(path, force=force) as tmp:
        if suffix == ".parquet":
            gdf.to_parquet(tmp, compression="zstd", index=False)
        elif suffix == ".gpkg":
            gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", **_GPKG_OPTIONS)
        else:
            options: dict[str, Any] = {"RFC7946": "YES", "COORDINATE_PRECISION": 6}
            if not meta:
                from geo_engine import __version__

                meta = {"software": f"geo-engine {__version__}", "layer": layer}
            options["FOREIGN_MEMBERS_COLLECTION"] = json.dumps({"meta": meta}, default=str)
            gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer=path.stem,
                        layer_options=options)
    return path


def export_meta(*, profile: str, weights: Mapping[str, float], resolution: int,
                datasets: Sequence[str] = (), extra: Mapping[str, Any] | None = None,
                data_dir: Path | None = None) -> dict[str, Any]:
    """Return the provenance block written with exports: what produced the file and from what.

    Parameters
    ----------
    profile : str
        Profile id.
    weights : mapping
        Weights used (normalized).
    resolution : int
        H3 resolution.
    datasets : sequence of str
        Manifest ids of the datasets behind the profile's layers (sources and vintages listed).
    extra : mapping, optional
        Further settings (thresholds, permutations…), included in the hash.
    data_dir : pathlib.Path, optional

    Returns
    -------
    dict
        ``software``, ``profile``, ``weights``, ``resolution``, ``settings``, ``sources`` and
        ``config_hash`` (SHA-256 of everything above but the sources' titles, first 16 hex
        digits), so two files with the same hash came from the same configuration.
    """
    from geo_engine import __version__
    from geo_engine.io.manifest import dataset_entry

    sources = []
    for ds in sorted(set(datasets)):
        entry = dataset_entry(ds, data_dir=data_dir)
        sources.append({"dataset": ds, "title": entry["title"], "vintage": entry["vintage"],
                        "licence": entry["licence"], "sha256": entry["sha256"]})
    core = {"software": f"geo-engine {__version__}", "profile": profile,
            "weights": {k: round(float(v), 6) for k, v in weights.items()},
            "resolution": resolution, "settings": dict(extra or {}),
            "sources": [{"dataset": s["dataset"], "sha256": s["sha256"]} for s in sources]}
    digest = hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()
    return {**core, "sources": sources, "config_hash": digest[:16]}


def write_geopackage(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path, *,
                     force: bool = True) -> Path:
    """Write several layers (e.g. cells, clusters, districts) into one GeoPackage, atomically.

    Parameters
    ----------
    layers : mapping
        Layer name → GeoDataFrame (any CRS; written in EPSG:4326). Empty frames are skipped.
    path : str or pathlib.Path
        A ``.gpkg`` file; built in a temporary file and renamed once every layer is in.
    force : bool, default True
        Replace an existing file, as in :func:`write_table`.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        msg = f"cannot write {path.name} as a GeoPackage: use a .gpkg file name"
        raise ValueError(msg)
    filled = {name: frame for name, frame in layers.items() if len(frame)}
    if not filled:
        msg = f"cannot write {path.name}: every layer is empty"
        raise ValueError(msg)
    with atomic_output(path, force=force) as tmp:
        for name, frame in filled.items():
            gdf = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
            for col in gdf.columns:
                if col != gdf.geometry.name and gdf[col].dtype == object:
                    gdf[col] = gdf[col].astype("string")
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", **_GPKG_OPTIONS)
    return path
