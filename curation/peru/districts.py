"""Peru's district helpers shared by its steps: the 2007-map parent rule, capitals, centres, bounds."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from curation.common.context import BuildContext
from curation.common.frames import METRIC_CRS, assign_district, normalize_name, points_frame, require_columns
from curation.sources import SOURCES
from geo_engine._errors import GeoEngineError

__all__ = [
    "PARENT_METHODS",
    "PERU_BOUNDS",
    "describe_parents",
    "district_codes_by_name",
    "fold_names",
    "parent_2007_district",
    "read_capitals",
    "read_centres",
    "require_districts",
]

PERU_BOUNDS = (-81.5, -18.5, -68.5, 0.1)
"""Rough lon/lat box of Peru (west, south, east, north), used to sanity-check coordinates."""


PARENT_METHODS = ("on_map", "centres", "capital_point", "capital_name", "unmapped")
"""How :func:`parent_2007_district` placed a code, in the order the rules are tried."""


def parent_2007_district(
    codes: pd.Series,
    *,
    districts: gpd.GeoDataFrame,
    centres: pd.DataFrame,
    capitals: pd.DataFrame,
    names: pd.Series | None = None,
) -> pd.DataFrame:
    """Return the district of the 2007 map each current INEI district code belongs to.

    The one rule of the rebuild for districts created after the 2007 limits; the first that
    applies wins:

    1. ``on_map``: a code of the 2007 map is its own district.
    2. ``centres``: the 2007 district holding most of the new district's populated centres
       (2017 census frame, ties to the lowest code). A district split off one parent has all
       its centres there; one carved from several goes whole to the largest share.
    3. ``capital_point``: the 2007 district holding its capital (the crosswalk's latitude and
       longitude) or, when the point falls outside every polygon of the simplified outlines,
       the nearest 2007 district of its own province (of all districts when the province
       itself is newer than 2007, as Putumayo is); ``capital_km`` gives that distance.
    4. ``capital_name``: without coordinates, the 2007 district holding the populated centres
       of its province that bear the district's folded name (new districts are named after
       their capital), when they all lie in one (a centre off the outlines counts by its own
       code when that is a 2007 code).
    5. ``unmapped``: nothing else is guessed; the code keeps ``<NA>``.

    Parameters
    ----------
    codes : pandas.Series
        Current 6-digit INEI codes (repeats and missing values allowed).
    districts : geopandas.GeoDataFrame
        The curated 2007 districts (``district_code``, geometry).
    centres : pandas.DataFrame
        Populated centres (:func:`read_centres`): ``inei_distrito``, ``ccpp``, ``longitude``,
        ``latitude``.
    capitals : pandas.DataFrame
        The ubigeo crosswalk (:func:`read_capitals`): ``inei``, ``distrito``, ``latitude``,
        ``longitude``.
    names : pandas.Series, optional
        District names by code for codes the crosswalk lacks (e.g. from the source table).

    Returns
    -------
    pandas.DataFrame
        Indexed by each distinct code (``code``, sorted): ``district_code`` (2007 parent,
        ``<NA>`` when unmapped), ``method`` (one of :data:`PARENT_METHODS`) and ``capital_km``
        (rule 3: distance from the capital to the chosen polygon, 0 inside).
    """
    distinct = pd.Index(sorted(set(codes.dropna().astype(str))), name="code")
    out = pd.DataFrame({"district_code": pd.Series(pd.NA, index=distinct, dtype="string"),
                        "method": "unmapped", "capital_km": np.nan}, index=distinct)
    on_map = distinct.isin(set(districts["district_code"]))
    out.loc[on_map, "district_code"] = distinct[on_map]
    out.loc[on_map, "method"] = "on_map"

    pts = centres[centres["inei_distrito"].isin(set(_unmapped(out)))].dropna(subset=["longitude",
                                                                             "latitude"])
    if len(pts):
        votes = pd.DataFrame({"code": pts["inei_distrito"].to_numpy(),
                              "parent": assign_district(points_frame(pts), districts).to_numpy()})
        votes = votes.dropna().groupby(["code", "parent"]).size().rename("n").reset_index()
        best = votes.sort_values(["code", "n", "parent"], ascending=[True, False, True])
        best = best.drop_duplicates("code").set_index("code")["parent"]
        out.loc[best.index, "district_code"] = best.astype("string")
        out.loc[best.index, "method"] = "centres"

    table = capitals.dropna(subset=["inei"]).drop_duplicates("inei").set_index("inei")
    caps = table.reindex(_unmapped(out))[["longitude", "latitude"]].dropna()
    _place(out, caps, districts, "capital_point")

    named = pd.Series(table["distrito"]).reindex(_unmapped(out))
    if names is not None:
        named = named.fillna(names.reindex(named.index))
    folded = named.dropna().map(normalize_name)
    wanted = pd.DataFrame({"code": folded.index, "province": folded.index.str[:4],
                           "name": folded.to_numpy()})
    spots = centres.assign(province=centres["inei_distrito"].str[:4],
                           name=centres["ccpp"].map(normalize_name, na_action="ignore"))
    found = wanted.merge(spots, on=["province", "name"])
    if len(found):
        inside = assign_district(points_frame(found), districts)
        own = found["inei_distrito"].where(found["inei_distrito"].isin(set(districts["district_code"])))
        found["parent"] = inside.fillna(own.astype("string"))
        parents = found.dropna(subset=["parent"]).groupby("code")["parent"].unique()
        single = parents[parents.map(len) == 1].map(lambda v: v[0])
        out.loc[single.index, "district_code"] = single.astype("string")
        out.loc[single.index, "method"] = "capital_name"
    return out


def describe_parents(parents: pd.DataFrame) -> str:
    """Return the manifest sentence on how :func:`parent_2007_district` placed the codes."""
    n = {m: int((parents["method"] == m).sum()) for m in PARENT_METHODS}
    return (f"Current district codes mapped to the 2007 map by one rule (parent_2007_district): "
            f"{n['on_map']} codes are on it; of the {len(parents) - n['on_map']} created after "
            f"2007, {n['centres']} go to the 2007 district holding most of their populated "
            f"centres (2017 census frame), {n['capital_point']} to the one holding their capital "
            "(ubigeo crosswalk coordinates; the nearest district of their province when the point "
            "falls outside the simplified outlines), "
            f"{n['capital_name']} to the one holding the populated centres bearing their name, and "
            f"{n['unmapped']} could not be placed (their rows are dropped, nothing is guessed).")


def _unmapped(out: pd.DataFrame) -> pd.Index:
    return out.index[out["method"] == "unmapped"]


def _place(out: pd.DataFrame, points: pd.DataFrame, districts: gpd.GeoDataFrame,
           method: str) -> None:
    """Set the 2007 district of each code of ``points`` (its polygon, else nearest in province)."""
    if points.empty:
        return
    polys = districts.loc[districts.geometry.notna(), ["district_code", "geometry"]]
    polys = polys.to_crs(METRIC_CRS)
    provinces = set(polys["district_code"].str[:4])
    where = points_frame(points.astype("float64")).to_crs(METRIC_CRS)
    for code, point in zip(points.index, where.geometry, strict=True):
        cands = polys[polys["district_code"].str[:4] == code[:4]] if code[:4] in provinces \
            else polys
        km = cands.distance(point) / 1000.0
        best = km.sort_values(kind="stable").index[0]
        out.loc[code, ["district_code", "method", "capital_km"]] = [
            cands.loc[best, "district_code"], method, round(float(km[best]), 3)]


def require_districts(ctx: BuildContext, step: str) -> gpd.GeoDataFrame:
    """Return the admin step's districts, or raise naming the step that needs them."""
    if "districts" not in ctx.frames:
        msg = f"the {step} step needs the districts: run curation.peru.admin.build(ctx) first"
        raise GeoEngineError(msg)
    districts: gpd.GeoDataFrame = ctx.frames["districts"]
    return districts


def district_codes_by_name(districts: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """Return district codes keyed by folded (department, province, district) names.

    Parameters
    ----------
    districts : pandas.DataFrame
        ``district_code``, ``department``, ``province`` and ``district``.

    Returns
    -------
    dict
        ``{(department, province, district): district_code}``, names folded by
        :func:`~curation.common.frames.normalize_name` (so ``Pariñas`` finds ``PARIÑAS``).
    """
    return {(normalize_name(a), normalize_name(b), normalize_name(c)): str(code)
            for a, b, c, code in zip(districts["department"], districts["province"],
                                     districts["district"], districts["district_code"],
                                     strict=True)}


def fold_names(names: Sequence[str]) -> tuple[str, str, str]:
    """Fold a [department, province, district] triple the way :func:`district_codes_by_name` keys."""
    department, province, district = names
    return normalize_name(department), normalize_name(province), normalize_name(district)


def read_capitals(ctx: BuildContext) -> pd.DataFrame:
    """Read the ubigeo crosswalk (district capitals, area, 2020 density) with text codes."""
    capitals = pd.read_csv(ctx.source("ubigeo_crosswalk"), dtype={"inei": "string"})
    require_columns(capitals, ["inei", "distrito", "latitude", "longitude", "pob_densidad_2020",
                               "superficie"],
                    file=SOURCES["ubigeo_crosswalk"].file)
    return capitals


def read_centres(ctx: BuildContext) -> pd.DataFrame:
    """Read the populated centres (2017 census frame): text codes and names, float positions."""
    centres = pd.read_csv(ctx.source("centros_poblados"), dtype="string",
                          usecols=["inei_distrito", "ccpp", "latitude", "longitude"])
    return centres.astype({"latitude": "float64", "longitude": "float64"})
