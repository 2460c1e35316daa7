"""Table and geometry helpers of the rebuild: names, columns, points, outlines, repairs, matching."""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from curation.common.context import BuildContext
from curation.sources import SOURCES
from geo_engine._errors import SourceFormatError

__all__ = [
    "EQUAL_AREA_CRS",
    "METRIC_CRS",
    "assign_district",
    "blank_to_na",
    "clip_to_country",
    "finish_points",
    "geodesic_length_km",
    "match_points",
    "metric_xy",
    "name_similarity",
    "nearest_district",
    "normalize_name",
    "outline_km",
    "points_frame",
    "read_geojson",
    "repair_geometries",
    "require_columns",
    "value_counts",
]

METRIC_CRS = "ESRI:102033"
"""South America Albers Equal Area Conic: the metric CRS in which the rebuild measures distances."""

EQUAL_AREA_CRS = METRIC_CRS
"""The CRS in which the rebuild measures areas (the same equal-area projection)."""

_GEOD = Geod(ellps="WGS84")


def normalize_name(value: object) -> str:
    """Return a place name folded for matching: ASCII, upper case, single spaces.

    Accents are removed, ``Ñ`` becomes ``N``, punctuation becomes a space and runs of spaces are
    collapsed.

    Parameters
    ----------
    value : object
        A name; ``None``/NaN give an empty string.

    Returns
    -------
    str
        The folded name.

    Examples
    --------
    >>> normalize_name("  San Martín de Porres ")
    'SAN MARTIN DE PORRES'
    >>> normalize_name("Ñuñoa-Alta")
    'NUNOA ALTA'
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    text = re.sub(r"[^A-Z0-9]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def require_columns(frame: pd.DataFrame, columns: list[str], *, file: str) -> None:
    """Raise :class:`SourceFormatError` naming the file and the missing columns, if any.

    Parameters
    ----------
    frame : pandas.DataFrame
        Table read from ``file``.
    columns : list of str
        Columns the step needs.
    file : str
        Name of the file, for the message.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f"{file}: missing column(s) {missing}; found {list(frame.columns)[:20]}. "
            "Restore the original file or update the rebuild step."
        )
        raise SourceFormatError(msg)


def points_frame(
    frame: pd.DataFrame, *, lon: str = "longitude", lat: str = "latitude"
) -> gpd.GeoDataFrame:
    """Return a point GeoDataFrame in EPSG:4326 from longitude/latitude columns.

    The coordinate columns are kept; rows with missing coordinates get an empty (None) geometry.
    """
    geometry = gpd.points_from_xy(frame[lon], frame[lat], crs="EPSG:4326")
    return gpd.GeoDataFrame(frame.copy(), geometry=geometry, crs="EPSG:4326")


def assign_district(points: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> pd.Series:
    """Return the code of the admin unit polygon containing each point.

    Points on no polygon (offshore, outside the country, or inside one of the units without
    geometry) get ``<NA>``; a point on a shared border takes the lowest code, so the result is
    deterministic.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points in EPSG:4326.
    districts : geopandas.GeoDataFrame
        The curated units (``district_code`` and geometry, EPSG:4326): Peru's districts, or
        Brazil's states with their ``adm1_code`` under that name.

    Returns
    -------
    pandas.Series
        String codes aligned with ``points.index``.
    """
    polys = districts.loc[districts.geometry.notna(), ["district_code", "geometry"]]
    pts = gpd.GeoDataFrame(geometry=points.geometry.values, crs=points.crs)
    joined = gpd.sjoin(pts, polys, how="left", predicate="intersects")
    codes = joined.groupby(level=0)["district_code"].min()
    out = pd.Series(codes.reindex(range(len(points))).to_numpy(), index=points.index)
    return out.astype("string")


def clip_to_country(frame: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Clip features to the national outline (lines and polygons cut, points filtered).

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Layer in EPSG:4326.
    country : geopandas.GeoDataFrame
        One-row outline of the region (``ctx.frames["country"]``).

    Returns
    -------
    geopandas.GeoDataFrame
        The clipped features, empty geometries dropped, index reset.
    """
    clipped = gpd.clip(frame, country.geometry.iloc[0])
    clipped = clipped[~clipped.geometry.is_empty & clipped.geometry.notna()]
    return clipped.reset_index(drop=True)


def blank_to_na(values: pd.Series) -> pd.Series:
    """Return text with surrounding white space removed and empty strings as missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.eq(""))


def value_counts(values: pd.Series) -> dict[str, int]:
    """Return ``{value: count}`` sorted by value, for build reports."""
    return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}


def read_geojson(ctx: BuildContext, key: str, columns: list[str]) -> gpd.GeoDataFrame:
    """Read a registered vector source in EPSG:4326, checking that it has ``columns``."""
    frame = gpd.read_file(ctx.source(key), engine="pyogrio")
    require_columns(frame, columns, file=SOURCES[key].file)
    if frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    return frame


def outline_km(frame: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> pd.Series:
    """Return each feature's distance to the national outline in km (0 inside), in METRIC_CRS.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Features in any CRS.
    country : geopandas.GeoDataFrame
        One-row national outline.

    Returns
    -------
    pandas.Series
        Distances rounded to metres, aligned with ``frame.index``.
    """
    outline = country.to_crs(METRIC_CRS).geometry.iloc[0]
    return (frame.geometry.to_crs(METRIC_CRS).distance(outline) / 1000.0).round(3)


def finish_points(frame: gpd.GeoDataFrame, first: list[str]) -> gpd.GeoDataFrame:
    """Add lon/lat columns from the point geometry and put ``first`` first, geometry last."""
    frame = frame.copy()
    frame["longitude"] = frame.geometry.x.round(6)
    frame["latitude"] = frame.geometry.y.round(6)
    rest = [c for c in frame.columns if c not in first and c != "geometry"]
    return frame[[*first, *rest, "geometry"]]


def repair_geometries(geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, int]:
    """Repair invalid polygons with :func:`shapely.make_valid`, keeping only polygonal parts.

    Parameters
    ----------
    geoms : geopandas.GeoSeries
        Polygons; missing geometries are left missing (they are not invalid, just absent).

    Returns
    -------
    tuple of (geopandas.GeoSeries, int)
        The repaired series and the number of geometries that were invalid.
    """
    present = geoms.notna()
    invalid = present & ~geoms.is_valid
    out = geoms.copy()
    if invalid.any():
        fixed = shapely.make_valid(out[invalid].to_numpy())
        # make_valid may return a GeometryCollection with stray lines; keep the area only
        fixed = [_polygonal(g) for g in fixed]
        out.loc[invalid] = fixed
    return out, int(invalid.sum())


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in {"Polygon", "MultiPolygon"}:
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in {"Polygon", "MultiPolygon"}]
    return shapely.union_all(parts)


def name_similarity(a: object, b: object) -> float:
    """Return how alike two place names are, from 0 to 1, after :func:`normalize_name`.

    Identical folded names, or one name being the other plus whole words (``Chincha Alta`` and
    ``Chincha``), give 1; otherwise the :class:`difflib.SequenceMatcher` ratio.

    Examples
    --------
    >>> name_similarity("Nazca", "Nasca")
    0.8
    >>> name_similarity("Chincha Alta", "chincha")
    1.0
    """
    fa, fb = normalize_name(a), normalize_name(b)
    if not fa or not fb:
        return 0.0
    if fa == fb:
        return 1.0
    ta, tb = fa.split(), fb.split()
    short, long_ = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    if any(long_[i : i + len(short)] == short for i in range(len(long_) - len(short) + 1)):
        return 1.0
    return round(difflib.SequenceMatcher(None, fa, fb).ratio(), 4)


def metric_xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return x and y in metres (:data:`METRIC_CRS`); NaN where the geometry is missing."""
    geoms = frame.geometry.to_crs(METRIC_CRS)
    present = geoms.notna() & ~geoms.is_empty
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[present.to_numpy()] = geoms[present].x.to_numpy()
    y[present.to_numpy()] = geoms[present].y.to_numpy()
    return x, y


def match_points(
    left: gpd.GeoDataFrame,
    right: gpd.GeoDataFrame,
    *,
    near_km: float,
    name_km: float,
    key: Callable[[object], str] = normalize_name,
    min_similarity: float | None = None,
) -> pd.DataFrame:
    """Pair points of two layers one to one, nearest pairs first.

    A pair qualifies by ``distance`` when the points are at most ``near_km`` apart (and, if
    ``min_similarity`` is given, their names reach it in :func:`name_similarity`), or by ``name``
    when their name keys are equal and non-empty and they are at most ``name_km`` apart. Each
    point takes part in at most one pair; qualifying pairs are taken in order of distance.

    Parameters
    ----------
    left, right : geopandas.GeoDataFrame
        Points in EPSG:4326 with a ``name`` column.
    near_km, name_km : float
        Distance limits in kilometres, measured in :data:`METRIC_CRS`.
    key : callable, default :func:`normalize_name`
        Name key for the ``name`` rule.
    min_similarity : float, optional
        Name similarity required by the ``distance`` rule; none by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``left`` and ``right`` (positions in the inputs), ``distance_km`` and ``rule``,
        sorted by ``left``.
    """
    columns = ["left", "right", "distance_km", "rule"]
    if left.empty or right.empty:
        empty = {"left": "int64", "right": "int64", "distance_km": "float64", "rule": "string"}
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in empty.items()})
    lx, ly = metric_xy(left)
    rx, ry = metric_xy(right)
    dist = np.hypot(lx[:, None] - rx[None, :], ly[:, None] - ry[None, :]) / 1000.0
    lkeys = [key(v) for v in left["name"]]
    rkeys = [key(v) for v in right["name"]]
    candidates: list[tuple[float, int, int, str]] = []
    for i, j in zip(*np.nonzero(dist <= max(near_km, name_km)), strict=True):
        d = float(dist[i, j])
        same = bool(lkeys[i]) and lkeys[i] == rkeys[j]
        if d <= near_km and (
            min_similarity is None
            or same
            or name_similarity(left["name"].iloc[i], right["name"].iloc[j]) >= min_similarity
        ):
            candidates.append((d, int(i), int(j), "distance"))
        elif same and d <= name_km:
            candidates.append((d, int(i), int(j), "name"))
    candidates.sort()
    used_l: set[int] = set()
    used_r: set[int] = set()
    rows = []
    for d, i, j, rule in candidates:
        if i in used_l or j in used_r:
            continue
        used_l.add(i)
        used_r.add(j)
        rows.append((i, j, round(d, 3), rule))
    out = pd.DataFrame(rows, columns=columns).sort_values("left").reset_index(drop=True)
    return out.astype({"left": "int64", "right": "int64", "distance_km": "float64",
                       "rule": "string"})


def nearest_district(
    points: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, *, max_km: float
) -> tuple[pd.Series, pd.Series]:
    """Return the district of each point, falling back to the nearest district within ``max_km``.

    Points on a district polygon take it (:func:`assign_district`,
    distance 0). Points on none (a pier just off the coastline) take the nearest district polygon
    if it is at most ``max_km`` away, measured in :data:`METRIC_CRS`; the lowest code wins a tie.
    Others stay missing.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points in EPSG:4326.
    districts : geopandas.GeoDataFrame
        Curated districts (``district_code`` and geometry, EPSG:4326).
    max_km : float
        Largest distance accepted for the fallback.

    Returns
    -------
    tuple of (pandas.Series, pandas.Series)
        String district codes and float distances in km (0 inside a polygon, NaN when missing),
        both aligned with ``points.index``.
    """
    codes = assign_district(points, districts)
    dist = pd.Series(np.where(codes.notna(), 0.0, np.nan), index=points.index, dtype="float64")
    todo = codes.isna().to_numpy() & points.geometry.notna().to_numpy()
    if todo.any():
        polys = districts.loc[districts.geometry.notna(), ["district_code", "geometry"]]
        pts = gpd.GeoDataFrame(
            {"_pos": np.nonzero(todo)[0]}, geometry=points.geometry.to_numpy()[todo],
            crs=points.crs,
        ).to_crs(METRIC_CRS)
        near = gpd.sjoin_nearest(
            pts, polys.to_crs(METRIC_CRS), how="inner", max_distance=max_km * 1000.0,
            distance_col="_dist",
        )
        near = near.sort_values(["_pos", "_dist", "district_code"]).drop_duplicates("_pos")
        index = points.index[near["_pos"].to_numpy()]
        codes.loc[index] = near["district_code"].to_numpy()
        dist.loc[index] = (near["_dist"].to_numpy() / 1000.0).round(3)
    return codes.astype("string"), dist


def geodesic_length_km(geoms: gpd.GeoSeries) -> pd.Series:
    """Return the length of each line on the WGS84 ellipsoid, in km (``NaN`` for a missing line).

    Parameters
    ----------
    geoms : geopandas.GeoSeries
        Lines in EPSG:4326.

    Returns
    -------
    pandas.Series
        Lengths aligned with ``geoms``.
    """
    if geoms.crs is None or geoms.crs.to_epsg() != 4326:
        msg = f"geodesic lengths need EPSG:4326 coordinates, got {geoms.crs}"
        raise SourceFormatError(msg)
    values = [
        _GEOD.geometry_length(g) / 1000.0 if g is not None and not g.is_empty else math.nan
        for g in geoms
    ]
    return pd.Series(values, index=geoms.index, dtype="float64")
