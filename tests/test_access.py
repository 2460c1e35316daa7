import heapq
import warnings

import geopandas as gpd
import h3
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, box

from geo_engine._errors import GeoEngineWarning, MissingSourceError
from geo_engine.access import (
    DESTINATION_SETS,
    Friction,
    SpeedTable,
    access_minutes,
    cell_graph,
    cell_speeds,
    destinations,
    region_friction,
    travel_time,
    walking_speed,
)
from geo_engine.ingest.vector import lines_to_cells, point_positions
from geo_engine.matrix.indicators import region_units
from geo_engine.spatial.grid import build_grid
from geo_engine.spatial.sphere import EARTH_RADIUS_KM

LAT, LON = -8.0, -74.0  # Ucayali lowlands
FLAT_KMH = float(walking_speed(0.0))
EDGE7 = h3.average_hexagon_edge_length(7, unit="km")


def grid_of(cells) -> pd.DataFrame:
    cells = np.unique(np.asarray(cells, dtype=np.uint64))
    ll = np.array([h3n.cell_to_latlng(c) for c in cells]).reshape(-1, 2)
    return pd.DataFrame({"h3": cells, "lat": ll[:, 0], "lon": ll[:, 1]})


def disk(k: int, *, res: int = 7, lat: float = LAT, lon: float = LON) -> pd.DataFrame:
    return grid_of(h3n.grid_disk(h3n.latlng_to_cell(lat, lon, res), k))


def haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h))


def oracle_minutes(grid: pd.DataFrame, speeds: np.ndarray, source: int) -> np.ndarray:
    """Plain Dijkstra over H3 neighbours with the harmonic edge cost, independent of the module."""
    cells = grid["h3"].to_numpy(np.uint64)
    row = {int(c): i for i, c in enumerate(cells)}
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    best = np.full(len(cells), np.inf)
    best[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        t, i = heapq.heappop(heap)
        if t > best[i]:
            continue
        for nb in h3n.grid_ring(cells[i], 1):
            j = row.get(int(nb))
            if j is None:
                continue
            cost = 60 * haversine_km(lat[i], lon[i], lat[j], lon[j]) / 2 * (1 / speeds[i] + 1 / speeds[j])
            if t + cost < best[j]:
                best[j] = t + cost
                heapq.heappush(heap, (t + cost, j))
    return np.where(np.isfinite(best), best, np.nan)


def points(lonlat, crs="EPSG:4326", **columns):
    return gpd.GeoDataFrame(columns, geometry=[Point(x, y) for x, y in lonlat], crs=crs)


def write_dem(path, z_of, *, half=0.3, step=1 / 120):
    """A north-up EPSG:4326 DEM around (LAT, LON); z_of(lon, lat) gives metres."""
    west, north = LON - half, LAT + half
    n = round(2 * half / step)
    lon = west + (np.arange(n) + 0.5) * step
    lat = north - (np.arange(n) + 0.5) * step
    z = z_of(*np.meshgrid(lon, lat))
    profile = {"driver": "GTiff", "width": n, "height": n, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": from_origin(west, north, step, step), "nodata": -9999.0}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z.astype(np.float32), 1)
    return path


@pytest.fixture(scope="module")
def flat_dem(tmp_path_factory):
    return write_dem(tmp_path_factory.mktemp("dem") / "flat.tif", lambda x, y: np.full(x.shape, 200.0))


@pytest.fixture(scope="module")
def high_dem(tmp_path_factory):
    return write_dem(tmp_path_factory.mktemp("dem") / "high.tif", lambda x, y: np.full(x.shape, 1000.0))


def tilted_dem(path, gradient):
    metres_per_degree = EARTH_RADIUS_KM * 1000 * np.pi / 180
    return write_dem(path, lambda x, y: 200.0 + gradient * (y - LAT) * metres_per_degree)


# ---------------------------------------------------------------------------------------------
# the neighbour graph


def test_graph_interior_six_region_edge_fewer():
    grid = disk(2)
    graph = cell_graph(grid)
    assert (graph != graph.T).nnz == 0
    degree = np.diff(graph.indptr)
    centre = h3n.latlng_to_cell(LAT, LON, 7)
    ring = {int(c) for c in h3n.grid_ring(centre, 2)}
    outer = np.isin(grid["h3"].to_numpy(np.uint64), list(ring))
    assert (degree[~outer] == 6).all()
    assert sorted(degree[outer].tolist()) == [3] * 6 + [4] * 6
    i, j = graph.nonzero()
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    np.testing.assert_allclose(graph[i, j], haversine_km(lat[i], lon[i], lat[j], lon[j]), rtol=1e-12)
    cells = grid["h3"].to_numpy(np.uint64)
    assert all(h3n.are_neighbor_cells(cells[a], cells[b]) for a, b in zip(i, j, strict=True))


@pytest.mark.parametrize("res", [3, 5])
def test_graph_pentagon_has_five_neighbours(res):
    pentagon = h3n.get_pentagons(res)[0]
    grid = grid_of(h3n.grid_disk(pentagon, 1))
    degree = np.diff(cell_graph(grid).indptr)
    row = int(np.searchsorted(grid["h3"].to_numpy(np.uint64), pentagon))
    assert len(grid) == 6
    assert degree[row] == 5


# ---------------------------------------------------------------------------------------------
# travel time: hand values and properties


def test_two_cells_harmonic_edge_cost():
    grid = grid_of(h3n.grid_disk(h3n.latlng_to_cell(LAT, LON, 7), 1)[:2])
    assert h3n.are_neighbor_cells(*grid["h3"].to_numpy(np.uint64))
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    d = haversine_km(lat[0], lon[0], lat[1], lon[1])
    t = travel_time(grid, [5.0, 50.0], grid["h3"].to_numpy()[:1])
    assert t[0] == 0.0
    assert t[1] == pytest.approx(60 * d / 2 * (1 / 5 + 1 / 50), rel=1e-12)


def test_uniform_speed_equals_hand_shortest_paths():
    grid = disk(3)
    centre = h3n.latlng_to_cell(LAT, LON, 7)
    row = int(np.searchsorted(grid["h3"].to_numpy(np.uint64), centre))
    t = travel_time(grid, np.full(len(grid), 6.0), [centre])
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    ring1 = np.isin(grid["h3"].to_numpy(np.uint64), h3n.grid_ring(centre, 1))
    # the neighbours are reached straight: 10 minutes per km at 6 km/h
    np.testing.assert_allclose(t[ring1], 10 * haversine_km(lat[row], lon[row], lat, lon)[ring1], rtol=1e-12)
    np.testing.assert_allclose(t, oracle_minutes(grid, np.full(len(grid), 6.0), row), rtol=1e-12)


def test_point_destinations_any_crs_and_h3_strings_agree():
    grid = disk(3)
    speeds = np.linspace(2, 40, len(grid))
    lon, lat = grid["lon"][5], grid["lat"][5]
    a = travel_time(grid, speeds, points([(lon, lat)]))
    b = travel_time(grid, speeds, points([(lon, lat)]).to_crs(32718))
    c = travel_time(grid, speeds, [h3.int_to_str(int(grid["h3"][5]))])
    np.testing.assert_allclose(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(a, oracle_minutes(grid, speeds, 5), rtol=1e-12)


def test_multi_source_is_minimum_of_single_sources():
    grid = disk(3)
    speeds = np.random.default_rng(3).uniform(1, 60, len(grid))
    cells = grid["h3"].to_numpy()
    both = travel_time(grid, speeds, cells[[0, 20]])
    single = np.minimum(travel_time(grid, speeds, cells[[0]]), travel_time(grid, speeds, cells[[20]]))
    np.testing.assert_allclose(both, single, rtol=1e-12)


GRID2 = disk(2)
SPEEDS = st.lists(st.floats(0.5, 120.0), min_size=len(GRID2), max_size=len(GRID2)).map(np.array)


@settings(max_examples=30, deadline=None)
@given(speeds=SPEEDS, a=st.integers(0, len(GRID2) - 1), b=st.integers(0, len(GRID2) - 1))
def test_times_symmetric_and_above_straight_line_at_top_speed(speeds, a, b):
    cells = GRID2["h3"].to_numpy()
    from_a = travel_time(GRID2, speeds, cells[[a]])
    from_b = travel_time(GRID2, speeds, cells[[b]])
    assert from_a[b] == pytest.approx(from_b[a], rel=1e-12, abs=1e-12)
    lat, lon = GRID2["lat"].to_numpy(), GRID2["lon"].to_numpy()
    bound = 60 * haversine_km(lat[a], lon[a], lat, lon) / speeds.max()
    assert (from_a >= bound * (1 - 1e-12)).all()


@settings(max_examples=30, deadline=None)
@given(speeds=SPEEDS, slower=st.lists(st.floats(0.1, 1.0), min_size=len(GRID2), max_size=len(GRID2)),
       a=st.integers(0, len(GRID2) - 1))
def test_slower_speeds_never_give_shorter_times(speeds, slower, a):
    cells = GRID2["h3"].to_numpy()
    fast = travel_time(GRID2, speeds, cells[[a]])
    slow = travel_time(GRID2, speeds * np.array(slower), cells[[a]])
    assert (slow >= fast * (1 - 1e-12)).all()


def test_unreachable_cells_are_nan():
    island = disk(1, lat=LAT + 1.0)  # a separate cluster 110 km away
    grid = grid_of(np.concatenate([disk(1)["h3"], island["h3"]]))
    t = travel_time(grid, np.full(len(grid), 5.0), [h3n.latlng_to_cell(LAT, LON, 7)])
    far = np.isin(grid["h3"], island["h3"])
    assert np.isnan(t[far]).all()
    assert np.isfinite(t[~far]).all()


def test_impassable_ring_cuts_off_the_outside():
    grid = disk(3)
    centre = h3n.latlng_to_cell(LAT, LON, 7)
    speeds = np.where(np.isin(grid["h3"], h3n.grid_ring(centre, 2)), 0.0, 5.0)
    t = travel_time(grid, speeds, [centre])
    inner = np.isin(grid["h3"], h3n.grid_disk(centre, 1))
    assert np.isfinite(t[inner]).all()
    assert np.isnan(t[~inner]).all()
    nan_speeds = np.where(speeds == 0, np.nan, speeds)
    np.testing.assert_array_equal(travel_time(grid, nan_speeds, [centre]), t)


def test_max_minutes_stops_the_search():
    grid = disk(4)
    centre = h3n.latlng_to_cell(LAT, LON, 7)
    full = travel_time(grid, np.full(len(grid), 5.0), [centre])
    cut = travel_time(grid, np.full(len(grid), 5.0), [centre], max_minutes=60.0)
    np.testing.assert_array_equal(cut[full <= 60], full[full <= 60])
    assert np.isnan(cut[full > 60]).all()


def test_links_join_cells_across_a_gap():
    grid = disk(2)
    cells = grid["h3"].to_numpy()
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    spread = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    a, b = np.unravel_index(np.argmax(spread), spread.shape)  # opposite sides of the disk
    km = float(spread[a, b])
    friction = Friction(np.full(len(grid), 1.0), np.array([[a, b]]), np.array([km]), np.array([60.0]))
    t = travel_time(grid, friction, cells[[a]])
    assert t[b] == pytest.approx(km, rel=1e-12)  # 1 minute per km at 60 km/h
    assert travel_time(grid, np.full(len(grid), 1.0), cells[[a]])[b] > 50 * t[b]


# ---------------------------------------------------------------------------------------------
# travel time: bad input


def test_empty_destinations_raise():
    grid = disk(1)
    with pytest.raises(ValueError, match="`destinations` is empty"):
        travel_time(grid, np.ones(7), points([]))
    with pytest.raises(ValueError, match="`destinations` is empty"):
        travel_time(grid, np.ones(7), np.array([], dtype=np.uint64))


def test_destinations_outside_warn_or_raise():
    grid = disk(1)
    inside = (grid["lon"][0], grid["lat"][0])
    with pytest.warns(GeoEngineWarning, match="1 of 2 destinations lie outside the grid"):
        t = travel_time(grid, np.ones(7), points([inside, (-70.0, -15.0)]))
    assert t[0] == 0.0
    with pytest.raises(ValueError, match="none of the 1 destinations lies in the grid"):
        travel_time(grid, np.ones(7), points([(-70.0, -15.0)]))


def test_destinations_just_outside_snap_to_the_nearest_cell():
    grid = disk(1)
    east = int(np.argmax(grid["lon"]))
    point = points([(grid["lon"][east] + 0.02, grid["lat"][east])])  # ~2.2 km east of its centre
    assert point_positions(grid, [point.geometry.y[0]], [point.geometry.x[0]])[0] == -1
    assert travel_time(grid, np.ones(7), point)[east] == 0.0
    with pytest.raises(ValueError, match="none of the 1 destinations"):
        travel_time(grid, np.ones(7), point, snap_km=0)


@pytest.mark.parametrize(("speeds", "match"), [
    (np.ones(6), r"shape \(6,\) but the grid has 7 cells"),
    (np.array([1, 1, 1, -2, 1, 1, 1.0]), "1 negative or infinite values"),
    (np.array([1, 1, 1, np.inf, 1, 1, 1.0]), "1 negative or infinite values"),
])
def test_bad_speeds_raise(speeds, match):
    with pytest.raises(ValueError, match=match):
        travel_time(disk(1), speeds, disk(1)["h3"].to_numpy()[:1])


def test_bad_destination_ids_and_types_raise():
    grid = disk(1)
    with pytest.raises(ValueError, match="not valid H3 cells"):
        travel_time(grid, np.ones(7), np.array([12345], dtype=np.uint64))
    with pytest.raises(TypeError, match="GeoDataFrame of points"):
        travel_time(grid, np.ones(7), pd.DataFrame({"x": [1]}))
    lines = gpd.GeoDataFrame(geometry=[LineString([(LON, LAT), (LON + 0.01, LAT)])], crs="EPSG:4326")
    with pytest.raises(ValueError, match="must all be Point"):
        travel_time(grid, np.ones(7), lines)


def test_destination_in_impassable_cell_warns():
    grid = disk(1)
    speeds = np.ones(7)
    speeds[0] = 0.0
    with pytest.warns(GeoEngineWarning, match="1 destination cells are impassable"):
        t = travel_time(grid, speeds, grid["h3"].to_numpy()[:1])
    assert t[0] == 0.0
    assert np.isnan(t[1:]).all()


# ---------------------------------------------------------------------------------------------
# speeds


def test_walking_speed_is_tobler_round_trip():
    assert walking_speed(0.0) == pytest.approx(6 * np.exp(-3.5 * 0.05))
    s = np.linspace(0, 1, 101)
    v = walking_speed(s)
    up, down = 6 * np.exp(-3.5 * np.abs(s + 0.05)), 6 * np.exp(-3.5 * np.abs(-s + 0.05))
    np.testing.assert_allclose(v, 2 / (1 / up + 1 / down))
    assert (np.diff(v) < 0).all()
    np.testing.assert_array_equal(walking_speed(-s), v)


def test_flat_and_tilted_terrain_walk(flat_dem, tmp_path):
    grid = disk(3)
    np.testing.assert_allclose(cell_speeds(grid, elevation=flat_dem).speed_kmh, FLAT_KMH, rtol=1e-6)
    steep = cell_speeds(grid, elevation=tilted_dem(tmp_path / "t.tif", 0.2)).speed_kmh
    np.testing.assert_allclose(steep, walking_speed(0.2), rtol=1e-4)
    slow = cell_speeds(grid, elevation=tilted_dem(tmp_path / "t.tif", 0.2),
                       table=SpeedTable(walk_factor=0.6)).speed_kmh
    np.testing.assert_allclose(slow, 0.6 * walking_speed(0.2), rtol=1e-4)


def test_roads_by_class_and_by_speed_column(flat_dem, tmp_path):
    grid = disk(3)
    road = gpd.GeoDataFrame({"system": ["perpe"]}, geometry=[LineString([(LON - 0.2, LAT),
                                                                          (LON + 0.2, LAT)])],
                            crs="EPSG:4326")
    on = lines_to_cells(grid, road) >= 0.25 * EDGE7
    v = cell_speeds(grid, elevation=flat_dem, roads=road).speed_kmh
    assert on.sum() >= 5
    np.testing.assert_allclose(v[on], 60.0)
    np.testing.assert_allclose(v[~on], FLAT_KMH, rtol=1e-6)
    own = cell_speeds(grid, elevation=flat_dem, roads=road.assign(speed_kmh=80.0)).speed_kmh
    np.testing.assert_allclose(own[on], 80.0)
    table = SpeedTable(road_speeds_kmh={"perpe": 30.0})
    np.testing.assert_allclose(cell_speeds(grid, elevation=flat_dem, roads=road, table=table).speed_kmh[on],
                               30.0)
    steep = cell_speeds(grid, elevation=tilted_dem(tmp_path / "s.tif", 0.3), roads=road).speed_kmh
    np.testing.assert_allclose(steep[on], 60.0 * 0.65, rtol=1e-6)


def test_road_errors_name_the_class_and_value(flat_dem):
    grid = disk(1)
    road = gpd.GeoDataFrame({"system": ["trail"]}, geometry=[LineString([(LON - 0.1, LAT),
                                                                          (LON + 0.1, LAT)])],
                            crs="EPSG:4326")
    with pytest.raises(ValueError, match=r"road classes \['trail'\] of column 'system' have no speed"):
        cell_speeds(grid, elevation=flat_dem, roads=road)
    negative = r"1 roads have no positive speed in 'speed_kmh', e\.g\. row 0 with -5\.0"
    with pytest.raises(ValueError, match=negative):
        cell_speeds(grid, elevation=flat_dem, roads=road.assign(speed_kmh=-5.0))
    with pytest.raises(KeyError, match="neither a 'speed_kmh' column nor the class column 'system'"):
        cell_speeds(grid, elevation=flat_dem, roads=road.rename(columns={"system": "kind"}))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"road_speeds_kmh": {"perpe": 0.0}}, "road class 'perpe' in `road_speeds_kmh` has speed 0.0 km/h"),
    ({"road_speeds_kmh": {"persf": -10}}, "road class 'persf' in `road_speeds_kmh` has speed -10 km/h"),
    ({"river_kmh": 0}, "`river_kmh` has speed 0 km/h"),
    ({"lake_kmh": -1.0}, "`lake_kmh` has speed -1.0 km/h"),
    ({"town_kmh": float("nan")}, "`town_kmh` has speed nan"),
    ({"road_steep_factor": 1.5}, r"must be in \(0, 1\]"),
    ({"road_flat_slope": 0.3}, "less than `road_steep_slope`"),
    ({"walk_factor": 0}, "`walk_factor` was 0 but must be a positive multiplier"),
])
def test_speed_table_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SpeedTable(**kwargs)


def test_lakes_are_water_boat_or_impassable(flat_dem):
    grid = disk(3)
    lake = gpd.GeoDataFrame(geometry=[box(LON - 1, LAT - 1, LON - 0.005, LAT + 1)], crs="EPSG:4326")
    v = cell_speeds(grid, elevation=flat_dem, lakes=lake).speed_kmh
    water = grid["lon"].to_numpy() < LON - 0.012  # cells more than half in the lake
    assert water.any()
    np.testing.assert_allclose(v[water], 10.0)
    dry = cell_speeds(grid, elevation=flat_dem, lakes=lake, table=SpeedTable(lake_kmh=None)).speed_kmh
    assert (dry[water] == 0).all()
    t = travel_time(grid, dry, points([(LON + 0.01, LAT)]))
    assert np.isnan(t[water]).all()


def test_town_disc_gets_town_speed(flat_dem):
    grid = disk(5)
    town = points([(LON, LAT)], population=[1_000_000])
    v = cell_speeds(grid, elevation=flat_dem, towns=town).speed_kmh
    radius = np.sqrt(1_000_000 / (np.pi * 10_000))
    inside = haversine_km(LAT, LON, grid["lat"], grid["lon"]) <= radius
    assert 10 < inside.sum() < len(grid)
    np.testing.assert_allclose(v[inside], 25.0)
    np.testing.assert_allclose(v[~inside], FLAT_KMH, rtol=1e-6)
    small = cell_speeds(grid, elevation=flat_dem, towns=points([(LON, LAT)], population=[12_000])).speed_kmh
    assert (small == 25.0).sum() == 1


def test_rivers_navigable_only_in_long_lowland_reaches(flat_dem, high_dem):
    grid = disk(6)
    river = gpd.GeoDataFrame({"scalerank": [7]}, geometry=[LineString([(LON, LAT - 0.3), (LON, LAT + 0.3)])],
                             crs="EPSG:4326")
    crossed = lines_to_cells(grid, river) >= 0.25 * EDGE7
    short_reach = SpeedTable(river_min_reach_km=5.0)
    low = cell_speeds(grid, elevation=flat_dem, rivers=river, table=short_reach).speed_kmh
    np.testing.assert_allclose(low[crossed], 10.0)
    assert (low[~crossed] < 10).all()
    # too short a reach for the default rule, too high, or a minor river
    assert (cell_speeds(grid, elevation=flat_dem, rivers=river).speed_kmh < 10).all()
    assert (cell_speeds(grid, elevation=high_dem, rivers=river, table=short_reach).speed_kmh < 10).all()
    minor = river.assign(scalerank=11)
    assert (cell_speeds(grid, elevation=flat_dem, rivers=minor, table=short_reach).speed_kmh < 10).all()
    # a `navigable` flag overrides the rules
    flagged = cell_speeds(grid, elevation=high_dem, rivers=river.assign(navigable=True)).speed_kmh
    np.testing.assert_allclose(flagged[crossed], 10.0)


def test_road_across_a_gap_in_the_grid_is_linked(flat_dem):
    full = disk(6)
    gap = np.abs(full["lon"] - LON) < 0.015  # a bay across the middle of the region
    grid = full[~gap].reset_index(drop=True)
    road = gpd.GeoDataFrame({"system": ["perpe"]}, geometry=[LineString([(LON - 0.2, LAT),
                                                                          (LON + 0.2, LAT)])],
                            crs="EPSG:4326")
    friction = cell_speeds(grid, elevation=flat_dem, roads=road)
    assert len(friction.link_rows) >= 1
    west = points([(LON - 0.1, LAT)])
    east_row = point_positions(grid, [LAT], [LON + 0.1])[0]
    assert np.isnan(travel_time(grid, friction.speed_kmh, west)[east_row])  # cut in two without links
    t = travel_time(grid, friction, west)[east_row]
    straight = haversine_km(LAT, LON - 0.1, LAT, LON + 0.1)
    assert 60 * straight / 60 <= t < 60 * 1.3 * straight / 60 + 5


def test_missing_or_uncovering_dem_raise(tmp_path, flat_dem):
    with pytest.raises(MissingSourceError, match=r"elevation raster .* not found"):
        cell_speeds(disk(1), elevation=tmp_path / "none.tif")
    far = disk(1, lat=10.0, lon=10.0)
    with pytest.raises(ValueError, match="does not cover the grid"):
        cell_speeds(far, elevation=flat_dem)


# ---------------------------------------------------------------------------------------------
# destination sets and the shipped data


@pytest.mark.parametrize(("name", "column", "minimum"), [
    ("towns10k", "population", 10_000), ("towns50k", "population", 50_000),
    ("towns500k", "population", 500_000),
])
def test_town_sets(data_dir, name, column, minimum):
    towns = destinations(name, data_dir=data_dir)
    assert len(towns) > 0
    assert (towns[column] >= minimum).all()
    assert towns.crs.equals("EPSG:4326")


def test_port_airport_and_hub_sets(data_dir):
    assert len(destinations("ports", data_dir=data_dir)) == 22
    airports = destinations("airports", data_dir=data_dir)
    assert len(airports) > 0
    assert airports["iata"].notna().all()
    cell = h3n.latlng_to_cell(LAT, LON, 7)
    hubs = destinations("hubs", hubs=[h3.int_to_str(int(cell))])
    assert hubs["h3"].tolist() == [cell]
    assert (hubs.geometry.y[0], hubs.geometry.x[0]) == pytest.approx(h3n.cell_to_latlng(cell))


def test_unknown_set_and_missing_hubs_raise(data_dir):
    with pytest.raises(ValueError, match="unknown destination set 'town'; known sets are towns10k"):
        destinations("town", data_dir=data_dir)
    with pytest.raises(ValueError, match="the 'hubs' destination set needs `hubs`"):
        destinations("hubs")
    with pytest.raises(ValueError, match="`to` was 'cities'"):
        access_minutes(disk(1), to="cities", data_dir=data_dir)
    assert set(DESTINATION_SETS) == {"towns10k", "towns50k", "towns500k", "ports", "airports", "hubs"}


@pytest.fixture(scope="module")
def peru5():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # districts too small for a cell of their own
        return build_grid(region_units(), resolution=5, repair=True)


def test_peru_resolution_5_towns_and_ports(peru5, data_dir):
    minutes = access_minutes(peru5, to="towns50k", data_dir=data_dir)
    centres = gpd.read_parquet(data_dir / "peru" / "populated_centres.parquet")
    rows = point_positions(peru5, centres.geometry.y.to_numpy(), centres.geometry.x.to_numpy())
    populated = np.unique(rows[rows >= 0])
    # the remotest villages (upper Napo, Purús) are two to three days away by boat and on foot
    assert np.isfinite(minutes[populated]).all()
    assert minutes[populated].max() < 72 * 60
    assert np.mean(minutes[populated] < 24 * 60) > 0.85
    friction = region_friction(peru5, data_dir=data_dir)
    assert (friction.speed_kmh > 0).all()
    assert len(friction.link_rows) > 0  # the coastal highway leaves the grid and comes back
    ports = access_minutes(peru5, to="ports", data_dir=data_dir)
    towns = gpd.read_parquet(data_dir / "peru" / "towns.parquet").set_index("name").loc[["Lima", "Callao"]]
    lima = point_positions(peru5, towns.geometry.y.to_numpy(), towns.geometry.x.to_numpy())
    assert (ports[lima] < 30).all()
    hub_mask = np.zeros(len(peru5), dtype=bool)
    hub_mask[lima] = True
    np.testing.assert_array_equal(access_minutes(peru5, to="hubs", hubs=hub_mask, data_dir=data_dir) == 0,
                                  hub_mask)


# ---------------------------------------------------------------------------------------------
# start minutes: the part of a larger grid


def test_start_minutes_on_the_edge_of_a_part_give_the_whole_grids_times():
    big = disk(8)
    rng = np.random.default_rng(5)
    speeds = rng.uniform(2.0, 30.0, len(big))
    target = big["h3"].to_numpy(np.uint64)[[0]]  # a destination far from the part
    whole = travel_time(big, speeds, target)
    centre = h3n.latlng_to_cell(LAT, LON, 7)
    part_cells = np.asarray(h3n.grid_disk(centre, 4), dtype=np.uint64)
    inside = np.isin(big["h3"].to_numpy(np.uint64), part_cells)
    part = big[inside].reset_index(drop=True)
    edge = np.isin(part["h3"].to_numpy(np.uint64), np.asarray(h3n.grid_ring(centre, 4), np.uint64))
    start = np.where(edge, whole[inside], np.nan)
    got = travel_time(part, speeds[inside], target, start=start)
    np.testing.assert_allclose(got, whole[inside], rtol=1e-12)
    assert not np.isin(target, part_cells).any()


def test_start_minutes_alone_need_no_destination_in_the_grid_and_zero_starts_a_cell():
    grid = disk(2)
    start = np.full(len(grid), np.nan)
    start[0] = 0.0
    start[1] = 5.0
    far = points([(LON + 5, LAT)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeoEngineWarning)  # no "destinations dropped" warning
        got = travel_time(grid, np.full(len(grid), FLAT_KMH), far, start=start)
    assert got[0] == 0.0
    assert got[1] <= 5.0
    assert np.isfinite(got).all()
    with pytest.raises(ValueError, match=r"`start` has shape \(3,\) or negative minutes"):
        travel_time(grid, np.full(len(grid), FLAT_KMH), far, start=np.zeros(3))
