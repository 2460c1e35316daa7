"""Tests of the build of one admin unit: the same values as the whole build on the unit's cells."""

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

from geo_engine._errors import GeoEngineWarning, SpecError
from geo_engine.matrix.indicators import build_indicators, matrix_path
from geo_engine.matrix.within import build_within, context_grid, context_units
from geo_engine.spatial.grid import build_grid

WEST, SOUTH, EAST, NORTH = -77.6, -12.3, -76.4, -11.9


@pytest.fixture
def region(tmp_path):
    """Six districts in two departments, with tables, points, polygons, a DEM and populated centres."""
    xs = np.linspace(WEST, EAST, 7)
    codes = [f"{d}01{k:02d}" for d, k in (("01", 1), ("01", 2), ("01", 3),
                                            ("02", 1), ("02", 2), ("02", 3))]
    units = gpd.GeoDataFrame(
        {"district_code": codes, "province_code": [c[:4] for c in codes],
         "department_code": [c[:2] for c in codes]},
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
    gpd.GeoDataFrame({"district_code": codes * 3, "urban": [True, False, False] * 6},
                     geometry=[Point(x, y) for x, y in zip(rng.uniform(WEST, EAST, 18),
                                                           rng.uniform(SOUTH, NORTH, 18),
                                                           strict=True)],
                     crs="EPSG:4326").to_parquet(folder / "populated_centres.parquet")
    specs = [
        _spec("rate", "table", "table.parquet", "intensive", column="rate", key="code",
              level="district_code"),
        _spec("people", "table", "table.parquet", "extensive", column="people", key="code",
              level="district_code"),
        _spec("count", "points", "points.gpkg", "count"),
        _spec("density", "points", "points.gpkg", "density", bandwidth_km=8.0),
        _spec("distance", "points", "points.gpkg", "distance"),
        _spec("covered", "polygons", "polygons.gpkg", "share"),
        _spec("height", "raster", "t/elevation.tif", "mean"),
        _spec("town", "points", "towns.gpkg", "travel_time"),
    ]
    return units, specs, tmp_path


def _builds(units, specs, folder, resolution=7):
    common = {"region": "t", "layers": specs, "units": units, "data_dir": folder,
              "cache_dir": folder / "cache", "urban_centre_weight": 10.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        whole = build_indicators(resolution=7, **common)
        part = build_within(within=("department_code", "01"), resolution=resolution, **common)
    return whole, part


def test_the_unit_build_equals_the_whole_build_on_its_cells(region):
    units, specs, folder = region
    whole, part = _builds(units, specs, folder)
    ref = whole[whole["department_code"] == "01"].reset_index(drop=True)
    assert len(part) == len(ref) > 0
    assert (part["h3"].to_numpy() == ref["h3"].to_numpy()).all()
    for spec in specs:
        np.testing.assert_allclose(part[spec.id], ref[spec.id], rtol=0, atol=1e-6,
                                   err_msg=spec.id)
    assert part["town"].notna().all()  # the towns lie outside the unit: reached from its edge
    report = part.attrs["report"]
    assert report["grid"]["context_cells"] > len(part)
    assert report["grid"]["seed_resolution"] == 7


def test_a_finer_unit_build_starts_its_travel_times_from_the_coarser_whole_grid(region):
    units, specs, folder = region
    travel = [s for s in specs if s.method == "travel_time"]
    _, part = _builds(units, travel, folder, resolution=8)
    assert part.attrs["report"]["grid"]["seed_resolution"] == 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        fine = build_indicators(region="t", resolution=8, layers=travel, units=units,
                                data_dir=folder, cache_dir=folder / "cache")
    ref = fine[fine["department_code"] == "01"]["town"].to_numpy()
    got = part["town"].to_numpy()
    assert np.isfinite(got).all()
    rel = np.abs(got - ref) / ref
    assert np.median(rel) < 0.005
    assert rel.max() < 0.05  # the part outside the context is timed at resolution 7


def test_the_cache_name_and_key_hold_the_unit(region):
    units, specs, folder = region
    kw = {"region": "t", "resolution": 7, "specs": specs, "units": units, "data_dir": folder,
          "cache_dir": folder / "cache", "urban_centre_weight": 10.0}
    whole = matrix_path(**kw)
    one = matrix_path(**kw, within=("department_code", "01"))
    other = matrix_path(**kw, within=("department_code", "02"))
    assert len({whole, one, other}) == 3
    assert one.name.startswith("t-department01-r7-")
    _, part = _builds(units, specs[:1], folder)
    assert part.attrs["cache_path"].endswith(".parquet")
    assert "department01" in part.attrs["cache_path"]
    again = build_within(within=("department_code", "01"), region="t", resolution=7,
                         layers=specs[:1], units=units, data_dir=folder,
                         cache_dir=folder / "cache", urban_centre_weight=10.0)
    assert again.attrs["cache_hit"] is True


def test_an_unknown_unit_is_an_error(region):
    units, specs, folder = region
    with pytest.raises(SpecError, match=r"no unit with department_code '09'"):
        build_within(within=("department_code", "09"), region="t", layers=specs, units=units,
                     data_dir=folder, cache_dir=folder / "cache")


def test_the_context_holds_whole_neighbours_and_a_cut_rim(region):
    units, _, _ = region
    inside = (units["department_code"] == "01").to_numpy()
    whole, rim = context_units(units, inside, km=5.0)
    # the department and its one neighbouring district are whole; the next one is cut to 5 km
    assert whole.tolist() == [True, True, True, True, False, False]
    assert rim["district_code"].tolist() == ["020102"]
    assert rim.geometry.iloc[0].area < units.geometry.iloc[4].area / 2
    grid = context_grid(units, inside, resolution=7, km=5.0)
    full = build_grid(units, resolution=7)
    assert grid["h3"].is_monotonic_increasing
    assert np.isin(grid["h3"], full["h3"]).all()
    own = full[full["district_code"].isin(units["district_code"][whole])]
    assert np.isin(own["h3"], grid["h3"]).all()
