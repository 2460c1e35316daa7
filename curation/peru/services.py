"""Rebuild step for district services and connectivity: 2017 census gaps and mobile internet 2023.

One file comes out of this step, ``district_services.parquet``: per district of the 2007 map, the
2017 census service gaps (dwellings without water or sewer; rural households without electricity,
mobile phone, landline or internet), illiteracy and years of schooling, and the mobile-internet
coverage of 2023 (operators present, populated centres covered). These are true district values;
the source table's road-condition columns repeat one value per department or province and are not
used. Districts created after 2007 are folded into their 2007 parent.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from curation.common.context import BuildContext, Dataset
from curation.common.frames import require_columns
from curation.peru.districts import (
    describe_parents,
    parent_2007_district,
    read_capitals,
    read_centres,
    require_districts,
)
from curation.sources import SOURCES

__all__ = ["OPERATORS", "RATES", "RURAL_RATES", "build", "district_services", "fold_to_parents"]

RATES: dict[str, str] = {
    "v34_Sin_agua": "no_water_share",
    "v35_Sin_desagüe": "no_sewer_share",
    "v06_No_leer_escribir": "illiteracy_share",
    "v09_Años_escolaridad": "schooling_years",
}
"""District-wide columns of the services table (shares 0–1, or years) and their curated names."""

RURAL_RATES: dict[str, str] = {
    "v36_Sin_electricidad_rural": "rural_no_electricity_share",
    "v38_Sin_teléfono_celular_rural": "rural_no_mobile_phone_share",
    "v39_Sin_teléfono_fijo_rural": "rural_no_landline_share",
    "v40_Sin_conexión_internet_rural": "rural_no_internet_share",
}
"""Shares of rural households (0–1): they describe only the rural part of a district."""

RURAL_SHARE = "v37_P_Población_rural"
"""Share of the district's population that is rural (0–1)."""

OPERATORS = ("Vitel", "Entel", "Claro", "Telef")
"""Mobile operators of the MTC table (Bitel is spelt ``Vitel`` there; ``Telef`` is Telefónica)."""

NOT_DISTRICT = (
    "v28_Red_vial_regional_inade", "v29_Red_vial_regional_imple", "v30_Red_vial_nacional_inade",
    "v31_Red_vial_nacional_imple", "v32_Red_vial_vecinal_inade", "v33_Red_vial_vecinal_imple",
)
"""Road-condition columns: one value repeated over every district of a department or province."""


def district_services(services: pd.DataFrame, mobile: pd.DataFrame) -> pd.DataFrame:
    """Return the curated service and connectivity columns per current INEI district code.

    Parameters
    ----------
    services : pandas.DataFrame
        The FIDT services table (``ubigeo`` and the columns of :data:`RATES`,
        :data:`RURAL_RATES` and :data:`RURAL_SHARE`).
    mobile : pandas.DataFrame
        The MTC coverage table (``ubigeo``, ``Cobertura_inter_movil_rur``/``_urb`` and one
        ``Cobertura_inter_movil_<operator>_rur``/``_urb`` dummy per operator).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``: the renamed rates, ``rural_population_share``, rural rates set missing
        where the district has no rural population (there they describe nobody),
        ``mobile_operators_2023`` (operators covering any populated centre, 0–4) and
        ``mobile_centres_2023`` (populated centres covered, urban plus rural).
    """
    s = services.set_index("ubigeo")
    out = s[list(RATES)].rename(columns=RATES).astype("float64")
    out["rural_population_share"] = s[RURAL_SHARE].astype("float64")
    no_rural = out["rural_population_share"].eq(0)
    for col, name in RURAL_RATES.items():
        out[name] = s[col].astype("float64").mask(no_rural)
    m = mobile.set_index("ubigeo").reindex(out.index)
    covered = [m[[f"Cobertura_inter_movil_{op}_urb", f"Cobertura_inter_movil_{op}_rur"]].max(axis=1)
               for op in OPERATORS]
    out["mobile_operators_2023"] = pd.concat(covered, axis=1).sum(axis=1, min_count=1)
    centres = m[["Cobertura_inter_movil_urb", "Cobertura_inter_movil_rur"]]
    out["mobile_centres_2023"] = centres.sum(axis=1, min_count=1)
    out.index.name = "code"
    return out


def fold_to_parents(
    table: pd.DataFrame, parents: pd.DataFrame, population: pd.Series
) -> pd.DataFrame:
    r"""Combine the rows of current district codes into their 2007 parent district.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`district_services`, indexed by current code.
    parents : pandas.DataFrame
        From :func:`~curation.peru.districts.parent_2007_district` (indexed by ``code``,
        with ``district_code``).
    population : pandas.Series
        Population 2020 by current code, the weights.

    Returns
    -------
    pandas.DataFrame
        One row per parent ``district_code`` with ``n_source_codes``.

    Notes
    -----
    District-wide rates are population-weighted means :math:`\sum_i p_i x_i / \sum_i p_i`; rural
    rates are weighted by the rural population :math:`p_i r_i`; covered centres are summed and the
    operator count is the largest of the parts. A parent made of one code keeps its values
    unchanged (weights do not matter then), even where its population is unknown.
    """
    frame = table.join(parents["district_code"], how="inner")
    frame = frame.dropna(subset=["district_code"])
    pop = population.reindex(frame.index).astype("float64")
    rural_pop = pop * frame["rural_population_share"]
    groups = frame.groupby("district_code", sort=True)
    out = pd.DataFrame(index=pd.Index(sorted(groups.groups), name="district_code"))
    for col in [*RATES.values(), "rural_population_share"]:
        out[col] = _weighted(frame[col], pop, frame["district_code"])
    for col in RURAL_RATES.values():
        out[col] = _weighted(frame[col], rural_pop, frame["district_code"])
    out["mobile_operators_2023"] = groups["mobile_operators_2023"].max()
    out["mobile_centres_2023"] = groups["mobile_centres_2023"].sum(min_count=1)
    out["n_source_codes"] = groups.size().astype("int64")
    return out


def _weighted(values: pd.Series, weights: pd.Series, by: pd.Series) -> pd.Series:
    ok = values.notna() & weights.notna() & (weights > 0)
    num = (values * weights).where(ok).groupby(by).sum(min_count=1)
    den = weights.where(ok).groupby(by).sum(min_count=1)
    single = by.map(by.value_counts()).eq(1)
    alone = values.where(single).groupby(by).first()  # one code: its own value, whatever weight
    return (num / den).fillna(alone)


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the district services and connectivity table (needs the admin step's districts)."""
    districts = require_districts(ctx, "services")
    services = pd.read_csv(ctx.source("fidt_services"), dtype={"ubigeo": "string"})
    require_columns(services, ["ubigeo", *RATES, *RURAL_RATES, RURAL_SHARE],
                    file=SOURCES["fidt_services"].file)
    mobile = pd.read_csv(ctx.source("mtc_mobile"), dtype={"ubigeo": "string"})
    op_cols = [f"Cobertura_inter_movil_{op}_{a}" for op in OPERATORS for a in ("urb", "rur")]
    require_columns(mobile, ["ubigeo", "Cobertura_inter_movil_urb", "Cobertura_inter_movil_rur",
                             *op_cols], file=SOURCES["mtc_mobile"].file)
    capitals = read_capitals(ctx)

    table = district_services(services, mobile)
    parents = parent_2007_district(services["ubigeo"], districts=districts,
                                   centres=read_centres(ctx), capitals=capitals)
    cap = capitals.drop_duplicates("inei").set_index("inei")
    # "S.I." (sin información) marks values the compilers did not have
    population = (pd.to_numeric(cap["pob_densidad_2020"], errors="coerce")
                  * pd.to_numeric(cap["superficie"], errors="coerce"))
    folded = fold_to_parents(table, parents, population)
    out = folded.reindex(sorted(districts["district_code"]))
    out.index.name = "district_code"
    out["n_source_codes"] = out["n_source_codes"].fillna(0).astype("int64")
    out = out.reset_index()

    method = parents["method"]
    repeated = {c: int(services.groupby(services["ubigeo"].str[:4])[c].nunique().max())
                for c in NOT_DISTRICT if c in services}
    n_no_rural = int(table["rural_population_share"].eq(0).sum())
    report: dict[str, Any] = {
        "source_rows": len(services),
        "codes_on_map": int((method == "on_map").sum()),
        "codes_mapped_to_2007_parent": int((~method.isin(["on_map", "unmapped"])).sum()),
        "codes_mapped_by_method": {m: int((method == m).sum())
                                   for m in ("centres", "capital_point", "capital_name")},
        "codes_dropped_unmapped": int((method == "unmapped").sum()),
        "dropped_codes": parents.index[method == "unmapped"].tolist(),
        "districts": len(out),
        "districts_without_values": int((out["n_source_codes"] == 0).sum()),
        "districts_folded_from_several_codes": int((out["n_source_codes"] > 1).sum()),
        "mobile_rows_without_rural_columns": int(mobile["Cobertura_inter_movil_rur"].isna().sum()),
        "codes_without_rural_population": n_no_rural,
        "road_columns_max_distinct_per_province": repeated,
    }
    processing = [
        "Kept the true district columns of the FIDT services table: dwellings without water and "
        "without sewer, rural households without electricity, mobile phone, landline and internet "
        "(INEI census 2017), illiteracy and years of schooling; all shares 0–1 as in the source. "
        "The road-condition columns (v28–v33) repeat one value over every district of a "
        "department or province and were left out; so were the agricultural columns (curated "
        "from MIDAGRI elsewhere).",
        f"Rural-household shares are set missing in the {n_no_rural} districts with no rural "
        "population, where the source writes 0 for households that do not exist.",
        "Mobile internet 2023 (MTC): mobile_operators_2023 counts the four operators (Bitel, "
        "Entel, Claro, Telefónica) covering any urban or rural populated centre of the district; "
        "mobile_centres_2023 is the number of populated centres covered (urban plus rural).",
        describe_parents(parents) + " Parents combine their parts: rates population-weighted "
        "(2020 population of the ubigeo table; rural "
        "rates by rural population), centres summed, the largest operator count kept.",
    ]
    return [
        Dataset(
            id="district_services",
            title="District services 2017 (water, sewer, rural electricity, phone, internet, "
            "schooling) and mobile-internet coverage 2023",
            file=ctx.write_table(out, "district_services.parquet"),
            sources=[SOURCES["fidt_services"], SOURCES["mtc_mobile"], SOURCES["ubigeo_crosswalk"],
                     SOURCES["centros_poblados"]],
            licence="none-stated",
            vintage="2017; 2023",
            processing=processing,
            report=report,
        )
    ]
