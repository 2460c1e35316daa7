import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from geo_engine._errors import DataIntegrityError, MissingSourceError
from geo_engine.io.manifest import (
    dataset_entry,
    dataset_path,
    describe_file,
    file_sha256,
    load_manifest,
    verify_manifest,
)


@pytest.fixture
def tiny_data(tmp_path):
    (tmp_path / "r").mkdir()
    table = tmp_path / "r" / "t.parquet"
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(table)
    info = describe_file(table)
    manifest = {"datasets": [{"id": "t", "title": "T", "file": "r/t.parquet", **info}]}
    (tmp_path / "MANIFEST.yaml").write_text(yaml.safe_dump(manifest))
    return tmp_path


def test_sha256_of_known_bytes(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_describe_parquet_counts_rows(tiny_data):
    assert describe_file(tiny_data / "r" / "t.parquet")["features"] == 3


def test_describe_raster_counts_valid_pixels(tmp_path):
    path = tmp_path / "r.tif"
    data = np.arange(12, dtype="int16").reshape(3, 4)
    data[0, 0] = -1
    profile = {"driver": "GTiff", "width": 4, "height": 3, "count": 1, "dtype": "int16",
               "crs": "EPSG:4326", "transform": from_origin(-75, -10, 0.5, 0.5), "nodata": -1}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    info = describe_file(path)
    assert info["features"] == 11
    assert info["raster"]["crs"] == "EPSG:4326"
    assert info["raster"]["width"] == 4


def test_verify_ok(tiny_data):
    assert verify_manifest(tiny_data) == []


def test_verify_reports_changed_and_unlisted_files(tiny_data):
    pd.DataFrame({"a": [1, 2]}).to_parquet(tiny_data / "r" / "t.parquet")
    (tiny_data / "r" / "extra.csv").write_text("x\n")
    problems = verify_manifest(tiny_data, strict=False)
    assert any("sha256" in p for p in problems)
    assert any("2 features" in p for p in problems)
    assert any("r/extra.csv" in p and "not in the manifest" in p for p in problems)
    with pytest.raises(DataIntegrityError, match=r"does not match MANIFEST\.yaml"):
        verify_manifest(tiny_data)


@pytest.mark.hostile
def test_verify_ignores_what_an_unfinished_rebuild_leaves(tiny_data):
    (tiny_data / ".rebuild-x1y2" / "r").mkdir(parents=True)
    (tiny_data / ".rebuild-x1y2" / "r" / "t.parquet").write_bytes(b"half a file")
    (tiny_data / ".rebuild.lock").write_bytes(b"")
    assert verify_manifest(tiny_data) == []
    (tiny_data / "r" / ".hidden.csv").write_text("x\n")  # hidden inside a region is still reported
    assert verify_manifest(tiny_data, strict=False) == [
        "r/.hidden.csv: file in the data folder but not in the manifest"]


def test_verify_reports_missing_file(tiny_data):
    (tiny_data / "r" / "t.parquet").unlink()
    assert verify_manifest(tiny_data, strict=False) == [
        "r/t.parquet: listed in the manifest but missing"
    ]


def test_missing_manifest_says_how_to_fix(tmp_path):
    with pytest.raises(MissingSourceError, match="geo-engine data rebuild"):
        load_manifest(tmp_path)


def test_unknown_dataset_lists_known_ids(tiny_data):
    with pytest.raises(KeyError, match="known: t"):
        dataset_entry("nope", data_dir=tiny_data)


def test_dataset_path_checks_the_file(tiny_data):
    assert dataset_path("t", data_dir=tiny_data).name == "t.parquet"
    (tiny_data / "r" / "t.parquet").unlink()
    with pytest.raises(MissingSourceError, match="is missing"):
        dataset_path("t", data_dir=tiny_data)
