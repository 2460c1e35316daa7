from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import box

from curation.common.context import BuildContext
from curation.peru import admin, environment
from geo_engine._errors import SourceFormatError


def test_category_key_is_stable_ascii():
    assert environment.category_key("Área de Conservación Privada") == "area_de_conservacion_privada"
    assert environment.category_key("Santuario Histórico") == "santuario_historico"
    assert environment.category_key("  Reserva  Paisajistica ") == "reserva_paisajistica"
    assert environment.category_key(None) == ""


def test_strict_rule_needs_an_indirect_use_category_of_the_national_system():
    categories = ["Parque Nacional", "Santuario Nacional", "Santuario Histórico",
                  "Reserva Nacional", "Zona Reservada", "Parque Nacional"]
    systems = ["national", "national", "national", "national", "reserved_zone", "regional"]
    keys = pd.Series([environment.category_key(c) for c in categories])
    strict = environment.strict_protection(keys, pd.Series(systems))
    assert strict.dtype == bool
    assert strict.tolist() == [True, True, True, False, False, False]


# --- crops ------------------------------------------------------------------------------------


def _tiny_raster(path, *, nodata=0):
    data = np.arange(1, 101, dtype=np.uint8).reshape(10, 10)
    data[0, 0] = nodata  # one no-data pixel in the corner
    environment.write_geotiff(path, data, transform=Affine(1, 0, 0, 0, -1, 10),
                              crs="EPSG:4326", nodata=nodata)
    return data


def test_read_window_snaps_outwards_to_pixels(tmp_path):
    path = tmp_path / "tiny.tif"
    data = _tiny_raster(path)
    win = environment.read_window(path, (2.5, 2.5, 6.5, 6.5), count_source_valid=True)
    assert win.data.shape == (5, 5)  # columns 2–6, rows 3–7
    assert win.transform == Affine(1, 0, 2, 0, -1, 7)
    np.testing.assert_array_equal(win.data, data[3:8, 2:7])
    assert win.valid.all()
    assert win.source_valid_total == 99
    wide = environment.read_window(path, (2.5, 2.5, 6.5, 6.5), margin_deg=100)
    assert wide.data.shape == (10, 10)  # clamped to the raster
    assert not wide.valid[0, 0]


def test_mask_keeps_pixels_whose_centre_is_inside(tmp_path):
    path = tmp_path / "tiny.tif"
    _tiny_raster(path)
    win = environment.read_window(path, (0, 0, 10, 10))
    keep = environment.mask_outside(win, box(0, 0, 3.2, 3.2))
    assert keep.sum() == 9  # centres 0.5, 1.5, 2.5 in both directions
    assert keep[7:, :3].all()
    touched = environment.mask_outside(win, box(0, 0, 3.2, 3.2), all_touched=True)
    assert touched.sum() == 16
    assert not environment.mask_outside(win, box(0, 9, 1, 10)).any()  # only the no-data pixel


def test_window_outside_the_raster_is_refused(tmp_path):
    path = tmp_path / "tiny.tif"
    _tiny_raster(path)
    with pytest.raises(SourceFormatError, match="does not overlap"):
        environment.read_window(path, (20, 20, 30, 30))


def test_geotiff_is_compressed_tiled_with_nodata(tmp_path):
    path = tmp_path / "out.tif"
    data = np.full((300, 300), 7, dtype=np.int16)
    data[:10] = environment.ELEVATION_INT_NODATA
    environment.write_geotiff(path, data, transform=Affine(0.5, 0, -80, 0, -0.5, 0),
                              crs="EPSG:4326", nodata=environment.ELEVATION_INT_NODATA,
                              predictor=2)
    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == 4326
        assert ds.nodata == environment.ELEVATION_INT_NODATA
        assert ds.profile["compress"] == "deflate"
        assert ds.profile["tiled"]
        assert int((ds.read_masks(1) > 0).sum()) == 290 * 300
        np.testing.assert_array_equal(ds.read(1), data)


def test_int16_only_when_lossless():
    assert environment.fits_int16(np.array([-25.0, 0.0, 6547.0]))
    assert not environment.fits_int16(np.array([1.5, 2.0]))
    assert not environment.fits_int16(np.array([40000.0]))
    assert not environment.fits_int16(np.array([float(environment.ELEVATION_INT_NODATA)]))
    assert not environment.fits_int16(np.array([np.nan]))


def test_koppen_legend_lists_the_five_main_groups():
    groups = [g for g, _ in environment.KOPPEN_CLASSES.values()]
    assert groups == ["A", "B", "C", "D", "E"]
    assert environment.KOPPEN_NODATA not in environment.KOPPEN_CLASSES
    assert {code for *_, code in environment.KOPPEN_REFERENCE_POINTS.values()} == set(
        environment.KOPPEN_CLASSES
    )


# --- lines and the step -------------------------------------------------------------------------


def test_build_needs_the_admin_frames(tmp_path):
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(SourceFormatError, match=r"ctx.frames\['districts'\].*admin step"):
        environment.build(ctx)


@pytest.mark.slow
@pytest.mark.needs_shared
def test_real_environment_layers(raw_dir, tmp_path):
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    admin.build(ctx)
    datasets = {d.id: d for d in environment.build(ctx)}
    assert set(datasets) == {"protected_areas", "rivers", "lakes", "roads_national",
                             "climate_koppen", "elevation", "cropland_grid"}
    folder = tmp_path / "peru"

    areas = gpd.read_parquet(folder / "protected_areas.parquet")
    assert len(areas) == 353
    assert areas.crs.to_epsg() == 4326
    assert areas.is_valid.all()
    assert areas["area_id"].is_unique
    assert set(areas["system"]) == {"national", "regional", "private", "reserved_zone"}
    assert set(areas.loc[areas["strict"], "category_key"]) == environment.STRICT_CATEGORY_KEYS
    assert (areas["area_km2"] > 0).all()
    assert datasets["protected_areas"].report["invalid_repaired"] >= 0

    # the source file holds 150 lines: 143 national routes and 7 urban expressways
    roads = gpd.read_parquet(folder / "roads_national.parquet")
    assert len(roads) == 150
    assert roads["network"].value_counts().to_dict() == {"national": 143, "urban_expressway": 7}
    assert roads["route_id"].is_unique
    assert 20_000 < roads["length_km"].sum() < 23_000
    assert np.allclose(roads["length_km"], roads["length_km_source"], rtol=0.01)

    rivers = gpd.read_parquet(folder / "rivers.parquet")
    lakes = gpd.read_parquet(folder / "lakes.parquet")
    assert {"Ucayali", "Marañón", "Huallaga"} <= set(rivers["name"].dropna())
    assert (rivers["length_km"] <= rivers["length_source_km"] + 1e-6).all()
    assert "Lago Titicaca" in set(lakes["name"])

    for name in ("climate_koppen.tif", "elevation.tif"):
        with rasterio.open(folder / name) as ds:
            assert ds.crs.to_epsg() == 4326
            assert ds.nodata is not None
            assert ds.profile["compress"] == "deflate"
    with rasterio.open(folder / "climate_koppen.tif") as ds:
        classes = set(np.unique(ds.read(1)).tolist()) - {environment.KOPPEN_NODATA}
        assert classes <= set(environment.KOPPEN_CLASSES)
        assert {1, 2, 5} <= classes  # Amazon, coastal desert, high Andes
    assert datasets["elevation"].report["valid_share_inside_outline"] > 0.99

    grid = gpd.read_parquet(folder / "cropland_grid.parquet")
    assert len(grid) == 501
    assert list(grid.columns) == ["cell_id", "percent_cropland", "cropland_km2",
                                  "area_in_peru_km2", "cell_area_km2", "geometry"]

    total = sum((folder / Path(d.file).name).stat().st_size for d in datasets.values())
    assert total < 20 * 1024 * 1024
