"""Rebuild step for tourism demand: SERNANP visits per protected area, 2022–2023.

One file comes out of this step, ``protected_area_visits.parquet``: one point per visited
protected area (one per island group of the guano-islands reserve), with its visits Jan 2022–Nov
2023 by origin (foreign, national, local), the foreign share, the protected-area polygon it was
matched to by name and the 2007 district of the SERNANP ubigeo. The point is the capital of that
district — the gateway where SERNANP registers the visits — or, where the source gives no ubigeo,
a point inside the matched polygon.

The MINCETUR inventory of tourism resources (built by the places step) has no hierarchy column
(jerarquía 1–4) in the published file; the report of this step records the entries per department
as the measure of survey effort.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from curation.common.context import BuildContext, Dataset
from curation.common.frames import assign_district, normalize_name, points_frame, require_columns
from curation.peru.attractions import build_dataset
from curation.peru.districts import (
    describe_parents,
    parent_2007_district,
    read_capitals,
    read_centres,
    require_districts,
)
from curation.sources import SOURCES

__all__ = ["CATEGORY_PREFIXES", "GUANO_SECTORS", "MONTHS", "area_key", "build", "visits_by_area"]

CATEGORY_PREFIXES: dict[str, str] = {
    "PN": "Parque Nacional",
    "RN": "Reserva Nacional",
    "SH": "Santuario Histórico",
    "SN": "Santuario Nacional",
    "BP": "Bosque de Protección",
    "RVS": "Refugio de Vida Silvestre",
    "RP": "Reserva Paisajistica",
    "RC": "Reserva Comunal",
}
"""Abbreviations that open SERNANP's area names, and the categories of the polygon layer."""

GUANO_SYSTEM = "RN Sistema de Islas, Islotes y Puntas Guaneras"
"""The guano-islands reserve: 22 islands and 11 points, each its own polygon."""

GUANO_SECTORS: dict[str, str] = {
    "ISLAS BALLESTAS": "Isla Ballestas Norte, Centro y Sur",
    "ISLA BALLESTAS": "Isla Ballestas Norte, Centro y Sur",
    "HOTEL PARACAS": "Isla Ballestas Norte, Centro y Sur",
    "ISLAS CAVINZA E ISLOTES PALOMINO": "Islas Cavinzas e Islotes Palominos",
    "ISLA CAVINZAS E ISLOTES PALOMINO": "Islas Cavinzas e Islotes Palominos",
    "ISLAS CAVINZAS E ISLOTES PALOMINO": "Islas Cavinzas e Islotes Palominos",
    "ISLAS GUANAPE": "Islas Guañape Norte y Guañape Sur",
    "ONLINE": "Islas Guañape Norte y Guañape Sur",
    "PUNTA SAN JUAN": "Punta San Juan",
    "PUNTA COLES": "Punta Coles",
}
"""Sectors of the guano-islands reserve → island polygon, checked by hand: spelling variants of
one island group, the Paracas hotel ticket office of the Ballestas boat tours, and 14 online
tickets filed under the Guañape code (RN13.04-05)."""

MONTHS = 23
"""Months covered by the source (January 2022 to November 2023)."""

_COLUMNS = ["ANP", "anp_codi", "SECTOR", "UBIGEO", "PROCEDENCIA", "FECHA",
            "VISITAS_E1", "VISITAS_E2A3", "VISITAS_E3A30"]
_ORIGIN = {"EXTRANJERO": "foreign", "NACIONAL": "national", "LOCAL": "local"}


def area_key(anp: str, sector: object) -> tuple[str, str]:
    """Return (category, folded name) of the protected area a SERNANP row belongs to.

    Parameters
    ----------
    anp : str
        SERNANP area name, e.g. ``"SH Machupicchu"``, ``"RN de Paracas"``.
    sector : object
        The row's sector; it names the island group inside the guano-islands reserve.

    Returns
    -------
    tuple of str
        Category of the polygon layer (empty when the prefix is unknown) and the folded name with
        the leading article (de, del, de la, los) removed.

    Examples
    --------
    >>> area_key("SN Lagunas de Mejía", None)
    ('Santuario Nacional', 'LAGUNAS DE MEJIA')
    >>> area_key("SH de la Pampa de Ayacucho", None)
    ('Santuario Histórico', 'PAMPA DE AYACUCHO')
    """
    if anp == GUANO_SYSTEM:
        island = GUANO_SECTORS.get(normalize_name(sector), str(sector))
        return CATEGORY_PREFIXES["RN"], _fold(island)
    prefix, _, rest = anp.partition(" ")
    return CATEGORY_PREFIXES.get(prefix, ""), _fold(rest)


def _fold(name: object) -> str:
    """Fold a protected-area name and drop a leading article (de, del, de la, los, la)."""
    text = normalize_name(name)
    for article in ("DE LA ", "DE LOS ", "DEL ", "DE ", "LOS ", "LA "):
        if text.startswith(article):
            return text[len(article):]
    return text


def visits_by_area(rows: pd.DataFrame) -> pd.DataFrame:
    """Sum monthly visits per protected area (or island group) and origin.

    Parameters
    ----------
    rows : pandas.DataFrame
        The SERNANP table (columns of ``_COLUMNS``).

    Returns
    -------
    pandas.DataFrame
        One row per (category, name): ``anp`` (SERNANP name), ``sector_names``, ``ubigeo`` (the
        most visited code when several), ``visits_2022``, ``visits_2023_jan_nov``,
        ``visits_total``, ``visits_foreign``, ``visits_national``, ``visits_local``,
        ``foreign_share`` and ``visits_per_year`` (total / 23 months x 12).
    """
    frame = rows.copy()
    keys = [area_key(a, s) for a, s in zip(frame["ANP"], frame["SECTOR"], strict=True)]
    frame["category"] = [k[0] for k in keys]
    frame["name_key"] = [k[1] for k in keys]
    frame["visits"] = frame[["VISITAS_E1", "VISITAS_E2A3", "VISITAS_E3A30"]].sum(axis=1)
    frame["origin"] = frame["PROCEDENCIA"].map(_ORIGIN)
    frame["year"] = frame["FECHA"].astype("int64") // 10000
    frame["ubigeo"] = frame["UBIGEO"].str.zfill(6)
    groups = frame.groupby(["category", "name_key"], sort=True)
    out = groups.agg(anp=("ANP", "first"), visits_total=("visits", "sum"))
    out["sector_names"] = groups["SECTOR"].agg(
        lambda s: "; ".join(sorted(set(s.dropna().astype(str)))))
    ubigeo = frame.dropna(subset=["ubigeo"]).groupby(["category", "name_key", "ubigeo"])["visits"]
    top = ubigeo.sum().reset_index().sort_values("visits", ascending=False, kind="stable")
    out["ubigeo"] = top.drop_duplicates(["category", "name_key"]).set_index(
        ["category", "name_key"])["ubigeo"]
    by_year = frame.pivot_table(index=["category", "name_key"], columns="year", values="visits",
                                aggfunc="sum")
    out["visits_2022"] = by_year.get(2022)
    out["visits_2023_jan_nov"] = by_year.get(2023)
    by_origin = frame.pivot_table(index=["category", "name_key"], columns="origin",
                                  values="visits", aggfunc="sum")
    for origin in _ORIGIN.values():
        out[f"visits_{origin}"] = by_origin.get(origin)
    out = out.fillna({c: 0 for c in out.columns if c.startswith("visits_")})
    out["foreign_share"] = (out["visits_foreign"] / out["visits_total"]).round(4)
    out["visits_per_year"] = (out["visits_total"] / MONTHS * 12).round(0)
    return out.reset_index()


def _match_polygons(areas: pd.DataFrame, polygons: gpd.GeoDataFrame) -> pd.Series:
    """Return the union of the polygons with the same category and folded name, per area row."""
    poly = polygons.assign(name_key=polygons["name"].map(_fold))
    shapes = poly.groupby(["category", "name_key"])["geometry"].agg(
        lambda s: shapely.union_all(s.to_numpy()))
    keys = list(zip(areas["category"], areas["name_key"], strict=True))
    return pd.Series([shapes.get(k) for k in keys], index=areas.index, dtype=object)


def _survey_effort(ctx: BuildContext) -> dict[str, int]:
    """Entries of the MINCETUR inventory per region (department), as a measure of survey effort."""
    raw = pd.read_csv(ctx.source("tourism"), sep=";", dtype="string")
    column = next(c for c in raw.columns if normalize_name(c) == "REGION")
    counts = raw[column].map(normalize_name).value_counts()
    return {str(k): int(v) for k, v in counts.sort_values(ascending=False).items()}


def build(ctx: BuildContext) -> list[Dataset]:
    """Curate the SERNANP visits per protected area as gateway points (needs the districts)."""
    districts = require_districts(ctx, "tourism")
    raw = pd.read_csv(ctx.source("sernanp_visits"), dtype={"UBIGEO": "string"})
    require_columns(raw, _COLUMNS, file=SOURCES["sernanp_visits"].file)
    polygons = gpd.read_file(ctx.source("protected_areas"), engine="pyogrio")
    require_columns(polygons, ["name", "category"], file=SOURCES["protected_areas"].file)
    polygons = polygons.to_crs("EPSG:4326")
    capitals = read_capitals(ctx)

    areas = visits_by_area(raw)
    shapes = _match_polygons(areas, polygons)
    areas["matched_polygon"] = shapes.notna()
    parents = parent_2007_district(areas["ubigeo"], districts=districts,
                                   centres=read_centres(ctx), capitals=capitals)
    areas["district_code"] = areas["ubigeo"].map(parents["district_code"]).astype("string")
    cap = capitals.drop_duplicates("inei").set_index("inei")
    lon = areas["ubigeo"].map(cap["longitude"]).astype("float64")
    lat = areas["ubigeo"].map(cap["latitude"]).astype("float64")
    inside = [None if s is None else s.representative_point() for s in shapes]
    areas["placed_at"] = "district_capital"
    use_poly = lon.isna()
    areas.loc[use_poly, "placed_at"] = ["area_point" if p is not None else "none"
                                        for p in pd.Series(inside)[use_poly.to_numpy()]]
    lon = lon.where(~use_poly, [p.x if p is not None else None for p in inside])
    lat = lat.where(~use_poly, [p.y if p is not None else None for p in inside])
    areas["longitude"], areas["latitude"] = lon.round(6), lat.round(6)
    areas = areas[areas["placed_at"] != "none"]
    points = points_frame(areas).sort_values(["category", "name_key"]).reset_index(drop=True)
    points["district_code"] = points["district_code"].fillna(assign_district(points, districts))

    n_areas = len(points)
    n_match = int(points["matched_polygon"].sum())
    effort = _survey_effort(ctx)
    report: dict[str, Any] = {
        "source_rows": len(raw),
        "areas": n_areas,
        "matched_to_polygon": n_match,
        "polygon_match_rate": round(n_match / n_areas, 4) if n_areas else 0.0,
        "unmatched": points.loc[~points["matched_polygon"], "anp"].tolist(),
        "placed_at": {str(k): int(v) for k, v in points["placed_at"].value_counts().items()},
        "ubigeo_mapped_to_2007_parent": int(
            (~parents["method"].isin(["on_map", "unmapped"])).sum()),
        "ubigeo_unmapped": int((parents["method"] == "unmapped").sum()),
        "visits_total": int(points["visits_total"].sum()),
        "inventory_entries_per_region": effort,
    }
    processing = [
        "Summed the monthly visits (three stay-length columns) per protected area and origin "
        "(foreign, national, local) over January 2022–November 2023; visits_per_year = total / "
        f"{MONTHS} months x 12. The guano-islands reserve is split by island group through "
        f"{len(GUANO_SECTORS)} hand-checked sector names.",
        "Matched each area to the SERNANP polygons by category (from the name's prefix: PN, RN, "
        "SH, SN, BP, RVS, RP, RC) and folded name without the leading article; areas in several "
        f"polygons take their union. {n_match} of {n_areas} matched.",
        "Placed each area at the capital of the district SERNANP gives (ubigeo zero-padded, "
        "mapped to its 2007 district as said next; the gateway where visits are registered), or, without a "
        "ubigeo (Paracas, the guano islands), at a point inside the matched polygon, whose "
        "district is then the one containing that point.",
        describe_parents(parents),
        "Only visits to SERNANP areas: the Machu Picchu figures are the sanctuary's trails and "
        "Amazon access that SERNANP ticketed, not the citadel (Ministry of Culture); sites outside "
        "protected areas (Kuélap, Colca, Nasca) have no visits here.",
        "The MINCETUR inventory has no hierarchy (jerarquía) column in the published file, so "
        "entries cannot be weighted by rank. Entries per department (report."
        "inventory_entries_per_region) show the survey effort; they were not divided out, because "
        "no independent measure of each department's real endowment exists and dividing by the "
        "count would also penalise Cusco's genuinely large inventory.",
    ]
    return [
        Dataset(
            id="protected_area_visits",
            title="SERNANP visits per protected area 2022–2023 (foreign, national, local), as "
            "gateway points",
            file=ctx.write_table(points, "protected_area_visits.parquet"),
            sources=[SOURCES["sernanp_visits"], SOURCES["protected_areas"],
                     SOURCES["ubigeo_crosswalk"], SOURCES["tourism"],
                     SOURCES["centros_poblados"]],
            licence="CC-BY-SA-4.0",
            vintage="Jan 2022–Nov 2023",
            processing=processing,
            report=report,
        ),
        build_dataset(ctx),
    ]
