"""Checks on the committed curated data in data/."""

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
import rasterio

from geo_engine.io.manifest import load_manifest, verify_manifest

MAX_BYTES = 40 * 1024 * 1024


def _entries(data_dir):
    return load_manifest(data_dir)["datasets"]


def test_manifest_matches_every_file(data_dir):
    assert verify_manifest(data_dir, strict=False) == []


def test_every_entry_has_provenance(data_dir):
    for entry in _entries(data_dir):
        assert entry["licence"], entry["id"]
        assert entry["vintage"], entry["id"]
        assert entry["sources"], entry["id"]
        assert entry["processing"], entry["id"]
        for src in entry["sources"]:
            assert src["origin"], entry["id"]
            assert src["licence"], entry["id"]


def test_licenses_file_names_every_licence(data_dir):
    text = (data_dir / "LICENSES.md").read_text(encoding="utf-8")
    for entry in _entries(data_dir):
        for src in entry["sources"]:
            assert f"(`{src['licence']}`)" in text


def test_data_folder_is_compact(data_dir):
    total = sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())
    assert total < MAX_BYTES


def test_every_layer_is_wgs84_and_valid(data_dir):
    for entry in _entries(data_dir):
        path = data_dir / entry["file"]
        if path.suffix == ".tif":
            with rasterio.open(path) as ds:
                assert ds.crs.to_epsg() == 4326, entry["id"]
                assert ds.nodata is not None, entry["id"]
        elif b"geo" in (pq.read_schema(path).metadata or {}):
            gdf = gpd.read_parquet(path)
            assert gdf.crs.to_epsg() == 4326, entry["id"]
            present = gdf.geometry.notna()
            assert gdf.geometry[present].is_valid.all(), entry["id"]


@pytest.mark.parametrize("dataset", ["district_indicators", "population"])
def test_every_district_joins(data_dir, dataset):
    from geo_engine.regions.datasets import read_dataset

    districts = read_dataset("districts", data_dir=data_dir)
    table = read_dataset(dataset, data_dir=data_dir)
    assert len(districts) == 1834
    joined = districts.merge(table, on="district_code", how="inner", validate="one_to_one")
    assert len(joined) == 1834
