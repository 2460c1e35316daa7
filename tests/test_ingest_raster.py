import math

import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from exactextract import exact_extract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import box

from geo_engine._errors import GeoEngineWarning, MissingSourceError, SourceFormatError
from geo_engine.ingest import raster as raster_mod
from geo_engine.ingest.raster import EARTH_RADIUS_KM, METHODS, raster_to_cells
from geo_engine.spatial.grid import cell_polygons

# a 0.2° x 0.2° square west of Lima, 100 x 100 pixels of 0.002° (about 220 m)
WEST, NORTH, PIXEL, SIZE = -77.15, -11.95, 0.002, 100
EAST, SOUTH = WEST + SIZE * PIXEL, NORTH - SIZE * PIXEL
TRANSFORM = Affine(PIXEL, 0, WEST, 0, -PIXEL, NORTH)


def write_tif(path, data, *, transform=TRANSFORM, crs="EPSG:4326", nodata=None, mask=None,
              scale=None, offset=None):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2],
               "count": data.shape[0], "dtype": data.dtype, "transform": transform, "nodata": nodata}
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if mask is not None:
            dst.write_mask(mask.astype(np.uint8) * 255)
        if scale is not None:
            dst.scales = (scale,) * data.shape[0]
            dst.offsets = (offset,) * data.shape[0]
    return path


def grid_in(west, south, east, north, resolution):
    cells = h3n.geo_to_cells(box(west, south, east, north), resolution)
    return pd.DataFrame({"h3": np.sort(np.asarray(cells, dtype=np.uint64))})


def to_map(transform, col, row):
    t = transform
    return t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f


def to_pixel(transform, x, y):
    col, row = to_map(~transform, x, y)
    return np.floor(col).astype(int), np.floor(row).astype(int)


def vertices(cell):
    return np.array(h3n.cell_to_boundary(cell))  # (lat, lon) pairs


def reference_binning(grid, data, valid, transform, method, classes=None):
    """Statistic of the pixels whose centre h3 itself puts in each cell (h3.latlng_to_cell)."""
    res = h3n.get_resolution(grid["h3"].iloc[0])
    rows, cols = np.nonzero(valid)
    lon, lat = to_map(transform, cols + 0.5, rows + 0.5)
    owner = np.array([h3n.latlng_to_cell(y, x, res) for y, x in zip(lat, lon, strict=True)])
    out = []
    for cell in grid["h3"]:
        v = data[rows, cols][owner == cell].astype(float)
        if len(v) == 0:
            out.append(np.nan)
        elif method == "share":
            out.append(np.isin(v, classes).mean())
        elif method == "majority":
            values, counts = np.unique(v, return_counts=True)  # sorted: ties go to the smallest
            out.append(values[np.argmax(counts)])
        else:
            out.append(getattr(np, method)(v))
    return np.array(out)


def exactextract_reference(path, grid, method, classes=None):
    polys = gpd.GeoDataFrame(geometry=cell_polygons(grid["h3"]), crs=4326)
    if method == "share":
        res = exact_extract(str(path), polys, ["count", "unique", "frac"], output="pandas")
        share = [float(np.sum(np.asarray(f)[np.isin(u, classes)])) if u is not None else np.nan
                 for u, f in zip(res["unique"], res["frac"], strict=True)]
        out = np.array(share)
    else:
        res = exact_extract(str(path), polys, ["count", method], output="pandas")
        out = res[method].to_numpy(dtype=float).copy()
    out[~(res["count"].to_numpy(dtype=float) > 0)] = np.nan
    return out


@pytest.fixture
def blocks(tmp_path):
    data = np.ones((SIZE, SIZE), dtype=np.int16)
    data[:50, 50:] = 2
    data[50:, :50] = 3
    data[50:, 50:] = 4
    return write_tif(tmp_path / "blocks.tif", data), data


@pytest.fixture
def noisy(tmp_path):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 4, (SIZE, SIZE)).astype(np.float32)
    data[:10, :30] = -9999  # a no-data corner
    return write_tif(tmp_path / "noisy.tif", data, nodata=-9999), data, data != -9999


@pytest.fixture
def grid7():
    return grid_in(WEST + 0.01, SOUTH + 0.01, EAST - 0.01, NORTH - 0.01, 7)


# --- fast mode -----------------------------------------------------------------------------------


def block_of(cell):
    """Block value (1..4) when every vertex of the cell lies in one block, else None."""
    lat, lon = vertices(cell).T
    margin = PIXEL
    mid_lon, mid_lat = WEST + 50 * PIXEL, NORTH - 50 * PIXEL
    if not (WEST + margin < lon.min() and lon.max() < EAST - margin
            and SOUTH + margin < lat.min() and lat.max() < NORTH - margin):
        return None
    west, east = lon.max() < mid_lon - margin, lon.min() > mid_lon + margin
    north, south = lat.min() > mid_lat + margin, lat.max() < mid_lat - margin
    if north and west:
        return 1
    if north and east:
        return 2
    if south and west:
        return 3
    if south and east:
        return 4
    return None


def test_fast_block_values_by_hand(blocks, grid7):
    path, _data = blocks
    expected = np.array([block_of(c) or np.nan for c in grid7["h3"]], dtype=float)
    inside = ~np.isnan(expected)
    assert inside.sum() >= 20
    for method in ("mean", "min", "max", "majority"):
        got = raster_to_cells(grid7, path, method=method, mode="fast")
        np.testing.assert_array_equal(got[inside], expected[inside])
    share = raster_to_cells(grid7, path, method="share", classes=[2, 4], mode="fast")
    np.testing.assert_array_equal(share[inside], np.isin(expected[inside], [2, 4]).astype(float))
    # a cell straddling blocks 1 and 2 has a mean strictly between them
    mean = raster_to_cells(grid7, path, mode="fast")
    assert ((mean[~inside] >= 1) & (mean[~inside] <= 4)).all()
    assert ((mean > 1) & (mean < 2)).any()


def test_fast_sum_counts_pixel_centres(tmp_path, blocks, grid7):
    ones = write_tif(tmp_path / "ones.tif", np.ones((SIZE, SIZE), dtype=np.uint8))
    counts = raster_to_cells(grid7, ones, method="sum", mode="fast")
    expected = reference_binning(grid7, np.ones((SIZE, SIZE)), np.ones((SIZE, SIZE), bool),
                                 TRANSFORM, "sum")
    np.testing.assert_array_equal(counts, expected)
    # about cell area / pixel area (~5.1 km2 / 0.0478 km2) for cells well inside the raster
    path, _data = blocks
    sums = raster_to_cells(grid7, path, method="sum", mode="fast")
    block = np.array([block_of(c) or np.nan for c in grid7["h3"]])
    inside = ~np.isnan(block)
    np.testing.assert_array_equal(sums[inside], block[inside] * counts[inside])


@pytest.mark.parametrize("method", METHODS)
def test_fast_matches_h3_reference(noisy, grid7, method):
    path, data, valid = noisy
    classes = [1, 3] if method == "share" else None
    got = raster_to_cells(grid7, path, method=method, classes=classes, mode="fast")
    expected = reference_binning(grid7, data, valid, TRANSFORM, method, classes)
    has_centre = ~np.isnan(expected)
    assert has_centre.sum() > 20
    np.testing.assert_allclose(got[has_centre], expected[has_centre], rtol=1e-12)


def test_majority_ties_go_to_smallest_value():
    owner = np.array([0, 0, 0, 0, 1, 1, 1])
    values = np.array([5.0, 3.0, 5.0, 3.0, 7.0, 2.0, 7.0])
    got = raster_mod._majority(owner, values, np.ones(7), 3)
    np.testing.assert_array_equal(got, [3.0, 7.0, np.nan])


def test_unsorted_grid_keeps_row_order(noisy, grid7):
    path, _, _ = noisy
    shuffled = grid7.sample(frac=1, random_state=1)
    for mode in ("fast", "exact"):
        expected = raster_to_cells(grid7, path, mode=mode)
        got = raster_to_cells(shuffled, path, mode=mode)
        np.testing.assert_array_equal(got, pd.Series(expected, index=grid7.index)[shuffled.index])


@pytest.mark.parametrize("mode", ["fast", "exact"])
def test_chunked_reading_gives_the_same_values(monkeypatch, noisy, grid7, mode):
    path, _, _ = noisy
    whole = raster_to_cells(grid7, path, method="max", mode=mode)
    monkeypatch.setattr(raster_mod, "MAX_WINDOW_PIXELS", 600)  # a few cells per window
    chunks = list(raster_mod._chunks(np.arange(len(grid7)), *_boxes(grid7, path)))
    assert len(chunks) > 5
    np.testing.assert_array_equal(raster_to_cells(grid7, path, method="max", mode=mode), whole)


def _boxes(grid, path):
    with rasterio.open(path) as src:
        layer = raster_mod._Layer.open(src, 1, path)
        fp = raster_mod._Footprint.of(raster_mod._cell_vertices(grid["h3"].to_numpy()), layer)
    return fp.r0, fp.r1, fp.c0, fp.c1


# --- missing data --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "exact"])
def test_nodata_mask_and_nan_are_missing(tmp_path, mode):
    data = np.full((SIZE, SIZE), 5.0, dtype=np.float32)
    data[:, :50] = -1  # no-data value: the west half
    data[50:, 50:] = np.nan  # NaN: the south-east quarter
    data[:50, 50:70] = 0.0  # valid zeros
    mask = np.ones((SIZE, SIZE), dtype=bool)
    mask[:35, 75:] = False  # masked: the far north-east corner; 5.0 is left in rows 35-49
    path = write_tif(tmp_path / "holes.tif", data, nodata=-1, mask=mask)
    grid = grid_in(WEST + 0.01, SOUTH + 0.01, EAST - 0.01, NORTH - 0.01, 7)
    lat, lon = np.array([vertices(c) for c in grid["h3"]]).transpose(2, 0, 1)

    def within(col0, col1, row0, row1):
        return ((lon.min(axis=1) > WEST + (col0 + 1) * PIXEL) & (lon.max(axis=1) < WEST + (col1 - 1) * PIXEL)
                & (lat.max(axis=1) < NORTH - (row0 + 1) * PIXEL)
                & (lat.min(axis=1) > NORTH - (row1 - 1) * PIXEL))

    missing = within(0, 50, 0, 100) | within(50, 100, 50, 100) | within(75, 100, 0, 35)
    zeros = within(50, 70, 0, 50)
    assert within(0, 50, 0, 100).sum() >= 5
    assert within(75, 100, 0, 35).sum() >= 1
    assert within(50, 100, 50, 100).sum() >= 2
    assert zeros.sum() >= 1
    for method in METHODS:
        classes = [5] if method == "share" else None
        got = raster_to_cells(grid, path, method=method, classes=classes, mode=mode)
        assert np.isnan(got[missing]).all(), method  # never a silent 0
        assert not np.isnan(got[~missing]).all(), method
        assert (got[zeros] == 0).all(), method  # valid zeros: sum 0, share 0.0, mean 0...
    mean = raster_to_cells(grid, path, mode=mode)
    known = mean[~np.isnan(mean)]
    assert (known >= 0).all()
    assert (known <= 5).all()
    assert (known > 0).any()


def test_cells_beyond_the_raster_are_nan(noisy):
    path, _, _ = noisy
    grid = grid_in(EAST - 0.05, SOUTH + 0.05, EAST + 0.1, NORTH - 0.05, 7)
    lon = np.array([h3n.cell_to_latlng(c)[1] for c in grid["h3"]])
    for mode in ("fast", "exact"):
        got = raster_to_cells(grid, path, mode=mode)
        far = lon > EAST + 0.02
        assert np.isnan(got[far]).all()
        assert not np.isnan(got[lon < EAST - 0.02]).any()


def test_no_overlap_warns_and_returns_nan(noisy):
    path, _, _ = noisy
    cusco = grid_in(-72.0, -13.6, -71.9, -13.5, 7)
    with pytest.warns(GeoEngineWarning, match="layer noisy.tif does not overlap the region; all "
                                              "values NaN"):
        got = raster_to_cells(cusco, path)
    assert got.shape == (len(cusco),)
    assert np.isnan(got).all()


@pytest.mark.hostile
@pytest.mark.parametrize(("data", "nodata"), [(np.full((SIZE, SIZE), np.nan, "float32"), None),
                                              (np.zeros((SIZE, SIZE), "uint8"), 0)])
@pytest.mark.parametrize("mode", ["fast", "exact"])
def test_a_raster_without_valid_pixels_warns(tmp_path, data, nodata, mode):
    path = write_tif(tmp_path / "blank.tif", data, nodata=nodata)
    grid = grid_in(WEST + 0.05, SOUTH + 0.05, EAST - 0.05, NORTH - 0.05, 7)
    with pytest.warns(GeoEngineWarning, match=r"layer blank\.tif: no valid pixel over the region "
                      r"\(every pixel there is no-data or NaN\), so all values are NaN; check it with "
                      r"`gdalinfo -stats FILE`.*gdal_edit\.py -unsetnodata"):
        got = raster_to_cells(grid, path, mode=mode)
    assert np.isnan(got).all()


def test_empty_grid(noisy):
    path, _, _ = noisy
    got = raster_to_cells(pd.DataFrame({"h3": np.array([], dtype=np.uint64)}), path)
    assert got.dtype == np.float64
    assert got.shape == (0,)


# --- exact mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_exact_matches_exactextract(noisy, grid7, method):
    path, _, _ = noisy
    classes = [1, 3] if method == "share" else None
    got = raster_to_cells(grid7, path, method=method, classes=classes, mode="exact")
    expected = exactextract_reference(path, grid7, method, classes)
    assert not np.isnan(expected).all()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_rasters_on_one_pixel_grid_share_the_coverage(tmp_path, noisy, grid7, monkeypatch):
    path, data, _ = noisy
    other = write_tif(tmp_path / "other.tif", data * 2 + 1, nodata=-9999)  # same pixel grid
    raster_mod.clear_coverage_cache()
    first = raster_to_cells(grid7, path, method="mean", mode="exact")

    def refuse(*args, **kwargs):
        raise AssertionError("coverage was computed again")

    monkeypatch.setattr(raster_mod, "_polygon_coverage", refuse)
    second = raster_to_cells(grid7, other, method="mean", mode="exact")  # from the cache
    np.testing.assert_allclose(second, exactextract_reference(other, grid7, "mean"), atol=1e-6)
    np.testing.assert_allclose(raster_to_cells(grid7, path, method="max", mode="exact"),
                               exactextract_reference(path, grid7, "max"), atol=1e-6)
    assert not np.isnan(first).all()
    raster_mod.clear_coverage_cache()
    with pytest.raises(AssertionError, match="computed again"):
        raster_to_cells(grid7, other, method="mean", mode="exact")


def test_exact_on_a_continuous_raster_and_partial_cells(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.normal(1000, 300, (SIZE, SIZE))
    path = write_tif(tmp_path / "cont.tif", data)
    grid = grid_in(WEST - 0.03, SOUTH - 0.03, EAST + 0.03, NORTH + 0.03, 7)  # overhangs the edges
    for method in ("mean", "sum", "min", "max"):
        got = raster_to_cells(grid, path, method=method, mode="exact")
        np.testing.assert_allclose(got, exactextract_reference(path, grid, method), atol=1e-6)


def test_scale_and_offset_are_applied(tmp_path, blocks, grid7):
    _, data = blocks
    path = write_tif(tmp_path / "scaled.tif", data, scale=0.5, offset=10.0)
    block = np.array([block_of(c) or np.nan for c in grid7["h3"]])
    inside = ~np.isnan(block)
    fast = raster_to_cells(grid7, path, mode="fast")
    np.testing.assert_allclose(fast[inside], block[inside] * 0.5 + 10)
    exact = raster_to_cells(grid7, path, mode="exact")
    np.testing.assert_allclose(exact, exactextract_reference(path, grid7, "mean"), atol=1e-6)


def test_band_selects_the_layer(tmp_path, grid7):
    data = np.stack([np.full((SIZE, SIZE), 1.0), np.full((SIZE, SIZE), 2.0)])
    path = write_tif(tmp_path / "two.tif", data)
    assert np.nanmax(raster_to_cells(grid7, path)) == 1.0
    assert np.nanmin(raster_to_cells(grid7, path, band=2)) == 2.0
    with pytest.raises(ValueError, match=r"`band` was 3 but two\.tif has bands 1 to 2"):
        raster_to_cells(grid7, path, band=3)


# --- pixel size against cell size ----------------------------------------------------------------


def test_big_pixels_use_centre_sampling(tmp_path):
    # 0.05° pixels (~30 km²) against res-8 cells (~0.7 km²)
    big = Affine(0.05, 0, -77.3, 0, -0.05, -11.8)
    rng = np.random.default_rng(5)
    data = rng.uniform(0, 100, (8, 8))
    path = write_tif(tmp_path / "big.tif", data, transform=big)
    grid = grid_in(-77.2, -12.1, -77.0, -11.9, 8)
    lat, lon = np.array([h3n.cell_to_latlng(c) for c in grid["h3"]]).T
    col, row = to_pixel(big, lon, lat)
    expected = data[row, col]
    np.testing.assert_array_equal(raster_to_cells(grid, path, mode="fast"), expected)
    # sums are scaled by cell area / pixel area (pixel area on H3's sphere)
    phi_top = np.radians(-11.8 - 0.05 * row)
    pixel_km2 = EARTH_RADIUS_KM**2 * np.radians(0.05) * (np.sin(phi_top)
                                                          - np.sin(phi_top - np.radians(0.05)))
    cell_km2 = np.array([h3n.cell_area(c, unit="km^2") for c in grid["h3"]])
    np.testing.assert_allclose(raster_to_cells(grid, path, method="sum", mode="fast"),
                               expected * cell_km2 / pixel_km2, rtol=1e-9)
    assert pixel_km2.mean() == pytest.approx(30.2, rel=0.01)  # 5.45 km x 5.53 km
    # auto goes exact when pixels are big
    np.testing.assert_allclose(raster_to_cells(grid, path), exactextract_reference(path, grid, "mean"),
                               atol=1e-6)


def test_cells_without_a_pixel_centre_fall_back_to_the_centre_pixel(tmp_path):
    # 0.03° x 0.008° pixels (~2.9 km², 3.3 km wide) against res-7 cells (~6 km², at most 3.1 km
    # wide): a cell falling between two columns of pixel centres holds none
    mid = Affine(0.03, 0, WEST, 0, -0.008, NORTH)
    rng = np.random.default_rng(11)
    data = rng.uniform(0, 100, (25, 7))
    path = write_tif(tmp_path / "mid.tif", data, transform=mid)
    grid = grid_in(WEST + 0.02, SOUTH + 0.02, EAST - 0.02, NORTH - 0.02, 7)
    got = raster_to_cells(grid, path, mode="fast")
    assert not np.isnan(got).any()
    binned = reference_binning(grid, data, np.ones_like(data, bool), mid, "mean")
    empty = np.isnan(binned)
    assert empty.sum() >= 3
    assert (~empty).sum() >= 3
    np.testing.assert_allclose(got[~empty], binned[~empty], rtol=1e-12)
    lat, lon = np.array([h3n.cell_to_latlng(c) for c in grid["h3"][empty]]).T
    col, row = to_pixel(mid, lon, lat)
    np.testing.assert_array_equal(got[empty], data[row, col])
    # auto takes exact here (fewer than 4 pixels per cell)
    np.testing.assert_allclose(raster_to_cells(grid, path), exactextract_reference(path, grid, "mean"),
                               atol=1e-6)


def test_auto_is_fast_for_small_pixels(noisy, grid7):
    path, _, _ = noisy
    np.testing.assert_array_equal(raster_to_cells(grid7, path), raster_to_cells(grid7, path, mode="fast"))


# --- CRS -----------------------------------------------------------------------------------------


def plane(lon, lat):
    return 1000 * (lon - WEST) + 500 * (lat - SOUTH)


def test_projected_raster_matches_its_geographic_twin(tmp_path):
    lon_c, lat_c = to_map(TRANSFORM, np.arange(SIZE)[None, :] + 0.5, np.arange(SIZE)[:, None] + 0.5)
    geo = write_tif(tmp_path / "geo.tif", plane(lon_c, lat_c))
    # the same field on a 200 m UTM 18S grid covering the same square
    to_utm = Transformer.from_crs(4326, 32718, always_xy=True)
    x0, y0 = to_utm.transform(WEST - 0.01, NORTH + 0.01)
    x1, y1 = to_utm.transform(EAST + 0.01, SOUTH - 0.01)
    utm = Affine(200, 0, x0, 0, -200, y0)
    nx, ny = int((x1 - x0) / 200) + 1, int((y0 - y1) / 200) + 1
    xc, yc = to_map(utm, np.arange(nx)[None, :] + 0.5, np.arange(ny)[:, None] + 0.5)
    lon_u, lat_u = Transformer.from_crs(32718, 4326, always_xy=True).transform(xc, yc)
    proj = write_tif(tmp_path / "utm.tif", plane(lon_u, lat_u), transform=utm, crs="EPSG:32718")
    grid = grid_in(WEST + 0.01, SOUTH + 0.01, EAST - 0.01, NORTH - 0.01, 7)
    value_range = 1000 * 0.2 + 500 * 0.2
    for mode, max_diff, mean_diff in (("fast", 0.005, 0.001), ("exact", 0.002, 0.0002)):
        a = raster_to_cells(grid, geo, mode=mode)
        b = raster_to_cells(grid, proj, mode=mode)
        assert not np.isnan(a).any()
        assert not np.isnan(b).any()
        assert np.abs(a - b).max() < max_diff * value_range, mode
        assert np.abs(a - b).mean() < mean_diff * value_range, mode
    # sums scale with pixel area: 0.048 km² here against 0.04 km² there
    ratio = raster_to_cells(grid, proj, method="sum") / raster_to_cells(grid, geo, method="sum")
    assert np.median(ratio) == pytest.approx(
        (PIXEL * 111.32) * (PIXEL * 110.6) * math.cos(math.radians(12)) / 0.04, rel=0.05)


def test_exact_mode_refuses_rotated_rasters(tmp_path, grid7):
    rotated = Affine(PIXEL, 0.0002, WEST, 0.0002, -PIXEL, NORTH)
    path = write_tif(tmp_path / "rot.tif", np.ones((SIZE, SIZE)), transform=rotated)
    assert np.nanmax(raster_to_cells(grid7, path, mode="fast")) == 1.0
    with pytest.raises(SourceFormatError, match="rotated or not north-up"):
        raster_to_cells(grid7, path, mode="exact")


# --- errors --------------------------------------------------------------------------------------


def test_missing_file_is_named(tmp_path, grid7):
    with pytest.raises(MissingSourceError, match=r"raster .*nope\.tif not found"):
        raster_to_cells(grid7, tmp_path / "nope.tif")


def test_raster_without_crs(tmp_path, grid7):
    path = write_tif(tmp_path / "nocrs.tif", np.ones((SIZE, SIZE)), crs=None)
    with pytest.raises(SourceFormatError, match=r"nocrs\.tif has no CRS; assign .*rio edit-info"):
        raster_to_cells(grid7, path)


def test_not_a_raster(tmp_path, grid7):
    path = tmp_path / "notes.tif"
    path.write_text("not a raster")
    with pytest.raises(SourceFormatError, match=r"notes\.tif is not a raster GDAL can read"):
        raster_to_cells(grid7, path)


def test_truncated_raster(tmp_path, grid7):
    path = write_tif(tmp_path / "full.tif", np.ones((SIZE, SIZE)))
    data = path.read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match=r"cut\.tif: its pixels cannot be read .*truncated"):
        raster_to_cells(grid7, tmp_path / "cut.tif")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "median"}, r"`method` was 'median' but is expected to be one of \['mean', 'sum'"),
        ({"mode": "quick"}, r"`mode` was 'quick' but is expected to be one of \['auto', 'fast', 'exact'\]"),
        ({"method": "share"}, r"method='share' needs `classes`"),
        ({"method": "share", "classes": []}, r"`classes` was \[\] but must be a non-empty sequence"),
        ({"method": "mean", "classes": [1]}, r"`classes` is only used by method='share'"),
    ],
)
def test_bad_options(noisy, grid7, kwargs, match):
    path, _, _ = noisy
    with pytest.raises(ValueError, match=match):
        raster_to_cells(grid7, path, **kwargs)


def test_grid_without_h3(noisy):
    path, _, _ = noisy
    with pytest.raises(KeyError, match="`grid` has no 'h3' column"):
        raster_to_cells(pd.DataFrame({"cell": [1, 2]}), path)


# --- vertices ------------------------------------------------------------------------------------


@pytest.mark.parametrize("accelerated", [True, False])
def test_vertices_match_cell_polygons(monkeypatch, grid7, accelerated):
    monkeypatch.setattr(raster_mod, "_HAS_H3RONPY", accelerated and raster_mod._HAS_H3RONPY)
    monkeypatch.setattr(raster_mod, "_vertex_cache", {})
    got = raster_mod._cell_vertices(grid7["h3"].to_numpy())
    polys = cell_polygons(grid7["h3"])
    expected = np.array([np.asarray(p.exterior.coords)[:6] for p in polys])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    precise = raster_mod._cell_vertices(grid7["h3"].to_numpy(), precise=True)
    np.testing.assert_array_equal(precise, expected)


@pytest.mark.parametrize("precise", [True, False])
def test_vertices_of_a_subset_come_from_the_cached_grid(monkeypatch, grid7, precise):
    monkeypatch.setattr(raster_mod, "_vertex_cache", {})
    ids = grid7["h3"].to_numpy()
    pentagon = np.uint64(sorted(h3n.get_pentagons(7))[0])
    full = np.sort(np.r_[ids, pentagon])
    fresh = [raster_mod._cell_vertices(full[:3], precise=precise),
             raster_mod._cell_vertices(full[-3:], precise=precise)]
    whole = raster_mod._cell_vertices(full, precise=precise)
    assert whole.shape[1] == 10  # the pentagon's distortion vertices: hexagons are padded

    def refuse(*args, **kwargs):
        raise AssertionError("vertices computed again")

    monkeypatch.setattr(raster_mod, "_hexagon_vertices_h3ronpy", refuse)
    monkeypatch.setattr(raster_mod.h3n, "cell_to_boundary", refuse)
    assert raster_mod._cell_vertices(full.copy(), precise=precise) is whole
    for part, expected in zip((full[:3], full[-3:]), fresh, strict=True):
        got = raster_mod._cell_vertices(part, precise=precise)
        assert got.shape == expected.shape
        # without `precise`, a grid holding a pentagon takes h3's vertices, h3ronpy's elsewhere
        np.testing.assert_allclose(got, expected, rtol=0, atol=0 if precise else 1e-12)


@pytest.mark.parametrize("resolution", [4, 5])
def test_pentagons_and_distorted_cells_are_padded(resolution):
    # pentagons have 5 vertices (10 with distortion vertices at odd resolutions)
    cells = np.array(sorted(h3n.get_pentagons(resolution))[:2], dtype=np.uint64)
    cells = np.r_[cells, h3n.cell_to_children(h3n.latlng_to_cell(-12, -77, 3), resolution)[:1]]
    got = raster_mod._cell_vertices(cells)
    boundaries = [np.array(h3n.cell_to_boundary(c))[:, ::-1] for c in cells]
    assert got.shape == (3, max(len(b) for b in boundaries), 2)
    for row, boundary in zip(got, boundaries, strict=True):
        np.testing.assert_array_equal(row[:len(boundary)], boundary)
        assert (row[len(boundary):] == boundary[-1]).all()


# --- properties ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("hypothesis")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), levels=st.integers(1, 6), missing=st.floats(0, 0.9),
       resolution=st.sampled_from([6, 7, 8]), mode=st.sampled_from(["fast", "exact"]))
def test_properties(scratch, seed, levels, missing, resolution, mode):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, levels, (40, 40)).astype(np.float32)
    data[rng.random((40, 40)) < missing] = np.nan
    path = write_tif(scratch / f"p{seed}.tif", data, transform=Affine(0.004, 0, WEST, 0, -0.004, NORTH))
    grid = grid_in(WEST, NORTH - 0.16, WEST + 0.16, NORTH, resolution)
    share = raster_to_cells(grid, path, method="share", classes=[0, 2], mode=mode)
    mean, lo, hi = (raster_to_cells(grid, path, method=m, mode=mode) for m in ("mean", "min", "max"))
    assert ((share[~np.isnan(share)] >= 0) & (share[~np.isnan(share)] <= 1)).all()
    known = ~np.isnan(mean)
    np.testing.assert_array_equal(np.isnan(lo), ~known)
    np.testing.assert_array_equal(np.isnan(share), ~known)
    assert (lo[known] <= mean[known] + 1e-9).all()
    assert (mean[known] <= hi[known] + 1e-9).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.floats(0.3, 6.0), sides=st.integers(3, 8),
       clockwise=st.booleans())
def test_polygon_coverage_is_the_exact_intersection_area(seed, size, sides, clockwise):
    # random convex polygons on a 6 x 5 pixel grid, some hanging over its edges
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, (4, sides)), axis=1)
    if clockwise:
        angles = angles[:, ::-1]
    centre = rng.uniform(-1, 7, (4, 2))
    col = centre[:, :1] + size / 2 * np.cos(angles)
    row = centre[:, 1:] + size / 2 * np.sin(angles)
    owner, pixel, frac = raster_mod._polygon_coverage(col, row, width=6, height=5)
    assert frac.dtype == np.float32
    assert (np.diff(owner) >= 0).all()
    assert (frac > 0).all()
    expected = {}
    for k in range(4):
        poly = shapely.Polygon(np.column_stack([col[k], row[k]]))
        for i in range(5):
            for j in range(6):
                area = poly.intersection(shapely.box(j, i, j + 1, i + 1)).area
                if area > 1e-9:
                    expected[(k, i * 6 + j)] = area
    got = dict(zip(zip(owner.tolist(), pixel.tolist(), strict=True), frac.tolist(), strict=True))
    assert {key for key, value in got.items() if value > 1e-9} == set(expected)
    for key, area in expected.items():
        assert got[key] == pytest.approx(area, rel=1e-6, abs=1e-9)


def test_polygon_coverage_drops_pixels_a_hexagon_only_touches():
    # a square exactly on pixel edges covers four whole pixels and touches their neighbours
    col = np.array([[1.0, 3.0, 3.0, 1.0]])
    row = np.array([[1.0, 1.0, 3.0, 3.0]])
    owner, pixel, frac = raster_mod._polygon_coverage(col, row, width=5, height=5)
    assert sorted(pixel.tolist()) == [6, 7, 11, 12]
    np.testing.assert_array_equal(frac, 1.0)
    assert (owner == 0).all()


def test_polygon_coverage_keeps_a_vertex_just_inside_a_pixel():
    # a diamond whose top vertex pokes 3e-7 pixel into the row above: exactextract keeps that
    # pixel (it can hold the cell's maximum), with the tip's area h² as its fraction
    h = 3e-7
    col = np.array([[2.5, 3.5, 2.5, 1.5]])
    row = np.array([[1.0 - h, 2.0, 3.0, 2.0]])
    _, pixel, frac = raster_mod._polygon_coverage(col, row, width=5, height=5)
    tip = frac[pixel == 2]
    assert len(tip) == 1
    assert tip[0] == pytest.approx(h * h, rel=1e-3)
