"""Regions: shipped ids, one's own region file, and a user's region end to end (CLI)."""

from __future__ import annotations

import json
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import system_tool
from test_uploads import LAYERS as UPLOAD_LAYERS
from test_uploads import profile_yaml, region_files
from typer.testing import CliRunner

from geo_engine._errors import GeoEngineWarning, SourceFormatError, SpecError
from geo_engine.cli import app
from geo_engine.pipeline import run
from geo_engine.regions.region import load_region, region_id_from, shipped_regions, write_region

runner = CliRunner()

_LAYERS = UPLOAD_LAYERS + """\
  - id: market_count
    title: {es: Mercados, en: Markets}
    theme: infrastructure
    kind: points
    source: markets.csv
    method: count
    filter: stalls >= 10
    units: count
    direction: benefit
  - id: poverty
    title: {es: Pobreza, en: Poverty}
    theme: social
    kind: table
    source: poverty.csv
    method: intensive
    params: {column: poor_pct, key: code, level: unit_code}
    units: "%"
    direction: benefit
"""
"""The uploads' layers (points, a raster) plus CSV points by latitude/longitude and a table."""

_PROFILES = {"engine": ("engine", "height"), "need": ("need", "poverty"),
             "access": ("access", "distance_town"), "family_towns": ("family", "town_people")}


@pytest.fixture
def own_region(tmp_path, monkeypatch):
    """A 2×2 block of units in the Bolivian Altiplano with points, a raster, a table and profiles."""
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    folder = tmp_path / "mine"
    (folder / "profiles").mkdir(parents=True)
    files = region_files(tmp_path)
    # a unit name holding markup, to check it stays text
    files["units.geojson"] = files.pop("altiplano units.geojson").replace(b'"Norte 1"',
                                                                          b'"Norte <b>1</b>"')
    files["layers.yaml"] = _LAYERS.encode()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    pd.DataFrame({"code": ["N1", "N2", "S1", "S2"], "poor_pct": [20.0, 45.0, 60.0, 35.0]}).to_csv(
        folder / "poverty.csv", index=False)
    (folder / "markets.csv").write_text(  # points from latitude/longitude columns
        "nombre;Latitud;Longitud;stalls\nFeria Ñuñoa;-16.85;-65.85;40\nPuesto;-16.8;-65.5;3\n"
        "Feria Sur;-17.2;-65.55;25\n", encoding="utf-8")
    for pid, (kind, layer) in _PROFILES.items():
        (folder / "profiles" / f"{pid}.yaml").write_bytes(profile_yaml(pid, kind, layer))
    return folder


def test_shipped_regions_resolve():
    assert "peru" in shipped_regions()
    peru = load_region("peru")
    assert peru.shipped
    assert peru.resolution == 7
    assert peru.boundary.name == "districts.parquet"
    assert (peru.profiles / "engine.yaml").is_file()


def test_unknown_region_names_the_fix(tmp_path):
    with pytest.raises(SpecError, match=r"neither a shipped region .*peru.*geo-engine region new"):
        load_region(str(tmp_path / "nowhere.yaml"))


def test_invalid_region_file_names_key_and_value(tmp_path):
    bad = tmp_path / "region.yaml"
    bad.write_text("id: Bad Id\nboundary: x.gpkg\nresolution: 12\n")
    with pytest.raises(SpecError) as err:
        load_region(tmp_path)  # a folder holding region.yaml
    text = str(err.value)
    assert "key `id`" in text
    assert "'Bad Id'" in text
    assert "key `resolution`" in text


def test_units_errors_name_file_column_and_fix(own_region):
    reg = write_region(own_region / "region.yaml", region_id="mine",
                       boundary=own_region / "units.geojson", code_column="CODE",
                       name_column="NAME", layers=own_region / "layers.yaml")
    with pytest.raises(SourceFormatError, match=r"no column 'nope'.*set `code_column` in"):
        load_region(reg.file).__class__(**{**reg.__dict__, "code_column": "nope"}).units()
    dup = gpd.read_file(own_region / "units.geojson")
    dup.loc[1, "CODE"] = "N1"
    dup.to_file(own_region / "dup.geojson")
    with pytest.raises(SourceFormatError, match=r"repeats codes \['N1'\]"):
        reg.__class__(**{**reg.__dict__, "boundary": own_region / "dup.geojson"}).units()


def _boundary(own_region, name, features):
    (own_region / name).write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"CODE": code}, "geometry": geometry}
        for code, geometry in features]}))
    return own_region / name


def _square(west, south):
    return {"type": "Polygon", "coordinates": [[[west, south], [west + 0.3, south],
                                                [west + 0.3, south + 0.3], [west, south]]]}


@pytest.mark.hostile
@pytest.mark.parametrize(("features", "match"), [
    ([], r"empty\.geojson holds no units \(no features: an empty FeatureCollection or layer\); "
         r"point `boundary` to the file with the admin units' polygons"),
    ([("P1", {"type": "Point", "coordinates": [-65.8, -16.8]}),
      ("P2", {"type": "Point", "coordinates": [-65.5, -16.8]})],
     r"empty\.geojson: a boundary needs polygons .*but it holds 2 Point \(e\.g\. unit 'P1'\); "
     r"point `boundary` to the units' polygons"),
    ([("A", _square(-66.0, -17.0)), ("L", {"type": "LineString", "coordinates": [[-65, -17], [-65, -16]]})],
     r"a boundary needs polygons .*1 LineString \(e\.g\. unit 'L'\)"),
    ([("A", None), ("B", {"type": "GeometryCollection", "geometries": []})],
     r"empty\.geojson: no unit has a geometry \(all are null or empty\)"),
])
def test_a_boundary_without_polygons_is_refused(own_region, features, match):
    path = _boundary(own_region, "empty.geojson", features)
    with pytest.raises(SourceFormatError, match=match):
        write_region(own_region / "region.yaml", region_id="mine", boundary=path, code_column="CODE",
                     layers=own_region / "layers.yaml")
    assert not (own_region / "region.yaml").exists()


@pytest.mark.hostile
def test_units_without_geometry_are_named_and_get_no_cells(own_region):
    path = _boundary(own_region, "holes.geojson", [
        ("N1", _square(-66.0, -17.0)), ("N2", _square(-65.7, -17.0)), ("X1", None),
        ("X2", {"type": "GeometryCollection", "geometries": []}),
        ("X3", {"type": "Polygon", "coordinates": []})])
    with pytest.warns(GeoEngineWarning, match=r"holes\.geojson: 3 units have no geometry \(null or "
                      r"empty\) and get no cells: X1, X2, X3; add their polygons"):
        write_region(own_region / "region.yaml", region_id="mine", boundary=path, code_column="CODE",
                     layers=own_region / "layers.yaml", resolution=6)
    with pytest.warns(GeoEngineWarning) as caught:  # the southern towns fall outside too
        result = run(region=own_region / "region.yaml")
    assert any("3 units have no geometry" in str(w.message) for w in caught)
    assert set(result.matrix["unit_code"]) == {"N1", "N2"}


def test_write_region_refuses_overwrite_and_leaves_nothing_on_error(own_region):
    out = own_region / "region.yaml"
    with pytest.raises(SourceFormatError):
        write_region(out, region_id="mine", boundary=own_region / "units.geojson",
                     code_column="WRONG", layers=own_region / "layers.yaml")
    assert not out.exists()
    assert not list(own_region.glob(".*.tmp"))
    write_region(out, region_id="mine", boundary=own_region / "units.geojson", code_column="CODE",
                 layers=own_region / "layers.yaml")
    before = out.read_text()
    with pytest.raises(FileExistsError, match="--force"):
        write_region(out, region_id="other", boundary=own_region / "units.geojson",
                     code_column="CODE", layers=own_region / "layers.yaml")
    assert out.read_text() == before
    assert "boundary: units.geojson" in before  # relative: the folder can be moved


def test_own_region_pipeline(own_region):
    write_region(own_region / "region.yaml", region_id="mine", boundary=own_region / "units.geojson",
                 code_column="CODE", name_column="NAME", layers=own_region / "layers.yaml",
                 resolution=7)
    # a CSV saved in Windows encoding, with a row that has no place
    (own_region / "markets.csv").write_bytes(
        "nombre;Latitud;Longitud;stalls\nFeria Ñuñoa;-16.85;-65.85;40\nPuesto;-16.8;-65.5;3\n"
        "Sin lugar;;;12\nFeria Sur;-17.2;-65.55;25\n".encode("cp1252"))
    with pytest.warns(GeoEngineWarning) as caught:
        result = run(region=own_region / "region.yaml")
    messages = " ".join(str(w.message) for w in caught)
    assert "markets.csv is not UTF-8; read it as cp1252" in messages
    assert "1 of 4 rows have no 'Latitud'/'Longitud'" in messages
    m = result.matrix
    assert result.region.id == "mine"
    assert not result.region.shipped
    assert set(m["unit_code"]) == {"N1", "N2", "S1", "S2"}
    assert m["town_people"].sum() == pytest.approx(85_200)
    by_unit = m.groupby("unit_code")["poverty"].first()
    assert by_unit.to_dict() == {"N1": 20.0, "N2": 45.0, "S1": 60.0, "S2": 35.0}
    assert m["height"].between(3000, 4200).all()
    assert m["market_count"].sum() == 2  # 2 markets of 10+ stalls; the one without a place left out
    assert result.dual.missing == ()
    assert np.isfinite(result.dual.inclusion).all()
    assert set(result.names["unit"]) == {"Norte <b>1</b>", "Norte 2", "Sur 1", "Sur 2"}


def test_region_without_need_profile_leaves_inclusion_missing(own_region):
    (own_region / "profiles" / "need.yaml").unlink()
    write_region(own_region / "region.yaml", region_id="mine", boundary=own_region / "units.geojson",
                 code_column="CODE", layers=own_region / "layers.yaml", resolution=6)
    result = run(region=own_region / "region.yaml")
    assert result.dual.missing == ("need",)
    assert np.isnan(result.dual.need).all()
    assert np.isnan(result.dual.inclusion).all()
    assert np.isfinite(result.dual.engine).all()
    assert all(t is None for t in result.dual.typology)


def test_own_region_cli_end_to_end(own_region, tmp_path):
    region = own_region / "region.yaml"
    r = runner.invoke(app, ["region", "new", str(region), "--boundary", str(own_region / "units.geojson"),
                            "--code-column", "CODE", "--name-column", "NAME", "--layers",
                            str(own_region / "layers.yaml"), "--resolution", "7", "--id", "mine"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["region", "show", str(region)])
    assert r.exit_code == 0, r.output
    assert "units     4" in r.output
    assert "layers    5" in r.output
    assert runner.invoke(app, ["build", "--region", str(region)]).exit_code == 0

    gpkg = tmp_path / "out" / "engine.gpkg"
    r = runner.invoke(app, ["score", "--region", str(region), "--profile", "engine",
                            "--out", str(gpkg)])
    assert r.exit_code == 0, r.output
    layers = [name for name, _ in pyogrio.list_layers(gpkg)]
    assert layers == ["cells", "clusters", "units"]  # the region's own word for its units
    cells = gpd.read_file(gpkg, layer="cells")
    units = gpd.read_file(gpkg, layer="units")
    assert {"unit_code", "unit"} <= set(cells.columns)  # an upload's levels: unit, parent
    assert set(units["code"]) == {"N1", "N2", "S1", "S2"}
    assert cells["score"].notna().all()

    geojson = tmp_path / "out" / "engine.geojson"
    r = runner.invoke(app, ["score", "--region", str(region), "--profile", "engine",
                            "--out", str(geojson)])
    assert r.exit_code == 0, r.output
    meta = json.loads(geojson.read_text())["meta"]
    assert meta["settings"]["region"] == "mine"
    assert meta["settings"]["layer_sources"] == {"height": "height.tif"}

    clusters = tmp_path / "out" / "clusters.geojson"
    r = runner.invoke(app, ["clusters", "--region", str(region), "--profile", "engine",
                            "--permutations", "99", "--min-cells", "3", "--out", str(clusters)])
    assert r.exit_code == 0, r.output
    found = gpd.read_file(clusters)
    assert len(found) >= 1
    assert "units" in found.columns  # the units each cluster touches, in the region's words
    assert not {"districts", "provinces", "departments"} & set(found.columns)
    assert found.geometry.is_valid.all()
    meta = json.loads(clusters.read_text())["meta"]  # every GeoJSON says what made it
    assert meta["profile"] == "engine"
    assert meta["settings"]["permutations"] == 99
    assert meta["settings"]["region"] == "mine"

    ranked = tmp_path / "out" / "rank.csv"
    r = runner.invoke(app, ["rank", "--region", str(region), "--profile", "need", "--out",
                            str(ranked)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(ranked)
    assert table.iloc[0]["code"] == "S1"  # the poorest unit ranks first on need

    brief = tmp_path / "out" / "brief.html"
    r = runner.invoke(app, ["brief", "--region", str(region), "--profile", "engine",
                            "--unit", "N1", "--out", str(brief)])  # --district in Peru's words
    assert r.exit_code == 0, r.output
    page = brief.read_text()
    assert "Norte &lt;b&gt;1&lt;/b&gt;" in page
    assert "<b>1</b>" not in page


def test_own_region_geopackage_opens_in_ogrinfo(own_region, tmp_path):
    ogrinfo = system_tool("ogrinfo", "gdal-bin")
    region = own_region / "region.yaml"
    write_region(region, region_id="mine", boundary=own_region / "units.geojson", code_column="CODE",
                 name_column="NAME", layers=own_region / "layers.yaml", resolution=6)
    gpkg = tmp_path / "engine.gpkg"
    r = runner.invoke(app, ["score", "--region", str(region), "--profile", "engine", "--out", str(gpkg)])
    assert r.exit_code == 0, r.output
    info = subprocess.run([ogrinfo, "-ro", "-so", str(gpkg), "cells"], capture_output=True, text=True,
                          check=True)
    assert f"Feature Count: {len(gpd.read_file(gpkg, layer='cells'))}" in info.stdout


def test_brief_of_own_region_says_what_is_missing(own_region):
    from geo_engine.reporting.brief import brief_html

    (own_region / "profiles" / "need.yaml").unlink()
    write_region(own_region / "region.yaml", region_id="mine", boundary=own_region / "units.geojson",
                 code_column="CODE", name_column="NAME", layers=own_region / "layers.yaml",
                 resolution=6)
    result = run(region=own_region / "region.yaml")
    rows = result.matrix["unit_code"].to_numpy() == "S1"
    page = brief_html(result, profile_id="engine", rows=rows, title="Sur 1", lang="en")
    assert "This region has no need profile" in page
    assert "height.tif" in page
    assert "own file" in page
    assert "national road network" not in page  # no travel-time layer in this region


def test_readme_worked_example_runs(tmp_path):
    """The README's bring-your-own-region example, run as written (Brazil from shipped data)."""
    import os
    import re
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Your own region"):]
    script = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    assert "geo-engine region new" in script
    (tmp_path / "data").symlink_to(root / "data")
    (tmp_path / "layers").symlink_to(root / "layers")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GEO_ENGINE_CACHE": str(tmp_path / "cache")}
    bash = system_tool("bash", "bash")
    done = subprocess.run([bash, "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "brazil_engine.gpkg")] == [
        "cells", "clusters", "states"]  # the ranked units under the region's word for them
    states = pd.read_csv(tmp_path / "states.csv")
    assert len(states) == 27
    assert (tmp_path / "sp.pdf").read_bytes().startswith(b"%PDF")
    assert "no profile of kind need" in done.stderr


def test_points_from_a_table_name_bad_rows(own_region):
    from geo_engine.ingest.specs import load_layers
    from geo_engine.matrix.indicators import points_from_table

    spec = next(s for s in load_layers(own_region / "layers.yaml") if s.id == "market_count")
    bad = pd.DataFrame({"lat": ["-16.8", "abc"], "lon": ["-65.5", "-65.6"]})
    with pytest.raises(SourceFormatError, match=r"column 'lat' holds text .* lines \[3\]"):
        points_from_table(bad, spec, own_region / "m.csv")
    projected = pd.DataFrame({"lat": ["8150000"], "lon": ["250000"]})
    with pytest.raises(SourceFormatError, match=r"out of range on lines \[2\].*projected metres"):
        points_from_table(projected, spec, own_region / "m.csv")
    with pytest.raises(SourceFormatError, match=r"no latitude/longitude columns .*lat_column"):
        points_from_table(pd.DataFrame({"a": ["1"]}), spec, own_region / "m.csv")
    decimal_comma = points_from_table(pd.DataFrame({"Lat": ["-16,8"], "LNG": ["-65,5"],
                                                    "code": ["010"], "n": ["7"]}),
                                      spec, own_region / "m.csv")
    assert decimal_comma.geometry.iloc[0].coords[0] == (-65.5, -16.8)
    assert decimal_comma["code"].iloc[0] == "010"  # codes keep their leading zero
    assert decimal_comma["n"].iloc[0] == 7.0


def test_region_across_the_antimeridian_in_0_to_360_longitudes(tmp_path, monkeypatch):
    """Pacific data often give longitudes 0–360: units and points either side of 180° still meet."""
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")

    def feature(code, x0, x1):
        ring = [[x0, -17.2], [x1, -17.2], [x1, -16.6], [x0, -16.6], [x0, -17.2]]
        return {"type": "Feature", "properties": {"code": code},
                "geometry": {"type": "Polygon", "coordinates": [ring]}}

    (tmp_path / "units.geojson").write_text(json.dumps(
        {"type": "FeatureCollection", "features": [feature("W", 179.4, 180.3),
                                                   feature("E", 180.3, 180.8)]}))
    (tmp_path / "towns.csv").write_text("name,lat,lon,people\nA,-16.9,179.9,100\nB,-16.9,-179.5,50\n")
    (tmp_path / "layers.yaml").write_text(_LAYERS.split("  - id: height")[0].replace(
        "towns.geojson", "towns.csv"))
    with pytest.warns(GeoEngineWarning, match="longitudes of .*units.geojson run beyond 180"):
        write_region(tmp_path / "region.yaml", region_id="fiji", boundary=tmp_path / "units.geojson",
                     code_column="code", layers=tmp_path / "layers.yaml", resolution=6)
    with pytest.warns(GeoEngineWarning, match="run beyond 180"):
        result = run(region=tmp_path / "region.yaml")
    m = result.matrix
    assert set(m["unit_code"]) == {"W", "E"}
    assert m["lon"].min() < -179.5
    assert m["lon"].max() > 179.5  # cells on both sides of 180°
    assert m["town_people"].sum() == 150
    assert m["distance_town"].max() < 100  # distances measured across 180°, not around the world


def test_numeric_codes_of_a_boundary_match_the_text_codes_of_a_table(own_region):
    units = gpd.read_file(own_region / "units.geojson")
    units["NUM"] = [1.0, 2.0, 3.0, 4.0]  # shapefiles and spreadsheets often store codes as reals
    units.to_file(own_region / "num.geojson")
    reg = write_region(own_region / "region.yaml", region_id="mine",
                       boundary=own_region / "num.geojson", code_column="NUM",
                       layers=own_region / "layers.yaml")
    assert reg.units()["unit_code"].tolist() == ["1", "2", "3", "4"]


def test_region_show_finds_a_profile_naming_an_unknown_layer(own_region):
    (own_region / "profiles" / "bad.yaml").write_bytes(profile_yaml("bad", "family", "no_such_layer"))
    write_region(own_region / "region.yaml", region_id="mine", boundary=own_region / "units.geojson",
                 code_column="CODE", layers=own_region / "layers.yaml",
                 profiles=own_region / "profiles")
    r = runner.invoke(app, ["region", "show", str(own_region / "region.yaml")])
    assert r.exit_code == 1
    assert "profile 'bad' names layers that the layer specs" in r.output
    assert "'no_such_layer'" in r.output


def test_region_id_from_a_file_name():
    assert region_id_from("altiplano units.geojson") == "altiplano-units"
    assert region_id_from("__.zip") == "my-region"


@pytest.mark.hostile
def test_region_show_refuses_a_source_outside_the_region_folder(own_region):
    layers = own_region / "layers.yaml"
    layers.write_text(layers.read_text().replace("source: poverty.csv", "source: ../../poverty.csv"))
    write_region(own_region / "region.yaml", region_id="mine", boundary=own_region / "units.geojson",
                 code_column="CODE", layers=layers)
    r = runner.invoke(app, ["region", "show", str(own_region / "region.yaml")])
    assert r.exit_code == 1
    assert (f"{layers}: layer 'poverty': source '../../poverty.csv' leads outside the data folder "
            f"{own_region}") in r.output


def test_region_new_with_parent_levels_ranks_them(own_region, tmp_path):
    units = gpd.read_file(own_region / "units.geojson")
    units["PROV"] = units["CODE"].str[0]  # N1, N2 → N; S1, S2 → S
    units["PROV_NAME"] = units["PROV"].map({"N": "Norte", "S": "Sur"})
    units.to_file(own_region / "units2.geojson", driver="GeoJSON")
    region = own_region / "region.yaml"
    r = runner.invoke(app, ["region", "new", str(region), "--boundary", str(own_region / "units2.geojson"),
                            "--code-column", "CODE", "--name-column", "NAME", "--unit", "comunidad",
                            "--level", "provincia=PROV:PROV_NAME", "--layers",
                            str(own_region / "layers.yaml"), "--resolution", "7", "--id", "mine"])
    assert r.exit_code == 0, r.output
    reg = load_region(region)
    assert [(lv.slot, lv.id, lv.code, lv.name) for lv in reg.levels] == [
        ("unit", "comunidad", "CODE", "NAME"), ("parent", "provincia", "PROV", "PROV_NAME")]
    r = runner.invoke(app, ["region", "show", str(region)])
    assert "level 1   provincia" in r.output, r.output
    assert "2 units" in r.output
    out = tmp_path / "prov.csv"
    r = runner.invoke(app, ["rank", "--region", str(region), "--profile", "need", "--level",
                            "provincia", "--out", str(out)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out)
    assert list(table["code"]) == ["S", "N"]  # Sur holds the poorest units
    assert list(table["provincia"]) == ["Sur", "Norte"]  # the region's own word for the level
    out = tmp_path / "units.csv"
    r = runner.invoke(app, ["rank", "--region", str(region), "--profile", "need", "--out", str(out)])
    table = pd.read_csv(out)
    assert {"comunidad", "provincia"} <= set(table.columns)
    r = runner.invoke(app, ["rank", "--region", str(region), "--profile", "need", "--level",
                            "grandparent", "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 1
    assert "has no admin level 'grandparent'; its levels are: comunidad, provincia" in r.output
    cells = tmp_path / "cells.csv"
    r = runner.invoke(app, ["score", "--region", str(region), "--profile", "need", "--out", str(cells)])
    assert r.exit_code == 0, r.output
    columns = set(pd.read_csv(cells, nrows=1).columns)
    assert {"comunidad_code", "comunidad", "provincia_code", "provincia"} <= columns
    assert not {"unit_code", "parent_code"} & columns


@pytest.mark.hostile
@pytest.mark.parametrize("text", ["parent", "=CODE", "Province=CODE", "province="])
def test_bad_level_option_is_refused(own_region, text):
    r = runner.invoke(app, ["region", "new", str(own_region / "r.yaml"), "--boundary",
                            str(own_region / "units.geojson"), "--code-column", "CODE",
                            "--level", text, "--layers", str(own_region / "layers.yaml")])
    assert r.exit_code == 1
    assert "ID=CODE_COLUMN[:NAME_COLUMN]" in r.output or "lowercase" in r.output
    assert not (own_region / "r.yaml").exists()


def test_levels_and_old_keys_are_not_mixed(tmp_path):
    (tmp_path / "region.yaml").write_text(
        "id: x\nboundary: b.geojson\ncode_column: C\nlevels: [{id: unit, code: C}]\n")
    with pytest.raises(SpecError, match="either as `levels` or as"):
        load_region(tmp_path / "region.yaml")


def test_access_for_ones_own_region_to_its_own_point_layers(own_region, tmp_path):
    region = own_region / "region.yaml"
    r = runner.invoke(app, ["region", "new", str(region), "--boundary", str(own_region / "units.geojson"),
                            "--code-column", "CODE", "--layers", str(own_region / "layers.yaml"),
                            "--resolution", "7", "--id", "mine"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "minutes.csv"
    r = runner.invoke(app, ["access", "--region", str(region), "--to", "town_people", "--out", str(out)])
    assert r.exit_code == 1  # no terrain named yet: the message says how to name it
    assert "access: {elevation: dem.tif}" in r.output
    region.write_text(region.read_text() + "access: {elevation: height.tif}\n")
    r = runner.invoke(app, ["access", "--region", str(region), "--to", "town_people", "--out", str(out)])
    assert r.exit_code == 0, r.output
    minutes = pd.read_csv(out)["minutes"]
    assert minutes.notna().sum() > 0
    assert minutes.min() == 0  # a town's own cell
    r = runner.invoke(app, ["access", "--region", str(region), "--to", str(own_region / "towns.geojson"),
                            "--out", str(tmp_path / "file.csv")])
    assert r.exit_code == 0, r.output
    np.testing.assert_allclose(pd.read_csv(tmp_path / "file.csv")["minutes"], minutes)
    r = runner.invoke(app, ["access", "--region", str(region), "--to", "height", "--out",
                            str(tmp_path / "x.csv")])
    assert r.exit_code == 1
    assert "layer 'height' holds raster, not points" in r.output
    r = runner.invoke(app, ["access", "--region", str(region), "--to", "nowhere", "--out",
                            str(tmp_path / "y.csv")])
    assert "nor a point layer of region 'mine' (distance_town, market_count, town_people)" in r.output


@pytest.mark.hostile
@pytest.mark.parametrize("where", ["../outside.tif", "/etc/passwd", "link.tif"])
def test_access_files_must_stay_in_the_region_folder(tmp_path, where):
    folder = tmp_path / "mine"
    folder.mkdir()
    (tmp_path / "outside.tif").write_bytes(b"x")
    (folder / "link.tif").symlink_to(tmp_path / "outside.tif")
    (folder / "region.yaml").write_text(
        f"id: mine\nboundary: b.geojson\ncode_column: C\naccess: {{elevation: {where}}}\n")
    with pytest.raises(SpecError, match=r"region.yaml: access.elevation: file .* (leads outside|is a "
                       r"link to .*, which lies outside) the data folder"):
        load_region(folder / "region.yaml")



@pytest.mark.skipif("latam" not in shipped_regions(), reason="layers/latam not curated here")
def test_a_shipped_region_names_its_parent_level_from_its_own_column():
    reg = load_region("latam")  # levels: province (adm1_code, name), country (country_code, country)
    units = reg.units()
    assert units.loc[units["parent_code"].eq("PER"), "parent"].unique().tolist() == ["Peru"]
    assert set(reg.names()["parent"]) >= {"Peru", "Brazil", "Mexico"}


def test_perus_curated_units_take_the_slots_names_and_keep_their_other_columns():
    from geo_engine.ingest.specs import LEGACY_CODE_COLUMNS
    from geo_engine.regions.region import load_region

    peru = load_region("peru")
    with pytest.warns(GeoEngineWarning, match="no geometry"):  # eight curated units lack one
        units = peru.units()
    slots = {"unit_code", "unit", "parent_code", "parent", "grandparent_code", "grandparent"}
    assert slots <= set(units.columns)
    assert not set(LEGACY_CODE_COLUMNS) & set(units.columns)
    assert len(units.columns) == len(gpd.read_parquet(peru.boundary).columns)  # nothing dropped
    assert [lv.slot for lv in peru.levels] == ["unit", "parent", "grandparent"]
