import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, box

from geo_engine._errors import SourceFormatError
from geo_engine.curate import admin, environment
from geo_engine.curate._common import BuildContext

# the 55 crop names of the MINAGRI monthly production table (agri_data_P_TOTAL)
SOURCE_CROPS = [
    "ajo", "algodón rama", "arroz cáscara", "arveja grano", "arveja grano seco",
    "arveja grano verde", "cacao", "café", "camote", "caña de azúcar", "cañihua", "cebada grano",
    "cebolla", "chocho", "chocho tarhui", "espárrago", "frijol castilla", "frijol de palo",
    "frijol grano seco", "frijol loctao", "garbanzo", "haba grano", "haba grano seco",
    "haba grano verde", "kiwicha", "lenteja", "limón", "mandarina", "mango", "manzana",
    "marigold", "mashua", "maíz amarillo duro", "maíz amiláceo", "maíz choclo", "naranja", "oca",
    "olluco", "pallar", "pallar grano seco", "palma aceitera", "palta", "papa", "papaya", "piña",
    "plátano", "quinua", "sorgo grano", "soya", "tarhui", "tomate", "trigo", "uva", "yuca",
    "zarandaja",
]


# --- protected areas --------------------------------------------------------------------------


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


def test_every_source_crop_has_a_documented_group():
    groups = environment.crop_groups_for(SOURCE_CROPS)
    assert len(SOURCE_CROPS) == 55
    assert set(groups) == set(SOURCE_CROPS)
    assert set(groups.values()) <= set(environment.CROP_GROUP_DESCRIPTIONS)
    assert groups["café"] == "coffee_cacao"
    assert groups["papa"] == "tubers"
    assert groups["caña de azúcar"] == "industrial"


def test_crop_groups_ignore_case_and_accents():
    groups = environment.crop_groups_for(["ARROZ CÁSCARA", "MAIZ AMILACEO"])
    assert groups == {"ARROZ CÁSCARA": "cereals", "MAIZ AMILACEO": "cereals"}


def test_unmapped_crops_are_named():
    with pytest.raises(SourceFormatError, match=r"without a crop group: \['alfalfa', 'kale'\]"):
        environment.crop_groups_for(["papa", "kale", "alfalfa"])


def test_renamed_series_stay_in_their_group():
    for old, new in environment.CROP_SERIES.items():
        assert environment.CROP_GROUPS[old] == environment.CROP_GROUPS[new]


def _monthly(values_by_year):
    rows = []
    for year, values in values_by_year.items():
        for month, value in enumerate(values, start=1):
            rows.append({"department_code": "01", "crop": "papa", "year": year, "month": month,
                         "value": value})
    return pd.DataFrame(rows)


def test_annual_mean_uses_complete_years_only():
    monthly = _monthly({
        2010: [100.0] * 12,                       # outside the period
        2011: [1.0] * 12,                         # 12
        2012: [2.0] * 11 + [-1.0],                # 21: a negative revision is kept in the sum
        2013: [5.0] * 6,                          # 6 months only: partial, left out
        2014: [1.0] * 11 + [np.nan],              # a missing month: partial
        2015: [-3.0] * 12,                        # negative total: left out
    })
    annual = environment.annual_totals(monthly, keys=["department_code", "crop"], value="value")
    row = annual.set_index("year").loc[2012]
    assert row["total"] == 21.0
    assert row["n_months"] == 12
    assert annual.set_index("year").loc[2014, "n_months"] == 11
    out = environment.complete_year_mean(annual, keys=["department_code", "crop"],
                                         years=(2011, 2015))
    assert len(out) == 1
    first = out.iloc[0]
    assert first["mean"] == pytest.approx(16.5)
    assert first["years_with_data"] == 2
    assert first["years_partial"] == 2
    assert first["years_negative"] == 1


def test_annual_mean_is_missing_without_a_complete_year():
    monthly = _monthly({2014: [1.0] * 7})
    annual = environment.annual_totals(monthly, keys=["department_code", "crop"], value="value")
    out = environment.complete_year_mean(annual, keys=["department_code", "crop"],
                                         years=(2011, 2015))
    assert math.isnan(out.iloc[0]["mean"])
    assert out.iloc[0]["years_with_data"] == 0
    assert out.iloc[0]["years_partial"] == 1


def test_duplicated_months_are_refused():
    monthly = pd.concat([_monthly({2011: [1.0] * 12}), _monthly({2011: [1.0]})])
    with pytest.raises(SourceFormatError, match="duplicated monthly rows"):
        environment.annual_totals(monthly, keys=["department_code", "crop"], value="value")


def test_department_names_match_after_folding():
    departments = pd.DataFrame({"department_code": ["07", "15", "22", "22"],
                                "department": ["CALLAO", "LIMA", "SAN MARTIN", "SAN MARTIN"]})
    names = pd.Series(["San Martín", "Lima Metropolitana", "Lima", "Callao", "Total Nacional"])
    codes = environment.department_codes(names, departments)
    assert codes.iloc[:4].tolist() == ["22", "15", "15", "07"]
    assert pd.isna(codes.iloc[4])


# --- rasters ----------------------------------------------------------------------------------


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


def test_geodesic_length_of_one_degree_on_the_equator():
    lines = gpd.GeoSeries([LineString([(0, 0), (1, 0)]), None], crs="EPSG:4326")
    km = environment.geodesic_length_km(lines)
    assert km.iloc[0] == pytest.approx(111.32, abs=0.01)
    assert math.isnan(km.iloc[1])
    with pytest.raises(SourceFormatError, match="EPSG:4326"):
        environment.geodesic_length_km(lines.set_crs(3857, allow_override=True))


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
                             "crops_department", "crops_main_department", "climate_koppen",
                             "elevation", "cropland_grid"}
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

    crops = pd.read_parquet(folder / "crops_department.parquet")
    assert crops["crop_group"].notna().all()
    assert crops["department_code"].nunique() == 25
    assert not crops.duplicated(["department_code", "crop"]).any()
    assert datasets["crops_department"].report["unmatched_regions"] == []
    assert (crops["production_mean_2011_2015_t"].dropna() >= 0).all()
    assert crops.loc[crops["production_mean_2011_2015_t"].isna(), "years_with_data"].eq(0).all()
    potato = crops.loc[crops["crop"] == "papa", "production_mean_2011_2015_t"].sum()
    assert 4.0e6 < potato < 5.0e6  # Peru harvested 4.1–4.7 Mt of potatoes a year in 2011–2015
    raw_crops = pd.read_csv(raw_dir / "peru" / "agri_data_P_TOTAL.csv.gz", usecols=["product"])
    assert set(environment.crop_groups_for(raw_crops["product"].unique())) == set(SOURCE_CROPS)

    main = pd.read_parquet(folder / "crops_main_department.parquet")
    assert main["crop"].nunique() == 6
    assert main["department_code"].nunique() == 24  # no Callao in the source
    prices = main["farmgate_price_mean_pen_per_kg"].dropna()
    assert ((prices > 0.1) & (prices < 5)).all()

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
