import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import yaml

from geo_engine._errors import MissingSourceError
from geo_engine.curate import STEPS, rebuild, render_licenses
from geo_engine.manifest import load_manifest, verify_manifest


def test_unknown_step_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown step\(s\) \['nope'\]"):
        rebuild(tmp_path, data_dir=tmp_path / "data", steps=["nope"])


def test_failed_rebuild_leaves_data_untouched(tmp_path):
    data = tmp_path / "data"
    (data / "peru").mkdir(parents=True)
    (data / "peru" / "keep.parquet").write_bytes(b"old")
    (data / "MANIFEST.yaml").write_text("datasets: []\n")
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    with pytest.raises(MissingSourceError, match=r"peru_distrital_simple\.geojson"):
        rebuild(tmp_path / "empty", data_dir=data, log=lambda _: None)
    after = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    assert before == after
    assert not list(data.glob(".rebuild-*"))


def test_licenses_group_sources_by_licence():
    entries = [
        {"file": "peru/a.parquet", "sources": [
            {"licence": "MIT", "publisher": "INEI", "origin": "x/y@1", "origin_path": "a.csv"}]},
        {"file": "peru/b.parquet", "sources": [
            {"licence": "GPL-3.0", "publisher": "MINEM", "origin": "z@2", "origin_path": "b.rds"},
            {"licence": "MIT", "publisher": "INEI", "origin": "x/y@1", "origin_path": "a.csv"}]},
    ]
    text = render_licenses(entries)
    assert "## MIT License (`MIT`)" in text
    assert "## GNU General Public License v3.0 (`GPL-3.0`)" in text
    assert "| INEI — `x/y@1` (a.csv) | `peru/a.parquet`, `peru/b.parquet` |" in text


def _same_content(a, b):
    if a.suffix == ".tif":
        with rasterio.open(a) as x, rasterio.open(b) as y:
            assert x.profile == y.profile
            np.testing.assert_array_equal(x.read(), y.read())
        return
    x, y = pd.read_parquet(a), pd.read_parquet(b)
    if "geometry" in x:
        gx, gy = gpd.read_parquet(a), gpd.read_parquet(b)
        assert gx.crs == gy.crs
        assert gx.geometry.geom_equals_exact(gy.geometry, tolerance=0).all() or (
            gx.geometry.to_wkb().equals(gy.geometry.to_wkb()))
        x, y = x.drop(columns="geometry"), y.drop(columns="geometry")
    pd.testing.assert_frame_equal(x, y)


@pytest.mark.slow
def test_rebuild_reproduces_committed_data(raw_dir, data_dir, tmp_path):
    """The committed files are what the rebuild script makes from the raw sources."""
    target = tmp_path / "data"
    rebuild(raw_dir, data_dir=target, log=lambda _: None)
    assert verify_manifest(target) == []
    built = {e["file"]: e for e in load_manifest(target)["datasets"]}
    committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]
                 if e["file"].startswith("peru/")}  # other regions are rebuilt on their own
    assert built.keys() == committed.keys()
    for rel, entry in committed.items():
        assert built[rel]["features"] == entry["features"], rel
        if built[rel]["sha256"] != entry["sha256"]:
            _same_content(target / rel, data_dir / rel)
    assert {e["id"] for e in built.values()} >= {"districts", "district_indicators"}
    assert set(STEPS) == {"admin", "social", "mining", "places", "environment", "services",
                          "tourism"}


def test_partial_rebuild_keeps_other_entries(raw_dir, tmp_path):
    target = tmp_path / "data"
    (target / "peru").mkdir(parents=True)
    (target / "peru" / "other.parquet").write_bytes(b"x")
    (target / "MANIFEST.yaml").write_text(yaml.safe_dump({"datasets": [
        {"id": "other", "file": "peru/other.parquet", "sources": []}]}))
    rebuild(raw_dir, data_dir=target, steps=["admin"], log=lambda _: None)
    ids = [e["id"] for e in load_manifest(target)["datasets"]]
    assert ids == ["departments", "districts", "other", "provinces"]
    assert (target / "peru" / "other.parquet").read_bytes() == b"x"
    shutil.rmtree(target)
