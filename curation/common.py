"""Shared pieces of the data rebuild: the build context, dataset records and writers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from curation.sources import SOURCES, SourceRef
from geo_engine._errors import GeoEngineError, MissingSourceError, SourceFormatError

__all__ = [
    "METRIC_CRS",
    "PARENT_METHODS",
    "BuildContext",
    "Dataset",
    "blank_to_na",
    "describe_parents",
    "finish_points",
    "normalize_name",
    "outline_km",
    "parent_2007_district",
    "read_capitals",
    "read_centres",
    "read_geojson",
    "require_columns",
    "require_districts",
    "value_counts",
]

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "index": False}
"""Options for every Parquet file the rebuild writes (compact and deterministic)."""

METRIC_CRS = "ESRI:102033"
"""South America Albers Equal Area Conic: the metric CRS in which the rebuild measures distances."""

PERU_BOUNDS = (-81.5, -18.5, -68.5, 0.1)
"""Rough lon/lat box of Peru (west, south, east, north), used to sanity-check coordinates."""


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


@dataclass
class Dataset:
    """One curated file and what the manifest says about it.

    Attributes
    ----------
    id : str
        Short identifier (``districts``, ``mining_production``…), unique in the manifest.
    title : str
        Human title.
    file : str
        Path relative to the data folder, e.g. ``peru/districts.parquet``.
    sources : list of SourceRef
        Raw inputs.
    licence : str
        Licence of the curated file (the most restrictive of its inputs).
    vintage : str
        Period the values describe.
    processing : list of str
        What was done to the sources, one sentence per step.
    report : dict
        Figures of the build (counts repaired, match rates…), recorded in the manifest.
    """

    id: str
    title: str
    file: str
    sources: list[SourceRef]
    licence: str
    vintage: str
    processing: list[str]
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildContext:
    """State handed from one rebuild step to the next.

    Attributes
    ----------
    src : Path
        Raw-data folder (with ``peru/`` and ``latam/``).
    out : Path
        Folder the curated files are written to (a temporary folder during a rebuild).
    region : str
        Region sub-folder written by this build.
    frames : dict
        Curated frames later steps may reuse (``districts`` is set by the admin step).
    """

    src: Path
    out: Path
    region: str = "peru"
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def source(self, key: str) -> Path:
        """Return the path of a raw source by its :data:`~curation.sources.SOURCES` key.

        Raises
        ------
        MissingSourceError
            If the file does not exist, naming it and the folder searched.
        """
        ref = SOURCES[key]
        path = self.src / ref.file
        if not path.is_file():
            msg = (
                f"raw source {ref.file!r} ({key}) not found under {self.src}. "
                f"Point --from at the raw-data folder that holds it (origin: {ref.origin})."
            )
            raise MissingSourceError(msg)
        return path

    def target(self, name: str) -> tuple[Path, str]:
        """Return the absolute output path of ``name`` and its path relative to the data folder."""
        rel = f"{self.region}/{name}"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, rel

    def write_table(self, frame: pd.DataFrame, name: str) -> str:
        """Write a table as zstd-compressed Parquet (GeoParquet for a GeoDataFrame).

        Parameters
        ----------
        frame : pandas.DataFrame or geopandas.GeoDataFrame
            What to write; the row order is kept as given (callers sort first).
        name : str
            File name inside the region folder, ending in ``.parquet``.

        Returns
        -------
        str
            Path relative to the data folder, for :attr:`Dataset.file`.
        """
        path, rel = self.target(name)
        frame = frame.reset_index(drop=True)
        if isinstance(frame, gpd.GeoDataFrame):
            if frame.crs is None or frame.crs.to_epsg() != 4326:
                msg = f"{name}: curated layers are stored in EPSG:4326, got {frame.crs}"
                raise SourceFormatError(msg)
            frame.to_parquet(path, schema_version="1.0.0", **PARQUET_OPTIONS)
        else:
            frame.to_parquet(path, **PARQUET_OPTIONS)
        return rel


def points_frame(
    frame: pd.DataFrame, *, lon: str = "longitude", lat: str = "latitude"
) -> gpd.GeoDataFrame:
    """Return a point GeoDataFrame in EPSG:4326 from longitude/latitude columns.

    The coordinate columns are kept; rows with missing coordinates get an empty (None) geometry.
    """
    geometry = gpd.points_from_xy(frame[lon], frame[lat], crs="EPSG:4326")
    return gpd.GeoDataFrame(frame.copy(), geometry=geometry, crs="EPSG:4326")


def assign_district(points: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> pd.Series:
    """Return the 6-digit district code of the district polygon containing each point.

    Points on no district polygon (offshore, outside Peru, or inside one of the districts without
    geometry) get ``<NA>``; a point on a shared border takes the lowest code, so the result is
    deterministic.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points in EPSG:4326.
    districts : geopandas.GeoDataFrame
        The curated districts (``district_code`` and geometry, EPSG:4326).

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


PARENT_METHODS = ("on_map", "centres", "capital_point", "capital_name", "unmapped")
"""How :func:`parent_2007_district` placed a code, in the order the rules are tried."""


def parent_2007_district(
    codes: pd.Series,
    *,
    districts: gpd.GeoDataFrame,
    centres: pd.DataFrame,
    capitals: pd.DataFrame,
    names: pd.Series | None = None,
) -> pd.DataFrame:
    """Return the district of the 2007 map each current INEI district code belongs to.

    The one rule of the rebuild for districts created after the 2007 limits; the first that
    applies wins:

    1. ``on_map``: a code of the 2007 map is its own district.
    2. ``centres``: the 2007 district holding most of the new district's populated centres
       (2017 census frame, ties to the lowest code). A district split off one parent has all
       its centres there; one carved from several goes whole to the largest share.
    3. ``capital_point``: the 2007 district holding its capital (the crosswalk's latitude and
       longitude) or, when the point falls outside every polygon of the simplified outlines,
       the nearest 2007 district of its own province (of all districts when the province
       itself is newer than 2007, as Putumayo is); ``capital_km`` gives that distance.
    4. ``capital_name``: without coordinates, the 2007 district holding the populated centres
       of its province that bear the district's folded name (new districts are named after
       their capital), when they all lie in one (a centre off the outlines counts by its own
       code when that is a 2007 code).
    5. ``unmapped``: nothing else is guessed; the code keeps ``<NA>``.

    Parameters
    ----------
    codes : pandas.Series
        Current 6-digit INEI codes (repeats and missing values allowed).
    districts : geopandas.GeoDataFrame
        The curated 2007 districts (``district_code``, geometry).
    centres : pandas.DataFrame
        Populated centres (:func:`read_centres`): ``inei_distrito``, ``ccpp``, ``longitude``,
        ``latitude``.
    capitals : pandas.DataFrame
        The ubigeo crosswalk (:func:`read_capitals`): ``inei``, ``distrito``, ``latitude``,
        ``longitude``.
    names : pandas.Series, optional
        District names by code for codes the crosswalk lacks (e.g. from the source table).

    Returns
    -------
    pandas.DataFrame
        Indexed by each distinct code (``code``, sorted): ``district_code`` (2007 parent,
        ``<NA>`` when unmapped), ``method`` (one of :data:`PARENT_METHODS`) and ``capital_km``
        (rule 3: distance from the capital to the chosen polygon, 0 inside).
    """
    distinct = pd.Index(sorted(set(codes.dropna().astype(str))), name="code")
    out = pd.DataFrame({"district_code": pd.Series(pd.NA, index=distinct, dtype="string"),
                        "method": "unmapped", "capital_km": np.nan}, index=distinct)
    on_map = distinct.isin(set(districts["district_code"]))
    out.loc[on_map, "district_code"] = distinct[on_map]
    out.loc[on_map, "method"] = "on_map"

    pts = centres[centres["inei_distrito"].isin(set(_unmapped(out)))].dropna(subset=["longitude",
                                                                             "latitude"])
    if len(pts):
        votes = pd.DataFrame({"code": pts["inei_distrito"].to_numpy(),
                              "parent": assign_district(points_frame(pts), districts).to_numpy()})
        votes = votes.dropna().groupby(["code", "parent"]).size().rename("n").reset_index()
        best = votes.sort_values(["code", "n", "parent"], ascending=[True, False, True])
        best = best.drop_duplicates("code").set_index("code")["parent"]
        out.loc[best.index, "district_code"] = best.astype("string")
        out.loc[best.index, "method"] = "centres"

    table = capitals.dropna(subset=["inei"]).drop_duplicates("inei").set_index("inei")
    caps = table.reindex(_unmapped(out))[["longitude", "latitude"]].dropna()
    _place(out, caps, districts, "capital_point")

    named = pd.Series(table["distrito"]).reindex(_unmapped(out))
    if names is not None:
        named = named.fillna(names.reindex(named.index))
    folded = named.dropna().map(normalize_name)
    wanted = pd.DataFrame({"code": folded.index, "province": folded.index.str[:4],
                           "name": folded.to_numpy()})
    spots = centres.assign(province=centres["inei_distrito"].str[:4],
                           name=centres["ccpp"].map(normalize_name, na_action="ignore"))
    found = wanted.merge(spots, on=["province", "name"])
    if len(found):
        inside = assign_district(points_frame(found), districts)
        own = found["inei_distrito"].where(found["inei_distrito"].isin(set(districts["district_code"])))
        found["parent"] = inside.fillna(own.astype("string"))
        parents = found.dropna(subset=["parent"]).groupby("code")["parent"].unique()
        single = parents[parents.map(len) == 1].map(lambda v: v[0])
        out.loc[single.index, "district_code"] = single.astype("string")
        out.loc[single.index, "method"] = "capital_name"
    return out


def describe_parents(parents: pd.DataFrame) -> str:
    """Return the manifest sentence on how :func:`parent_2007_district` placed the codes."""
    n = {m: int((parents["method"] == m).sum()) for m in PARENT_METHODS}
    return (f"Current district codes mapped to the 2007 map by one rule (parent_2007_district): "
            f"{n['on_map']} codes are on it; of the {len(parents) - n['on_map']} created after "
            f"2007, {n['centres']} go to the 2007 district holding most of their populated "
            f"centres (2017 census frame), {n['capital_point']} to the one holding their capital "
            "(ubigeo crosswalk coordinates; the nearest district of their province when the point "
            "falls outside the simplified outlines), "
            f"{n['capital_name']} to the one holding the populated centres bearing their name, and "
            f"{n['unmapped']} could not be placed (their rows are dropped, nothing is guessed).")


def _unmapped(out: pd.DataFrame) -> pd.Index:
    return out.index[out["method"] == "unmapped"]


def _place(out: pd.DataFrame, points: pd.DataFrame, districts: gpd.GeoDataFrame,
           method: str) -> None:
    """Set the 2007 district of each code of ``points`` (its polygon, else nearest in province)."""
    if points.empty:
        return
    polys = districts.loc[districts.geometry.notna(), ["district_code", "geometry"]]
    polys = polys.to_crs(METRIC_CRS)
    provinces = set(polys["district_code"].str[:4])
    where = points_frame(points.astype("float64")).to_crs(METRIC_CRS)
    for code, point in zip(points.index, where.geometry, strict=True):
        cands = polys[polys["district_code"].str[:4] == code[:4]] if code[:4] in provinces \
            else polys
        km = cands.distance(point) / 1000.0
        best = km.sort_values(kind="stable").index[0]
        out.loc[code, ["district_code", "method", "capital_km"]] = [
            cands.loc[best, "district_code"], method, round(float(km[best]), 3)]


def require_districts(ctx: BuildContext, step: str) -> gpd.GeoDataFrame:
    """Return the admin step's districts, or raise naming the step that needs them."""
    if "districts" not in ctx.frames:
        msg = f"the {step} step needs the districts: run curation.admin.build(ctx) first"
        raise GeoEngineError(msg)
    districts: gpd.GeoDataFrame = ctx.frames["districts"]
    return districts


def read_capitals(ctx: BuildContext) -> pd.DataFrame:
    """Read the ubigeo crosswalk (district capitals, area, 2020 density) with text codes."""
    capitals = pd.read_csv(ctx.source("ubigeo_crosswalk"), dtype={"inei": "string"})
    require_columns(capitals, ["inei", "distrito", "latitude", "longitude", "pob_densidad_2020",
                               "superficie"],
                    file=SOURCES["ubigeo_crosswalk"].file)
    return capitals


def read_centres(ctx: BuildContext) -> pd.DataFrame:
    """Read the populated centres (2017 census frame): text codes and names, float positions."""
    centres = pd.read_csv(ctx.source("centros_poblados"), dtype="string",
                          usecols=["inei_distrito", "ccpp", "latitude", "longitude"])
    return centres.astype({"latitude": "float64", "longitude": "float64"})
