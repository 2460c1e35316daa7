"""Rebuild step for agriculture by district: MIDAGRI crop value 2023, farmland 2018, producers 2024.

Writes ``crops_district.parquet``: one row per district of the 2007 map with the gross value of
production (VBP) of 2023 by crop group and for the niche crops the families score (coffee, cacao,
Andean grains and tubers, maca, sacha inchi, camu-camu, avocado, grapes, asparagus, mango, banana,
the agro-export crops), the tonnes of those niche crops, the agricultural area of 2018 and the
number of agrarian producers of 2024. Districts created after 2007 are summed into the 2007
district that holds them (:func:`~curation.peru.districts.parent_2007_district`).

Values are in thousands of soles at current 2023 prices (``VBP_CORRIENTE``): with a single year
there is no growth to measure, and current prices rank crops by what they earned their growers in
2023; the 2007-price column of MIDAGRI (the weights of its volume index) undervalues the crops
whose prices rose since 2007 (cacao, avocado, blueberries). The total at 2007 prices is kept for
comparison with MIDAGRI's series.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from curation.common.context import BuildContext, Dataset
from curation.common.frames import normalize_name, require_columns
from curation.peru.districts import describe_parents, parent_2007_district, read_capitals, read_centres
from curation.sources import SOURCES
from geo_engine._errors import SourceFormatError

__all__ = ["CROP_GROUPS", "GROUP_DESCRIPTIONS", "NICHE_CROPS", "build", "crop_groups_for",
           "district_table"]

GROUP_DESCRIPTIONS: dict[str, str] = {
    "cereals": "grains and Andean pseudo-cereals (rice, maize, wheat, barley, oats, sorghum, "
    "quinoa, kiwicha, cañihua)",
    "tubers": "tubers and roots (potato, cassava, sweet potato, oca, olluco, mashua, yacón, "
    "arracacha, maca, taro)",
    "pulses": "dry legumes (beans, peas, broad beans, lima beans, lentils, chickpeas, tarwi)",
    "vegetables": "vegetables, green legumes, fresh maize, chili peppers, herbs and asparagus",
    "fruit": "fruit and nuts (banana and plantain, citrus, grape, avocado, mango, blueberry, "
    "olive, Amazon fruit such as camu-camu, cocona and peach palm)",
    "coffee_cacao": "coffee, cacao and tea",
    "industrial": "industrial crops: fibre, sugar, oilseeds and pigments (cotton, sugar cane, "
    "soybean, groundnut, sacha inchi, marigold, annatto, broom sorghum)",
    "forage": "forage crops and sown pasture (alfalfa, forage oats and barley, maize for "
    "fodder, rye grass, brachiaria, elephant grass, clover)",
}
"""Crop groups of the district table and what they hold."""

_GROUP_CROPS: dict[str, tuple[str, ...]] = {
    "cereals": ("ARROZ", "AVENA GRANO", "CEBADA GRANO", "MAIZ AMARILLO DURO", "MAIZ AMILACEO",
                "MAIZ MORADO", "SORGO GRANO", "TRIGO", "QUINUA", "ACHITA, KIWICHA, O AMARANTO",
                "CANAHUA O CANIHUA"),
    "tubers": ("PAPA", "CAMOTE", "YUCA", "OCA", "OLLUCO", "MASHUA O IZANO", "YACON", "ARRACACHA",
               "MACA", "PITUCA"),
    "pulses": ("ARVEJA GRANO SECO", "CHOCHO O TARHUI GRANO SECO",
               "FRIJOL CAUPI CHICLAYO,CASTILLA,CHILENO GS", "FRIJOL DE PALO GRANO SECO",
               "FRIJOL GRANO SECO", "FRIJOL LOCTAO GRANO SECO", "GARBANZO GRANO SECO",
               "HABA GRANO SECO", "LENTEJA GRANO SECO", "NUNA GRANO SECO", "PALLAR GRANO SECO",
               "ZARANDAJA GRANO SECO"),
    "vegetables": ("ACELGA", "AJI", "AJI PANCA", "AJO", "ALBAHACA", "ALCACHOFA", "ANIS", "APIO",
                   "ARVEJA GRANO VERDE", "BETARRAGA", "BROCOLI", "CAIGUA", "CALABAZA", "CEBOLLA",
                   "CEBOLLA CHINA", "COL", "COLIFLOR", "ESPARRAGO", "ESPINACA",
                   "FRIJOL GRANO VERDE", "FRIJOL VAINITA", "HABA GRANO VERDE", "LECHUGA",
                   "MAIZ CHOCLO", "NABO", "OREGANO", "PALLAR GRANO VERDE", "PALMITO O CHONTA",
                   "PAPRIKA", "PEPINILLO", "PIMIENTO", "PIQUILLO", "PORO", "RABANO", "ROCOTO",
                   "TOMATE", "ZANAHORIA", "ZAPALLO", "ZAPALLO ITALIANO", "ZAPALLO LOCHE"),
    "fruit": ("ACEITUNA", "ANONA", "ARANDANO", "BANANO ORGANICO", "CAIMITO", "CAMU-CAMU",
              "CAPULI", "CARAMBOLA", "CEREZO", "CHIRIMOYA", "CIROLERO", "CIRUELA", "COCO",
              "COCONA", "DAMASCO", "DATIL", "FRESA", "GRANADA", "GRANADILLA", "GUANABANA",
              "GUAYABA", "GUINDA", "HIGO", "HUMARI", "LIMA", "LIMON", "LIMON DULCE", "LUCUMA",
              "MAMEY", "MANDARINA", "MANGO", "MANZANA", "MARACUYA", "MARANON", "MELOCOTON",
              "MELON", "MEMBRILLO", "NARANJA", "NISPERO", "PACAE O GUABO", "PALTA", "PAPAYA",
              "PECANA", "PEPINO", "PERA", "PIJUAYO", "PINA", "PLATANO", "POMAROSA", "SANDIA",
              "SAUCO O ARRAYAN", "TAMARINDO", "TANGELO", "TAPERIBA", "TORONJA", "TUNA", "VID",
              "ZAPOTE"),
    "coffee_cacao": ("CAFE", "CACAO", "TE"),
    "industrial": ("ACHIOTE", "ALGODON", "CANA DE AZUCAR ALCOHOL", "CANA DE AZUCAR CHANCACA",
                   "CANA DE AZUCAR FRUTA", "MANI", "MARIGOLD", "SACHA INCHI", "SORGO ESCOBERO",
                   "SOYA"),
    "forage": ("ALFALFA", "AVENA FORRAJERA", "BRAQUEARIA", "CEBADA FORRAJERA", "GRAMA AZUL",
               "GRAMA CHILENA", "GRAMALOTE", "KING GRASS", "KUDZU", "MAIZ CHALA", "PASTO ELEFANTE",
               "PASTO OLIVA", "RYE GRASS", "TREBOL"),
}

CROP_GROUPS: dict[str, str] = {
    normalize_name(crop): group for group, crops in _GROUP_CROPS.items() for crop in crops
}
"""Crop group of each of the 158 MIDAGRI crop names (folded with ``normalize_name``).

Melon, watermelon and pepino dulce are counted as fruit (as eaten in Peru), olives as fruit (table
olives), groundnut and sacha inchi as oilseeds (industrial), maca with the roots, ``pituca``
(taro) with the tubers, oregano, basil and anise with the vegetables.
"""

NICHE_CROPS: dict[str, tuple[str, ...]] = {
    "coffee": ("CAFE",),
    "cacao": ("CACAO",),
    "andean_grains": ("QUINUA", "ACHITA, KIWICHA, O AMARANTO", "CANAHUA O CANIHUA",
                      "CHOCHO O TARHUI GRANO SECO"),
    "andean_tubers": ("OCA", "OLLUCO", "MASHUA O IZANO"),
    "maca": ("MACA",),
    "sacha_inchi": ("SACHA INCHI",),
    "camu_camu": ("CAMU-CAMU",),
    "avocado": ("PALTA",),
    "grapes": ("VID",),
    "asparagus": ("ESPARRAGO",),
    "mango": ("MANGO",),
    "banana": ("PLATANO", "BANANO ORGANICO"),
    "banana_organic": ("BANANO ORGANICO",),
    "blueberry": ("ARANDANO",),
    "agro_export": ("ARANDANO", "VID", "PALTA", "MANGO", "ESPARRAGO", "MANDARINA",
                    "BANANO ORGANICO"),
}
"""Niche crops and crop sets with their own columns, by MIDAGRI crop name.

The source has no native-potato line (``PAPA`` is every potato), so the native-tuber niche is the
three high-Andean tubers oca, olluco and mashua. ``agro_export`` holds the fresh produce Peru
exports at scale (blueberries, grapes, avocado, mango, asparagus, mandarins, organic banana);
part of each harvest is sold at home, so it measures the value of export crops, not exports.
"""

_VBP = "VBP_CORRIENTE 2023 (miles de S/)"
_VBP_2007 = "VBP_REAL (miles de S/ 2007)"
_TONNES = "PRODUCCION (t)"
_AREA = "Área agrícola 2018 (ha)"
_TERRITORY = "Área territorial (ha)"
_PRODUCERS = "PRODUCTORES"
_TONNE_COLUMNS = tuple(k for k in NICHE_CROPS if k != "agro_export")
"""Niche columns that also get tonnes (a sum of tonnes of unlike fresh produce says little)."""


def crop_groups_for(crops: pd.Series) -> pd.Series:
    """Return the crop group of each MIDAGRI crop name, failing on any name without a group.

    Raises
    ------
    SourceFormatError
        Naming every crop :data:`CROP_GROUPS` lacks.
    """
    groups = crops.map(lambda c: CROP_GROUPS.get(normalize_name(c)))
    missing = sorted(crops[groups.isna()].unique().tolist())
    if missing:
        msg = (f"crop(s) without a crop group: {missing}; add them to "
               "curation.agriculture.CROP_GROUPS")
        raise SourceFormatError(msg)
    return groups.astype("string")


def _read(ctx: BuildContext, key: str, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(ctx.source(key), dtype={"UBIGEO": "string"})
    require_columns(frame, ["UBIGEO", *columns], file=SOURCES[key].file)
    if frame["UBIGEO"].duplicated().any() and key != "midagri_crops_2023":
        msg = f"{SOURCES[key].file}: UBIGEO repeats; one row per district expected"
        raise SourceFormatError(msg)
    return frame


def _wide(frame: pd.DataFrame, keys: pd.Series, column: str) -> pd.DataFrame:
    """Sum ``column`` per 2007 district and niche/group key (one column per key)."""
    return frame.assign(_key=keys.to_numpy()).pivot_table(
        index="district_code", columns="_key", values=column, aggfunc="sum", fill_value=0.0)


def district_table(
    crops: pd.DataFrame, area: pd.DataFrame, producers: pd.DataFrame, codes: pd.Series
) -> pd.DataFrame:
    """Return the district table from the three MIDAGRI tables already carrying ``district_code``.

    Parameters
    ----------
    crops : pandas.DataFrame
        One row per source district and crop: ``UBIGEO``, ``district_code`` (2007), ``CULTIVO``,
        tonnes, current and 2007-price VBP.
    area, producers : pandas.DataFrame
        One row per source district with ``UBIGEO``, ``district_code`` and the value column.
    codes : pandas.Series
        The district codes of the 2007 map: one output row each, sorted.

    Returns
    -------
    pandas.DataFrame
        ``district_code``, ``source_codes`` and the value columns. A district absent from a source
        table has missing values for that table; a crop a listed district did not report is 0.
    """
    crops = crops.dropna(subset=["district_code"])
    out = pd.DataFrame(index=pd.Index(sorted(codes), name="district_code"))
    merged = pd.concat([t.dropna(subset=["district_code"])[["UBIGEO", "district_code"]]
                        for t in (crops, area, producers)]).drop_duplicates()
    several = merged.groupby("district_code")["UBIGEO"].agg(lambda s: "+".join(sorted(s)))
    folded = merged[merged["UBIGEO"] != merged["district_code"]]["district_code"].unique()
    out["source_codes"] = several.reindex(out.index).where(out.index.isin(folded)).astype("string")

    per = crops.groupby("district_code")
    out["vbp_total_ksol"] = per[_VBP].sum()
    out["vbp_total_ksol_2007_prices"] = per[_VBP_2007].sum()
    out["crops_2023"] = per["CULTIVO"].nunique().astype("Int64")
    reported = out["vbp_total_ksol"].notna().to_numpy()
    groups = _wide(crops, crop_groups_for(crops["CULTIVO"]), _VBP)
    for group in _GROUP_CROPS:
        out[f"vbp_{group}_ksol"] = groups.get(group, pd.Series(0.0, index=groups.index))
    folded_names = crops["CULTIVO"].map(normalize_name)
    for niche, names in NICHE_CROPS.items():
        rows = crops[folded_names.isin({normalize_name(n) for n in names}).to_numpy()]
        per_niche = rows.groupby("district_code")
        out[f"vbp_{niche}_ksol"] = per_niche[_VBP].sum()
        if niche in _TONNE_COLUMNS:
            out[f"production_{niche}_t"] = per_niche[_TONNES].sum()
    value_cols = [c for c in out.columns if c.startswith(("vbp_", "production_"))]
    out[value_cols] = out[value_cols].astype("float64")
    # a district in the crop table that did not report a crop produced none of it
    out.loc[reported, value_cols] = out.loc[reported, value_cols].fillna(0.0)

    for frame, column, name in ((area, _AREA, "agricultural_area_2018_ha"),
                                (area, _TERRITORY, "territorial_area_2018_ha"),
                                (producers, _PRODUCERS, "producers_2024")):
        out[name] = frame.groupby("district_code")[column].sum(min_count=1)
    out["producers_2024"] = out["producers_2024"].round().astype("Int64")
    return out.reset_index()


def _match_report(frame: pd.DataFrame, parents: pd.DataFrame) -> dict[str, Any]:
    method = frame["UBIGEO"].map(parents["method"])
    return {"rows": len(frame),
            "rows_matched": int((method == "on_map").sum()),
            "rows_mapped_to_2007_parent": int((~method.isin(["on_map", "unmapped"])).sum()),
            "rows_dropped": int((method == "unmapped").sum()),
            "source_districts": int(frame["UBIGEO"].nunique())}


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the district agriculture table (needs the admin step's districts)."""
    if "districts" not in ctx.frames:
        msg = "the agriculture step needs ctx.frames['districts']: run the admin step first"
        raise SourceFormatError(msg)
    districts = ctx.frames["districts"]
    crops = _read(ctx, "midagri_crops_2023", ["CULTIVO", _TONNES, _VBP, _VBP_2007])
    area = _read(ctx, "midagri_area_2018", [_AREA, _TERRITORY])
    producers = _read(ctx, "midagri_producers_2024", [_PRODUCERS])
    if crops.duplicated(["UBIGEO", "CULTIVO"]).any():
        msg = f"{SOURCES['midagri_crops_2023'].file}: a district lists a crop twice"
        raise SourceFormatError(msg)
    groups = crop_groups_for(crops["CULTIVO"])
    source_names = pd.concat([t[["UBIGEO", "DISTRITO"]] for t in (crops, area, producers)
                              if "DISTRITO" in t]).drop_duplicates("UBIGEO")
    all_codes = pd.concat([t["UBIGEO"] for t in (crops, area, producers)])
    parents = parent_2007_district(all_codes, districts=districts, centres=read_centres(ctx),
                                   capitals=read_capitals(ctx),
                                   names=source_names.set_index("UBIGEO")["DISTRITO"])
    for frame in (crops, area, producers):
        frame["district_code"] = frame["UBIGEO"].map(parents["district_code"]).astype("string")
    table = district_table(crops, area, producers, districts["district_code"])

    new = parents[parents["method"] != "on_map"]
    off_province = new[new["district_code"].notna()
                       & (new["district_code"].str[:4] != new.index.str[:4])]
    outside = new[new["capital_km"] > 0]
    report: dict[str, Any] = {
        "districts": len(table),
        "crops": int(crops["CULTIVO"].nunique()),
        "crops_by_group": {str(g): int(n) for g, n in
                           crops.groupby(groups.to_numpy())["CULTIVO"].nunique().items()},
        "codes_after_2007": len(new),
        "codes_after_2007_by_centres": int((new["method"] == "centres").sum()),
        "codes_after_2007_by_capital_point": int((new["method"] == "capital_point").sum()),
        "codes_after_2007_by_capital_name": int((new["method"] == "capital_name").sum()),
        "codes_after_2007_unmapped": new.index[new["method"] == "unmapped"].tolist(),
        "codes_after_2007_in_a_newer_province": {
            str(k): str(v) for k, v in off_province["district_code"].items()},
        "capitals_outside_the_chosen_polygon_km": {
            str(k): float(v) for k, v in outside["capital_km"].items()},
        "crop_table": _match_report(crops, parents),
        "area_table": _match_report(area, parents),
        "producers_table": _match_report(producers, parents),
        "districts_without_crop_rows": int(table["vbp_total_ksol"].isna().sum()),
        "districts_without_area": int(table["agricultural_area_2018_ha"].isna().sum()),
        "districts_without_producers": int(table["producers_2024"].isna().sum()),
        "sugar_cane_t": round(float(crops.loc[crops["CULTIVO"].map(normalize_name)
                                              .str.startswith("CANA DE AZUCAR"), _TONNES].sum())),
        "vbp_total_2023_million_sol": round(float(crops[_VBP].sum()) / 1e3, 1),
        "vbp_placed_2023_million_sol": round(float(table["vbp_total_ksol"].sum()) / 1e3, 1),
    }
    dropped = report["crop_table"]["rows_dropped"]
    processing = [
        "Crop table (UBIGEO × 158 crops): VBP at current 2023 prices summed per district by crop "
        "group (CROP_GROUPS, every crop mapped) and for the niche crops (NICHE_CROPS); tonnes "
        "summed for the niche crops. Current prices are used because the table holds one year "
        "and current prices rank crops by what they earned in 2023; the total at 2007 prices "
        "(MIDAGRI's volume-index weights) is kept as vbp_total_ksol_2007_prices.",
        "The source has no native-potato line: PAPA is all potatoes (in the tubers group); the "
        "native-tuber niche is oca, olluco and mashua.",
        "The source has no line for sugar cane for sugar: only cane for alcohol, chancaca and "
        f"fresh use ({report['sugar_cane_t']:,} t in all, mostly Amazonas, Loreto, Cajamarca and "
        "Piura), against 10.6 Mt a year in MINAGRI's 2011–2015 department series, mostly La "
        "Libertad, Lambayeque and Lima. "
        "The industrial group therefore leaves out the coastal sugar estates.",
        "A district listed in the crop table but without a given crop has 0 for it; a district "
        f"not listed at all ({report['districts_without_crop_rows']}, mostly the urban districts "
        "of Lima, Callao and other cities, and part of Yauyos and Talara) keeps missing values: "
        "the table does not say whether they grew nothing or were not reported.",
        describe_parents(parents) + f" In the crop table {dropped} rows were dropped. "
        "source_codes lists the codes summed into a district that received any.",
        "Agricultural area 2018 (Mapa Nacional de Superficie Agrícola) and territorial area in "
        "hectares, and the number of agrarian producers 2024, summed the same way.",
    ]
    return [Dataset(
        id="crops_district",
        title="Crops by district: production value 2023 by crop group and niche crop, "
        "agricultural area 2018, producers 2024 (MIDAGRI)",
        file=ctx.write_table(table, "crops_district.parquet"),
        sources=[SOURCES["midagri_crops_2023"], SOURCES["midagri_area_2018"],
                 SOURCES["midagri_producers_2024"], SOURCES["ubigeo_crosswalk"],
                 SOURCES["centros_poblados"]],
        licence="none-stated",
        vintage="2023 (crops); 2018 (agricultural area); 2024 (producers)",
        processing=processing,
        report=report,
    )]
