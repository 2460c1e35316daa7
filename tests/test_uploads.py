"""Uploaded files: safe names and sizes, content-named folders, and a region built from them."""

from __future__ import annotations

import io
import os
import textwrap
import time
import warnings
import zipfile
from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo_engine._errors import GeoEngineWarning, SourceFormatError, SpecError
from geo_engine.pipeline import run
from geo_engine.regions.uploads import (
    UploadError,
    boundary_columns,
    build_region,
    charge_uploads,
    cleanup_uploads,
    safe_name,
    save_uploads,
    uploaded_files,
)

LAYERS = """\
layers:
  - id: town_people
    title: {es: Población de pueblos, en: People in towns}
    theme: social
    kind: points
    source: towns.geojson
    method: sum
    params: {column: people}
    units: people
    direction: benefit
  - id: distance_town
    title: {es: Distancia a un pueblo, en: Distance to a town}
    theme: infrastructure
    kind: points
    source: towns.geojson
    method: distance
    units: km
    direction: cost
  - id: height
    title: {es: Altura, en: Height}
    theme: environment
    kind: raster
    source: height.tif
    method: mean
    units: m
    direction: benefit
"""


def profile_yaml(pid: str, kind: str, layer: str) -> bytes:
    """A one-layer profile file."""
    return textwrap.dedent(f"""\
        id: {pid}
        kind: {kind}
        title: {{es: "{pid}", en: "{pid}"}}
        description: test profile
        aggregation: {{method: wlc}}
        layers:
          - id: {layer}
            weight: 1
            rationale: test
        """).encode()


PROFILES = {"engine.yaml": profile_yaml("engine", "engine", "height"),
            "access.yaml": profile_yaml("access", "access", "distance_town"),
            "family_towns.yaml": profile_yaml("family_towns", "family", "town_people")}
"""Every kind but need: the region has no poverty data."""


def _geojson(frame: gpd.GeoDataFrame) -> bytes:
    return frame.to_json(drop_id=True).encode()


def region_files(tmp_path) -> dict[str, bytes]:
    """A 2×2 block of units in the Bolivian Altiplano, towns and a height raster, as uploads."""
    import rasterio
    from rasterio.transform import from_origin

    units = gpd.GeoDataFrame(
        {"CODE": ["N1", "N2", "S1", "S2"], "NAME": ["Norte 1", "Norte 2", "Sur 1", "Sur 2"],
         "ZONE": ["N", "N", "S", "S"]},
        geometry=[box(-66.0, -17.0, -65.7, -16.7), box(-65.7, -17.0, -65.4, -16.7),
                  box(-66.0, -17.3, -65.7, -17.0), box(-65.7, -17.3, -65.4, -17.0)],
        crs="EPSG:4326")
    towns = gpd.GeoDataFrame({"people": [5000, 200, 80_000]},
                             geometry=[Point(-65.85, -16.85), Point(-65.5, -16.8),
                                       Point(-65.55, -17.2)], crs="EPSG:4326")
    tif = tmp_path / "height.tif"
    data = np.linspace(3000, 4200, 40 * 40, dtype="float32").reshape(40, 40)
    with rasterio.open(tif, "w", driver="GTiff", width=40, height=40, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(-66.05, -16.65, 0.0175, 0.0175)) as dst:
        dst.write(data, 1)
    return {"altiplano units.geojson": _geojson(units), "towns.geojson": _geojson(towns),
            "height.tif": tif.read_bytes(), "layers.yaml": LAYERS.encode()}


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    return region_files(tmp_path)


@pytest.mark.parametrize(("name", "match"), [
    ("../x.csv", "folder part"),
    ("/etc/passwd", "folder part"),
    ("a\\b.csv", "folder part"),
    ("sub/x.csv", "folder part"),
    (".hidden.csv", "starts with a dot"),
    ("..csv", "starts with a dot"),
    ("", "folder part"),
    ("x\n.csv", "control character"),
    ("run.exe", r"type \.exe is not accepted"),
    ("README", r"type \(none\) is not accepted"),
])
def test_unsafe_names_are_refused(name, match, tmp_path):
    with pytest.raises(UploadError, match=match):
        save_uploads({name: b"x"}, tmp_path / "up")
    assert not (tmp_path / "up").exists() or not any((tmp_path / "up").iterdir())


def test_profile_names_are_checked_too(tmp_path):
    with pytest.raises(UploadError, match="folder part"):
        save_uploads({"a.csv": b"x"}, tmp_path, profiles={"../engine.yaml": b"x"})


def test_too_large_and_clashing_names_are_refused(tmp_path):
    with pytest.raises(UploadError, match=r"'big\.tif' is 1\.0 MiB, more than the 1 MiB accepted"):
        save_uploads({"big.tif": b"0" * (2**20 + 1)}, tmp_path, max_bytes=2**20)
    with pytest.raises(UploadError, match=r"two uploaded files are named 'a\.csv'"):
        save_uploads({"a.csv": b"1", "A.CSV": b"2"}, tmp_path)
    assert safe_name("units.geojson") == "units.geojson"


def test_same_contents_same_folder(files, tmp_path):
    root = tmp_path / "uploads"
    first = save_uploads(files, root, profiles=PROFILES)
    again = save_uploads(dict(reversed(files.items())), root, profiles=PROFILES)
    assert again == first
    assert len(first.name) == 16
    assert first.parent == root
    assert (first / "towns.geojson").read_bytes() == files["towns.geojson"]
    assert sorted(p.name for p in (first / "profiles").iterdir()) == sorted(PROFILES)
    other = save_uploads({**files, "layers.yaml": LAYERS.encode() + b"\n"}, root)
    assert other != first
    assert not (other / "profiles").exists()
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []
    listing = uploaded_files(first)
    assert set(listing["file"]) == {*files, *(f"profiles/{n}" for n in PROFILES)}
    assert listing.set_index("file").loc["layers.yaml", "bytes"] == len(LAYERS.encode())
    assert listing["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_boundary_columns(files, tmp_path):
    folder = save_uploads(files, tmp_path / "uploads")
    assert boundary_columns(folder / "altiplano units.geojson") == {
        "CODE": True, "NAME": True, "ZONE": False}


def test_region_without_profiles_runs_with_the_custom_profile_only(files, tmp_path):
    folder = save_uploads(files, tmp_path / "uploads")
    region = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                          code_column="CODE", name_column="NAME", layers="layers.yaml",
                          resolution=6)
    assert region.file.parent == folder
    assert build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                        code_column="CODE", name_column="NAME", layers="layers.yaml",
                        resolution=6).file == region.file  # same choices: the same region file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        result = run(region=region.file)
    assert result.profiles == {}
    assert result.dual.missing == ("engine", "need", "access", "family")
    assert np.isnan(result.dual.engine).all()
    assert set(result.matrix["unit_code"]) == {"N1", "N2", "S1", "S2"}
    assert result.matrix["height"].between(3000, 4200).all()


def test_region_with_profiles_but_no_need(files, tmp_path):
    folder = save_uploads(files, tmp_path / "uploads", profiles=PROFILES)
    region = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                          code_column="CODE", layers="layers.yaml", resolution=5)
    other = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                         code_column="CODE", layers="layers.yaml", resolution=6)
    assert other.file != region.file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        result = run(region=other.file)
    assert set(result.profiles) == {"engine", "access", "family_towns"}
    assert result.dual.missing == ("need",)
    assert np.isfinite(result.dual.engine).all()
    assert np.isnan(result.dual.inclusion).all()


def test_zipped_shapefile_boundary(files, tmp_path):
    units = gpd.read_file(io.BytesIO(files["altiplano units.geojson"]))
    shp = tmp_path / "shp"
    shp.mkdir()
    units.to_file(shp / "units.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in shp.iterdir():
            archive.write(part, part.name)
    folder = save_uploads({**files, "units.zip": buffer.getvalue()}, tmp_path / "uploads")
    assert sorted(p.name for p in folder.iterdir())[-1] == "units.zip"  # stored, not extracted
    region = build_region(folder, region_id="zipped", boundary="units.zip", code_column="CODE",
                          name_column="NAME", layers="layers.yaml", resolution=5)
    assert set(region.units()["unit_code"]) == {"N1", "N2", "S1", "S2"}


def test_wrong_column_is_refused_with_the_columns(files, tmp_path):
    folder = save_uploads(files, tmp_path / "uploads")
    with pytest.raises(SourceFormatError, match=r"no column 'nope'.*'CODE'"):
        build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                     code_column="nope", layers="layers.yaml")
    with pytest.raises(SourceFormatError, match=r"repeats codes \['N', 'S'\]"):
        build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                     code_column="ZONE", layers="layers.yaml")
    assert [p.name for p in folder.glob("region-*.yaml")] == []
    assert pd.Index([p.name for p in folder.iterdir()]).str.startswith(".").sum() == 0


@pytest.mark.hostile
@pytest.mark.parametrize("source", ["../../../../../../../../etc/passwd", "/etc/passwd", "../towns.geojson"])
def test_uploaded_layers_cannot_read_outside_their_folder(files, tmp_path, source):
    layers = LAYERS.replace("source: towns.geojson", f"source: {source}", 1)
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "towns.geojson").write_bytes(files["towns.geojson"])  # beside the folder
    folder = save_uploads({**files, "layers.yaml": layers.encode()}, tmp_path / "uploads")
    region = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                          code_column="CODE", layers="layers.yaml", resolution=5)
    with pytest.raises(SpecError, match=rf"layers\.yaml: layer 'town_people': source '{source}' leads "
                       rf"outside the data folder {folder}"):
        run(region=region.file)


# ---------------------------------------------------------------- a session's budget, old uploads


@pytest.mark.hostile
def test_a_session_cannot_upload_more_than_its_budget(monkeypatch):
    monkeypatch.setattr("geo_engine.settings.max_uploads_per_session", 3)
    monkeypatch.setattr("geo_engine.settings.max_upload_bytes_per_session", 100)
    spent = charge_uploads({}, [("a.csv", b"x" * 40), ("b.csv", b"y" * 40)])
    assert sum(spent.values()) == 80
    assert charge_uploads(spent, [("a.csv", b"x" * 40)]) == spent  # the same file again is free
    with pytest.raises(UploadError, match=r"would have sent 101 bytes \(21 bytes in these files\), more "
                                          r"than the 100 bytes allowed per session \(setting "
                                          r"max_upload_bytes_per_session\)"):
        charge_uploads(spent, [("c.csv", b"z" * 21)])
    spent = charge_uploads(spent, [("c.csv", b"z" * 20)])
    with pytest.raises(UploadError, match=r"would have sent 4 files, more than the 3 allowed per "
                                          r"session \(setting max_uploads_per_session\)"):
        charge_uploads(spent, [("d.csv", b"")])
    with pytest.raises(UploadError, match="4 files"):  # renaming a file makes it another file
        charge_uploads(spent, [("renamed.csv", b"x" * 40)])


@pytest.mark.hostile
def test_the_budget_counts_many_small_files_one_by_one():
    files = [(f"f{i}.csv", str(i).encode()) for i in range(1000)]
    with pytest.raises(UploadError, match="1000 files, more than the 50 allowed"):
        charge_uploads({}, files)
    with pytest.raises(UploadError, match=r"1,024\.0 MiB \(1 byte in these files\), more than the "
                                          r"1,024\.0 MiB allowed"):
        charge_uploads({"earlier": 2**30}, [("one.csv", b"1")])


def _age(path, hours):
    old = time.time() - hours * 3600
    os.utime(path, (old, old))


@pytest.mark.hostile
def test_old_uploads_are_removed_and_the_rest_left_alone(files, tmp_path):
    root = tmp_path / "uploads"
    old = save_uploads(files, root)
    recent = save_uploads({"x.csv": b"code\n1\n"}, root)
    unfinished = root / ".upload-k1ll3d"
    unfinished.mkdir()
    other = root / "0123456789abcdef.keep"  # not a name save_uploads makes
    other.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "aaaaaaaaaaaaaaaa").symlink_to(outside, target_is_directory=True)
    for path in (old, unfinished, other, root / "aaaaaaaaaaaaaaaa", outside):
        _age(path, 25)
    assert cleanup_uploads(root, max_age=timedelta(hours=24)) == [unfinished, old]
    assert recent.is_dir()
    assert other.is_dir()
    assert outside.is_dir()
    assert cleanup_uploads(tmp_path / "nothing") == []


def test_saving_the_same_files_again_makes_the_folder_young(files, tmp_path, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.upload_max_age_hours", 1.0)
    folder = save_uploads(files, tmp_path / "uploads")
    _age(folder, 2)
    assert save_uploads(files, tmp_path / "uploads") == folder
    assert cleanup_uploads(tmp_path / "uploads") == []
    _age(folder, 2)
    assert cleanup_uploads(tmp_path / "uploads") == [folder]


def test_an_upload_can_name_a_parent_level(files, tmp_path):
    folder = save_uploads(files, tmp_path / "uploads")
    region = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                          code_column="CODE", name_column="NAME", layers="layers.yaml",
                          resolution=6, parent_column="ZONE")
    assert [(lv.id, lv.code) for lv in region.levels] == [("unit", "CODE"), ("parent", "ZONE")]
    plain = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                         code_column="CODE", name_column="NAME", layers="layers.yaml", resolution=6)
    assert plain.file != region.file  # another choice, another region file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        result = run(region=region.file)
    assert "parent_code" in result.matrix  # the parent rolls up like Peru's provinces
