"""Rebuild step for forests: Geobosques cover and loss, MapBiomas land use and SERFOR tables.

Geobosques and the MapBiomas table are keyed by the current INEI district code; the three SERFOR
tables carry department, province and district names only and are joined through the ubigeo
crosswalk (:func:`match_district_names`). Every district created after 2007 is folded into its
parent district of the 2007 map (:func:`~curation.peru.districts.parent_2007_district`).
"""

from __future__ import annotations

import re

import pandas as pd

from curation.common.context import BuildContext, Dataset
from curation.common.frames import blank_to_na, normalize_name, require_columns, value_counts
from curation.peru.districts import describe_parents, parent_2007_district, read_capitals, read_centres
from curation.sources import SOURCES
from geo_engine._errors import SourceFormatError

__all__ = [
    "CENTRE_ACTIVITIES",
    "CONCESSION_TYPES",
    "NAME_VARIANTS",
    "PERMIT_SCOPES",
    "build",
    "crosswalk_parents",
    "match_district_names",
    "parse_thousands",
]

NAME_VARIANTS: dict[str, str] = {
    "NASCA": "NAZCA",
    "DANIEL ALOMIA ROBLES": "DANIEL ALOMIAS ROBLES",
    "KIMBIRI": "QUIMBIRI",
    "ALLAUCA": "AYAUCA",
    "LURIGANCHO CHOSICA": "LURIGANCHO",
}
"""SERFOR spellings of province/district names (folded) → the crosswalk's spelling.

Nasca/Nazca and Kimbiri/Quimbiri are two official spellings; Daniel Alomía Robles is the
district's name (the crosswalk writes "Alomias"); Allauca is the capital of the district Ayauca;
Lurigancho-Chosica is the usual name of the district Lurigancho. ``MAZAMARI PANGOA`` names two
districts at once and is left unmatched."""

CONCESSION_TYPES: dict[str, str] = {
    "FINES MADERABLES": "timber",
    "PRODUCTOS FORESTALES DIFERENTES A LA MADERA": "non_timber",
    "CONSERVACION": "conservation",
    "ECOTURISMO": "ecotourism",
    "FORESTACION Y O REFORESTACION": "reforestation",
    "PLANTACIONES FORESTALES": "reforestation",
    "FAUNA SILVESTRE": "wildlife",
}
"""SERFOR concession types (folded) → curated key. Non-timber concessions are mostly Brazil-nut
(castaña) and shiringa in Madre de Dios; plantations are grouped with reforestation."""

CENTRE_ACTIVITIES: dict[str, str] = {
    "ASERRADERO": "sawmill",
    "LAMINADORA": "veneer_plywood",
    "TRIPLAYERA": "veneer_plywood",
    "PRODUCCION DE CARBON VEGETAL": "charcoal",
    "TRANSFORMACION DE FIBRA DE CAMELIDOS SUDAMERICANOS SILVESTRES": "camelid_fibre",
    "OTROS": "other",
    "OTROS INDICAR EN OBSERVACIONES": "other",
}
"""SERFOR primary-processing activity (``Giro``, folded) → curated key."""

PERMIT_SCOPES: dict[str, str] = {
    "COMUNIDAD NATIVA": "native_community",
    "COMUNIDAD CAMPESINA": "campesino_community",
    "PREDIO PRIVADO": "private_land",
    "TIERRAS DE DOMINIO PUBLICO": "public_land",
}
"""SERFOR permit scope (``AMBITO``, folded) → curated key."""

_THOUSANDS = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_LOSS_YEARS = range(2001, 2025)
_MAPBIOMAS_COLUMNS = {
    "form_boscosa": "forest_formation_ha",
    "area_agropec": "agriculture_pasture_ha",
    "Infraestructura": "infrastructure_ha",
    "Minería": "mining_ha",
    "Río_lago_u_océano": "water_ha",
    "Def_ha": "deforestation_ha",
    "Coca_ha": "coca_ha",
}


def parse_thousands(values: pd.Series, *, column: str, file: str) -> pd.Series:
    """Return numbers written with thousands commas and a decimal point (``"1,234.56"``) as floats.

    Parameters
    ----------
    values : pandas.Series
        Text values; empty cells become NaN.
    column, file : str
        Where the values come from, for the message.

    Returns
    -------
    pandas.Series
        float64.

    Raises
    ------
    SourceFormatError
        If a value is not a number in that format (e.g. a decimal comma ``"1,5"``).

    Examples
    --------
    >>> parse_thousands(pd.Series(["2,403.72", "0.54", "1,029,600.00", ""]), column="x",
    ...                 file="f").tolist()
    [2403.72, 0.54, 1029600.0, nan]
    """
    text = values.astype("string").str.strip()
    text = text.mask(text.eq(""))
    bad = text.notna() & ~text.str.match(_THOUSANDS).fillna(False)
    if bad.any():
        msg = (f"{file}: column {column!r} has {int(bad.sum())} values that are not numbers "
               f"written like '1,234.56', e.g. {text[bad].head(3).tolist()}")
        raise SourceFormatError(msg)
    return pd.to_numeric(text.str.replace(",", "", regex=False)).astype("float64")


def crosswalk_parents(ctx: BuildContext) -> pd.DataFrame:
    """Return the ubigeo crosswalk with folded names and each district's 2007 parent.

    Columns: ``inei`` (current code), ``dep``, ``prov``, ``dist`` (folded names), ``district_code``
    (2007 parent, ``<NA>`` when unmapped) and ``method`` (see
    :func:`~curation.peru.districts.parent_2007_district`).
    """
    xw = read_capitals(ctx).dropna(subset=["inei"]).reset_index(drop=True)
    require_columns(xw, ["departamento", "provincia"], file=SOURCES["ubigeo_crosswalk"].file)
    parents = parent_2007_district(xw["inei"], districts=ctx.frames["districts"],
                                   centres=read_centres(ctx), capitals=xw)
    out = pd.DataFrame({
        "inei": xw["inei"],
        "dep": xw["departamento"].map(normalize_name, na_action="ignore"),
        "prov": xw["provincia"].map(normalize_name, na_action="ignore"),
        "dist": xw["distrito"].map(normalize_name, na_action="ignore"),
    })
    out["district_code"] = out["inei"].map(parents["district_code"]).astype("string")
    out["method"] = out["inei"].map(parents["method"])
    return out


def match_district_names(frame: pd.DataFrame, columns: list[str], crosswalk: pd.DataFrame
                         ) -> pd.Series:
    """Return the current INEI code of each row from its department, province and district names.

    Names are folded (:func:`~curation.common.frames.normalize_name`) and
    :data:`NAME_VARIANTS` applied to province and district; a row matches when the three folded
    names equal one crosswalk row.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with the three name columns.
    columns : list of str
        Department, province and district column names, in that order.
    crosswalk : pandas.DataFrame
        :func:`crosswalk_parents` output.

    Returns
    -------
    pandas.Series
        Codes aligned with ``frame.index``; ``<NA>`` where no crosswalk row matches.
    """
    dep, prov, dist = (frame[c].map(normalize_name, na_action="ignore") for c in columns)
    prov = prov.replace(NAME_VARIANTS)
    dist = dist.replace(NAME_VARIANTS)
    lookup = crosswalk.set_index(["dep", "prov", "dist"])["inei"]
    lookup = lookup[~lookup.index.duplicated()]
    keys = pd.MultiIndex.from_arrays([dep, prov, dist])
    return pd.Series(lookup.reindex(keys).to_numpy(), index=frame.index, dtype="string")


def _snake(values: pd.Series) -> pd.Series:
    """Return labels folded to snake case (``"NO MADERABLE"`` → ``"no_maderable"``)."""
    return values.map(normalize_name, na_action="ignore").str.lower().str.replace(" ", "_")


def _to_parents(codes: pd.Series, crosswalk: pd.DataFrame, on_map: set[str]) -> pd.Series:
    """Map current codes to 2007 parents; codes absent from the crosswalk map only to themselves."""
    parent = codes.map(crosswalk.set_index("inei")["district_code"])
    return parent.where(parent.notna(), codes.where(codes.isin(on_map))).astype("string")


def _join_report(codes: pd.Series, parents: pd.Series, crosswalk: pd.DataFrame
                 ) -> dict[str, object]:
    method = codes.map(crosswalk.set_index("inei")["method"])
    unmapped = sorted(set(codes[parents.isna() & codes.notna()]))
    return {"rows": len(codes), "matched": int(codes.notna().sum()),
            "mapped_to_2007_parent": int(method.isin(["centres", "capital_point", "capital_name"]).sum()),
            "dropped": int(parents.isna().sum()), "dropped_unmapped_codes": unmapped}


def _geobosques(ctx: BuildContext, crosswalk: pd.DataFrame) -> Dataset:
    ref = SOURCES["geobosques"]
    raw = pd.read_csv(ctx.source("geobosques"), dtype="string")
    loss_cols = [f"{y}_ha" for y in _LOSS_YEARS]
    require_columns(raw, ["UBIGEO", *loss_cols, "HIDROGRAFÍA_ha", "BOSQUE AL 2024_ha"],
                    file=ref.file)
    values = pd.DataFrame({f"loss_{c}": parse_thousands(raw[c], column=c, file=ref.file)
                           for c in loss_cols})
    values["forest_2024_ha"] = parse_thousands(raw["BOSQUE AL 2024_ha"], column="BOSQUE AL 2024_ha",
                                               file=ref.file)
    values["hydrography_ha"] = parse_thousands(raw["HIDROGRAFÍA_ha"], column="HIDROGRAFÍA_ha",
                                               file=ref.file)
    codes = raw["UBIGEO"].str.strip().str.zfill(6)
    districts = ctx.frames["districts"]
    parents = _to_parents(codes, crosswalk, set(districts["district_code"]))
    report = _join_report(codes, parents, crosswalk)
    values["district_code"] = parents
    summed = values.dropna(subset=["district_code"]).groupby("district_code").sum(min_count=1)
    table = summed.reindex(sorted(districts["district_code"]))
    table.index.name = "district_code"
    monitored = table.index.isin(summed.index)
    yearly = [f"loss_{c}" for c in loss_cols]
    table.loc[~monitored, [*yearly, "forest_2024_ha", "hydrography_ha"]] = 0.0
    table["loss_2001_2024_ha"] = table[yearly].sum(axis=1)
    table["loss_2020_2024_ha"] = table[[f"loss_{y}_ha" for y in range(2020, 2025)]].sum(axis=1)
    table.insert(0, "geobosques_monitored", monitored)
    table = table.round(2).reset_index()
    head = ["district_code", "geobosques_monitored", "forest_2024_ha", "loss_2001_2024_ha",
            "loss_2020_2024_ha", "hydrography_ha"]
    table = table[[*head, *yearly]]
    report.update({"districts_monitored": int(monitored.sum()),
                   "forest_2024_ha_total": round(float(table["forest_2024_ha"].sum())),
                   "loss_2001_2024_ha_total": round(float(table["loss_2001_2024_ha"].sum()))})
    return Dataset(
        id="forest_cover_loss",
        title="Humid Amazon forest 2024 and yearly forest loss 2001–2024 by district (Geobosques)",
        file=ctx.write_table(table, "forest_cover_loss.parquet"),
        sources=[ref, SOURCES["ubigeo_crosswalk"], SOURCES["centros_poblados"]],
        licence="none-stated",
        vintage=ref.vintage,
        processing=[
            "Numbers are written with thousands commas and a decimal point ('2,403.72'); parsed "
            "strictly (any other format stops the rebuild).",
            "UBIGEO (current INEI code) folded into its district of the 2007 map, hectares "
            "summed; rows of codes that cannot be placed are dropped (report: dropped). "
            + describe_parents(crosswalk),
            "Geobosques monitors the humid Amazon forest (bosque húmedo amazónico) only. Districts "
            "outside its set (geobosques_monitored=false) get 0 ha of humid Amazon forest and 0 "
            "loss: they have none of that forest. This is NOT 0 forest: the dry forests of the "
            "north coast (Tumbes, Piura, Lambayeque), Andean relict forests and plantations are "
            "not measured here.",
            "loss_2020_2024_ha is the sum of the yearly losses 2020–2024; loss_2001_2024_ha of all "
            "24 years.",
        ],
        report=report,
    )


def _mapbiomas(ctx: BuildContext, crosswalk: pd.DataFrame) -> Dataset:
    ref = SOURCES["mapbiomas_cip"]
    raw = pd.read_csv(ctx.source("mapbiomas_cip"), dtype={"UBIGEO": "string"})
    require_columns(raw, ["UBIGEO", "YEAR", "Región", *_MAPBIOMAS_COLUMNS], file=ref.file)
    year = int(raw["YEAR"].max())
    rows = raw[raw["YEAR"] == year].reset_index(drop=True)
    codes = rows["UBIGEO"].str.strip().str.zfill(6)
    parents = _to_parents(codes, crosswalk, set(ctx.frames["districts"]["district_code"]))
    report = _join_report(codes, parents, crosswalk)
    values = rows[list(_MAPBIOMAS_COLUMNS)].rename(columns=_MAPBIOMAS_COLUMNS).astype("float64")
    values["district_code"] = parents
    table = values.dropna(subset=["district_code"]).groupby("district_code").sum(min_count=1)
    region = rows.assign(district_code=parents).groupby("district_code")["Región"].first()
    table.insert(0, "natural_region", region.str.lower())
    table.insert(0, "year", year)
    table = table.round(2).reset_index()
    report.update({"year": year, "districts": len(table),
                   "mining_ha_total": round(float(table["mining_ha"].sum()))})
    return Dataset(
        id="forest_land_use",
        title=f"Land use {year} of Amazon districts: forest formation, farming, mining (MapBiomas, CIP)",
        file=ctx.write_table(table, "forest_land_use.parquet"),
        sources=[ref, SOURCES["ubigeo_crosswalk"], SOURCES["centros_poblados"]],
        licence="none-stated",
        vintage=str(year),
        processing=[
            f"Kept the latest year of the district × year table ({year}); columns renamed: forest "
            "formation, agriculture and pasture, infrastructure, mining, rivers/lakes (ha of "
            "MapBiomas Perú classes), deforestation ha of the year and coca ha (empty where the "
            "source has none).",
            "Only the Amazon districts of the CIP study are present; the others are missing, not 0.",
            "Codes folded into 2007 parents as for Geobosques; hectares summed.",
            "Not used for forest cover (Geobosques 2024 is newer and complete for the biome); "
            "mining_ha is the evidence of gold-mining land use in the Amazon.",
        ],
        report=report,
    )


def _serfor(ctx: BuildContext, key: str, columns: list[str], crosswalk: pd.DataFrame
            ) -> tuple[pd.DataFrame, pd.Series, dict[str, object]]:
    """Read a SERFOR table, match its names and return it with 2007 parent codes and a report.

    ``columns`` starts with the department, province and district columns.
    """
    raw = pd.read_csv(ctx.source(key), dtype="string")
    require_columns(raw, columns, file=SOURCES[key].file)
    codes = match_district_names(raw, columns[:3], crosswalk)
    parents = _to_parents(codes, crosswalk, set(ctx.frames["districts"]["district_code"]))
    report = _join_report(codes, parents, crosswalk)
    report["name_match_rate"] = round(float(codes.notna().mean()), 4)
    names = raw.loc[codes.isna(), columns[:3]].apply(lambda r: " / ".join(r.str.strip()), axis=1)
    report["unmatched_names"] = value_counts(names)
    return raw, parents, report


def _labels(values: pd.Series, known: dict[str, str], *, key: str, what: str) -> pd.Series:
    """Return folded source labels mapped through ``known``; an unknown label stops the rebuild."""
    folded = values.map(normalize_name, na_action="ignore")
    unknown = sorted(set(folded.dropna()) - set(known))
    if unknown:
        msg = f"{SOURCES[key].file}: unknown {what} {unknown}; add them to the module's table"
        raise SourceFormatError(msg)
    return folded.map(known)


def _serfor_dataset(ctx: BuildContext, key: str, table: pd.DataFrame, report: dict[str, object],
                    *, id: str, title: str, notes: list[str]) -> Dataset:
    """Write a curated SERFOR table and describe it (sources, licence, the name-matching step)."""
    ref = SOURCES[key]
    return Dataset(
        id=id,
        title=title,
        file=ctx.write_table(table, f"{id}.parquet"),
        sources=[ref, SOURCES["ubigeo_crosswalk"], SOURCES["centros_poblados"]],
        licence="MIT",
        vintage=ref.vintage,
        processing=[
            "Department, province and district names folded (accents, case, punctuation, spaces) "
            "and matched to the ubigeo crosswalk, with the spelling variants of NAME_VARIANTS "
            f"(Nasca/Nazca, Kimbiri/Quimbiri…); match rate {report['name_match_rate']:.2%}. "
            "Matched codes folded into their 2007 parent district; unmatched rows dropped "
            "(listed in the report).",
            *notes,
        ],
        report=report,
    )


def _concessions(ctx: BuildContext, crosswalk: pd.DataFrame) -> Dataset:
    key = "serfor_concessions"
    raw, parents, report = _serfor(ctx, key, ["DEPARTAMENTO", "PROVINCIA", "DISTRITO",
                                              "TIPO DE CONCESIÓN", "SUPERFICIE  (ha)"], crosswalk)
    rows = pd.DataFrame({
        "district_code": parents,
        "concession_type": _labels(raw["TIPO DE CONCESIÓN"], CONCESSION_TYPES, key=key,
                                   what="concession types"),
        "area_ha": pd.to_numeric(raw["SUPERFICIE  (ha)"]),
    }).dropna(subset=["district_code"])
    table = (rows.groupby(["district_code", "concession_type"])
             .agg(concessions=("area_ha", "size"), area_ha=("area_ha", "sum"))
             .reset_index().sort_values(["district_code", "concession_type"]))
    table["area_ha"] = table["area_ha"].round(2)
    report["area_ha_by_type"] = {k: round(float(v)) for k, v in
                                 table.groupby("concession_type")["area_ha"].sum().items()}
    return _serfor_dataset(ctx, key, table, report, id="forest_concessions", title=(
        "Valid forest concessions by district and type: timber, non-timber (Brazil nut), "
        "conservation, ecotourism, reforestation (SERFOR)"), notes=[
        "Types: FINES MADERABLES → timber, PRODUCTOS FORESTALES DIFERENTES A LA MADERA → "
        "non_timber (mostly Brazil nut and shiringa), CONSERVACIÓN → conservation, "
        "ECOTURISMO → ecotourism, FORESTACIÓN Y/O REFORESTACIÓN and PLANTACIONES FORESTALES "
        "→ reforestation, FAUNA SILVESTRE → wildlife.",
        "One row per district and type: number of concessions and their ha summed. A "
        "concession is listed under one district even where it spans several.",
        "Holders' names are not kept.",
    ])


def _centres(ctx: BuildContext, crosswalk: pd.DataFrame) -> Dataset:
    key = "serfor_centres"
    raw, parents, report = _serfor(ctx, key, [
        "Departamento", "Provincia", "Distrito", "Giro", "Tipo Recurso", "Número Autorizacion",
        "Estado", "Autoridad FF", "Fecha Inicio Autorizacion"], crosswalk)
    table = pd.DataFrame({
        "authorization": blank_to_na(raw["Número Autorizacion"]),
        "district_code": parents,
        "activity": _labels(raw["Giro"], CENTRE_ACTIVITIES, key=key, what="activities"),
        "resource": _snake(raw["Tipo Recurso"]),
        "status": _snake(raw["Estado"]),
        "authority": blank_to_na(raw["Autoridad FF"]),
        "start_date": blank_to_na(raw["Fecha Inicio Autorizacion"]),
    }).dropna(subset=["district_code"])
    table = table.sort_values(["district_code", "authorization"]).reset_index(drop=True)
    report["activity_counts"] = value_counts(table["activity"])
    return _serfor_dataset(ctx, key, table, report, id="forest_processing_centres", title=(
        "Licensed primary forest-processing centres (sawmills, charcoal, camelid fibre…), "
        "by district (SERFOR)"), notes=[
        "Giro → activity: sawmill, veneer_plywood (laminadora, triplayera), charcoal, "
        "camelid_fibre (processing of wild vicuña/guanaco fibre: an Andean crafts and "
        "agro asset, not wood), other.",
        "No coordinates in the source (only a street address). Holder names, legal "
        "representatives and their ID numbers are personal data and are not kept.",
    ])


def _permits(ctx: BuildContext, crosswalk: pd.DataFrame) -> Dataset:
    key = "serfor_permits"
    raw, parents, report = _serfor(ctx, key, [
        "DEPARTAMENTO", "PROVINCIA", "DISTRITO", "AMBITO", "CATEGORÍA", "SUPERFICIE  (ha)",
        "CONTRATO", "AÑO"], crosswalk)
    scope = _labels(raw["AMBITO"], PERMIT_SCOPES, key=key, what="permit scopes")
    table = pd.DataFrame({
        "contract": blank_to_na(raw["CONTRATO"]),
        "district_code": parents,
        "scope": scope,
        "community": scope.isin(["native_community", "campesino_community"]),
        "category": _snake(raw["CATEGORÍA"]),
        "area_ha": pd.to_numeric(raw["SUPERFICIE  (ha)"]).round(4),
        "year": pd.to_numeric(raw["AÑO"], errors="coerce").astype("Int64"),
    }).dropna(subset=["district_code"])
    table = table.sort_values(["district_code", "contract"]).reset_index(drop=True)
    report["scope_counts"] = value_counts(table["scope"])
    return _serfor_dataset(ctx, key, table, report, id="forest_permits", title=(
        "Forest permits by district, in native and campesino communities and on private "
        "land (SERFOR)"), notes=[
        "AMBITO → scope (native_community, campesino_community, private_land, public_land); "
        "community = native or campesino community; CATEGORÍA → category (maderable, "
        "no_maderable, fauna_silvestre).",
        "Holder names are not kept (private holders are persons).",
    ])


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate forest cover and loss, land use, concessions, processing centres and permits."""
    crosswalk = crosswalk_parents(ctx)
    return [
        _geobosques(ctx, crosswalk),
        _mapbiomas(ctx, crosswalk),
        _concessions(ctx, crosswalk),
        _centres(ctx, crosswalk),
        _permits(ctx, crosswalk),
    ]
