"""Rebuild step for Brazil at state level: states, towns, airports, ports, heritage, mines, water.

Brazil is the second region and the worked example of bringing a region of one's own: every file
is curated from the Latin American extracts of public world layers (Natural Earth, the World Port
Index, UNESCO's World Heritage list and a compilation of large mines), filtered to Brazil by a
country field where the source has one and by position otherwise. Eight files come out, all in
EPSG:4326:

* ``states.parquet`` — the 26 states and the Federal District (Natural Earth 1:50m admin-1);
* ``places.parquet`` — Natural Earth populated places with their population estimate;
* ``airports.parquet`` — Natural Earth airports with type, IATA and ICAO codes;
* ``ports.parquet`` — World Port Index and Natural Earth ports, one row per port;
* ``heritage_sites.parquet`` — UNESCO World Heritage sites listed for Brazil;
* ``large_mines.parquet`` — large mines and processing plants with commodities and status;
* ``rivers.parquet`` and ``lakes.parquet`` — Natural Earth 1:10m rivers and lakes/reservoirs.

Every point carries the ``adm1_code`` of the state polygon it lies in or, for coastal or border
points just outside the generalised 1:50m outline, of the nearest state within
:data:`NEAREST_STATE_KM`. There is no poverty, population grid or production table for Brazil
among the sources, so none is made: what is missing stays missing.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from curation.common.context import BuildContext, Dataset
from curation.common.frames import (
    EQUAL_AREA_CRS,
    METRIC_CRS,
    blank_to_na,
    finish_points,
    nearest_district,
    outline_km,
    points_frame,
    read_geojson,
    repair_geometries,
    value_counts,
)
from curation.common.world import (
    NE_LICENCE,
    NE_VINTAGE,
    PORT_MATCH_KM,
    PORT_NAME_MATCH_KM,
    clip_rivers,
    country_mines,
    country_places,
    country_ports,
    dedupe_ports,
    heritage_sites,
    lakes_touching,
    listed_for,
    mine_fields,
    ne_airports_frame,
    read_heritage,
    read_lakes,
    read_rivers,
)
from curation.sources import SOURCES
from geo_engine._errors import SourceFormatError

__all__ = [
    "AIRPORT_OUTLINE_KM",
    "COUNTRY_A3",
    "COUNTRY_NAME",
    "NEAREST_STATE_KM",
    "PORT_OUTLINE_KM",
    "REGION",
    "build",
    "facility_flags",
    "nearest_state",
]

REGION = "brazil"
"""Region folder this step writes (``data/brazil/``)."""

COUNTRY_A3 = "BRA"
"""ISO 3166-1 alpha-3 code used by Natural Earth (``adm0_a3``, ``ADM0_A3``)."""

COUNTRY_NAME = "Brazil"
"""Country name as written in the World Port Index, the World Heritage list and the mines list."""

NEAREST_STATE_KM = 10.0
"""Points outside every state polygon take the nearest state within this distance.

The 1:50m state outline is generalised: quays, coastal airports and old town centres on the shore
fall 1–2 km outside it (Belém airport 1.2 km, Salvador's historic centre 1.1 km), and the World
Heritage point of Iguaçu National Park lies 6.9 km beyond the border river, on the Argentine bank.
"""

PORT_OUTLINE_KM = 5.0
"""Natural Earth ports (no country field) are kept within this distance of Brazil's outline."""

AIRPORT_OUTLINE_KM = 5.0
"""Natural Earth airports (no country field) are kept within this distance of Brazil's outline.

The nearest foreign airport, Guarani International (Paraguay), lies 21.7 km beyond it.
"""

_STATE_COLUMNS = ["adm1_code", "iso_3166_2", "name", "type_en", "postal", "code_hasc", "gn_id",
                  "adm0_a3"]
_LAKE_COLUMNS = ["name", "name_abb", "name_alt", "dam_name", "featurecla", "scalerank",
                 "min_zoom", "min_label"]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def nearest_state(
    points: gpd.GeoDataFrame, states: gpd.GeoDataFrame, *, max_km: float = NEAREST_STATE_KM
) -> tuple[pd.Series, pd.Series]:
    """Return the state of each point: the containing polygon, else the nearest within ``max_km``.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Points in EPSG:4326.
    states : geopandas.GeoDataFrame
        Curated states (``adm1_code`` and geometry, EPSG:4326).
    max_km : float, default :data:`NEAREST_STATE_KM`
        Largest distance accepted for a point outside every polygon.

    Returns
    -------
    tuple of (pandas.Series, pandas.Series)
        ``adm1_code`` strings (missing beyond ``max_km``) and the distance to that state in km
        (0 inside, NaN when missing), both aligned with ``points.index``.

    Notes
    -----
    A thin wrapper of :func:`curation.common.frames.nearest_district`, which takes the lowest
    code on a shared border and measures distances in South America Albers.
    """
    units = states[["adm1_code", "geometry"]].rename(columns={"adm1_code": "district_code"})
    return nearest_district(points, units, max_km=max_km)


def facility_flags(facility: pd.Series) -> pd.DataFrame:
    """Split the mines list's facility field into ``has_mine`` and ``has_processing`` flags.

    Parameters
    ----------
    facility : pandas.Series
        Values such as ``"Mine"``, ``"Mine, Refinery"``, ``"Refinery, Smelter"``.

    Returns
    -------
    pandas.DataFrame
        Nullable booleans aligned with ``facility``; missing where the field is missing.

    Examples
    --------
    >>> facility_flags(pd.Series(["Mine", "Smelter, Refinery"])).to_numpy().tolist()
    [[True, False], [False, True]]
    """
    parts = facility.astype("string").str.lower().str.split(",")

    def has(words: set[str]) -> pd.Series:
        values = [pd.NA if not isinstance(p, list) else any(w.strip() in words for w in p)
                  for p in parts]
        return pd.Series(pd.array(values, dtype="boolean"), index=facility.index)

    return pd.DataFrame({"has_mine": has({"mine"}),
                         "has_processing": has({"refinery", "smelter"})})


def _with_state(frame: gpd.GeoDataFrame, states: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    codes, dist = nearest_state(frame, states)
    out = frame.copy()
    out["adm1_code"] = codes
    out["state_distance_km"] = dist
    return out


def _state_report(frame: gpd.GeoDataFrame, label: str = "name") -> dict[str, object]:
    outside = frame[frame["state_distance_km"] > 0]
    missing = frame[frame["adm1_code"].isna()]
    return {
        "state_by_nearest_fallback": [f"{n} ({k:.2f} km)" for n, k in
                                      outside[[label, "state_distance_km"]].itertuples(index=False)],
        "without_state": [str(n) for n in missing[label]],
    }


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------


def _states(ctx: BuildContext) -> tuple[Dataset, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    ref = SOURCES["ne_admin1"]
    raw = read_geojson(ctx, "ne_admin1", _STATE_COLUMNS)
    chosen = raw[raw["adm0_a3"].astype("string").eq(COUNTRY_A3).fillna(False)]
    chosen = chosen.reset_index(drop=True)
    if chosen.empty:
        msg = f"{ref.file}: no first-level division with adm0_a3 = {COUNTRY_A3!r}"
        raise SourceFormatError(msg)
    geoms, n_repaired = repair_geometries(chosen.geometry)
    states = gpd.GeoDataFrame(
        {
            "adm1_code": chosen["adm1_code"].astype("string"),
            "iso_3166_2": chosen["iso_3166_2"].astype("string"),
            "name": chosen["name"].astype("string"),
            "type": chosen["type_en"].astype("string"),
            "postal": chosen["postal"].astype("string"),
            "code_hasc": chosen["code_hasc"].astype("string"),
            "geonames_id": pd.to_numeric(chosen["gn_id"]).astype("Int64"),
        },
        geometry=geoms.to_numpy(),
        crs="EPSG:4326",
    )
    for column in ("adm1_code", "iso_3166_2"):
        if not states[column].is_unique or states[column].isna().any():
            msg = f"{ref.file}: {column} of Brazil's states is missing or repeated"
            raise SourceFormatError(msg)
    states["area_km2"] = states.geometry.to_crs(EQUAL_AREA_CRS).area / 1e6
    states = states.sort_values("adm1_code").reset_index(drop=True)
    states = states[["adm1_code", "iso_3166_2", "name", "type", "postal", "code_hasc",
                     "geonames_id", "area_km2", "geometry"]]
    country = gpd.GeoDataFrame({"name": [COUNTRY_NAME]},
                               geometry=[shapely.union_all(states.geometry.to_numpy())],
                               crs="EPSG:4326")
    total_km2 = float(states["area_km2"].sum())
    dataset = Dataset(
        id="brazil_states",
        title="States of Brazil (26 states and the Federal District, Natural Earth 1:50m)",
        file=ctx.write_table(states, "states.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=NE_VINTAGE,
        processing=[
            f"First-level divisions of Natural Earth 1:50m with adm0_a3 = {COUNTRY_A3}; "
            "adm1_code (Natural Earth's unique code, e.g. BRA-1311), iso_3166_2 (BR-SP…), name, "
            "type (State, Federal District), postal, code_hasc and the GeoNames id as given.",
            f"{n_repaired} invalid polygon(s) repaired with shapely.make_valid (polygonal parts "
            "kept); no simplification (the 1:50m outlines are already generalised, so coastal "
            "points can fall a kilometre or two outside them).",
            f"area_km2 computed in {EQUAL_AREA_CRS} (equal-area). The 1:50m outline leaves out "
            "the oceanic islands east of 34.8° W (Fernando de Noronha, Atol das Rocas, São Pedro "
            "e São Paulo, Trindade).",
            "The source's macro-region field is empty for Brazil; no region was added.",
        ],
        report={
            "states": len(states),
            "invalid_repaired": n_repaired,
            "by_type": value_counts(states["type"]),
            "area_km2_total": round(total_km2, 1),
        },
    )
    return dataset, states, country


def _places(ctx: BuildContext, states: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_places"]
    found = country_places(ctx, COUNTRY_A3, names=["NAME_PT"])
    br, others = found.places, found.others
    foreign_inside = others[outline_km(others, country).eq(0)]
    places = gpd.GeoDataFrame(
        {
            "name": br["name"],
            "name_pt": br["name_pt"],
            "population": br["pop_max"].mask(br["pop_max"] <= 0),
            "population_min": br["pop_min"],
            "feature_class": br["featurecla"],
            "ne_adm1name": br["adm1name"],
            "geonameid": br["geonameid"],
            "ne_scalerank": br["scalerank"],
        },
        geometry=br.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    places = _with_state(places, states)
    places["_x"] = places.geometry.x
    places = places.sort_values(["population", "name", "_x"], ascending=[False, True, True],
                                na_position="last").drop(columns="_x").reset_index(drop=True)
    places = finish_points(places, ["name", "population", "feature_class", "adm1_code"])
    smallest = places.nsmallest(3, "population")
    pop = places["population"]
    return Dataset(
        id="brazil_places",
        title="Towns and cities of Brazil with population (Natural Earth populated places)",
        file=ctx.write_table(places, "places.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=NE_VINTAGE,
        processing=[
            f"Natural Earth 1:10m populated places with ADM0_A3 = {COUNTRY_A3}: name, Portuguese "
            "name, feature class (national capital, state capital, populated place) and "
            "GeoNames id as given (-1 stored as missing).",
            "population is Natural Earth's POP_MAX (its estimate for the city or its urban "
            "agglomeration, e.g. São Paulo 18.8 million), population_min its POP_MIN (the city "
            "proper); values as given: Uruará has POP_MAX 10 in the source and keeps it.",
            "Natural Earth 10m lists the larger and the locally important towns only (not every "
            "municipal seat), so distances to towns are distances to these places.",
            "ne_adm1name is kept as given (it is truncated for some states, e.g. 'Par', "
            "'Maranh'); adm1_code comes from the state polygons, or the nearest state within "
            f"{NEAREST_STATE_KM:g} km ({METRIC_CRS}) for places on the shore.",
            "Foreign border towns whose point falls inside Brazil's generalised outline are not "
            f"added ({', '.join(sorted(foreign_inside['NAME'].astype(str))) or 'none'}).",
        ],
        report={
            "places": len(places),
            "with_population": int(pop.notna().sum()),
            "population_10k_plus": int((pop >= 10_000).sum()),
            "population_50k_plus": int((pop >= 50_000).sum()),
            "population_500k_plus": int((pop >= 500_000).sum()),
            "smallest": [f"{n}: {p}" for n, p in smallest[["name", "population"]]
                         .itertuples(index=False)],
            "by_feature_class": value_counts(places["feature_class"]),
            "foreign_places_inside_outline": sorted(foreign_inside["NAME"].astype(str)),
            **_state_report(places),
        },
    )


def _airports(ctx: BuildContext, states: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_airports"]
    raw = read_geojson(ctx, "ne_airports", ["type", "name", "abbrev", "location", "gps_code",
                                             "iata_code", "scalerank", "wikipedia"])
    raw["outline_km"] = outline_km(raw, country)
    chosen = raw[raw["outline_km"] <= AIRPORT_OUTLINE_KM].reset_index(drop=True)
    near = raw[(raw["outline_km"] > AIRPORT_OUTLINE_KM) & (raw["outline_km"] <= 50)]
    airports = _with_state(ne_airports_frame(chosen, extra=["wikipedia"]), states)
    airports = airports.sort_values(["icao", "name"]).reset_index(drop=True)
    airports = finish_points(airports, ["name", "iata", "icao", "type", "adm1_code"])
    excluded = "; ".join(f"{n} ({k:.1f} km)" for n, k in
                         near[["name", "outline_km"]].itertuples(index=False))
    return Dataset(
        id="brazil_airports",
        title="Major airports of Brazil (Natural Earth, with type and IATA/ICAO codes)",
        file=ctx.write_table(airports, "airports.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=NE_VINTAGE,
        processing=[
            "Natural Earth 1:10m airports have no country field: kept those inside Brazil's "
            f"outline or within {AIRPORT_OUTLINE_KM:g} km of it (distance in {METRIC_CRS})"
            f"{'; left out: ' + excluded if excluded else ''}.",
            "name, type (major, mid, military mid…), location, IATA (iata_code), ICAO "
            "(gps_code), scalerank and Wikipedia link as given; empty strings stored as missing.",
            "Natural Earth lists only the main airports (international and regional hubs); small "
            "airfields are not in this layer.",
            "adm1_code from the state polygons, or the nearest state within "
            f"{NEAREST_STATE_KM:g} km for airports on the shore.",
        ],
        report={
            "airports": len(airports),
            "by_type": value_counts(airports["type"]),
            "with_iata": int(airports["iata"].notna().sum()),
            "foreign_within_50km_excluded": [str(n) for n in near["name"]],
            **_state_report(airports),
        },
    )


def _ports(ctx: BuildContext, states: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    found = country_ports(ctx, country, COUNTRY_NAME, keep_km=PORT_OUTLINE_KM, near_km=30)
    ne, ne_near, wpi, foreign_near = found.ne, found.ne_near, found.wpi, found.foreign_near

    ports = dedupe_ports(ne, wpi)
    ports = _with_state(ports, states)
    ports["outline_km"] = outline_km(ports, country)
    ports = ports.sort_values(["name", "wpi_index"], na_position="last").reset_index(drop=True)
    ports = finish_points(ports, ["name", "sources", "harbour_size", "harbour_type", "wpi_index",
                            "locode", "adm1_code"])
    merged = ports[ports["sources"].eq("natural_earth+wpi")]
    offshore = "; ".join(f"{n} ({k:.1f} km offshore)" for n, k in
                         ports.loc[ports["adm1_code"].isna(), ["name", "outline_km"]]
                         .itertuples(index=False))
    navegantes = merged[merged["ne_name"].eq("Navegantes") & merged["name"].eq("Itajai")]
    across_river = [
        "Navegantes (Natural Earth) and Itajaí (WPI) face each other across the mouth of the "
        f"Itajaí-Açu river, {km:.1f} km apart, and are merged as one port by the distance rule."
        for km in navegantes["match_distance_km"]
    ]
    return Dataset(
        id="brazil_ports",
        title="Sea and river ports of Brazil (World Port Index and Natural Earth)",
        file=ctx.write_table(ports, "ports.parquet"),
        sources=[SOURCES["wpi"], SOURCES["ne_ports"]],
        licence=NE_LICENCE,
        vintage=f"{SOURCES['wpi'].vintage}; {NE_VINTAGE}",
        processing=[
            f"World Port Index ports with country '{COUNTRY_NAME}'; Natural Earth ports (no "
            f"country field) within {PORT_OUTLINE_KM:g} km of Brazil's outline ({METRIC_CRS}).",
            f"A Natural Earth and a WPI port at most {PORT_MATCH_KM:g} km apart, or with the same "
            "name once generic words (port, puerto, bahía…) are removed and at most "
            f"{PORT_NAME_MATCH_KM:g} km apart, are one port (pairs nearest first, one to one); the "
            "same rules as for Peru (curation.common.world.dedupe_ports).",
            "A merged port keeps the WPI name, harbour size (lower case: large, medium, small, "
            "very small), harbour type, index and UN/LOCODE (spaces removed) and the Natural "
            "Earth position; Natural Earth-only ports have no harbour size or type.",
            "The WPI file is the light extract of the index (45 Brazilian ports), not the full "
            "index: many small river and fishing ports are absent. Inland river ports (Manaus, "
            "Santarém, Porto Alegre, Santa Clara on the Paraná) are kept; outline_km is 0 for "
            "them and for every port on the polygons.",
            "adm1_code from the state polygons, or the nearest state within "
            f"{NEAREST_STATE_KM:g} km for ports on the shore (state_distance_km); ports farther "
            f"offshore keep a missing adm1_code and stay in the layer: {offshore or 'none'}.",
            *across_river,
        ],
        report={
            "wpi_ports": len(wpi),
            "ne_ports": len(ne),
            "duplicates_merged": len(merged),
            "merged_pairs": [f"{a} = {b} ({d} km)" for a, b, d in
                             merged[["ne_name", "name", "match_distance_km"]]
                             .itertuples(index=False)],
            "ports": len(ports),
            "harbour_size_counts": value_counts(ports["harbour_size"]),
            "foreign_within_30km_excluded": sorted(
                [f"{n} (Natural Earth)" for n in ne_near["name"]]
                + [f"{n} (WPI, {c})" for n, c in
                   foreign_near[["Main Port Name", "Country Code"]].itertuples(index=False)]),
            **_state_report(ports),
        },
    )


def _heritage(ctx: BuildContext, states: gpd.GeoDataFrame, country: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["whc"]
    raw = read_heritage(ctx)
    listed = listed_for(raw, COUNTRY_NAME)
    sites = heritage_sites(raw[listed].reset_index(drop=True))
    others = points_frame(raw[~listed])
    foreign_inside = others[outline_km(others, country).eq(0)]
    sites = _with_state(sites, states)
    sites["outline_km"] = outline_km(sites, country)
    sites = sites.sort_values("name").reset_index(drop=True)
    sites = finish_points(sites, ["unique_number", "name", "category", "in_danger", "states",
                            "adm1_code"])
    offshore = sites[sites["adm1_code"].isna()]
    offshore_text = "; ".join(f"{n} ({k:.0f} km offshore)" for n, k in
                              offshore[["name", "outline_km"]].itertuples(index=False))
    return Dataset(
        id="brazil_heritage_sites",
        title="UNESCO World Heritage sites in Brazil",
        file=ctx.write_table(sites, "heritage_sites.parquet"),
        sources=[ref],
        licence="UNESCO-data",
        vintage=ref.vintage,
        processing=[
            f"Sites whose states list includes {COUNTRY_NAME}; name, category (lower case: "
            "cultural, natural, mixed) and danger flag as given.",
            "Each site has one point in the source, also for large or serial sites (the Central "
            "Amazon complex, the Atlantic Forest reserves); the point is not the site's extent.",
            "Sites listed for another country are not added even when their point falls inside "
            f"Brazil's outline ({', '.join(foreign_inside['name_en'].astype(str)) or 'none'}).",
            "adm1_code from the state polygons, or the nearest state within "
            f"{NEAREST_STATE_KM:g} km (Iguaçu National Park's point lies on the Argentine bank "
            "of the border river). Points farther out keep a missing adm1_code and stay in the "
            f"layer: {offshore_text or 'none'}.",
        ],
        report={
            "sites": len(sites),
            "by_category": value_counts(sites["category"]),
            "in_danger": int(sites["in_danger"].sum()),
            "foreign_sites_inside_outline_not_added": sorted(
                foreign_inside["name_en"].astype(str)),
            **_state_report(sites),
        },
    )


def _large_mines(ctx: BuildContext, states: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["large_mines"]
    br = country_mines(ctx, COUNTRY_NAME)
    located = br["longitude"].notna() & br["latitude"].notna()
    no_coords = sorted(br.loc[~located, "mine_fac"].astype(str).str.strip())
    br = br[located].reset_index(drop=True)
    lon, lat = br["longitude"], br["latitude"]

    frame = mine_fields(br, lon, lat, text=blank_to_na,
                        extra={"source_state": "state", "municipality": "location_municipality",
                               "source": "source", "source_url": "source_url"})
    frame = pd.concat([frame, facility_flags(frame["facility"])], axis=1)
    mines = points_frame(frame).drop(columns=["longitude", "latitude"])
    mines = _with_state(mines, states)
    mines = mines.sort_values(["name", "facility"]).reset_index(drop=True)
    mines = finish_points(mines, ["name", "facility", "has_mine", "has_processing", "commodities",
                            "status", "adm1_code"])
    return Dataset(
        id="brazil_large_mines",
        title="Large mines and metal-processing plants of Brazil, with commodities",
        file=ctx.write_table(mines, "large_mines.parquet"),
        sources=[ref],
        licence="GPL-3.0",
        vintage=ref.vintage,
        processing=[
            f"Rows with country '{COUNTRY_NAME}' ({len(mines) + len(no_coords)}); the "
            f"{len(no_coords)} without coordinates were left out, none was geocoded: "
            f"{', '.join(no_coords)}.",
            "Names, facility, commodities, facility types, status and years as given; tabs and "
            "surrounding spaces removed from text, missing values stay missing (the status is "
            f"given for {int(mines['status'].notna().sum())} rows only).",
            "has_mine is true where the facility field lists 'Mine'; has_processing where it "
            "lists 'Refinery' or 'Smelter' (alumina refineries, aluminium smelters, steel mills, "
            "pellet plants, ferro-alloy plants): both can be true.",
            "source_state is the source's own state field, kept as given although it is sparse "
            "and sometimes wrong (Paracatu); adm1_code comes from the state polygons, or the "
            f"nearest state within {NEAREST_STATE_KM:g} km for coastal plants.",
        ],
        report={
            "rows_for_brazil": len(mines) + len(no_coords),
            "large_mines": len(mines),
            "without_coordinates_left_out": no_coords,
            "with_mine": int(mines["has_mine"].sum()),
            "with_processing": int(mines["has_processing"].sum()),
            "with_status": int(mines["status"].notna().sum()),
            **_state_report(mines),
        },
    )


def _rivers(ctx: BuildContext, country: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_rivers"]
    raw = read_rivers(ctx)
    rivers = clip_rivers(raw, country)
    invalid = int((~rivers.geometry.is_valid).sum())
    return Dataset(
        id="brazil_rivers",
        title="Rivers and lake centre-lines of Brazil (Natural Earth 1:10m)",
        file=ctx.write_table(rivers, "rivers.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=ref.vintage,
        processing=[
            f"Natural Earth rivers and lake centre-lines ({len(raw)} features in the Latin "
            "American extract) clipped to Brazil's outline dissolved from the curated states; a "
            "river crossing the border keeps only its Brazilian part.",
            "Kept rivernum, names, featurecla, scalerank, min_zoom and min_label.",
            "length_km is the geodesic length of the clipped line on the WGS84 ellipsoid; "
            "length_source_km the same for the whole feature of the source extract.",
            "Natural Earth 1:10m draws the main rivers only (the Amazon, São Francisco, Paraná "
            "and their large tributaries), not the dense network of smaller navigable rivers.",
            f"{invalid} invalid lines; sorted by scalerank, rivernum.",
        ],
        report={
            "features": len(rivers),
            "unnamed": int(rivers["name"].isna().sum()),
            "length_km_total": round(float(rivers["length_km"].sum()), 1),
            "featurecla": value_counts(rivers["featurecla"]),
        },
    )


def _lakes(ctx: BuildContext, country: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_lakes"]
    raw = read_lakes(ctx, _LAKE_COLUMNS)
    _, lakes, n_repaired = lakes_touching(
        raw, country, text=["name", "name_abb", "name_alt", "dam_name", "featurecla"])
    inside = lakes.geometry.to_crs(EQUAL_AREA_CRS).intersection(
        country.to_crs(EQUAL_AREA_CRS).geometry.iloc[0]).area / 1e6
    lakes["share_in_outline"] = (inside / lakes["area_km2"]).clip(upper=1.0).round(4)
    lakes = lakes.sort_values(["scalerank", "name"], kind="stable")
    lakes = lakes[[*_LAKE_COLUMNS, "area_km2", "share_in_outline", "geometry"]]
    lakes = lakes.reset_index(drop=True)
    shared = lakes[lakes["share_in_outline"] < 0.9]
    return Dataset(
        id="brazil_lakes",
        title="Lakes and reservoirs of Brazil (Natural Earth 1:10m), whole water bodies",
        file=ctx.write_table(lakes, "lakes.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=ref.vintage,
        processing=[
            f"Natural Earth lakes ({len(raw)} polygons in the Latin American extract) that "
            "intersect Brazil's outline dissolved from the curated states; featurecla tells "
            "lakes from reservoirs (hydro-electric dams: Itaipu, Sobradinho, Tucuruí, Furnas…).",
            "Not clipped: water bodies shared with a neighbour (Lagoa Mirim with Uruguay, the "
            "Itaipu reservoir with Paraguay) are kept whole, and share_in_outline says which "
            "share of each lies inside Brazil's outline; area_km2 is the whole water body.",
            "Kept names, dam name, featurecla, scalerank, min_zoom and min_label; dropped the "
            "empty note, delta, admin and year (-99 = unknown) columns.",
            f"area_km2 computed in {EQUAL_AREA_CRS} (equal-area); {n_repaired} invalid polygons "
            "repaired.",
        ],
        report={
            "features": len(lakes),
            "by_featurecla": value_counts(lakes["featurecla"]),
            "invalid_repaired": n_repaired,
            "area_km2_total": round(float(lakes["area_km2"].sum()), 1),
            "shared_with_neighbours": [f"{n} ({s:.0%} in Brazil)" for n, s in
                                       shared[["name", "share_in_outline"]]
                                       .itertuples(index=False)],
        },
    )


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate Brazil's states and the point, line and polygon layers over them.

    Sets ``ctx.frames["states"]`` and ``ctx.frames["country"]`` (the dissolved outline).

    Parameters
    ----------
    ctx : BuildContext
        Build context with ``region == "brazil"`` (raw folder with ``latam/``, output folder).

    Returns
    -------
    list of Dataset
        ``brazil_states``, ``brazil_places``, ``brazil_airports``, ``brazil_ports``,
        ``brazil_heritage_sites``, ``brazil_large_mines``, ``brazil_rivers``, ``brazil_lakes``.

    Raises
    ------
    ValueError
        If the context is for another region (the files would land in its folder).
    """
    if ctx.region != REGION:
        msg = f"the brazil step writes data/{REGION}/ but the build context is for {ctx.region!r}"
        raise ValueError(msg)
    states_ds, states, country = _states(ctx)
    ctx.frames["states"] = states
    ctx.frames["country"] = country
    return [
        states_ds,
        _places(ctx, states, country),
        _airports(ctx, states, country),
        _ports(ctx, states, country),
        _heritage(ctx, states, country),
        _large_mines(ctx, states),
        _rivers(ctx, country),
        _lakes(ctx, country),
    ]
