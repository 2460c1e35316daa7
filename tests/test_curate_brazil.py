"""Tests of the Brazil rebuild step, the region-aware rebuild and Brazil's layer specs and profiles."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from shapely.geometry import box

from curation import REGION_STEPS, STEPS, rebuild
from curation.brazil.brazil import NEAREST_STATE_KM, build, facility_flags, nearest_state
from curation.common.context import BuildContext
from curation.common.frames import points_frame
from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import load_layers
from geo_engine.io.manifest import load_manifest, verify_manifest
from geo_engine.scoring.profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "layers" / "brazil"
SPEC_FILES = sorted(p for p in LAYERS.glob("*.yaml") if p.name != "region.yaml")
PROFILE_FILES = sorted((LAYERS / "profiles").glob("*.yaml"))
POINT_FILES = ["places", "airports", "ports", "heritage_sites", "large_mines"]


def _entries(data_dir: Path) -> dict[str, dict]:
    return {e["file"]: e for e in load_manifest(data_dir)["datasets"]
            if e["file"].startswith("brazil/")}


def _specs() -> list:
    return [s for f in SPEC_FILES for s in load_layers(f)]


def _same_content(a: Path, b: Path) -> None:
    x, y = gpd.read_parquet(a), gpd.read_parquet(b)
    assert x.crs == y.crs
    assert x.geometry.to_wkb().equals(y.geometry.to_wkb())
    pd.testing.assert_frame_equal(x.drop(columns="geometry"), y.drop(columns="geometry"))


# --- small pieces ------------------------------------------------------------------------------


def test_region_steps_keep_peru_and_add_brazil():
    assert REGION_STEPS["peru"] == STEPS
    assert REGION_STEPS["brazil"] == ("brazil",)


def test_unknown_region_and_foreign_step_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown region 'chile'; known: \['brazil', 'latam', 'peru'\]"):
        rebuild(tmp_path, data_dir=tmp_path / "data", region="chile")
    with pytest.raises(ValueError, match=r"unknown step\(s\) \['admin'\]; known: \['brazil'\]"):
        rebuild(tmp_path, data_dir=tmp_path / "data", region="brazil", steps=["admin"])


def test_step_refuses_a_context_of_another_region(tmp_path):
    with pytest.raises(ValueError, match=r"writes data/brazil/ but the build context is for 'peru'"):
        build(BuildContext(src=tmp_path, out=tmp_path / "out"))


def test_facility_flags():
    flags = facility_flags(pd.Series(["Mine", "Mine, Refinery", "Smelter, Refinery", None]))
    assert flags["has_mine"].tolist() == [True, True, False, pd.NA]
    assert flags["has_processing"].tolist() == [False, True, True, pd.NA]


def test_nearest_state_inside_near_and_far():
    states = gpd.GeoDataFrame({"adm1_code": ["BRA-1", "BRA-2"]},
                              geometry=[box(-45, -24, -44, -23), box(-44, -24, -43, -23)],
                              crs="EPSG:4326")
    pts = points_frame(pd.DataFrame({"longitude": [-44.5, -43.5, -44.5, -44.5],
                                     "latitude": [-23.5, -23.5, -24.03, -25.0]}))
    codes, km = nearest_state(pts, states)
    assert codes.tolist() == ["BRA-1", "BRA-2", "BRA-1", pd.NA]
    assert km.iloc[0] == 0.0
    assert 3.0 < km.iloc[2] < NEAREST_STATE_KM
    assert pd.isna(km.iloc[3])


# --- the rebuild from the raw sources ------------------------------------------------------------


@pytest.mark.needs_shared
def test_rebuild_reproduces_committed_brazil_data(raw_dir, data_dir, tmp_path):
    """The committed Brazil files are what the rebuild makes from the raw sources."""
    target = tmp_path / "data"
    entries = rebuild(raw_dir, data_dir=target, region="brazil", log=lambda _: None)
    assert verify_manifest(target) == []
    assert all(e["file"].startswith("brazil/") for e in entries)
    built, committed = _entries(target), _entries(data_dir)
    assert built.keys() == committed.keys()
    for rel, entry in committed.items():
        assert built[rel]["features"] == entry["features"], rel
        assert built[rel]["sources"] == entry["sources"], rel
        if built[rel]["sha256"] != entry["sha256"]:
            _same_content(target / rel, data_dir / rel)


@pytest.mark.needs_shared
def test_brazil_rebuild_keeps_other_regions(raw_dir, tmp_path):
    target = tmp_path / "data"
    (target / "peru").mkdir(parents=True)
    (target / "peru" / "other.parquet").write_bytes(b"x")
    peru_entry = {"id": "other", "file": "peru/other.parquet", "sources": []}
    (target / "MANIFEST.yaml").write_text(yaml.safe_dump({"datasets": [peru_entry]}))
    rebuild(raw_dir, data_dir=target, region="brazil", log=lambda _: None)
    datasets = load_manifest(target)["datasets"]
    assert [e for e in datasets if e["file"].startswith("peru/")] == [peru_entry]
    assert (target / "peru" / "other.parquet").read_bytes() == b"x"
    assert len(datasets) == 1 + len(_entries(target))
    shutil.rmtree(target)


# --- the committed files -------------------------------------------------------------------------


def test_manifest_lists_every_brazil_file_with_unique_ids(data_dir):
    entries = _entries(data_dir)
    names = {rel.split("/", 1)[1] for rel in entries}
    assert names == {"states.parquet", *(f"{n}.parquet" for n in POINT_FILES), "rivers.parquet",
                     "lakes.parquet"}
    all_ids = [e["id"] for e in load_manifest(data_dir)["datasets"]]
    assert len(all_ids) == len(set(all_ids))
    assert all(e["id"].startswith("brazil_") for e in entries.values())
    for entry in entries.values():
        assert entry["licence"], entry["id"]
        assert entry["processing"], entry["id"]
        assert entry["sources"], entry["id"]


def test_states(data_dir):
    states = gpd.read_parquet(data_dir / "brazil" / "states.parquet")
    assert len(states) == 27
    assert states.crs.to_epsg() == 4326
    assert states["adm1_code"].is_unique
    assert states["iso_3166_2"].str.fullmatch(r"BR-[A-Z]{2}").all()
    assert states.geometry.is_valid.all()
    assert set(states.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert states["type"].value_counts().to_dict() == {"State": 26, "Federal District": 1}
    assert 8.3e6 < states["area_km2"].sum() < 8.6e6  # Brazil: 8.51 million km²
    assert set(states["name"]) >= {"São Paulo", "Minas Gerais", "Pará", "Distrito Federal"}


@pytest.mark.parametrize("name", POINT_FILES)
def test_points_lie_in_a_state_or_are_documented(data_dir, name):
    states = gpd.read_parquet(data_dir / "brazil" / "states.parquet")
    frame = gpd.read_parquet(data_dir / "brazil" / f"{name}.parquet")
    assert frame.crs.to_epsg() == 4326
    assert len(frame) > 0
    assert set(frame.geometry.geom_type) == {"Point"}
    assert set(frame["adm1_code"].dropna()) <= set(states["adm1_code"])
    placed = frame["adm1_code"].notna()
    assert (frame.loc[placed, "state_distance_km"] <= NEAREST_STATE_KM).all()
    inside = gpd.sjoin(frame[["geometry"]], states[["adm1_code", "geometry"]],
                       predicate="intersects")
    assert (frame.loc[inside.index.unique(), "state_distance_km"] == 0).all()
    report = next(e for e in _entries(data_dir).values()
                  if e["file"] == f"brazil/{name}.parquet")["report"]
    label = "name"
    assert sorted(frame.loc[~placed, label]) == sorted(report["without_state"])
    assert len(report["state_by_nearest_fallback"]) == int((frame["state_distance_km"] > 0).sum())


def test_point_layers_hold_the_expected_features(data_dir):
    read = {n: gpd.read_parquet(data_dir / "brazil" / f"{n}.parquet") for n in POINT_FILES}
    places = read["places"].set_index("name")
    assert places.loc["São Paulo", "population"] > 10_000_000
    assert read["places"]["population"].notna().all()
    assert {"GRU", "GIG", "BSB"} <= set(read["airports"]["iata"])
    ports = read["ports"].set_index("name")
    assert ports.loc["Santos", "harbour_size"] == "large"
    assert ports["locode"].dropna().is_unique
    heritage = read["heritage_sites"]
    assert set(heritage["category"]) == {"cultural", "natural", "mixed"}
    assert heritage["states"].str.contains("Brazil").all()
    mines = read["large_mines"]
    assert len(mines) == 76
    assert (mines["has_mine"] | mines["has_processing"]).all()
    carajas = mines[mines["name"].isin(["Serra Sul", "Sossego", "Salobo"])]
    assert set(carajas["adm1_code"]) == {"BRA-594"}  # Pará


def test_water_layers(data_dir):
    states = gpd.read_parquet(data_dir / "brazil" / "states.parquet")
    rivers = gpd.read_parquet(data_dir / "brazil" / "rivers.parquet")
    lakes = gpd.read_parquet(data_dir / "brazil" / "lakes.parquet")
    for frame in (rivers, lakes):
        assert frame.crs.to_epsg() == 4326
        assert frame.geometry.is_valid.all()
        assert frame.intersects(states.union_all()).all()
    assert rivers["name"].str.contains("Amazonas|São Francisco|Paraná", regex=True).any()
    assert (lakes["share_in_outline"].between(0, 1)).all()
    assert "Reservoir" in set(lakes["featurecla"])


# --- layer specs and profiles --------------------------------------------------------------------


def test_region_file_describes_brazil():
    doc = yaml.safe_load((LAYERS / "region.yaml").read_text(encoding="utf-8"))
    assert doc["id"] == "brazil"
    assert doc["boundary"] == "brazil/states.parquet"
    assert doc["levels"] == [{"id": "state", "code": "adm1_code", "name": "name",
                              "label": {"es": "estado", "en": "state"}}]
    assert doc["resolution"] == 5


def test_every_spec_source_exists_and_is_in_the_manifest(data_dir):
    specs = _specs()
    assert len(specs) >= 15
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    files = {e["id"]: e["file"] for e in load_manifest(data_dir)["datasets"]}
    for spec in specs:
        assert spec.source_path(data_dir).is_file(), spec.id
        assert spec.dataset in files, spec.id
        assert files[spec.dataset] == spec.source, spec.id
        assert spec.method != "travel_time", spec.id  # no elevation raster for Brazil


def test_profiles_use_brazil_layers_and_have_no_need_profile():
    available = {s.id for s in _specs()}
    profiles = {p.id: p for p in map(load_profile, PROFILE_FILES)}
    kinds = sorted(p.kind for p in profiles.values())
    assert "need" not in kinds
    assert {"engine", "access"} <= set(kinds)
    assert kinds.count("family") >= 2
    for profile in profiles.values():
        profile.check_layers(available, source="Brazil's layer specs")
        assert all(layer.rationale for layer in profile.layers)
    assert "no `need` profile" in (LAYERS / "profiles" / "engine.yaml").read_text(encoding="utf-8").lower()


@pytest.mark.slow
def test_brazil_layers_build_without_missing_values(data_dir, tmp_path):
    from geo_engine.matrix.indicators import build_indicators

    specs = _specs()
    units = gpd.read_parquet(data_dir / "brazil" / "states.parquet")
    units = units.rename(columns={"adm1_code": "unit_code"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # shore points off the grid's cells
        matrix = build_indicators(region="brazil", resolution=4, layers=specs, units=units,
                                  data_dir=data_dir, cache_dir=tmp_path, use_cache=False)
    assert 4000 < len(matrix) < 6000
    assert matrix["h3"].is_monotonic_increasing
    values = matrix[[s.id for s in specs]]
    assert not values.isna().any().any()
    assert (values.max() > values.min()).all()
