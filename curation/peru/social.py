"""Rebuild step for social tables: district indicators, population, province predictors, populated centres."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation.common.context import BuildContext, Dataset
from curation.common.frames import assign_district, points_frame, require_columns
from curation.sources import SOURCES

__all__ = ["INDICATOR_COLUMNS", "SUCCESSORS", "build", "district_indicators", "successor_values"]

INDICATOR_COLUMNS: dict[str, str] = {
    "pct_pobreza_total": "poverty_2018_pct",
    "pct_pobreza_extrema": "extreme_poverty_2013_pct",
    "idh_2019": "hdi_2019",
    "indice_vulnerabilidad_alimentaria": "food_vulnerability_index",
    "pob_densidad_2020": "density_2020_per_km2",
    "altitude": "capital_altitude_m",
    "superficie": "area_official_km2",
}
"""Columns taken from the ubigeo district table, and their names in the curated table."""

INTENSIVE = ["poverty_2018_pct", "extreme_poverty_2013_pct", "hdi_2019", "food_vulnerability_index"]
"""Rate-like indicators: combined as population-weighted means when districts are merged."""

SUCCESSORS: dict[str, dict[str, object]] = {
    # Law 30186 (2014) created the province of Putumayo (Loreto) from the north of Maynas. The 2007
    # map still has the old districts; the indicator tables only have the new codes.
    "160109": {
        "codes": ["160801", "160802", "160804"],
        "capital": "160801",
        "note": "Putumayo (2007) = Putumayo + Rosa Panduro + Yaguas of the 2014 province Putumayo",
    },
    "160114": {
        "codes": ["160803"],
        "capital": "160803",
        "note": "Teniente Manuel Clavero moved unchanged to the province Putumayo (2014)",
    },
}
"""Districts of the 2007 map whose values are published under successor codes."""

PREDICTOR_NAMES: dict[str, str] = {
    "provi": "province_code",
    "F182013_stable_lights": "night_lights_2013",
    "X2016_crops.coverfraction": "crops_cover_fraction_2016",
    "X2016_urban.coverfraction": "urban_cover_fraction_2016",
    "X2016_gHM": "human_modification_2016",
}
"""Renamed province-predictor columns; the census shares keep the source's coded names."""


def successor_values(table: pd.DataFrame, spec: dict[str, object]) -> dict[str, float]:
    r"""Combine the indicator rows of successor districts into the values of their 2007 parent.

    Parameters
    ----------
    table : pandas.DataFrame
        Curated indicator columns indexed by district code (with ``population_2020`` and
        ``area_official_km2``).
    spec : dict
        An entry of :data:`SUCCESSORS`.

    Returns
    -------
    dict
        Indicator values for the parent district.

    Notes
    -----
    Extensive values (population, area) are summed; rates in :data:`INTENSIVE` are population-
    weighted means :math:`\\sum_i p_i x_i / \\sum_i p_i`; the capital's altitude is the altitude of
    the successor that holds the old capital. Density is recomputed as population / area.
    """
    rows = table.loc[list(spec["codes"])]  # type: ignore[call-overload]
    pop = rows["population_2020"]
    out: dict[str, float] = {
        "population_2020": float(pop.sum()),
        "area_official_km2": float(rows["area_official_km2"].sum()),
    }
    for col in INTENSIVE:
        out[col] = float(np.average(rows[col], weights=pop))
    out["density_2020_per_km2"] = out["population_2020"] / out["area_official_km2"]
    out["capital_altitude_m"] = float(table.loc[spec["capital"], "capital_altitude_m"])
    return out


def district_indicators(ubigeo: pd.DataFrame, codes: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """Return the curated indicator table for the given district codes.

    Parameters
    ----------
    ubigeo : pandas.DataFrame
        The ubigeo district table (``inei`` plus the columns of :data:`INDICATOR_COLUMNS`).
    codes : pandas.Series
        District codes of the map (6-digit strings).

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        One row per code, sorted, with ``population_2020`` = density x official area and a
        ``values_from`` column naming successor codes where :data:`SUCCESSORS` applied; and the
        codes that found no row at all.
    """
    table = ubigeo.dropna(subset=["inei"]).set_index("inei")[list(INDICATOR_COLUMNS)]
    table = table.rename(columns=INDICATOR_COLUMNS).astype("float64")
    table["population_2020"] = table["density_2020_per_km2"] * table["area_official_km2"]
    out = table.reindex(sorted(codes))
    out.index.name = "district_code"
    out["values_from"] = pd.Series(pd.NA, index=out.index, dtype="string")
    for parent, spec in SUCCESSORS.items():
        if parent in out.index and out.loc[parent].drop("values_from").isna().all():
            for col, value in successor_values(table, spec).items():
                out.loc[parent, col] = value
            out.loc[parent, "values_from"] = "+".join(spec["codes"])  # type: ignore[arg-type]
    missing = out.index[out["population_2020"].isna()].tolist()
    cols = ["poverty_2018_pct", "extreme_poverty_2013_pct", "hdi_2019", "food_vulnerability_index",
            "population_2020", "density_2020_per_km2", "area_official_km2", "capital_altitude_m",
            "values_from"]
    return out[cols].reset_index(), missing


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate district indicators, population, province predictors and populated centres."""
    districts = ctx.frames["districts"]
    codes = districts["district_code"]
    on_map = set(codes)

    # "S.I." (sin información) marks values the compilers did not have
    ubigeo = pd.read_csv(
        ctx.source("ubigeo_distrito"), dtype={"inei": "string"}, na_values=["S.I."]
    )
    require_columns(ubigeo, ["inei", *INDICATOR_COLUMNS], file=SOURCES["ubigeo_distrito"].file)
    indicators, missing = district_indicators(ubigeo, codes)
    n_succ = int(indicators["values_from"].notna().sum())

    # population: 2020 estimate beside the 2022 count of ID holders
    reniec = pd.read_csv(ctx.source("reniec"))
    require_columns(reniec, ["UBIGEO_INEI", "dni_holders_2022q4"], file=SOURCES["reniec"].file)
    reniec["district_code"] = reniec["UBIGEO_INEI"].astype("int64").astype(str).str.zfill(6)
    holders = reniec.groupby("district_code")["dni_holders_2022q4"].sum()
    for parent, spec in SUCCESSORS.items():
        if parent not in holders.index:
            holders.loc[parent] = holders.reindex(spec["codes"]).sum(min_count=1)  # type: ignore[arg-type]
    pop = pd.DataFrame({"district_code": sorted(set(holders.index) | on_map)})
    pop["on_2007_map"] = pop["district_code"].isin(on_map)
    pop["population_2020"] = pop["district_code"].map(
        indicators.set_index("district_code")["population_2020"]
    )
    pop["dni_holders_2022q4"] = pop["district_code"].map(holders).astype("Int64")
    off_map = pop[~pop["on_2007_map"]]
    # successor rows were folded into their 2007 parent; flag them to avoid double counting
    folded = {c for spec in SUCCESSORS.values() for c in spec["codes"]}  # type: ignore[attr-defined]
    pop["folded_into_parent"] = pop["district_code"].isin(folded)

    # province predictors (night-time lights 2013, land cover, census shares)
    pred = pd.read_csv(ctx.source("province_predictors"), dtype={"provi": "string"})
    require_columns(pred, ["provi", "F182013_stable_lights"], file=SOURCES["province_predictors"].file)
    pred = pred.rename(columns=PREDICTOR_NAMES)
    pred["province_code"] = pred["province_code"].str.zfill(4)
    pred.columns = [c.lower() for c in pred.columns]
    pred["on_2007_map"] = pred["province_code"].isin(set(districts["province_code"]))
    pred = pred.sort_values("province_code").reset_index(drop=True)

    # populated centres
    ccpp = pd.read_csv(ctx.source("centros_poblados"), dtype="string")
    require_columns(ccpp, ["inei_ccpp", "inei_distrito", "ccpp", "tipo", "latitude", "longitude"],
                    file=SOURCES["centros_poblados"].file)
    ccpp["latitude"] = ccpp["latitude"].astype("float64")
    ccpp["longitude"] = ccpp["longitude"].astype("float64")
    centres = points_frame(
        ccpp.rename(columns={"inei_ccpp": "centre_code", "inei_distrito": "district_code",
                             "ccpp": "name"})
    )
    centres["urban"] = centres["tipo"].eq("Urban")
    centres["district_code_map"] = assign_district(centres, districts)
    centres = centres[["centre_code", "name", "district_code", "district_code_map", "urban",
                       "geometry"]]
    centres = centres.sort_values("centre_code").reset_index(drop=True)
    n_code_off = int((~centres["district_code"].isin(on_map)).sum())
    n_disagree = int((centres["district_code"] != centres["district_code_map"]).fillna(True).sum())
    n_no_poly = int(centres["district_code_map"].isna().sum())

    ubi = [SOURCES["ubigeo_distrito"]]
    return [
        Dataset(
            id="district_indicators",
            title="District indicators: poverty 2018, extreme poverty 2013, HDI 2019, food "
            "vulnerability, population 2020, capital altitude",
            file=ctx.write_table(indicators, "district_indicators.parquet"),
            sources=ubi,
            licence="MIT",
            vintage="2013–2020",
            processing=[
                "Joined the ubigeo district table to the 1,834 district codes of the map by the "
                "INEI code.",
                "population_2020 = pob_densidad_2020 (inhabitants/km²) x superficie (official km²).",
                f"{n_succ} districts of the 2007 map are published only under 2014 successor codes "
                "(province Putumayo, Law 30186): their values are combined from the successors "
                "(populations summed, rates population-weighted, the old capital's altitude); "
                "values_from names the codes used.",
                "Percentages are 0–100; HDI and the food-vulnerability index are 0–1.",
            ],
            report={"districts": len(indicators), "from_successors": n_succ,
                    "population_2020_total": round(float(indicators["population_2020"].sum())),
                    "without_values": len(missing), "without_values_codes": missing},
        ),
        Dataset(
            id="population",
            title="District population: 2020 estimate and 2022 ID-holder count side by side",
            file=ctx.write_table(pop, "population.parquet"),
            sources=[*ubi, SOURCES["reniec"]],
            licence="MIT",
            vintage="2020; 2022 Q4",
            processing=[
                "RENIEC codes zero-padded to 6 digits (10101 → 010101) and summed over age and sex.",
                "Districts created after 2007 are kept with on_2007_map=false; those of the province "
                "Putumayo are also summed into their 2007 parents (folded_into_parent=true) — do "
                "not add both.",
            ],
            report={"rows": len(pop), "on_map": int(pop["on_2007_map"].sum()),
                    "off_map": len(off_map),
                    "dni_holders_total": int(reniec["dni_holders_2022q4"].sum()),
                    "dni_holders_off_map": int(off_map["dni_holders_2022q4"].sum())},
        ),
        Dataset(
            id="province_predictors",
            title="Province predictors: night-time lights 2013, land cover 2016, census shares",
            file=ctx.write_table(pred, "province_predictors.parquet"),
            sources=[SOURCES["province_predictors"]],
            licence="public-data",
            vintage="2013–2017",
            processing=[
                "provi zero-padded to a 4-digit province_code; F182013_stable_lights renamed "
                "night_lights_2013 (DMSP stable lights, as in the source); the 2016 land-cover and "
                "human-modification columns renamed with the year last; the census shares keep "
                "the source's coded names, lower-cased; no value changed.",
                "on_2007_map=false for provinces created after the 2007 map (Putumayo).",
            ],
            report={"provinces": len(pred), "not_on_map": int((~pred["on_2007_map"]).sum())},
        ),
        Dataset(
            id="populated_centres",
            title="Populated centres (INEI 2017 census frame), urban and rural",
            file=ctx.write_table(centres, "populated_centres.parquet"),
            sources=[SOURCES["centros_poblados"]],
            licence="MIT",
            vintage="2017",
            processing=[
                "Points from latitude/longitude (kept only as the geometry); urban = tipo 'Urban'. "
                "No population is given by the source.",
                "district_code is INEI's; district_code_map is the district polygon of the 2007 map "
                "that contains the point (null where none does).",
            ],
            report={"centres": len(centres), "urban": int(centres["urban"].sum()),
                    "code_not_on_map": n_code_off, "code_differs_from_polygon": n_disagree,
                    "outside_polygons": n_no_poly},
        ),
    ]
