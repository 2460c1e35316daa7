import json
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import system_tool

from geo_engine.reporting.export import write_cells, write_matrix
from geo_engine.spatial.grid import h3_to_str


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


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_ogrinfo_opens_exports(table, tmp_path, suffix):
    ogrinfo = system_tool("ogrinfo", "gdal-bin")
    path = write_cells(table, tmp_path / f"c{suffix}")
    out = subprocess.run([ogrinfo, "-so", "-al", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert "Feature Count: 7" in out


def test_bad_suffix(table, tmp_path):
    with pytest.raises(ValueError, match="use one of"):
        write_cells(table, tmp_path / "c.shp")
    with pytest.raises(ValueError, match=r"use a \.parquet or \.csv"):
        write_matrix(table, tmp_path / "m.xlsx")


def test_geojson_meta_member(table, tmp_path, data_dir):
    from geo_engine.reporting.export import export_meta

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


@pytest.mark.hostile
@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet", ".csv"])
def test_existing_export_is_kept_without_force(table, tmp_path, suffix):
    from geo_engine._errors import OutputExistsError

    path = write_cells(table, tmp_path / f"c{suffix}", force=False)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match=rf"c\{suffix} exists; pass --force to overwrite it"):
        write_cells(table.iloc[:2], path, force=False)
    assert path.read_bytes() == before
    write_cells(table.iloc[:2], path, force=True)
    assert path.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.hostile
def test_geopackage_error_leaves_nothing_behind(table, tmp_path, monkeypatch):
    import pyogrio.errors

    from geo_engine._errors import OutputError
    from geo_engine.reporting.export import write_geopackage

    def refused(*args, **kwargs):
        raise pyogrio.errors.DataSourceError("sqlite3_open(...) failed: disk I/O error")

    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([0], [0]), crs=4326)
    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", refused)
    with pytest.raises(OutputError, match=r"cannot write .*x\.gpkg: sqlite3_open\(\.\.\.\) failed"):
        write_geopackage({"cells": gdf}, tmp_path / "x.gpkg")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="every layer is empty"):
        write_geopackage({"cells": gdf.iloc[:0]}, tmp_path / "x.gpkg")


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
"""Text a spreadsheet would run as a formula when it opens a CSV (OWASP CSV injection)."""


@pytest.mark.hostile
def test_csv_safe_escapes_formulas_but_not_numbers():
    from geo_engine.reporting.export import csv_safe

    frame = pd.DataFrame({"name": [*FORMULAS, "Lima", None], "value": [-1.5, 2, -3, 0, 1, 1, -7, 1.0],
                          "label": pd.array([*FORMULAS, "Lima", None], dtype="string"),
                          "kind": pd.Categorical(["-x", "ok", "-x", "ok", "ok", "ok", "ok", "ok"]),
                          "=1+1": range(8)})
    safe = csv_safe(frame)
    expected = ["'" + f for f in FORMULAS] + ["Lima"]
    assert safe["name"].tolist()[:7] == expected
    assert safe["name"].isna().tolist()[-1]
    assert safe["label"].tolist()[:7] == expected
    assert safe["label"].dtype == "string"
    assert safe["kind"].tolist()[:2] == ["'-x", "ok"]
    assert safe["value"].tolist() == frame["value"].tolist()  # negative numbers stay numbers
    assert list(safe.columns) == ["name", "value", "label", "kind", "'=1+1"]
    assert frame["name"].iloc[0] == FORMULAS[0]  # the input is not changed


@pytest.mark.hostile
def test_every_csv_writer_escapes_formulas(table, tmp_path):
    import csv
    import io

    from geo_engine.reporting.export import to_csv_bytes, write_table

    table = table.assign(typology=[*FORMULAS, "latent"], delta=np.linspace(-1, 1, 7))
    written = [write_cells(table, tmp_path / "cells.csv").read_bytes(),
               write_matrix(table, tmp_path / "matrix.csv").read_bytes(),
               write_table(table.drop(columns="h3"), tmp_path / "t.csv").read_bytes(),
               to_csv_bytes(table)]
    for data in written:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        assert [r["typology"] for r in rows] == ["'" + f for f in FORMULAS] + ["latent"]
        assert float(rows[0]["delta"]) == -1.0  # a number, unquoted


def test_every_geojson_carries_meta(tmp_path):
    from geo_engine.reporting.export import write_features

    frame = gpd.GeoDataFrame({"cluster_id": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    plain = json.loads(write_features(frame, tmp_path / "a.geojson", layer="clusters").read_text())
    assert plain["meta"]["layer"] == "clusters"
    assert plain["meta"]["software"].startswith("geo-engine ")
    given = json.loads(write_features(frame, tmp_path / "b.geojson", meta={"profile": "x"}).read_text())
    assert given["meta"] == {"profile": "x"}
