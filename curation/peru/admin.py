"""Rebuild step for administrative units: districts, and provinces and departments derived from them."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from curation.common.context import BuildContext, Dataset
from curation.common.frames import EQUAL_AREA_CRS, normalize_name, repair_geometries, require_columns
from curation.sources import SOURCES

__all__ = ["KEEP_LAYER_NAMES", "build", "dissolve_units", "official_names"]

KEEP_LAYER_NAMES: dict[str, str] = {
    "080907": "KIMBIRI is the spelling of INEI and of the district's municipality; the ubigeo "
    "table writes QUIMBIRI",
}
"""District codes whose layer name is kept although the ubigeo table differs, with the reason."""

def official_names(
    districts: pd.DataFrame, references: dict[str, pd.Series]
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Replace district, province and department names by those of the INEI ubigeo tables.

    The 2007 layer has typos ("PUIRA" for Piura, "VICTOR FAFARDO" for Victor Fajardo), a truncated
    name ("SANTA CRUZ DE TOLED") and a few old names; the ubigeo tables are the reference. Names that
    differ only in accents, case or punctuation are left as they are; a code the reference lacks,
    or one in :data:`KEEP_LAYER_NAMES`, keeps its layer name.

    Parameters
    ----------
    districts : pandas.DataFrame
        With ``district_code``, ``district``, ``province_code``, ``province``,
        ``department_code`` and ``department``.
    references : dict
        ``{"district": names by 6-digit code, "province": by 4-digit code, "department": by
        2-digit code}``.

    Returns
    -------
    tuple of (pandas.DataFrame, list of dict)
        A copy with the names fixed, and one record per changed (level, code): ``level``,
        ``code``, ``layer`` (old name) and ``ubigeo`` (new name).
    """
    out = districts.copy()
    fixes: list[dict[str, str]] = []
    for level, ref in references.items():
        code_col = f"{level}_code"
        official = out[code_col].map(ref).astype("string")
        if level == "district":
            official = official.mask(out[code_col].isin(list(KEEP_LAYER_NAMES)))
        differs = official.notna() & (
            out[level].map(normalize_name) != official.map(normalize_name)
        )
        changed = out.loc[differs, [code_col, level]].drop_duplicates()
        for code, old in zip(changed[code_col], changed[level], strict=True):
            fixes.append({"level": level, "code": str(code), "layer": str(old),
                          "ubigeo": str(ref[code])})
        out[level] = out[level].mask(differs, official).astype("string")
    return out, fixes


def dissolve_units(
    districts: gpd.GeoDataFrame, *, code: str, name_columns: list[str]
) -> gpd.GeoDataFrame:
    """Dissolve districts into a higher admin level keyed by a code column.

    Parameters
    ----------
    districts : geopandas.GeoDataFrame
        Curated districts (EPSG:4326), with ``code`` and ``name_columns``.
    code : str
        Column holding the code of the higher level (e.g. ``province_code``).
    name_columns : list of str
        Columns constant within a unit, carried over (first value).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit, sorted by code, with ``n_districts``, ``n_districts_without_geometry``,
        ``area_km2`` (sum of the district areas) and the union of the district polygons.
    """
    frame = districts.copy()
    frame["_missing"] = ~frame["has_geometry"]
    grouped = frame.groupby(code, sort=True)
    attrs = grouped[name_columns].first()
    attrs["n_districts"] = grouped.size()
    attrs["n_districts_without_geometry"] = grouped["_missing"].sum().astype("int64")
    attrs["area_km2"] = grouped["area_km2"].sum()
    geoms = (
        frame[frame["has_geometry"]]
        .groupby(code, sort=True)["geometry"]
        .apply(lambda s: shapely.union_all(s.to_numpy()))
    )
    out = gpd.GeoDataFrame(
        attrs.reset_index(), geometry=list(geoms.reindex(attrs.index)), crs=districts.crs
    )
    repaired, _ = repair_geometries(out.geometry)
    return out.set_geometry(repaired)


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate districts, provinces and departments and put them in ``ctx.frames``.

    Sets ``ctx.frames["districts"]`` (all 1,834 districts, 8 without geometry) and
    ``ctx.frames["country"]`` (one-row national outline) for the later steps.
    """
    path = ctx.source("districts")
    raw = gpd.read_file(path, engine="pyogrio")
    require_columns(raw, ["IDDIST", "NOMBDIST", "NOMBPROV", "NOMBDEP"], file=SOURCES["districts"].file)
    if raw.crs is None or raw.crs.to_epsg() != 4326:
        raw = raw.set_crs("EPSG:4326", allow_override=True) if raw.crs is None else raw.to_crs(4326)
    ubigeo = pd.read_csv(ctx.source("ubigeo_distrito"), dtype={"inei": "string"})
    require_columns(ubigeo, ["inei", "superficie", "departamento", "provincia", "distrito"],
                    file=SOURCES["ubigeo_distrito"].file)
    ubigeo = ubigeo.dropna(subset=["inei"]).set_index("inei")
    prov_names = (
        pd.read_csv(ctx.source("ubigeo_provincia"), dtype={"inei": "string"})
        .dropna(subset=["inei"])
        .assign(code=lambda d: d["inei"].str[:4])
        .set_index("code")["provincia"]
    )
    dep_names = (
        pd.read_csv(ctx.source("ubigeo_departamento"), dtype={"inei": "string"})
        .dropna(subset=["inei"])
        .assign(code=lambda d: d["inei"].str[:2])
        .set_index("code")["departamento"]
    )

    codes = raw["IDDIST"].astype("string").str.zfill(6)
    geoms, n_repaired = repair_geometries(raw.geometry)
    districts = gpd.GeoDataFrame(
        {
            "district_code": codes,
            "district": raw["NOMBDIST"].astype("string"),
            "province_code": codes.str[:4],
            "province": raw["NOMBPROV"].astype("string"),
            "department_code": codes.str[:2],
            "department": raw["NOMBDEP"].astype("string"),
            "capital": raw["NOM_CAP"].astype("string") if "NOM_CAP" in raw else pd.NA,
        },
        geometry=geoms.to_numpy(),
        crs="EPSG:4326",
    )
    districts, name_fixes = official_names(districts, {
        "district": ubigeo["distrito"], "province": prov_names, "department": dep_names,
    })
    districts["has_geometry"] = districts.geometry.notna()
    area = districts.geometry.to_crs(EQUAL_AREA_CRS).area / 1e6
    official = districts["district_code"].map(ubigeo["superficie"]).astype("float64")
    districts["area_km2"] = area.where(districts["has_geometry"], official).astype("float64")
    districts["area_official_km2"] = official
    districts = districts.sort_values("district_code").reset_index(drop=True)
    cols = ["district_code", "district", "province_code", "province", "department_code",
            "department", "capital", "area_km2", "area_official_km2", "has_geometry", "geometry"]
    districts = districts[cols]

    provinces = dissolve_units(
        districts, code="province_code",
        name_columns=["province", "department_code", "department"],
    )
    provinces["province_name_ubigeo"] = provinces["province_code"].map(prov_names).astype("string")
    departments = dissolve_units(districts, code="department_code", name_columns=["department"])
    departments["department_name_ubigeo"] = (
        departments["department_code"].map(dep_names).astype("string")
    )
    country = gpd.GeoDataFrame(
        {"name": ["Peru"]},
        geometry=[shapely.union_all(departments.geometry.to_numpy())],
        crs="EPSG:4326",
    )
    ctx.frames["districts"] = districts
    ctx.frames["country"] = country

    missing = districts.loc[~districts["has_geometry"], "district_code"].tolist()
    src = [SOURCES["districts"], SOURCES["ubigeo_distrito"]]
    common = {"licence": "MPL-2.0", "vintage": "2007 limits"}
    return [
        Dataset(
            id="districts",
            title="Districts of Peru (INEI ubigeo), with province and department",
            file=ctx.write_table(districts, "districts.parquet"),
            sources=src,
            processing=[
                "Kept IDDIST (6-digit INEI ubigeo) as district_code; province and department codes "
                "are its first 4 and 2 digits.",
                "Names checked against the INEI ubigeo tables (district, province, department) "
                "after folding accents, case and punctuation; the "
                f"{len(name_fixes)} that differ (typos such as PUIRA for PIURA and VICTOR FAFARDO "
                "for VICTOR FAJARDO, a truncated name, old names) take the ubigeo name; "
                "report.name_fixes lists each one. Kept on purpose: "
                + "; ".join(f"{k}: {v}" for k, v in KEEP_LAYER_NAMES.items()) + ".",
                f"Repaired {n_repaired} invalid polygons with shapely.make_valid (polygonal parts kept).",
                f"{len(missing)} districts have no geometry in the source and keep has_geometry=false "
                "with a null geometry; no polygon was invented.",
                f"area_km2 computed in {EQUAL_AREA_CRS} (equal-area); for districts without geometry "
                "it is the official area (superficie) of the ubigeo table, also kept as "
                "area_official_km2.",
            ],
            report={"districts": len(districts), "invalid_repaired": n_repaired,
                    "name_fixes": name_fixes,
                    "without_geometry": len(missing), "without_geometry_codes": missing},
            **common,
        ),
        Dataset(
            id="provinces",
            title="Provinces of Peru, dissolved from the districts",
            file=ctx.write_table(provinces, "provinces.parquet"),
            sources=[*src, SOURCES["ubigeo_provincia"]],
            processing=[
                "Union of the district polygons by the first 4 digits of the ubigeo (the provided "
                "province file has messy attributes and is not used).",
                "area_km2 is the sum of the district areas; n_districts_without_geometry counts "
                "districts that contribute area but no polygon.",
            ],
            report={"provinces": len(provinces)},
            **common,
        ),
        Dataset(
            id="departments",
            title="Departments of Peru, dissolved from the districts",
            file=ctx.write_table(departments, "departments.parquet"),
            sources=[*src, SOURCES["ubigeo_departamento"]],
            processing=[
                "Union of the district polygons by the first 2 digits of the ubigeo.",
                "area_km2 is the sum of the district areas.",
            ],
            report={"departments": len(departments)},
            **common,
        ),
    ]
