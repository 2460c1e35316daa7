"""Tests of the context of a part of a grid: admin tables on it equal the whole build's."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, box
from test_partition import _spec

from geo_engine._errors import GeoEngineWarning
from geo_engine.matrix.context import context_grid, context_units, table_levels
from geo_engine.matrix.dataset import read_dataset
from geo_engine.matrix.indicators import build_indicators
from geo_engine.matrix.partition import build_partitioned
from geo_engine.spatial.grid import build_grid

WEST, SOUTH, EAST, NORTH = -77.6, -12.3, -76.4, -11.9


@pytest.fixture
def two_departments(tmp_path):
    """Six districts in two departments, with tables, points, polygons, a DEM and populated centres."""
    xs = np.linspace(WEST, EAST, 7)
    codes = [f"{d}01{k:02d}" for d, k in (("01", 1), ("01", 2), ("01", 3),
                                            ("02", 1), ("02", 2), ("02", 3))]
    units = gpd.GeoDataFrame(
        {"unit_code": codes, "parent_code": [c[:4] for c in codes],
         "grandparent_code": [c[:2] for c in codes]},
        geometry=[box(a, SOUTH, b, NORTH) for a, b in itertools.pairwise(xs)], crs="EPSG:4326")
    pd.DataFrame({"code": codes, "rate": np.arange(1.0, 7.0),
                  "people": np.arange(1.0, 7.0) * 1e3}).to_parquet(tmp_path / "table.parquet")
    rng = np.random.default_rng(3)
    pts = [Point(x, y) for x, y in zip(rng.uniform(WEST, EAST, 200), rng.uniform(SOUTH, NORTH, 200),
                                       strict=True)]
    pts += [Point(x, NORTH + 0.03) for x in np.linspace(WEST, EAST, 30)]  # just outside: snapped
    gpd.GeoDataFrame({"value": rng.uniform(1, 10, len(pts))}, geometry=pts,
                     crs="EPSG:4326").to_file(tmp_path / "points.gpkg")
    # two towns, both in department 02: department 01 reaches them only across its border
    gpd.GeoDataFrame({"population": [60_000.0, 20_000.0]},
                     geometry=[Point(-76.5, -12.1), Point(-76.7, -12.0)],
                     crs="EPSG:4326").to_file(tmp_path / "towns.gpkg")
    gpd.GeoDataFrame({"value": [5.0]}, geometry=[Point(-77.0, -12.1).buffer(0.1)],
                     crs="EPSG:4326").to_file(tmp_path / "polygons.gpkg")
    folder = tmp_path / "t"
    folder.mkdir()
    dem = rng.uniform(100, 900, (60, 160)).astype("float32")
    with rasterio.open(folder / "elevation.tif", "w", driver="GTiff", height=60, width=160, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(WEST - 0.1, NORTH + 0.1, 0.01, 0.01)) as dst:
        dst.write(dem, 1)
    # three centres in each district, one urban; some near its borders, whose cells a neighbour owns
    west = np.repeat(xs[:-1], 3) + rng.uniform(0.0, 0.2, 18)
    gpd.GeoDataFrame({"unit_code": np.repeat(codes, 3), "urban": [True, False, False] * 6},
                     geometry=gpd.points_from_xy(west, rng.uniform(SOUTH, NORTH, 18)),
                     crs="EPSG:4326").to_parquet(folder / "populated_centres.parquet")
    specs = [
        _spec("rate", "table", "table.parquet", "intensive", column="rate", key="code",
              level="unit_code"),
        _spec("people", "table", "table.parquet", "extensive", column="people", key="code",
              level="unit_code"),
        _spec("count", "points", "points.gpkg", "count"),
        _spec("density", "points", "points.gpkg", "density", bandwidth_km=8.0),
        _spec("distance", "points", "points.gpkg", "distance"),
        _spec("covered", "polygons", "polygons.gpkg", "share"),
        _spec("height", "raster", "t/elevation.tif", "mean"),
        _spec("town", "points", "towns.gpkg", "travel_time"),
    ]
    return units, specs, tmp_path


def test_the_context_holds_the_neighbours_with_a_centre_in_the_focus_whole(two_departments):
    units, _, _ = two_departments
    inside = (units["grandparent_code"] == "01").to_numpy()
    # a centre of district 020101 just inside department 01 makes 020101 whole
    centres = gpd.GeoDataFrame({"unit_code": ["020101"]},
                               geometry=[Point(units.geometry.iloc[2].bounds[2] - 0.01, -12.1)],
                               crs="EPSG:4326")
    whole, rim = context_units(units, inside, km=5.0, margin_km=3.0, centres=centres)
    assert whole.tolist() == [True, True, True, True, False, False]
    assert rim["unit_code"].tolist() == ["020102"]  # 3 km of it, around 020101
    assert rim.geometry.iloc[0].area < units.geometry.iloc[4].area / 4
    alone, rim = context_units(units, inside, km=5.0, margin_km=3.0)
    assert alone.tolist() == [True, True, True, False, False, False]
    assert rim["unit_code"].tolist() == ["020101"]  # 5 km of it, where points snap
    grid = context_grid(units, inside, resolution=7, km=5.0, centres=centres)
    full = build_grid(units, resolution=7)
    assert grid["h3"].is_monotonic_increasing
    assert np.isin(grid["h3"], full["h3"]).all()
    own = full[full["unit_code"].isin(units["unit_code"][whole])]
    assert np.isin(own["h3"], grid["h3"]).all()
    assert len(grid) < len(full)


def test_table_levels_of_the_specs(two_departments):
    _, specs, _ = two_departments
    assert table_levels(specs) == ["unit_code"]
    assert table_levels(specs[2:]) == []


def test_parts_compute_tables_on_their_context_as_the_whole_build(two_departments):
    units, specs, folder = two_departments
    tables = [s for s in specs if s.kind == "table"]  # spread over populated centres
    common = {"region": "t", "resolution": 7, "layers": tables, "units": units,
              "data_dir": folder, "cache_dir": folder / "cache", "urban_centre_weight": 10.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        whole = build_indicators(**common)
        built = build_partitioned(**common, parts=4, parent_resolution=5, workers=0)
    parts = read_dataset(built.folder)
    assert len(built.report["parts"]) > 1
    assert (parts["h3"].to_numpy() == whole["h3"].to_numpy()).all()
    for spec in tables:
        np.testing.assert_allclose(parts[spec.id], whole[spec.id], rtol=0, atol=1e-9)
    assert whole["people"].sum() == pytest.approx(21e3)


def test_a_centre_far_out_of_its_unit_brings_its_cell(two_departments):
    units, _, _ = two_departments
    inside = (units["grandparent_code"] == "01").to_numpy()
    # a centre of district 010101 recorded in department 02, 60 km east of its district
    far = Point(units.geometry.iloc[4].centroid.x, -12.1)
    centres = gpd.GeoDataFrame({"unit_code": ["010101"]}, geometry=[far], crs="EPSG:4326")
    _, rim = context_units(units, inside, km=5.0, margin_km=3.0, centres=centres)
    assert "020102" in set(rim["unit_code"])
    assert rim.to_crs(3857).intersects(gpd.GeoSeries([far], crs=4326).to_crs(3857).iloc[0]).any()
    grid = context_grid(units, inside, resolution=7, km=5.0, centres=centres)
    import h3

    assert h3.str_to_int(h3.latlng_to_cell(far.y, far.x, 7)) in set(grid["h3"].tolist())
