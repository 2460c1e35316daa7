"""Tests of the partitioned build: scopes, plans and halos, equality with the whole build, Dask."""

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

from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import LayerSpec, load_layers
from geo_engine.matrix import partition
from geo_engine.matrix.dataset import read_dataset
from geo_engine.matrix.indicators import build_indicators
from geo_engine.matrix.partition import build_partitioned, layer_scope, plan_parts, snap_halo_km
from geo_engine.regions.region import load_region
from geo_engine.spatial.grid import build_grid
from geo_engine.spatial.sphere import haversine_km

TITLE = {"es": "x", "en": "x"}
WEST, SOUTH, EAST, NORTH = -77.6, -12.3, -76.8, -11.9


def _spec(id_: str, kind: str, source: str, method: str, **params: object) -> LayerSpec:
    return LayerSpec(id=id_, title=TITLE, theme="social", kind=kind, source=source, method=method,
                     params=params, units="x", direction="benefit")


@pytest.fixture
def region(tmp_path):
    """Four districts near Lima with a table, points around and outside them, polygons, a raster."""
    xs = np.linspace(WEST, EAST, 5)
    units = gpd.GeoDataFrame(
        {"unit_code": ["150101", "150102", "150103", "150104"],
         "parent_code": "1501", "grandparent_code": "15"},
        geometry=[box(a, SOUTH, b, NORTH) for a, b in itertools.pairwise(xs)],
        crs="EPSG:4326")
    pd.DataFrame({"code": units["unit_code"], "rate": [10.0, 20.0, 30.0, 40.0],
                  "people": [1e3, 2e3, 3e3, 4e3]}).to_parquet(tmp_path / "table.parquet")
    rng = np.random.default_rng(7)
    inside = [Point(x, y) for x, y in zip(rng.uniform(WEST, EAST, 150),
                                          rng.uniform(SOUTH, NORTH, 150), strict=True)]
    # just outside the region (2-6 km): they snap to the nearest cell, in whichever part it lies
    around = [Point(x, NORTH + d) for x, d in zip(np.linspace(WEST, EAST, 60),
                                                  rng.uniform(0.02, 0.05, 60), strict=True)]
    gpd.GeoDataFrame({"value": rng.uniform(1, 10, 210)}, geometry=inside + around,
                     crs="EPSG:4326").to_file(tmp_path / "points.gpkg")
    gpd.GeoDataFrame({"value": [5.0, 7.0]},
                     geometry=[Point(-77.2, -12.1).buffer(0.08), Point(-77.0, -12.0).buffer(0.05)],
                     crs="EPSG:4326").to_file(tmp_path / "polygons.gpkg")
    data = rng.uniform(0, 100, (60, 120)).astype("float32")
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", height=60, width=120, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(WEST - 0.1, NORTH + 0.1, 0.01, 0.01)) as dst:
        dst.write(data, 1)
    specs = [
        _spec("rate", "table", "table.parquet", "intensive", column="rate", key="code",
              level="unit_code"),
        _spec("people", "table", "table.parquet", "extensive", column="people", key="code",
              level="unit_code", weights="area"),
        _spec("count", "points", "points.gpkg", "count"),
        _spec("total", "points", "points.gpkg", "sum", column="value"),
        _spec("density", "points", "points.gpkg", "density", bandwidth_km=8.0),
        _spec("distance", "points", "points.gpkg", "distance"),
        _spec("covered", "polygons", "polygons.gpkg", "share"),
        _spec("spread", "polygons", "polygons.gpkg", "extensive", column="value"),
        _spec("height", "raster", "dem.tif", "mean"),
    ]
    return units, specs, tmp_path


def _whole_and_parts(units, specs, folder, **kw):
    common = {"region": "test", "resolution": 7, "layers": specs, "units": units,
              "data_dir": folder}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        whole = build_indicators(**common, use_cache=False)
        built = build_partitioned(**common, cache_dir=folder / "cache", **kw)
    return whole, built


def _max_diff(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Largest absolute difference of two matrices (inf where one is NaN and the other is not)."""
    assert list(a.columns) == list(b.columns)
    assert (a["h3"].to_numpy() == b["h3"].to_numpy()).all()
    worst = 0.0
    for col in a.columns:
        if a[col].dtype.kind != "f":
            assert a[col].equals(b[col]), col
            continue
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if (np.isnan(x) != np.isnan(y)).any():
            return np.inf
        if np.isfinite(x).any():
            worst = max(worst, float(np.nanmax(np.abs(x - y))))
    return worst


@pytest.mark.parametrize(("kind", "method", "scope"), [
    ("raster", "mean", "cell"), ("raster", "share", "cell"), ("lines", "length", "cell"),
    ("polygons", "extensive", "cell"), ("points", "density", "cell"),
    ("points", "distance", "cell"), ("points", "count", "snap"), ("points", "sum", "snap"),
    ("table", "intensive", "units"), ("table", "extensive", "units"),
    ("points", "travel_time", "global"),
])
def test_layer_scopes(kind, method, scope):
    params = {"column": "v"} if method in ("sum", "extensive") else {}
    params |= {"bandwidth_km": 5} if method == "density" else {}
    params |= {"classes": [1]} if method == "share" and kind == "raster" else {}
    params |= {"key": "c", "level": "unit_code", "column": "v"} if kind == "table" else {}
    assert layer_scope(_spec("x", kind, "x.gpkg", method, **params)) == scope


def test_parts_cover_every_cell_once_with_their_halo(region):
    units, _, _ = region
    grid = build_grid(units, resolution=7)
    plan = plan_parts(grid, parts=3, parent_resolution=5, halo_km=12.0)
    assert len(plan) == 3
    cores = np.concatenate([p.core for p in plan])
    assert np.array_equal(np.sort(cores), np.arange(len(grid)))
    sizes = [len(p.core) for p in plan]
    assert max(sizes) < 2 * min(sizes)  # balanced by cells, in whole parent cells
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    for part in plan:
        assert not np.isin(part.halo, part.core).any()
        outside = np.setdiff1d(np.arange(len(grid)), np.union1d(part.core, part.halo))
        for rows, near in ((part.halo, True), (outside, False)):
            if len(rows):
                d = haversine_km(lat[rows][:, None], lon[rows][:, None],
                                 lat[part.core][None, :], lon[part.core][None, :]).min(axis=1)
                assert ((d <= 12.0 + 1e-6) if near else (d > 12.0 - 1e-6)).all()


def test_a_single_part_and_too_many_parts(region):
    units, _, _ = region
    grid = build_grid(units, resolution=7)
    one = plan_parts(grid, parts=1, parent_resolution=5, halo_km=12.0)
    assert len(one) == 1
    assert len(one[0].halo) == 0
    many = plan_parts(grid, parts=1000, parent_resolution=5, halo_km=12.0)
    assert len(many) == len({p for part in many for p in part.parents})
    with pytest.raises(ValueError, match="`parts` was 0"):
        plan_parts(grid, parts=0, parent_resolution=5, halo_km=1.0)


def test_parts_in_process_equal_the_whole_build(region):
    units, specs, folder = region
    whole, built = _whole_and_parts(units, specs, folder, parts=3, parent_resolution=5, workers=0)
    parts = read_dataset(built.folder)
    assert _max_diff(whole, parts) <= 1e-9
    assert whole["count"].sum() == 210  # every point counted once, the outside ones too
    assert len(built.report["parts"]) == 3
    assert {v["scope"] for v in built.report["layers"].values()} == {"cell", "snap", "units"}
    assert "global" not in built.report  # the tables run in the parts


def test_without_the_halo_outside_points_are_counted_twice(region, monkeypatch):
    units, specs, folder = region
    monkeypatch.setattr(partition, "snap_halo_km", lambda resolution: 0.0)
    whole, built = _whole_and_parts(units, specs[2:3], folder, parts=3, parent_resolution=5,
                                    workers=0)
    assert read_dataset(built.folder)["count"].sum() > whole["count"].sum()


def test_the_whole_build_reads_the_dataset_and_a_second_build_reuses_it(region):
    units, specs, folder = region
    whole, built = _whole_and_parts(units, specs, folder, parts=2, parent_resolution=5, workers=0)
    assert not built.hit
    again = build_partitioned(region="test", resolution=7, layers=specs, units=units,
                              data_dir=folder, cache_dir=folder / "cache", parts=2, workers=0)
    assert again.hit
    assert again.folder == built.folder
    assert again.cells == len(whole)
    read = build_indicators(region="test", resolution=7, layers=specs, units=units,
                            data_dir=folder, cache_dir=folder / "cache")
    assert read.attrs["cache_hit"]
    assert read.attrs["cache_path"] == str(built.folder)
    assert _max_diff(whole, read) <= 1e-9


def test_a_parent_resolution_not_coarser_than_the_grid_is_refused(region):
    units, specs, folder = region
    with pytest.raises(ValueError, match="`parent_resolution` was 7 but must be from 0 to 6"):
        build_partitioned(region="test", resolution=7, layers=specs, units=units,
                          data_dir=folder, cache_dir=folder / "cache", parent_resolution=7)


def test_snap_halo_covers_twice_the_snap_reach():
    assert snap_halo_km(7) > 2 * 10.0
    assert snap_halo_km(5) > snap_halo_km(7)


def test_an_unreachable_scheduler_is_one_clear_error(region, monkeypatch):
    units, specs, folder = region
    monkeypatch.setattr(partition, "_CONNECT_SECONDS", 1)
    with pytest.raises(OSError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"):
        build_partitioned(region="test", resolution=7, layers=specs[:1], units=units,
                          data_dir=folder, cache_dir=folder / "cache", parts=2,
                          scheduler="tcp://127.0.0.1:9")


TUMBES_LAYERS = (
    "cropland_share", "river_length", "elevation_mean", "climate_arid", "town_population",
    "settlements", "city_population_20km", "distance_port", "travel_town_10k", "poverty_2018",
    "population_2020", "crop_value_fruit",
)
"""A layer of every scope with values in Tumbes: travel time, dasymetry and suitability too."""


@pytest.mark.slow
def test_a_local_dask_cluster_of_two_workers_equals_the_in_process_build(tmp_path):
    """Tumbes (Peru's smallest department by area but Callao) at resolution 7 on two workers."""
    pytest.importorskip("distributed")
    reg = load_region("peru")
    specs = [s for s in load_layers(reg.layers) if s.id in TUMBES_LAYERS]
    assert len(specs) == len(TUMBES_LAYERS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        units = reg.units()
        units = units[units["grandparent_code"] == "24"]
        common = {"region": "peru", "resolution": 7, "layers": specs, "units": units,
                  "data_dir": reg.data_dir, "urban_centre_weight": reg.urban_centre_weight,
                  "access_files": dict(reg.access_files) if reg.access_files else None}
        whole = build_indicators(**common, use_cache=False)
        built = build_partitioned(**common, cache_dir=tmp_path, parts=2, parent_resolution=4,
                                  workers=2)
    parts = read_dataset(built.folder)
    assert len(built.report["parts"]) == 2
    assert _max_diff(whole, parts) <= 1e-6
    assert np.isfinite(parts["travel_town_10k"]).any()
    assert parts["population_2020"].sum() > 0


@pytest.mark.slow
def test_the_parts_run_on_a_running_scheduler(region):
    """The `--scheduler` path: a cluster started elsewhere (here a LocalCluster of two workers)."""
    distributed = pytest.importorskip("distributed")
    units, specs, folder = region
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        whole, built = _whole_and_parts(units, specs, folder, parts=3, parent_resolution=5,
                                        scheduler=cluster.scheduler_address)
        assert len(cluster.workers) == 2  # the build closed its client, not the cluster
    assert len(built.report["parts"]) == 3
    assert _max_diff(whole, read_dataset(built.folder)) <= 1e-9
