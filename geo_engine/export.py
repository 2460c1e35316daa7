"""Write results to files (Parquet, CSV, GeoJSON, GeoPackage), atomically and GIS-ready."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo_engine.grid import cell_polygons, h3_to_str

__all__ = [
    "CELL_FORMATS",
    "export_meta",
    "write_cells",
    "write_features",
    "write_geopackage",
    "write_matrix",
]

_GPKG_OPTIONS = {"dataset_options": {"VERSION": "1.2"}}
"""GeoPackage 1.2: opens without warnings in the GDAL/QGIS versions planners have installed."""

CELL_FORMATS = (".geojson", ".gpkg", ".parquet", ".csv")
"""File types :func:`write_cells` writes, chosen by the file name's extension."""


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


def _atomic(path: Path, write: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # GDAL drivers want to create the file themselves
    try:
        write(tmp)  # type: ignore[operator]
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_cells(table: pd.DataFrame, path: str | Path, *, layer: str = "cells",
                meta: Mapping[str, Any] | None = None) -> Path:
    """Write a per-cell table with hexagon geometries; the format follows the extension.

    Parameters
    ----------
    table : pandas.DataFrame
        With ``h3`` (uint64) and any columns; object columns are written as text.
    path : str or pathlib.Path
        ``.geojson`` (RFC 7946: WGS84 lon/lat, counter-clockwise exterior rings), ``.gpkg``
        (layer ``layer``), ``.parquet`` (GeoParquet) or ``.csv`` (no geometry; ``h3`` and the
        centre ``lat``/``lon``). Written to a temporary file, then renamed.
    layer : str, default "cells"
        GeoPackage layer name.
    meta : mapping, optional
        Written as the top-level ``meta`` member of a GeoJSON file (profile, weights, sources…;
        see :func:`export_meta`).

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
        return _atomic(path, lambda p: out.to_csv(p, index=False))
    gdf = gpd.GeoDataFrame(out, geometry=cell_polygons(table["h3"]).to_numpy(), crs="EPSG:4326")
    return write_features(gdf, path, layer=layer, meta=meta)


def write_features(features: gpd.GeoDataFrame, path: str | Path, *, layer: str = "features",
                   meta: Mapping[str, Any] | None = None) -> Path:
    """Write a GeoDataFrame (e.g. dissolved clusters) by extension, atomically, in EPSG:4326.

    ``.geojson`` follows RFC 7946, with ``meta`` as a top-level foreign member when given;
    ``.gpkg`` holds one layer named ``layer`` (the file is replaced as a whole); ``.csv`` drops
    the geometry and keeps the attributes.
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
        return _atomic(path, lambda p: pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
                       .to_csv(p, index=False))
    if suffix == ".parquet":
        return _atomic(path, lambda p: gdf.to_parquet(p, compression="zstd", index=False))
    if suffix == ".gpkg":
        return _atomic(path, lambda p: gdf.to_file(p, layer=layer, driver="GPKG",
                                                  engine="pyogrio", **_GPKG_OPTIONS))
    options: dict[str, Any] = {"RFC7946": "YES", "COORDINATE_PRECISION": 6}
    if meta:
        options["FOREIGN_MEMBERS_COLLECTION"] = json.dumps({"meta": meta}, default=str)
    return _atomic(path, lambda p: gdf.to_file(p, driver="GeoJSON", engine="pyogrio",
                                              layer=path.stem, layer_options=options))


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
    from geo_engine.manifest import dataset_entry

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


def write_geopackage(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write several layers (e.g. cells, clusters, districts) into one GeoPackage, atomically.

    Parameters
    ----------
    layers : mapping
        Layer name → GeoDataFrame (any CRS; written in EPSG:4326). Empty frames are skipped.
    path : str or pathlib.Path
        A ``.gpkg`` file; built in a temporary file and renamed once every layer is in.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        msg = f"cannot write {path.name} as a GeoPackage: use a .gpkg file name"
        raise ValueError(msg)

    def write(tmp: Path) -> None:
        for name, frame in layers.items():
            if len(frame) == 0:
                continue
            gdf = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
            for col in gdf.columns:
                if col != gdf.geometry.name and gdf[col].dtype == object:
                    gdf[col] = gdf[col].astype("string")
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", **_GPKG_OPTIONS)

    return _atomic(path, write)
