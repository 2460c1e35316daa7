"""The offline base of a region's map: land, water, outlines, place names and their credits.

Peru's comes from its curated data (districts, towns, lakes, rivers); any other region's from its
own units. Drawn by :func:`geo_engine.reporting.maps.base_map` and the briefs' static maps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_engine.i18n import proper_case
from geo_engine.ingest.specs import slot_columns
from geo_engine.io.manifest import dataset_entry
from geo_engine.regions.datasets import accent_lexicon, display_districts, read_dataset
from geo_engine.regions.region import Region
from geo_engine.reporting.maps import Orientation
from geo_engine.spatial.crs import SOUTH_AMERICA_ALBERS

__all__ = ["LAND_TOLERANCE_M", "RIVER_SCALERANK", "boundaries", "orientation", "region_orientation",
           "unit_orientation", "unit_outlines"]

DISPLAY_CRS = SOUTH_AMERICA_ALBERS
"""Equal-area CRS in which Peru's base is simplified (areas and tolerances in metres)."""


def boundaries(department: str | None = None) -> gpd.GeoDataFrame:
    """Return reference outlines for the map: departments, or the districts of one department.

    Built from the display-simplified districts (shared borders kept), cached on disk.
    """
    districts = slot_columns(display_districts())
    if department:
        return districts[districts["grandparent_code"] == department][["unit", "geometry"]]
    merged = districts.dissolve(by="grandparent_code", method="coverage")
    return merged.reset_index()[["grandparent_code", "geometry"]]

def unit_outlines(units: gpd.GeoDataFrame, *, department: str | None = None,
                  tolerance: float = 1 / 4000) -> gpd.GeoDataFrame:
    """Return reference outlines of any region's units, simplified for drawing, in EPSG:4326.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        :meth:`geo_engine.regions.region.Region.units`.
    department : str, optional
        Keep the units of this ``grandparent_code`` only; otherwise units are merged into their
        departments when the region has department codes.
    tolerance : float, default 1/4000
        Simplification tolerance as a share of the region's diagonal (500 m over 2,000 km).

    Notes
    -----
    Polygons are simplified together (:func:`shapely.coverage_simplify`, so shared borders stay
    shared) in a Lambert azimuthal equal-area projection centred on the region, which keeps the
    tolerance in metres anywhere on Earth. Boundaries that are not a clean coverage (overlaps)
    are simplified one polygon at a time instead.
    """
    frame = units[units.geometry.notna() & ~units.geometry.is_empty]
    if department and "grandparent_code" in frame:
        frame = frame[frame["grandparent_code"].astype(str) == department]
    elif "grandparent_code" in frame and frame["grandparent_code"].notna().all():
        frame = frame.dissolve(by="grandparent_code").reset_index()
    frame = frame[[frame.geometry.name]].to_crs(4326)
    if frame.empty:
        return frame
    west, south, east, north = frame.total_bounds
    laea = (f"+proj=laea +lat_0={(south + north) / 2:.4f} +lon_0={(west + east) / 2:.4f} "
            "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs")
    metric = frame.geometry.to_crs(laea)
    x0, y0, x1, y1 = metric.total_bounds
    tol = float(np.hypot(x1 - x0, y1 - y0)) * tolerance
    try:
        simple = shapely.coverage_simplify(metric.to_numpy(), tol)
    except shapely.errors.GEOSException:
        simple = shapely.simplify(metric.to_numpy(), tol, preserve_topology=True)
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries(simple, crs=laea).to_crs(4326).to_numpy(),
                            crs=4326)

RIVER_SCALERANK = 6
"""Rivers drawn on the offline base: Natural Earth scale rank at most this (the large ones)."""

LAND_TOLERANCE_M = 1000.0
"""Simplification of the land outline of the offline base, in metres (it is drawn under the cells)."""

def _names_at(frame: gpd.GeoDataFrame, column: str, accents: Mapping[str, str], *,
              least_share: float = 0.005) -> pd.DataFrame:
    """Return unit names (proper case) at a point inside each unit, as ``kind="unit"`` labels.

    Units smaller than ``least_share`` of the total area are not named (their name would cover
    their neighbours' and a capital's); the others come largest first, the order in which
    :func:`geo_engine.reporting.maps.declutter` and the map keep a name over a neighbour's.
    """
    area = frame.geometry.to_crs(DISPLAY_CRS).area
    order = np.argsort(-area.to_numpy(), kind="stable")
    area = area.iloc[order]
    frame = frame.iloc[order]
    frame = frame[(area >= least_share * area.sum()).to_numpy()]
    points = frame.geometry.representative_point()
    return pd.DataFrame({"name": [proper_case(str(v), accents) for v in frame[column]],
                         "lat": points.y.to_numpy(), "lon": points.x.to_numpy(), "kind": "unit"})

def _publishers(*dataset_ids: str, first_only: Sequence[str] = ()) -> tuple[str, ...]:
    """Return the publishers of some curated datasets, without repeats.

    Of the datasets in ``first_only`` only the first source counts (the one the geometry comes from).
    """
    out: list[str] = []
    for ds in dataset_ids:
        sources = dataset_entry(ds)["sources"]
        for src in sources[:1] if ds in first_only else sources:
            name = re.split(r"[,(]", str(src["publisher"]))[0].strip()
            if name not in out:
                out.append(name)
    return tuple(out)

def orientation(department: str | None = None) -> Orientation:
    """Return Peru's offline base map from the curated data: land, water, outlines, names.

    Parameters
    ----------
    department : str, optional
        Focused department code: its districts are outlined and its provinces named; otherwise
        departments are outlined and named.

    Returns
    -------
    Orientation
        Land: the union of the districts (its edge is the national border). Water: Lake
        Titicaca and the large rivers (Natural Earth, scale rank ≤ :data:`RIVER_SCALERANK`).
        Names: the capitals Natural Earth marks as such in the towns dataset (the national and
        the 25 regional ones), and the departments (or the focused department's provinces).
        Credits: the publishers of these datasets, from the data manifest.
    """
    districts = slot_columns(display_districts())
    accents = accent_lexicon()
    country = gpd.GeoSeries([shapely.coverage_union_all(districts.geometry.to_numpy())], crs=4326)
    land = gpd.GeoDataFrame(
        geometry=country.to_crs(DISPLAY_CRS).simplify(LAND_TOLERANCE_M).to_crs(4326))
    rivers = read_dataset("rivers")
    water = gpd.GeoDataFrame(pd.concat([read_dataset("lakes")[["geometry"]],
                                        rivers[rivers["scalerank"] <= RIVER_SCALERANK][["geometry"]]]),
                             crs=4326)
    water = water.set_geometry(water.geometry.to_crs(DISPLAY_CRS).simplify(LAND_TOLERANCE_M / 2)
                               .to_crs(4326))
    towns = read_dataset("towns")
    capitals = towns[towns["ne_featurecla"].fillna("").str.contains("capital")]
    labels = pd.DataFrame({"name": capitals["name"].astype(str), "lat": capitals["latitude"],
                           "lon": capitals["longitude"], "kind": "capital"})
    if department:
        units = districts[districts["grandparent_code"] == department].dissolve(
            by="parent_code", as_index=False, method="coverage")
        named = _names_at(units, "parent", accents)
    else:
        units = districts.dissolve(by="grandparent_code", as_index=False, method="coverage")
        named = _names_at(units, "grandparent", accents)
    return Orientation(
        land=land, outlines=boundaries(department), water=water,
        labels=pd.concat([named, labels], ignore_index=True),
        credits=_publishers("districts", "towns", "lakes", first_only=("districts",)))

def unit_orientation(units: gpd.GeoDataFrame, *, department: str | None = None) -> Orientation:
    """Return the offline base of any region from its own units: land and outlines, no names.

    ``units`` and ``grandparent`` as in :func:`unit_outlines`; the land is the union of the
    simplified outlines of all units.
    """
    every = unit_outlines(units)
    land = gpd.GeoDataFrame(geometry=[shapely.union_all(every.geometry.to_numpy())], crs=4326)
    shown = every if not department else unit_outlines(units, department=department)
    return Orientation(land=land, outlines=shown)

def region_orientation(region: Region, department: str | None = None) -> Orientation:
    """Return the offline base of a region's map.

    Peru's comes from its curated data (:func:`orientation`), any other region's from its own
    units (:func:`unit_orientation`).
    """
    if region.shipped and region.id == "peru":
        return orientation(department)
    return unit_orientation(region.units(), department=department)
