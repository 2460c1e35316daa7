import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_engine.export import write_cells, write_matrix
from geo_engine.grid import h3_to_str


@pytest.fixture
def table():
    import h3

    cells = sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(-12.05, -77.04, 7), 1))
    return pd.DataFrame({"h3": np.array(cells, dtype=np.uint64), "score": np.linspace(0, 1, 7),
                         "typology": ["latent", None, "dual_zone", "latent", "engine_hub",
                                      "latent", "<b>x</b>"]})


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet", ".csv"])
def test_round_trip(table, tmp_path, suffix):
    path = write_cells(table, tmp_path / f"cells{suffix}")
    if suffix == ".csv":
        back = pd.read_csv(path)
    elif suffix == ".parquet":
        back = gpd.read_parquet(path)
    else:
        back = gpd.read_file(path, engine="pyogrio")
    assert back["h3"].tolist() == list(h3_to_str(table["h3"]))
    np.testing.assert_allclose(back["score"], table["score"], atol=1e-12)
    if suffix != ".csv":
        assert back.crs.to_epsg() == 4326
        assert back.is_valid.all()
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_geojson_is_rfc7946(table, tmp_path):
    path = write_cells(table, tmp_path / "c.geojson")
    doc = json.loads(path.read_text())
    assert "crs" not in doc
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    assert shapely.LinearRing(ring).is_ccw  # exterior rings counter-clockwise
    lon, lat = ring[0]
    assert -78 < lon < -76
    assert -13 < lat < -11


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_ogrinfo_opens_exports(table, tmp_path, suffix):
    path = write_cells(table, tmp_path / f"c{suffix}")
    out = subprocess.run(["ogrinfo", "-so", "-al", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert "Feature Count: 7" in out


def test_bad_suffix(table, tmp_path):
    with pytest.raises(ValueError, match="use one of"):
        write_cells(table, tmp_path / "c.shp")
    with pytest.raises(ValueError, match=r"use a \.parquet or \.csv"):
        write_matrix(table, tmp_path / "m.xlsx")


def test_geojson_meta_member(table, tmp_path, data_dir):
    from geo_engine.export import export_meta

    meta = export_meta(profile="agro_food", weights={"crop_value_tubers": 0.5, "settlements": 0.5},
                       resolution=7, datasets=["crops_district", "populated_centres"],
                       extra={"aggregation": "wlc"}, data_dir=data_dir)
    assert len(meta["config_hash"]) == 16
    again = export_meta(profile="agro_food", weights={"crop_value_tubers": 0.5, "settlements": 0.5},
                        resolution=7, datasets=["populated_centres", "crops_district"],
                        extra={"aggregation": "wlc"}, data_dir=data_dir)
    assert again["config_hash"] == meta["config_hash"]
    other = export_meta(profile="agro_food", weights={"crop_value_tubers": 1.0}, resolution=7,
                        data_dir=data_dir)
    assert other["config_hash"] != meta["config_hash"]
    path = write_cells(table, tmp_path / "c.geojson", meta=meta)
    doc = json.loads(path.read_text())
    assert doc["meta"]["profile"] == "agro_food"
    assert [s["dataset"] for s in doc["meta"]["sources"]] == ["crops_district",
                                                               "populated_centres"]
    assert doc["meta"]["software"].startswith("geo-engine ")
    back = gpd.read_file(path)  # the foreign member does not disturb GDAL
    assert len(back) == 7
