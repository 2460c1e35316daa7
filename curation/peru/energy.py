"""Rebuild step for energy: power plants with coordinates, and producing oil and gas lots."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from curation.common.context import BuildContext, Dataset
from curation.common.frames import (
    blank_to_na,
    finish_points,
    match_points,
    nearest_district,
    normalize_name,
    points_frame,
    require_columns,
    value_counts,
)
from curation.peru.forests import parse_thousands
from curation.peru.hydrocarbons import build_dataset
from curation.peru.places import NEAREST_DISTRICT_KM, classify_coordinates
from curation.sources import SOURCES

__all__ = ["FUELS", "PLANT_MATCH_KM", "build", "dedupe_plants"]

FUELS: dict[str, str] = {
    "NATURAL GAS": "gas",
    "GAS": "gas",
    "HYDRO": "hydro",
    "DIESEL": "oil",
    "OIL": "oil",
    "COAL": "coal",
    "SOLAR": "solar",
    "WIND": "wind",
    "BIOMASS": "biomass",
}
"""Fuel labels of the two sources (folded) → curated fuel."""

PLANT_MATCH_KM = 3.0
"""Two plants with the same fuel this close are the same plant (one row kept)."""


def _wri(ctx: BuildContext) -> pd.DataFrame:
    raw = pd.read_csv(ctx.source("gppd_wri"), dtype="string")
    require_columns(raw, ["Power Plant ID", "Name", "Fuel", "Capacity (MW)", "Owner",
                          "Commissioning Date", "Annual Generation (GWh)", "Latitude",
                          "Longitude"], file=SOURCES["gppd_wri"].file)
    return pd.DataFrame({
        "name": blank_to_na(raw["Name"]),
        "source_id": "WRI" + raw["Power Plant ID"].str.strip(),
        "fuel_label": raw["Fuel"],
        "capacity_mw": pd.to_numeric(raw["Capacity (MW)"]),
        "generation_gwh": parse_thousands(raw["Annual Generation (GWh)"],
                                          column="Annual Generation (GWh)",
                                          file=SOURCES["gppd_wri"].file),
        "owner": blank_to_na(raw["Owner"]),
        "commissioning_year": pd.to_numeric(raw["Commissioning Date"].str[:4], errors="coerce"),
        "lat": raw["Latitude"], "lon": raw["Longitude"], "source": "wri_minem_2015",
    })


def _geodb(ctx: BuildContext) -> pd.DataFrame:
    raw = pd.read_csv(ctx.source("gppd_geodb_cdm"), dtype="string")
    require_columns(raw, ["name", "gppd_idnr", "capacity_mw", "latitude", "longitude",
                          "primary_fuel", "commissioning_year", "owner", "db"],
                    file=SOURCES["gppd_geodb_cdm"].file)
    return pd.DataFrame({
        "name": blank_to_na(raw["name"]),
        "source_id": raw["gppd_idnr"].str.strip(),
        "fuel_label": raw["primary_fuel"],
        "capacity_mw": pd.to_numeric(raw["capacity_mw"]),
        "generation_gwh": float("nan"),
        "owner": blank_to_na(raw["owner"]),
        "commissioning_year": pd.to_numeric(raw["commissioning_year"], errors="coerce"),
        "lat": raw["latitude"], "lon": raw["longitude"],
        "source": raw["db"].str.strip().str.lower(),
    })


def _locate(rows: pd.DataFrame) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Return the rows with usable coordinates as points, and the drop reasons of the others."""
    coords = classify_coordinates(rows["lat"], rows["lon"])
    rows = rows.drop(columns=["lat", "lon"]).assign(
        fuel=rows["fuel_label"].map(normalize_name, na_action="ignore").map(FUELS).astype("string"),
        longitude=coords["longitude"], latitude=coords["latitude"],
        coord_fix=coords["coord_fix"])
    kept = coords["drop_reason"].isna()
    return points_frame(rows[kept].reset_index(drop=True)), coords["drop_reason"][~kept]


def dedupe_plants(wri: gpd.GeoDataFrame, other: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge the two plant lists: WRI rows first, then the GEODB/CDM rows that match none.

    A WRI plant and a GEODB/CDM plant with the same fuel at most :data:`PLANT_MATCH_KM` apart
    are one plant (pairs taken nearest first, one to one); the WRI row (MINEM 2015 capacity) is
    kept and ``also_in`` names the other source's id. Pairs where one name is the other plus
    whole words (:func:`~curation.common.frames.name_similarity` of 1) are taken first: two solar
    plants 1.2 and 1.3 km from WRI's "Panamericana" (the CDM rows "PANAMERICANA SOLAR 20 TS" and
    "MOQUEGUA FV") would otherwise pair by distance alone with the wrong one, leaving Panamericana
    counted twice and Moquegua FV merged away.

    Parameters
    ----------
    wri, other : geopandas.GeoDataFrame
        Plants with ``name``, ``fuel``, ``source_id`` and points in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per plant, with ``also_in`` (``<NA>`` when unmatched).
    """
    wri = wri.assign(also_in=pd.Series(pd.NA, index=wri.index, dtype="string"))
    used: set[int] = set()
    for fuel in sorted(set(wri["fuel"].dropna()) & set(other["fuel"].dropna())):
        for by_name in (True, False):
            left = wri[(wri["fuel"] == fuel) & wri["also_in"].isna()]
            right = other[(other["fuel"] == fuel) & ~other.index.isin(used)]
            pairs = match_points(left.reset_index(drop=True), right.reset_index(drop=True),
                                 near_km=PLANT_MATCH_KM, name_km=0.0,
                                 min_similarity=1.0 if by_name else None)
            for i, j in pairs[["left", "right"]].itertuples(index=False):
                wri.loc[left.index[i], "also_in"] = right["source_id"].iloc[j]
                used.add(int(right.index[j]))
    rest = other[~other.index.isin(used)].assign(
        also_in=pd.Series(pd.NA, index=other.index, dtype="string")[~other.index.isin(used)])
    merged = pd.concat([wri, rest], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the power plants with coordinates, deduplicated across the two sources."""
    wri_rows, geodb_rows = _wri(ctx), _geodb(ctx)
    wri, wri_dropped = _locate(wri_rows)
    other, other_dropped = _locate(geodb_rows)
    plants = dedupe_plants(wri, other)
    codes, dist = nearest_district(plants, ctx.frames["districts"], max_km=NEAREST_DISTRICT_KM)
    plants["district_code"] = codes
    plants["district_distance_km"] = dist
    outside = plants[plants["district_code"].isna()]
    plants = plants[plants["district_code"].notna()]
    plants = plants.drop(columns=["fuel_label", "longitude", "latitude"])
    plants = plants.sort_values(["capacity_mw", "name"], ascending=[False, True])
    plants = finish_points(plants.reset_index(drop=True),
                           ["name", "fuel", "capacity_mw", "district_code", "source", "source_id",
                            "also_in"])
    refs = [SOURCES["gppd_wri"], SOURCES["gppd_geodb_cdm"]]
    return [build_dataset(ctx), Dataset(
        id="power_plants",
        title="Power plants with coordinates: capacity (MW) and fuel (Global Power Plant Database)",
        file=ctx.write_table(plants, "power_plants.parquet"),
        sources=refs,
        licence="CC-BY-4.0",
        vintage="2015–2017",
        processing=[
            "WRI's Peru table (MINEM 2015: capacity, generation, owner) and the GEODB and UNFCCC "
            "CDM rows for Peru; only rows whose coordinates fall in Peru's box are kept (swapped "
            "pairs read exchanged; pairs with a lost sign or decimal dropped).",
            "Fuels: natural gas/gas → gas, diesel/oil → oil, and hydro, coal, solar, wind, "
            "biomass; a CDM row without fuel (Huaycoloro landfill gas) keeps fuel empty. WRI's "
            "generation is written with thousands commas ('2,890' GWh).",
            f"A WRI plant and a GEODB/CDM plant with the same fuel within {PLANT_MATCH_KM:g} km "
            "are one plant: the WRI row is kept (also_in = the other id); pairs whose names "
            "contain each other's words are matched first (WRI's Panamericana with the CDM's "
            "Panamericana Solar 20 TS, not with Moquegua FV 1.2 km away). GEODB's 1,008 MW "
            "'Mantaro-Tablachaca' thus merges with Restitución (210 MW) beside WRI's Antúnez de "
            "Mayolo (798 MW), the two plants of the Mantaro complex.",
            "district_code: the district polygon holding the plant or the nearest within "
            f"{NEAREST_DISTRICT_KM:g} km; plants farther out (wrong coordinates) are dropped.",
            "CDM rows are registered projects: a few may describe capacity added to an existing "
            "plant or not yet built; capacities are as the sources give them.",
        ],
        report={
            "wri_rows": len(wri_rows), "wri_with_coordinates": len(wri),
            "geodb_cdm_rows": len(geodb_rows), "geodb_cdm_with_coordinates": len(other),
            "dropped_coordinates": value_counts(pd.concat([wri_dropped, other_dropped])),
            "merged_duplicates": int(plants["also_in"].notna().sum()),
            "dropped_outside_peru": outside["name"].astype(str).tolist(),
            "plants": len(plants),
            "capacity_mw_total": round(float(plants["capacity_mw"].sum()), 1),
            "capacity_mw_by_fuel": {str(k): round(float(v), 1) for k, v in
                                    plants.groupby("fuel")["capacity_mw"].sum().items()},
        },
    )]
