"""Readers of the world layers every region is curated from, and the rules that merge them.

The Latin American extracts of Natural Earth (populated places, ports, rivers, lakes), the World
Port Index, UNESCO's World Heritage list and the compilation of large mines carry every country;
these functions read one country's rows (by a country field where the source has one, by distance
to the national outline otherwise) into the same columns for every region. What a region does
with them (which rows it keeps, how it attaches them to its admin units, what it reports) stays in
its own steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from curation.common.context import BuildContext
from curation.common.frames import (
    EQUAL_AREA_CRS,
    blank_to_na,
    clip_to_country,
    geodesic_length_km,
    match_points,
    normalize_name,
    outline_km,
    points_frame,
    read_geojson,
    repair_geometries,
    require_columns,
)
from curation.sources import SOURCES

__all__ = [
    "HERITAGE_COLUMNS",
    "MINE_COLUMNS",
    "NE_LICENCE",
    "NE_VINTAGE",
    "PLACE_COLUMNS",
    "PORT_GENERIC_WORDS",
    "PORT_MATCH_KM",
    "PORT_NAME_MATCH_KM",
    "RIVER_COLUMNS",
    "CountryPlaces",
    "CountryPorts",
    "clip_rivers",
    "country_mines",
    "country_places",
    "country_ports",
    "dedupe_ports",
    "heritage_sites",
    "lakes_touching",
    "listed_for",
    "mine_fields",
    "ne_airports_frame",
    "port_name_key",
    "read_heritage",
    "read_lakes",
    "read_rivers",
    "wpi_ports",
]

NE_LICENCE = SOURCES["ne_places"].licence
"""Licence of the Natural Earth layers (public domain, credit asked)."""

NE_VINTAGE = SOURCES["ne_places"].vintage
"""Vintage of the Natural Earth layers."""

RIVER_COLUMNS = ["rivernum", "name", "name_en", "name_alt", "featurecla", "scalerank",
                 "min_zoom", "min_label"]
"""Natural Earth river columns the curated river layers keep."""

PORT_MATCH_KM = 5.0
"""A Natural Earth port and a World Port Index port this close are the same port."""

PORT_NAME_MATCH_KM = 25.0
"""Ports with the same name key (generic words removed) this close are the same port."""

PORT_GENERIC_WORDS = frozenset(
    {"PUERTO", "PORT", "BAHIA", "CALETA", "RADA", "DE", "DEL", "LA", "EL", "LOS", "LAS",
     "OIL", "TERMINAL"}
)
"""Words dropped from port names before comparing them (``Puerto del Callao`` ~ ``Callao``)."""

PLACE_COLUMNS = ["NAME", "ADM0_A3", "ADM1NAME", "FEATURECLA", "POP_MAX", "POP_MIN", "GEONAMEID",
                 "SCALERANK"]
"""Natural Earth populated-place fields :func:`country_places` reads."""

HERITAGE_COLUMNS = ["unique_number", "name_en", "category", "danger", "latitude", "longitude",
                    "states_name_en"]
"""Fields of the World Heritage list :func:`read_heritage` needs."""

MINE_COLUMNS = ["mine_fac", "country", "latitude", "longitude", "mine_or_processing",
                "commodities_products"]
"""Fields of the large-mines list :func:`country_mines` needs."""


# ---- rivers and lakes


def ne_airports_frame(raw: gpd.GeoDataFrame, *, extra: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Return Natural Earth airports with the curated fields, one row per airport.

    Name, IATA, ICAO (``gps_code``), type, location and scalerank (``ne_scalerank``), plus the
    ``extra`` text columns as given.
    """
    fields = {
        "name": raw["name"].astype("string"),
        "iata": blank_to_na(raw["iata_code"]),
        "icao": blank_to_na(raw["gps_code"]),
        "type": blank_to_na(raw["type"]),
        "location": blank_to_na(raw["location"]),
        "ne_scalerank": pd.to_numeric(raw["scalerank"]).astype("Int64"),
        **{col: blank_to_na(raw[col]) for col in extra},
    }
    return gpd.GeoDataFrame(fields, geometry=raw.geometry.to_numpy(), crs="EPSG:4326")


def read_lakes(ctx: BuildContext, columns: list[str]) -> gpd.GeoDataFrame:
    """Read Natural Earth lakes with ``columns`` (checked) and the geometry only."""
    return read_geojson(ctx, "ne_lakes", columns)[[*columns, "geometry"]]


def read_rivers(ctx: BuildContext) -> gpd.GeoDataFrame:
    """Read Natural Earth rivers with the kept columns and ``length_source_km``."""
    raw = read_geojson(ctx, "ne_rivers", RIVER_COLUMNS)[[*RIVER_COLUMNS, "geometry"]]
    return raw.assign(length_source_km=geodesic_length_km(raw.geometry))


def clip_rivers(raw: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Clip :func:`read_rivers` to a national outline: lines, clean names, lengths, parts.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`RIVER_COLUMNS`, ``length_km`` (geodesic, of the clipped line),
        ``length_source_km``, ``n_parts`` and geometry, sorted by scalerank, rivernum.
    """
    rivers = clip_to_country(raw, country)
    rivers = rivers[rivers.geometry.geom_type.isin(["LineString", "MultiLineString"])].copy()
    for col in ["name", "name_en", "name_alt", "featurecla"]:
        rivers[col] = blank_to_na(rivers[col])
    rivers["rivernum"] = rivers["rivernum"].astype("int64")
    rivers["length_km"] = geodesic_length_km(rivers.geometry)
    rivers["n_parts"] = shapely.get_num_geometries(rivers.geometry.to_numpy()).astype("int64")
    rivers = rivers.sort_values(["scalerank", "rivernum", "featurecla"], kind="stable")
    cols = [*RIVER_COLUMNS, "length_km", "length_source_km", "n_parts", "geometry"]
    return rivers[cols].reset_index(drop=True)


def lakes_touching(raw: gpd.GeoDataFrame, country: gpd.GeoDataFrame, *, text: list[str]
                   ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, int]:
    """Return the lakes that meet a national outline, whole (not clipped), repaired.

    Returns
    -------
    tuple
        ``(touching, lakes, n_repaired)``: every feature meeting the outline; its polygons with
        the ``text`` columns cleaned and ``area_km2`` (equal-area, whole lake); how many
        polygons were repaired.
    """
    touching = raw[raw.geometry.intersects(country.geometry.iloc[0])].copy()
    lakes = touching[touching.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    geoms, n_repaired = repair_geometries(lakes.geometry)
    lakes = lakes.set_geometry(geoms)
    for col in text:
        lakes[col] = blank_to_na(lakes[col])
    lakes["area_km2"] = lakes.geometry.to_crs(EQUAL_AREA_CRS).area / 1e6
    return touching, lakes, n_repaired


# ---- populated places


@dataclass(frozen=True)
class CountryPlaces:
    """The Natural Earth populated places of one country, and those of the others.

    Attributes
    ----------
    places : geopandas.GeoDataFrame
        The country's places: ``name``, ``geonameid`` (``-1`` stored as missing), ``pop_max``,
        ``pop_min``, ``featurecla``, ``adm1name``, ``scalerank``, any extra name columns asked
        for (lower case) and the points, in source order.
    others : geopandas.GeoDataFrame
        The raw rows of every other country (for reports of foreign places inside the outline).
    """

    places: gpd.GeoDataFrame
    others: gpd.GeoDataFrame


def country_places(ctx: BuildContext, country_a3: str, *, names: Sequence[str] = ()
                   ) -> CountryPlaces:
    """Read the Natural Earth populated places whose ``ADM0_A3`` is ``country_a3``.

    Parameters
    ----------
    ctx : BuildContext
        Build context (raw folder).
    country_a3 : str
        ISO 3166-1 alpha-3 code as Natural Earth writes it (``PER``, ``BRA``).
    names : sequence of str, optional
        Further name fields to keep (``NAME_PT``…), stored lower case with blanks as missing.

    Returns
    -------
    CountryPlaces
        The country's places and the other rows.
    """
    raw = read_geojson(ctx, "ne_places", [*PLACE_COLUMNS, *names])
    ours = raw["ADM0_A3"].astype("string").eq(country_a3).fillna(False)
    rows = raw[ours].reset_index(drop=True)
    gid = pd.to_numeric(rows["GEONAMEID"]).round().astype("Int64")
    places = gpd.GeoDataFrame({
        "name": rows["NAME"].astype("string"),
        **{n.lower(): blank_to_na(rows[n]) for n in names},
        "geonameid": gid.mask(gid <= 0),  # Natural Earth writes -1 for "no GeoNames id"
        "pop_max": pd.to_numeric(rows["POP_MAX"]).astype("Int64"),
        "pop_min": pd.to_numeric(rows["POP_MIN"]).astype("Int64"),
        "featurecla": rows["FEATURECLA"].astype("string"),
        "adm1name": rows["ADM1NAME"].astype("string"),
        "scalerank": pd.to_numeric(rows["SCALERANK"]).astype("Int64"),
    }, geometry=rows.geometry.to_numpy(), crs="EPSG:4326")
    return CountryPlaces(places=places, others=raw[~ours])


# ---- ports


def port_name_key(name: object) -> str:
    """Return a port name folded for matching, without generic words (:data:`PORT_GENERIC_WORDS`).

    Examples
    --------
    >>> port_name_key("Puerto del Callao")
    'CALLAO'
    """
    words = [w for w in normalize_name(name).split() if w not in PORT_GENERIC_WORDS]
    return " ".join(words)


def dedupe_ports(ne: gpd.GeoDataFrame, wpi: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge Natural Earth and World Port Index ports into one row per port.

    A pair is the same port when the two points are at most :data:`PORT_MATCH_KM` apart, or when
    their :func:`port_name_key` is equal and they are at most :data:`PORT_NAME_MATCH_KM` apart
    (:func:`~curation.common.frames.match_points`). A merged row keeps the WPI name, harbour size
    and type, index and UN/LOCODE and the Natural Earth position (given to 1e-6° there, to whole
    minutes in the WPI).

    Parameters
    ----------
    ne : geopandas.GeoDataFrame
        Natural Earth ports: ``name``, ``scalerank``, points in EPSG:4326.
    wpi : geopandas.GeoDataFrame
        WPI ports: ``name``, ``alternate_name``, ``harbour_size``, ``harbour_type``,
        ``wpi_index``, ``locode``, points in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per port, WPI ports first (in input order) then unmatched Natural Earth ports:
        ``name``, ``alternate_name``, ``ne_name``, ``sources``, ``harbour_size``,
        ``harbour_type``, ``wpi_index``, ``locode``, ``ne_scalerank``, ``match_rule``,
        ``match_distance_km``, ``position_source`` and the geometry.
    """
    require_columns(ne, ["name", "scalerank"], file="Natural Earth ports")
    require_columns(wpi, ["name", "alternate_name", "harbour_size", "harbour_type", "wpi_index",
                          "locode"], file="World Port Index")
    pairs = match_points(ne, wpi, near_km=PORT_MATCH_KM, name_km=PORT_NAME_MATCH_KM,
                         key=port_name_key)
    by_wpi = pairs.set_index("right")
    rows: list[dict[str, Any]] = []
    geoms = []
    for j in range(len(wpi)):
        w = wpi.iloc[j]
        row: dict[str, Any] = {
            "name": w["name"], "alternate_name": w["alternate_name"], "ne_name": pd.NA,
            "sources": "wpi", "harbour_size": w["harbour_size"],
            "harbour_type": w["harbour_type"], "wpi_index": w["wpi_index"],
            "locode": w["locode"], "ne_scalerank": pd.NA, "match_rule": pd.NA,
            "match_distance_km": np.nan, "position_source": "wpi",
        }
        geom = wpi.geometry.iloc[j]
        if j in by_wpi.index:
            match = by_wpi.loc[j]
            i = int(match["left"])
            row.update(ne_name=ne["name"].iloc[i], sources="natural_earth+wpi",
                       ne_scalerank=ne["scalerank"].iloc[i], match_rule=match["rule"],
                       match_distance_km=float(match["distance_km"]),
                       position_source="natural_earth")
            geom = ne.geometry.iloc[i]
        rows.append(row)
        geoms.append(geom)
    matched_ne = set(pairs["left"].tolist())
    for i in range(len(ne)):
        if i in matched_ne:
            continue
        rows.append({
            "name": ne["name"].iloc[i], "alternate_name": pd.NA, "ne_name": ne["name"].iloc[i],
            "sources": "natural_earth", "harbour_size": pd.NA, "harbour_type": pd.NA,
            "wpi_index": pd.NA, "locode": pd.NA, "ne_scalerank": ne["scalerank"].iloc[i],
            "match_rule": pd.NA, "match_distance_km": np.nan, "position_source": "natural_earth",
        })
        geoms.append(ne.geometry.iloc[i])
    frame = pd.DataFrame(rows, columns=[
        "name", "alternate_name", "ne_name", "sources", "harbour_size", "harbour_type",
        "wpi_index", "locode", "ne_scalerank", "match_rule", "match_distance_km",
        "position_source",
    ])
    text = ["name", "alternate_name", "ne_name", "sources", "harbour_size", "harbour_type",
            "locode", "match_rule", "position_source"]
    frame = frame.astype(dict.fromkeys(text, "string") | {
        "wpi_index": "Int64", "ne_scalerank": "Int64", "match_distance_km": "float64"})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326").to_numpy(),
                            crs="EPSG:4326")


@dataclass(frozen=True)
class CountryPorts:
    """The port sources of one country, before they are merged by :func:`dedupe_ports`.

    Attributes
    ----------
    ne : geopandas.GeoDataFrame
        Natural Earth ports (no country field) within ``keep_km`` of the outline, with
        ``outline_km``.
    ne_near : geopandas.GeoDataFrame
        Natural Earth ports beyond ``keep_km`` but within ``near_km`` (left out, reported).
    wpi : geopandas.GeoDataFrame
        World Port Index ports whose country field is the country.
    foreign_near : geopandas.GeoDataFrame
        World Port Index ports of other countries within ``near_km`` (left out, reported).
    """

    ne: gpd.GeoDataFrame
    ne_near: gpd.GeoDataFrame
    wpi: gpd.GeoDataFrame
    foreign_near: gpd.GeoDataFrame


_WPI_COLUMNS = ["World Port Index Number", "Main Port Name", "Alternate Port Name", "UN/LOCODE",
                "Country Code", "Harbor Size", "Harbor Type", "Latitude", "Longitude"]


def wpi_ports(rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return rows of the World Port Index as points with the curated columns.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, ``alternate_name``, ``harbour_size`` (lower case), ``harbour_type``,
        ``wpi_index``, ``locode`` (spaces removed) and the point, in EPSG:4326.
    """
    require_columns(rows, _WPI_COLUMNS, file=SOURCES["wpi"].file)
    return points_frame(
        pd.DataFrame({
            "name": blank_to_na(rows["Main Port Name"]),
            "alternate_name": blank_to_na(rows["Alternate Port Name"]),
            "harbour_size": blank_to_na(rows["Harbor Size"]).str.lower(),
            "harbour_type": blank_to_na(rows["Harbor Type"]),
            "wpi_index": pd.to_numeric(rows["World Port Index Number"]).astype("Int64"),
            "locode": blank_to_na(rows["UN/LOCODE"]).str.replace(" ", "", regex=False),
            "longitude": pd.to_numeric(rows["Longitude"]),
            "latitude": pd.to_numeric(rows["Latitude"]),
        }),
    ).drop(columns=["longitude", "latitude"])


def country_ports(ctx: BuildContext, country: gpd.GeoDataFrame, country_name: str, *,
                  keep_km: float, near_km: float) -> CountryPorts:
    """Read Natural Earth and World Port Index ports of one country.

    Natural Earth ports are kept by distance to the outline (``keep_km``), World Port Index
    ports by their country field (``country_name``, as the index writes it).
    """
    ne_raw = read_geojson(ctx, "ne_ports", ["name", "scalerank"])
    ne_raw["outline_km"] = outline_km(ne_raw, country)
    ne = ne_raw[ne_raw["outline_km"] <= keep_km].reset_index(drop=True)
    ne_near = ne_raw[(ne_raw["outline_km"] > keep_km) & (ne_raw["outline_km"] <= near_km)]
    ne = ne.assign(name=ne["name"].astype("string"), scalerank=ne["scalerank"].astype("Int64"))

    raw = pd.read_csv(ctx.source("wpi"), low_memory=False)
    require_columns(raw, _WPI_COLUMNS, file=SOURCES["wpi"].file)
    ours = blank_to_na(raw["Country Code"]).eq(country_name).fillna(False)
    wpi = wpi_ports(raw[ours].reset_index(drop=True))
    foreign = points_frame(raw[~ours], lon="Longitude", lat="Latitude")
    foreign_near = foreign[outline_km(foreign, country) <= near_km]
    return CountryPorts(ne=ne, ne_near=ne_near, wpi=wpi, foreign_near=foreign_near)


# ---- World Heritage sites


def read_heritage(ctx: BuildContext) -> pd.DataFrame:
    """Read UNESCO's World Heritage list (one point per site), checking :data:`HERITAGE_COLUMNS`."""
    raw = pd.read_csv(ctx.source("whc"), dtype={"states_name_en": "string"})
    require_columns(raw, HERITAGE_COLUMNS, file=SOURCES["whc"].file)
    return raw


def listed_for(raw: pd.DataFrame, country_name: str) -> pd.Series:
    """Return whether each site's states list (comma-separated) names ``country_name``.

    Examples
    --------
    >>> listed_for(pd.DataFrame({"states_name_en": ["Peru", "Argentina,Brazil", None]}),
    ...            "Brazil").tolist()
    [False, True, False]
    """
    states = raw["states_name_en"].fillna("")
    return states.str.split(",").apply(lambda s: country_name in [x.strip() for x in s])


def heritage_sites(rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return the curated columns of rows of :func:`read_heritage`, as points in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        ``unique_number``, ``name``, ``category`` (lower case: cultural, natural, mixed),
        ``in_danger``, ``states``, ``transnational`` (more than one state listed) and the point,
        aligned with ``rows``.
    """
    return gpd.GeoDataFrame({
        "unique_number": pd.to_numeric(rows["unique_number"]).astype("Int64"),
        "name": rows["name_en"].astype("string"),
        "category": rows["category"].astype("string").str.strip().str.lower(),
        "in_danger": pd.to_numeric(rows["danger"]).astype("Int64").eq(1).astype("boolean"),
        "states": rows["states_name_en"].astype("string"),
        "transnational": rows["states_name_en"].str.contains(",", regex=False).astype("boolean"),
    }, geometry=gpd.points_from_xy(pd.to_numeric(rows["longitude"]),
                                   pd.to_numeric(rows["latitude"])), crs="EPSG:4326")


# ---- large mines


def country_mines(ctx: BuildContext, country_name: str) -> pd.DataFrame:
    """Read the rows of the large-mines list whose country is ``country_name``.

    Returns
    -------
    pandas.DataFrame
        The rows, index reset, with ``longitude`` and ``latitude`` as numbers (missing where
        the list has no usable coordinate).
    """
    raw = pd.read_csv(ctx.source("large_mines"))
    require_columns(raw, MINE_COLUMNS, file=SOURCES["large_mines"].file)
    rows = raw[raw["country"].astype("string").eq(country_name).fillna(False)]
    rows = rows.reset_index(drop=True)
    return rows.assign(longitude=pd.to_numeric(rows["longitude"], errors="coerce"),
                       latitude=pd.to_numeric(rows["latitude"], errors="coerce"))


_MINE_TEXT = {"name": "mine_fac", "other_names": "mine_other_names",
              "facility": "mine_or_processing", "commodities": "commodities_products",
              "facility_types": "mining_facility_types", "status": "activity_status"}
_MINE_YEARS = {"status_year": "year_activity_status", "production_start": "production_start",
               "production_end": "production_end"}


def mine_fields(rows: pd.DataFrame, lon: pd.Series, lat: pd.Series, *,
                text: Callable[[pd.Series], pd.Series], extra: Mapping[str, str]) -> pd.DataFrame:
    """Return the curated columns of rows of the large-mines list.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of the list (one country), index reset.
    lon, lat : pandas.Series
        Their coordinates, in the same order.
    text : callable
        How text columns are cleaned (e.g. blanks to missing).
    extra : mapping
        Further text columns, ``{curated name: source column}``, placed after the years.

    Returns
    -------
    pandas.DataFrame
        name, other_names, facility, commodities, facility_types, status (text), status_year,
        production_start, production_end (integers), the ``extra`` columns, longitude and
        latitude; a column the list lacks comes out missing.
    """
    def column(col: str) -> pd.Series:
        if col in rows:
            return text(rows[col])
        return pd.Series(pd.NA, index=rows.index, dtype="string")

    def year(col: str) -> pd.Series:
        if col in rows:
            return pd.to_numeric(rows[col], errors="coerce").round().astype("Int64")
        return pd.Series(pd.NA, index=rows.index, dtype="Int64")

    return pd.DataFrame({
        **{name: column(col) for name, col in _MINE_TEXT.items()},
        **{name: year(col) for name, col in _MINE_YEARS.items()},
        **{name: column(col) for name, col in extra.items()},
        "longitude": np.asarray(lon, dtype="float64"),
        "latitude": np.asarray(lat, dtype="float64"),
    }, index=rows.index)
