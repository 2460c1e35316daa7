import geopandas as gpd
import h3
import numpy as np
import pytest
from shapely.geometry import Polygon, box

from geo_engine._errors import GeoEngineWarning, GridSizeError
from geo_engine.spatial.grid import build_grid, cell_polygons, estimate_cells, h3_to_str


@pytest.fixture
def units():
    # two 0.2° squares near Lima plus a tiny unit between them
    return gpd.GeoDataFrame(
        {"unit_code": ["150101", "150102", "150103"], "parent_code": ["1501"] * 3},
        geometry=[box(-77.2, -12.2, -77.0, -12.0), box(-77.0, -12.2, -76.8, -12.0),
                  box(-76.9999, -12.1, -76.9995, -12.0996)],
        crs="EPSG:4326",
    )


def test_cells_sorted_unique_and_complete(units):
    grid = build_grid(units, resolution=7)
    assert grid["h3"].dtype == np.uint64
    assert grid["h3"].is_monotonic_increasing
    assert grid["h3"].is_unique
    assert set(grid["unit_code"]) == {"150101", "150102", "150103"}
    assert (grid["parent_code"] == "1501").all()
    # centre-inside cells are exactly H3's own polygon_to_cells result
    expected = set()
    for geom in units.geometry[:2]:
        expected |= {h3.str_to_int(c) for c in h3.geo_to_cells(geom, 7)}
    centre = set(grid.loc[grid["centre_inside"], "h3"].astype(int))
    assert centre <= expected
    assert len(expected - centre) <= 1  # at most the cell handed to the tiny unit


def test_tiny_unit_gets_one_cell(units):
    grid = build_grid(units, resolution=7)
    tiny = grid[grid["unit_code"] == "150103"]
    assert len(tiny) == 1
    assert not tiny["centre_inside"].iloc[0]
    assert grid.attrs["report"]["small_units_without_cell"] == 0


def test_centres_and_areas(units):
    grid = build_grid(units, resolution=6)
    row = grid.iloc[0]
    lat, lon = h3.cell_to_latlng(format(int(row["h3"]), "x"))
    assert row["lat"] == pytest.approx(lat)
    assert row["lon"] == pytest.approx(lon)
    assert row["area_km2"] == pytest.approx(h3.cell_area(format(int(row["h3"]), "x"), "km^2"))
    # cells cover the region area within a few percent
    region_km2 = units.to_crs("ESRI:102033").area.sum() / 1e6
    assert grid["area_km2"].sum() == pytest.approx(region_km2, rel=0.25)


def test_any_crs_is_accepted(units):
    a = build_grid(units, resolution=7)
    b = build_grid(units.to_crs(32718), resolution=7)
    assert a["h3"].tolist() == b["h3"].tolist()


@pytest.mark.parametrize("resolution", [2, 11, 7.0, "7"])
def test_bad_resolution(units, resolution):
    with pytest.raises(ValueError, match="`resolution` was"):
        build_grid(units, resolution=resolution)


def test_missing_crs(units):
    with pytest.raises(ValueError, match="no CRS"):
        build_grid(units.set_crs(None, allow_override=True), resolution=7)


def test_duplicate_codes(units):
    units.loc[1, "unit_code"] = "150101"
    with pytest.raises(ValueError, match="duplicate 'unit_code'"):
        build_grid(units, resolution=7)


def test_invalid_geometry_policy(units):
    bowtie = Polygon([(-77.2, -12.2), (-77.0, -12.0), (-77.0, -12.2), (-77.2, -12.0)])
    units.loc[0, "geometry"] = bowtie
    with pytest.raises(ValueError, match=r"1 invalid region geometries.*repair=True"):
        build_grid(units, resolution=7)
    with pytest.warns(GeoEngineWarning, match="repaired 1 invalid"):
        grid = build_grid(units, resolution=7, repair=True)
    assert "150101" in set(grid["unit_code"])


def test_too_many_cells_is_refused_before_building(units):
    assert estimate_cells(units, resolution=10) > 1000
    with pytest.raises(GridSizeError, match=r"about [\d,]+ cells.*--force"):
        build_grid(units, resolution=10, max_cells=1000)


def test_str_ids_and_polygons(units):
    grid = build_grid(units, resolution=6)
    ids = h3_to_str(grid["h3"])
    assert all(h3.is_valid_cell(c) for c in ids)
    polys = cell_polygons(grid["h3"])
    assert polys.crs.to_epsg() == 4326
    assert polys.is_valid.all()
    centre = polys.iloc[0].centroid
    assert centre.x == pytest.approx(grid["lon"].iloc[0], abs=1e-3)


def test_unit_smaller_than_a_cell_between_single_cell_units_is_shared():
    # units A and B are one cell each; C is a sliver on their shared edge: it holds no centre, and
    # taking A's or B's only cell would drop them, so C owns none and is shared by area
    x = h3.latlng_to_cell(-12.0, -77.0, 6)
    y = h3.grid_ring(x, 1)[0]
    cx, cy = (Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in (x, y))
    edge = cx.intersection(cy).centroid
    sliver = box(edge.x - 0.002, edge.y - 0.002, edge.x + 0.002, edge.y + 0.002)
    units = gpd.GeoDataFrame({"unit_code": ["A", "B", "C"]},
                             geometry=[cx.difference(sliver), cy.difference(sliver), sliver],
                             crs="EPSG:4326")
    with pytest.warns(GeoEngineWarning, match=r"1 admin units are smaller than one cell .* \(C\)"):
        grid = build_grid(units, resolution=6)
    report = grid.attrs["report"]
    assert set(grid["unit_code"]) == {"A", "B"}
    shares = report["shared_units"]["C"]
    assert set(shares) == {x, y}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(0.3 < w < 0.7 for w in shares.values())  # the sliver straddles the edge
