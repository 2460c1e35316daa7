import errno
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_region import own_region  # noqa: F401  (fixture: a small region of one's own)
from typer.testing import CliRunner

from geo_engine import __version__
from geo_engine.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("data", "app", "version"):
        assert command in result.output
    result = runner.invoke(app, ["data", "--help"])
    for command in ("list", "check", "rebuild", "prepare"):
        assert command in result.output


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "geo_engine.cli", "--help"], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "data" in out.stdout
    assert "Start the Streamlit map app" in out.stdout


def test_version():
    result = runner.invoke(app, ["version"])
    assert result.output.strip() == __version__


def test_data_check_and_list(data_dir):
    result = runner.invoke(app, ["data", "check", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "datasets match the manifest" in result.output
    result = runner.invoke(app, ["data", "list", "--data-dir", str(data_dir)])
    assert "districts" in result.output
    assert "1834" in result.output


def test_data_check_fails_on_tampered_data(data_dir, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    (copy / "peru" / "districts.parquet").write_bytes(b"broken")
    result = runner.invoke(app, ["data", "check", "--data-dir", str(copy)])
    assert result.exit_code == 1
    assert "peru/districts.parquet: sha256" in result.output


@pytest.mark.hostile
def test_prepare_cleans_what_a_killed_rebuild_left(data_dir, tmp_path, monkeypatch):
    import shutil

    from geo_engine import settings

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    (copy / ".rebuild-k1ll3d" / "peru").mkdir(parents=True)
    (copy / ".rebuild-k1ll3d" / "peru" / "districts.parquet").write_bytes(b"half a file")
    monkeypatch.setattr(settings, "cache_dir", tmp_path / "cache")
    result = runner.invoke(app, ["data", "check", "--data-dir", str(copy)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["data", "prepare", "--data-dir", str(copy), "--resolution", "4"])
    assert result.exit_code == 0, result.output
    assert "removed .rebuild-k1ll3d, the temporary folder of an interrupted rebuild" in result.output
    assert not (copy / ".rebuild-k1ll3d").exists()


def test_missing_manifest_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no MANIFEST.yaml" in result.output


def test_layers_lists_shipped_specs():
    result = runner.invoke(app, ["layers"])
    assert result.exit_code == 0, result.output
    assert "poverty_2018" in result.output
    assert "distance_port" in result.output
    lines = result.output.splitlines()
    coffee = next(i for i, line in enumerate(lines) if line.startswith("crop_value_coffee "))
    assert lines[coffee + 1].split()[:2] == ["source:", "MIDAGRI"]
    assert "2023" in lines[coffee + 1]


def test_validate_good_and_bad(tmp_path, data_dir):
    from geo_engine.ingest.specs import default_layers_path

    good = default_layers_path("peru") / "social.yaml"
    result = runner.invoke(app, ["validate", str(good), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers:\n  - id: x\n    kind: volcano\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml: layer 'x': field `kind`" in result.output


def test_validate_reads_sources_next_to_the_spec_by_default(tmp_path, monkeypatch):
    _boundary(tmp_path)
    monkeypatch.chdir("/")  # not the spec's folder: the spec's folder is the default all the same
    result = runner.invoke(app, ["validate", str(tmp_path / "layers.yaml")])
    assert result.exit_code == 0, result.output
    (tmp_path / "t.csv").unlink()
    result = runner.invoke(app, ["validate", str(tmp_path / "layers.yaml")])
    assert result.exit_code == 1
    assert str(tmp_path / "t.csv") in result.output
    from geo_engine.ingest.specs import default_layers_path

    shipped = runner.invoke(app, ["validate", str(default_layers_path("peru") / "social.yaml")])
    assert shipped.exit_code == 0, shipped.output


def _boundary(tmp_path):
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    gpd.GeoDataFrame({"code": ["A", "B"]},
                     geometry=[box(-70.2, -15.2, -70.0, -15.0), box(-70.0, -15.2, -69.8, -15.0)],
                     crs="EPSG:4326").to_file(tmp_path / "region.gpkg")
    pd.DataFrame({"unit": ["A", "B"], "share": [0.2, 0.6]}).to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "layers.yaml").write_text(
        "layers:\n"
        "  - id: share\n"
        "    title: {es: Cuota, en: Share}\n"
        "    theme: social\n"
        "    kind: table\n"
        "    source: t.csv\n"
        "    method: intensive\n"
        "    params: {column: share, key: unit, level: district_code}\n"
        "    units: share\n"
        "    direction: benefit\n"
    )


def test_build_own_region_writes_matrix(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    _boundary(tmp_path)
    out = tmp_path / "m.parquet"
    args = ["build", "--resolution", "6", "--boundary", str(tmp_path / "region.gpkg"),
            "--code-column", "code", "--layers", str(tmp_path / "layers.yaml"), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    matrix = pd.read_parquet(out)
    assert matrix["h3"].str.len().eq(15).all()
    assert set(matrix["share"]) == {0.2, 0.6}
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "exists; pass --force" in again.output
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_build_profiles_its_layers(tmp_path, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    _boundary(tmp_path)
    args = ["--quiet", "build", "--resolution", "6", "--boundary", str(tmp_path / "region.gpkg"),
            "--code-column", "code", "--layers", str(tmp_path / "layers.yaml"), "--profile-layers"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("layer "))
    assert lines[header].split() == ["layer", "seconds", "share", "peak", "MB"]
    assert lines[header + 1].startswith("(grid)")
    assert lines[header + 2].split()[0] == "share"
    assert float(lines[header + 2].split()[3].replace(",", "")) > 0  # peak memory in MB
    assert lines[-1].startswith("total")
    cached = runner.invoke(app, args)
    assert "(from the cache: the times and memory of the build that made it)" in cached.output


def test_build_by_parts_writes_a_dataset_that_a_plain_build_reads(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    _boundary(tmp_path)
    base = ["--quiet", "build", "--resolution", "7", "--boundary", str(tmp_path / "region.gpkg"),
            "--code-column", "code", "--layers", str(tmp_path / "layers.yaml")]
    result = runner.invoke(app, [*base, "--partitions", "3", "--parent-resolution", "5",
                                 "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "by 3 parts" in result.output
    assert ".parts" in result.output
    out = tmp_path / "m.parquet"
    plain = runner.invoke(app, [*base, "--out", str(out)])
    assert plain.exit_code == 0, plain.output
    assert "(from cache)" in plain.output
    assert set(pd.read_parquet(out)["share"]) == {0.2, 0.6}
    bad = runner.invoke(app, [*base, "--partitions", "2", "--parent-resolution", "7"])
    assert bad.exit_code == 1
    assert "`parent_resolution` was 7 but must be from 0 to 6" in bad.output


def test_build_score_and_rank_within_one_department(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    base = ["--quiet", "build", "--resolution", "5"]
    wrong = runner.invoke(app, [*base, "--within", "department=Tumbez"])
    assert wrong.exit_code == 1
    assert "region 'peru' has no department 'Tumbez'; did you mean TUMBES?" in wrong.output
    parts = runner.invoke(app, [*base, "--within", "department=Tumbes", "--partitions", "2"])
    assert parts.exit_code == 1
    assert "builds one unit in one piece" in parts.output
    out = tmp_path / "m.parquet"
    built = runner.invoke(app, [*base, "--within", "department=tumbes", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert "at resolution 5 within department=tumbes (built in" in built.output
    matrix = pd.read_parquet(out)
    assert set(matrix["department_code"]) == {"24"}
    assert matrix["travel_port"].notna().all()
    ranked = tmp_path / "r.csv"
    r = runner.invoke(app, ["rank", "--within", "department=24", "--resolution", "5", "--level",
                            "province", "--profile", "fisheries_aquaculture", "--out", str(ranked)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(ranked, dtype={"code": str})
    assert set(table["code"]) == {"2401", "2402", "2403"}  # Tumbes' three provinces


def test_build_boundary_errors(tmp_path):
    _boundary(tmp_path)
    result = runner.invoke(app, ["build", "--boundary", str(tmp_path / "region.gpkg"),
                                 "--layers", str(tmp_path / "layers.yaml")])
    assert result.exit_code == 1
    assert "no column 'district_code'" in result.output
    assert "--code-column" in result.output
    result = runner.invoke(app, ["build", "--boundary", str(tmp_path / "region.gpkg")])
    assert "--boundary needs --layers" in result.output


def test_profiles_lists_dual_model():
    result = runner.invoke(app, ["profiles"])
    assert result.exit_code == 0, result.output
    for pid in ("engine", "need", "access", "nature_heritage_tourism"):
        assert pid in result.output


def test_score_sensitivity_rank_on_peru(tmp_path, monkeypatch):
    import geopandas as gpd
    import pandas as pd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    out = tmp_path / "tourism.gpkg"
    r = runner.invoke(app, ["score", "--profile", "nature_heritage_tourism", "--resolution", "5",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    import pyogrio

    assert [name for name, _ in pyogrio.list_layers(out)][:1] == ["cells"]
    assert "districts" in [name for name, _ in pyogrio.list_layers(out)]
    districts = gpd.read_file(out, layer="districts")
    assert len(districts) > 1000  # districts holding cells at resolution 5
    assert {"pop_weighted_mean", "rank", "district"} <= set(districts.columns)
    ordered = districts.sort_values("rank", kind="stable")  # tourism ranks by its best site
    assert ordered["max"].is_monotonic_decreasing
    cells = gpd.read_file(out, layer="cells")
    for col in ("h3", "score", "rank", "engine", "inclusion", "typology", "niche_family",
                "niche_margin", "district_code", "district", "province", "department",
                "population", "poverty_rate", "contrib_tourism_natural"):
        assert col in cells.columns, col
    contrib = cells.filter(like="contrib_").sum(axis=1)
    assert (contrib - cells["score"]).abs().max() < 1e-9

    sens = tmp_path / "sens.parquet"
    r = runner.invoke(app, ["sensitivity", "--profile", "engine", "--resolution", "5",
                            "--draws", "30", "--out", str(sens)])
    assert r.exit_code == 0, r.output
    table = pd.read_parquet(sens)
    assert list(table.columns[:4]) == ["h3", "p_top_decile", "rank_median", "rank_iqr"]

    ranked = tmp_path / "prov.csv"
    r = runner.invoke(app, ["rank", "--profile", "engine", "--level", "province",
                            "--resolution", "5", "--out", str(ranked)])
    assert r.exit_code == 0, r.output
    prov = pd.read_csv(ranked, dtype={"code": str})
    assert len(prov) >= 190
    assert prov["rank"].min() == 1
    assert "province" in prov.columns
    assert "ranked by max (the profile's statistic)" in r.output  # engine.yaml `ranking:`
    assert prov["max"].is_monotonic_decreasing
    r = runner.invoke(app, ["rank", "--profile", "engine", "--level", "province", "--resolution",
                            "5", "--rank-by", "pop_weighted_mean", "--out", str(ranked), "--force"])
    assert r.exit_code == 0, r.output
    assert "ranked by pop_weighted_mean\n" in r.output + "\n"
    assert pd.read_csv(ranked)["pop_weighted_mean"].is_monotonic_decreasing

    import json  # the validation harness on the same build

    report = tmp_path / "report.json"
    r = runner.invoke(app, ["evaluate", "--resolution", "5", "--resolutions", "",
                            "--out", str(report)])
    assert r.exit_code == 0, r.output
    assert "spearman(inclusion, need) across provinces" in r.output
    assert re.search(r"^engine\s+max\s+\d+\s", r.output, flags=re.MULTILINE), r.output
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["resolution"] == 5
    rows = {row["profile"]: row for row in doc["profiles"]}
    assert {"engine", "inclusion", "need", "forestry_wood"} <= set(rows)
    assert 0 <= rows["engine"]["precision_at_10"] <= 1
    assert rows["engine"]["ranked_by"] == "max"  # the profile's statistic, as `rank` uses
    assert rows["need"]["precision_at_10"] is None  # no reference for need: null, not NaN
    r = runner.invoke(app, ["evaluate", "--resolutions", "6;7", "--out", str(tmp_path / "r.csv")])
    assert r.exit_code == 1
    assert "write resolutions as 6,7,8" in r.output

    r = runner.invoke(app, ["score", "--profile", "nope", "--resolution", "5",
                            "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 1
    assert "no profile 'nope'" in r.output
    r = runner.invoke(app, ["score", "--profile", "engine", "--out", str(tmp_path / "x.shp")])
    assert "must end in one of" in r.output


def test_access_command(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    out = tmp_path / "ports.csv"
    r = runner.invoke(app, ["access", "--to", "ports", "--resolution", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["h3", "minutes"]
    assert table["minutes"].min() == 0
    r = runner.invoke(app, ["access", "--to", "volcanoes", "--resolution", "5",
                            "--out", str(tmp_path / "v.csv")])
    assert r.exit_code == 1
    assert "volcanoes" in r.output


def test_clusters_command(tmp_path, monkeypatch):
    import geopandas as gpd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    out = tmp_path / "clusters.gpkg"
    r = runner.invoke(app, ["clusters", "--profile", "nature_heritage_tourism", "--resolution", "6",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    found = gpd.read_file(out)
    for col in ("cluster_id", "profile", "n_cells", "area_km2", "population", "poor_population",
                "mean_score", "districts", "rank", "fdr", "permutations"):
        assert col in found.columns, col
    assert len(found) > 0
    assert found.is_valid.all()
    assert found["rank"].tolist() == sorted(found["rank"])


def test_brief_command(tmp_path, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    out = tmp_path / "cusco.html"
    r = runner.invoke(app, ["brief", "--profile", "engine", "--district", "080101",
                            "--resolution", "6", "--out", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    assert "CUSCO · CUSCO · CUSCO" in page
    r = runner.invoke(app, ["brief", "--profile", "engine", "--resolution", "6",
                            "--out", str(tmp_path / "x.html")])
    assert "exactly one of --unit CODE (--district in Peru) or --cluster ID" in r.output
    r = runner.invoke(app, ["brief", "--profile", "engine", "--district", "999999",
                            "--resolution", "6", "--out", str(tmp_path / "y.html")])
    assert r.exit_code == 1
    assert "no district '999999' in region 'peru'; check the code (column 'district_code'" in r.output
    r = runner.invoke(app, ["brief", "--profile", "engine", "--district", "080101",
                            "--resolution", "6", "--out", str(tmp_path / "cusco.docx")])
    assert r.exit_code == 1
    assert "cusco.docx: the output must end in one of .html, .pdf" in r.output
    pdf = tmp_path / "cusco.pdf"
    r = runner.invoke(app, ["brief", "--profile", "engine", "--district", "080101",
                            "--resolution", "6", "--out", str(pdf)])
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) == 1
    assert "CUSCO · CUSCO · CUSCO" in reader.pages[0].extract_text()


def _one_layer(source: str, extra: str = "") -> str:
    return ("layers:\n  - id: share\n    title: {es: Cuota, en: Share}\n    theme: social\n"
            f"    kind: table\n    source: {source}\n    method: intensive\n"
            "    params: {column: share, key: unit, level: district_code}\n"
            f"    units: share\n    direction: benefit\n{extra}")


@pytest.mark.hostile
def test_validate_and_build_refuse_a_yaml_bomb_quickly(tmp_path, monkeypatch):
    import time

    from test_yaml_io import bomb_layers

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    _boundary(tmp_path)
    (tmp_path / "bomb.yaml").write_text(bomb_layers())
    start = time.perf_counter()
    for args in (["validate", str(tmp_path / "bomb.yaml"), "--data-dir", str(tmp_path)],
                 ["build", "--boundary", str(tmp_path / "region.gpkg"), "--code-column", "code",
                  "--layers", str(tmp_path / "bomb.yaml")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "bomb.yaml, line 1: the layer spec uses a YAML anchor" in result.output
        assert "Traceback" not in result.output
    assert time.perf_counter() - start < 10


@pytest.mark.hostile
@pytest.mark.parametrize(("source", "extra", "message"), [
    ("../../../../../../etc/passwd", "", "source '../../../../../../etc/passwd' leads outside the data "
                                         "folder"),
    ("/etc/passwd", "", "source '/etc/passwd' leads outside the data folder"),
    ("t.csv", "    filter: \"@pd.read_csv('/etc/passwd')\"\n", "uses '@'"),
])
def test_validate_refuses_what_build_refuses(tmp_path, monkeypatch, source, extra, message):
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    _boundary(tmp_path)
    spec = tmp_path / "hostile.yaml"
    spec.write_text(_one_layer(source, extra))
    for args in (["validate", str(spec), "--data-dir", str(tmp_path)],
                 ["build", "--boundary", str(tmp_path / "region.gpkg"), "--code-column", "code",
                  "--layers", str(spec)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert f"{spec}: layer 'share'" in result.output
        assert message in result.output
        assert "Traceback" not in result.output
    good = runner.invoke(app, ["validate", str(tmp_path / "layers.yaml"), "--data-dir", str(tmp_path)])
    assert good.exit_code == 0, good.output


@pytest.mark.hostile
def test_third_party_warning_is_passed_on_once_without_a_hang(monkeypatch):
    import warnings

    import numpy as np

    from geo_engine._errors import GeoEngineWarning
    from geo_engine.regions.region import Region

    units = Region.units

    def noisy(self):
        np.log(np.array([-1.0]))  # numpy's RuntimeWarning, as shapely's and pyogrio's reach the CLI
        warnings.warn("2 units have no cell", GeoEngineWarning, stacklevel=2)
        return units(self)

    monkeypatch.setattr(Region, "units", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, ["region", "show", "peru"])
    assert result.exit_code == 0, result.output
    assert result.output.count("warning: 2 units have no cell") == 1
    passed_on = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert [str(w.message) for w in passed_on] == ["invalid value encountered in log"]


def _write_then_fill_the_disk(self, path, *args, **kwargs):
    """Stand-in for a writer on a full disk: starts the file, then fails as the system does."""
    with open(path, "wb") as f:  # noqa: PTH123  (Path's own writers are patched in some tests)
        f.write(b"half a fi")
    raise OSError(errno.ENOSPC, "No space left on device")


def _full_for_briefs(write):
    """Wrap a ``Path`` writer so that it fails as on a full disk for brief files only."""
    def full(self, data, *args, **kwargs):
        if "brief" not in self.name:  # the caches the run writes on the way
            return write(self, data, *args, **kwargs)
        return _write_then_fill_the_disk(self, self)

    return full


@pytest.fixture
def own_region_file(own_region):  # noqa: F811  (the fixture imported from test_region)
    from geo_engine.regions.region import write_region

    return write_region(own_region / "region.yaml", region_id="mine",
                        boundary=own_region / "units.geojson", code_column="CODE", name_column="NAME",
                        layers=own_region / "layers.yaml", resolution=6).file


@pytest.mark.hostile
@pytest.mark.parametrize(("out", "message"), [
    ("results/m.parquet", r"results/m\.parquet: a part of its folder path is a file, not a folder"),
    ("m.xlsx", r"m\.xlsx: the output must end in one of \.parquet, \.csv"),
    ("x" * 300 + ".csv", r"x\.csv: the file name is too long; choose a shorter name"),
])
def test_unwritable_output_is_refused_before_the_build(tmp_path, monkeypatch, out, message):
    def never(*args, **kwargs):
        raise AssertionError("the build ran although its output cannot be written")

    monkeypatch.setattr("geo_engine.matrix.indicators.build_indicators", never)
    _boundary(tmp_path)
    (tmp_path / "results").write_text("a file where a folder is expected")
    result = runner.invoke(app, ["build", "--boundary", str(tmp_path / "region.gpkg"), "--code-column",
                                 "code", "--layers", str(tmp_path / "layers.yaml"),
                                 "--out", str(tmp_path / out)])
    assert result.exit_code == 1
    assert re.search(f"^error: .*{message}", result.output), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_inclusion_scored_ranked_clustered_and_tested(own_region_file, tmp_path):
    import numpy as np
    import pandas as pd

    region = ["--region", str(own_region_file), "--profile", "inclusion"]
    r = runner.invoke(app, ["score", *region, "--out", str(tmp_path / "cells.csv")])
    assert r.exit_code == 0, r.output
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert np.allclose(cells["score"], cells["inclusion"], equal_nan=True)
    assert {"contrib_niche", "contrib_need", "contrib_access", "poor_population"} <= set(cells)
    r = runner.invoke(app, ["rank", *region, "--out", str(tmp_path / "rank.csv")])
    assert r.exit_code == 0, r.output
    ranked = pd.read_csv(tmp_path / "rank.csv")
    assert {"poor_population", "poor_population_top"} <= set(ranked)
    assert ranked["poor_population"].sum() == pytest.approx(cells["poor_population"].sum())
    r = runner.invoke(app, ["sensitivity", *region, "--draws", "20",
                            "--out", str(tmp_path / "sens.csv")])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "sens.csv")["p_top_decile"].between(0, 1).any()
    r = runner.invoke(app, ["clusters", *region, "--permutations", "99", "--min-cells", "1",
                            "--out", str(tmp_path / "clusters.csv")])
    assert r.exit_code == 0, r.output
    assert "clusters of 'inclusion'" in r.output
    r = runner.invoke(app, ["profiles", "--region", str(own_region_file)])
    assert "inclusion" in r.output


def test_clusters_and_geopackage_of_a_two_level_region_use_its_level_ids(own_region, tmp_path):  # noqa: F811
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    from geo_engine.regions.region import LevelSpec, write_region

    units = gpd.read_file(own_region / "units.geojson")
    units["PROV"] = units["CODE"].str[0]  # N1, N2 → N; S1, S2 → S
    units["PROV_NAME"] = units["PROV"].map({"N": "Norte", "S": "Sur"})
    units.to_file(own_region / "units2.geojson", driver="GeoJSON")
    region = write_region(own_region / "region.yaml", region_id="mine",
                          boundary=own_region / "units2.geojson", code_column="CODE",
                          name_column="NAME", layers=own_region / "layers.yaml", resolution=6,
                          unit="comuna", parents=[LevelSpec(id="provincia", code="PROV",
                                                            name="PROV_NAME", label=None)]).file
    args = ["--region", str(region), "--profile", "need"]
    out = tmp_path / "clusters.csv"
    r = runner.invoke(app, ["clusters", *args, "--permutations", "99", "--min-cells", "1",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    found = pd.read_csv(out)
    assert {"comunas", "provincias"} <= set(found.columns)
    assert not {"districts", "provinces", "departments"} & set(found.columns)
    assert set(found["provincias"].str.split(", ").explode()) <= {"Norte", "Sur"}
    gpkg = tmp_path / "need.gpkg"
    r = runner.invoke(app, ["score", *args, "--out", str(gpkg)])
    assert r.exit_code == 0, r.output
    assert sorted(name for name, _ in pyogrio.list_layers(gpkg)) == ["cells", "clusters", "comunas"]
    ranked = pyogrio.read_dataframe(gpkg, layer="comunas")
    assert {"code", "comuna", "provincia"} <= set(ranked.columns)
    assert len(ranked) == 4
    cells = pyogrio.read_dataframe(gpkg, layer="cells", max_features=1)
    assert {"comuna_code", "provincia_code"} <= set(cells.columns)
    assert not {"district_code", "unit_code"} & set(cells.columns)
    clusters = pyogrio.read_info(gpkg, layer="clusters")["fields"]
    assert "comunas" in clusters
    assert not {"districts", "units"} & set(clusters)


@pytest.mark.hostile
def test_rank_on_a_full_disk_keeps_the_old_file(own_region_file, tmp_path, monkeypatch):
    import pandas as pd

    out = tmp_path / "rank.csv"
    args = ["rank", "--region", str(own_region_file), "--profile", "need", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    old = out.read_bytes()
    monkeypatch.setattr(pd.DataFrame, "to_csv", _write_then_fill_the_disk)
    result = runner.invoke(app, [*args, "--force"])
    assert result.exit_code == 1
    assert re.fullmatch(r"error: cannot write .*rank\.csv: the disk is full; free some space or "
                        r"write to another disk; the existing file is unchanged", result.output.strip())
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.hostile
@pytest.mark.parametrize("suffix", [".html", ".pdf"])
def test_brief_on_a_full_disk_keeps_the_old_file(own_region_file, tmp_path, monkeypatch, suffix):
    out = tmp_path / f"brief{suffix}"
    out.write_bytes(b"the brief of last week")
    args = ["brief", "--region", str(own_region_file), "--profile", "engine", "--district", "N1",
            "--out", str(out), "--force"]
    for name in ("write_text", "write_bytes"):
        monkeypatch.setattr(Path, name, _full_for_briefs(getattr(Path, name)))
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert re.fullmatch(rf"error: cannot write .*brief\{suffix}: the disk is full; .* the existing "
                        r"file is unchanged", result.output.strip())
    assert out.read_bytes() == b"the brief of last week"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_two_commands_racing_for_one_new_output_do_not_overwrite(own_region_file, tmp_path,
                                                                  monkeypatch):
    from geo_engine.io import atomic

    out = tmp_path / "rank.csv"
    publish = atomic._publish

    def other_run_finishes_first(tmp, path, *, force):
        path.write_text("the other run's ranking")
        publish(tmp, path, force=force)

    monkeypatch.setattr(atomic, "_publish", other_run_finishes_first)
    result = runner.invoke(app, ["rank", "--region", str(own_region_file), "--profile", "need",
                                 "--out", str(out)])
    assert result.exit_code == 1
    assert "rank.csv exists; pass --force to overwrite it" in result.output
    assert out.read_text() == "the other run's ranking"


@pytest.mark.hostile
def test_rank_csv_escapes_a_unit_name_that_is_a_formula(own_region, tmp_path):  # noqa: F811
    import csv
    import io

    from geo_engine.regions.region import write_region

    units = own_region / "units.geojson"
    units.write_text(units.read_text(encoding="utf-8").replace(
        "Sur 1", '=HYPERLINK(\\"http://evil.example\\",\\"Sur 1\\")'), encoding="utf-8")
    region = write_region(own_region / "region.yaml", region_id="mine", boundary=units,
                          code_column="CODE", name_column="NAME", layers=own_region / "layers.yaml",
                          resolution=6).file
    out = tmp_path / "rank.csv"
    r = runner.invoke(app, ["rank", "--region", str(region), "--profile", "need", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    names = {row["code"]: next(v for k, v in row.items() if k not in ("code",) and "Sur" in str(v))
             for row in rows if row["code"] == "S1"}
    assert names == {"S1": '\'=HYPERLINK("http://evil.example","Sur 1")'}
    assert float(rows[0]["rank"]) == 1


def test_weights_ahp_writes_a_profile(tmp_path):
    import yaml

    from geo_engine.scoring.profiles import load_profile, load_profiles

    engine = load_profiles()["engine"]
    w = engine.weights()
    ids = list(w)
    judgements = {a: {b: w[a] / w[b] for b in ids[i + 1:]} for i, a in enumerate(ids)}
    survey = tmp_path / "survey.yaml"
    survey.write_text(yaml.safe_dump({"criteria": ids, "participants": [
        {"name": "planner", "judgements": judgements}]}), encoding="utf-8")
    out = tmp_path / "my_engine.yaml"
    r = runner.invoke(app, ["weights", "ahp", str(survey), "--profile", "engine", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "group: CR 0.000" in r.output
    assert load_profile(out).weights() == pytest.approx(w, abs=1e-3)
    r = runner.invoke(app, ["weights", "ahp", str(survey), "--profile", "nope",
                            "--out", str(tmp_path / "x.yaml")])
    assert r.exit_code == 1
    assert "no profile 'nope'" in r.output


def test_plan_command_sites_and_front(tmp_path, monkeypatch):
    import geopandas as gpd
    import pandas as pd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    out = tmp_path / "plan.geojson"
    base = ["plan", "--profile", "agro_food", "--resolution", "5", "--candidates", "150",
            "--reach", "180"]
    r = runner.invoke(app, [*base, "--sites", "4", "--min-km", "50", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "4 sites reach" in r.output
    plan = gpd.read_file(out)
    sites = plan[plan["role"] == "site"]
    assert len(sites) == 4
    assert sites["rank"].tolist() == [1, 2, 3, 4]
    assert {"niche_family", "department", "demand_added", "cost", "minutes"} <= set(plan.columns)
    front = tmp_path / "front.csv"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("id: south\nprofile: agro_food\nweights: {crop_value_andean_grains: 3}\n"
                        "plan: {sites: 4, candidates: 150, reach_minutes: 180}\n", encoding="utf-8")
    r = runner.invoke(app, ["plan", "--scenario", str(scenario), "--resolution", "5", "--pareto",
                            "--points", "3", "--out", str(front)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(front)
    assert table["growth"].is_monotonic_increasing
    r = runner.invoke(app, ["plan", "--resolution", "5", "--sites", "2",
                            "--out", str(tmp_path / "x.geojson")])
    assert r.exit_code == 1
    assert "give --profile" in r.output


def test_plan_by_province_with_costs_by_travel_time(tmp_path, monkeypatch):
    import geopandas as gpd

    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path / "cache")
    out = tmp_path / "plan.gpkg"
    r = runner.invoke(app, ["plan", "--profile", "agro_food", "--resolution", "5", "--reach", "180",
                            "--site-level", "province", "--budget", "5000", "--cost-base", "1000",
                            "--cost-per-minute", "5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    sites = gpd.read_file(out)
    sites = sites[sites["role"] == "site"]
    assert sites["province"].is_unique  # one site per province
    brief = tmp_path / "plan.html"
    r = runner.invoke(app, ["plan", "--profile", "agro_food", "--resolution", "5", "--reach", "180",
                            "--sites", "3", "--out", str(tmp_path / "p.csv"), "--brief", str(brief),
                            "--lang", "en"])
    assert r.exit_code == 0, r.output
    page = brief.read_text()
    assert "Plan: 3 sites" in page
    assert "Poor people with a niche reached" in page
    assert "data:image/png;base64," in page  # the map of the cells it reaches
    assert (sites["cost"] >= 1000).all()
    assert sites["cost"].sum() <= 5000
    r = runner.invoke(app, ["plan", "--profile", "agro_food", "--resolution", "5", "--reach", "180",
                            "--sites", "2", "--site-level", "cluster", "--out", str(tmp_path / "k.csv")])
    assert r.exit_code == 0, r.output
    assert "2 sites reach" in r.output or "1 sites reach" in r.output
    r = runner.invoke(app, ["plan", "--profile", "agro_food", "--resolution", "5", "--sites", "2",
                            "--cost", str(tmp_path / "c.csv"), "--cost-base", "1",
                            "--out", str(tmp_path / "y.gpkg")])
    assert r.exit_code == 1
    assert "not both" in r.output


def _check_and_score(region: list[str], scen: Path, out: Path) -> tuple[str, str]:
    """Run `scenario check` and `score --scenario` and return their outputs (both must succeed)."""
    checked = runner.invoke(app, ["scenario", "check", *region, str(scen)])
    assert checked.exit_code == 0, checked.output
    scored = runner.invoke(app, ["score", *region, "--scenario", str(scen), "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    return checked.output, scored.output


def test_score_and_rank_with_a_scenario(own_region_file, tmp_path):
    import pandas as pd
    import yaml

    profiles = own_region_file.parent / "profiles"
    doc = yaml.safe_load((profiles / "family_towns.yaml").read_text(encoding="utf-8"))
    doc["layers"].append({"id": "height", "weight": 1, "rationale": "test"})
    (profiles / "family_towns.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    region = ["--region", str(own_region_file)]
    scen = tmp_path / "heights.yaml"
    r = runner.invoke(app, ["scenario", "new", *region, "--profile", "family_towns",
                            "--title", "Alturas", "--out", str(scen)])
    assert r.exit_code == 0, r.output
    text = scen.read_text(encoding="utf-8")
    assert "id: alturas" in text
    scen.write_text(text.replace("town_people: 1.0", "town_people: 0.0") + "thresholds: "
                    "{engine: 0.9}\n", encoding="utf-8")
    checked, scored = _check_and_score(region, scen, tmp_path / "s.geojson")
    assert re.search(r"weight height +1\.000", checked)
    assert "thresholds engine 0.900" in checked
    assert "scenario 'alturas' of profile 'family_towns'" in scored
    meta = json.loads((tmp_path / "s.geojson").read_text())["meta"]
    assert meta["settings"]["scenario"] == "alturas"
    assert meta["weights"] == {"town_people": 0.0, "height": 1.0}
    r = runner.invoke(app, ["score", *region, "--scenario", str(scen), "--out",
                            str(tmp_path / "s.parquet")])
    cells = pd.read_parquet(tmp_path / "s.parquet")
    assert cells["contrib_town_people"].abs().max() == 0  # weight 0 in the scenario
    assert (cells["contrib_height"] - cells["score"]).abs().max() < 1e-12
    r = runner.invoke(app, ["score", *region, "--profile", "family_towns", "--out",
                            str(tmp_path / "p.parquet")])
    assert r.exit_code == 0, r.output
    assert pd.read_parquet(tmp_path / "p.parquet")["contrib_town_people"].abs().max() > 0
    r = runner.invoke(app, ["rank", *region, "--scenario", str(scen), "--out",
                            str(tmp_path / "r.csv")])
    assert r.exit_code == 0, r.output
    ranked = pd.read_csv(tmp_path / "r.csv").set_index("code")
    best = cells.groupby("unit_code")["score"].max()  # the scenario's scores, not the profile's
    assert ranked["max"].sort_index().to_numpy() == pytest.approx(best.sort_index().to_numpy())


@pytest.mark.hostile
@pytest.mark.parametrize(("text", "message"), [
    ("id: x\nprofile: family_towns\nweights: {nowhere: 1}\n", r"weighs layers \['nowhere'\]"),
    ("id: x\nprofile: family_towns\nweights: {height: -2}\n", "weights must be ≥ 0"),
    ("a: &x 1\nb: *x\n", "YAML anchor"),
    ("id: x\nprofile: nope\n", "no profile 'nope'"),
    ("id: x\nprofile: inclusion\nweights: {height: 1}\n", "inclusion score has no weights"),
])
def test_a_bad_scenario_ends_in_one_line(own_region_file, tmp_path, text, message):
    scen = tmp_path / "bad.yaml"
    scen.write_text(text, encoding="utf-8")
    r = runner.invoke(app, ["score", "--region", str(own_region_file), "--scenario", str(scen),
                            "--out", str(tmp_path / "s.csv")])
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.output
    assert re.search(message, lines[0]), r.output


@pytest.mark.parametrize("command", ["score", "rank"])
def test_score_or_rank_without_a_profile_or_scenario_says_what_to_give(tmp_path, command):
    r = runner.invoke(app, [command, "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 1
    assert "give --profile (or a --scenario that names one)" in r.output


CUSTOM_SCENARIO = {
    "id": "mixed", "title": "Height and markets", "profile": "custom",
    "weights": {"height": 3, "market_count": 1},
    "constraints": [{"layer": "poverty", "op": ">=", "value": 40, "rationale": "Poor units only."}],
    "custom": {"id": "custom", "title": {"es": "Propio", "en": "Own"}, "description": "Mine.",
               "aggregation": {"method": "wgm"},
               "layers": [{"id": "height", "weight": 1, "rationale": "r"},
                          {"id": "market_count", "weight": 1, "rationale": "r"}]},
}


def test_score_rank_and_plan_with_a_custom_profile_scenario(own_region_file, tmp_path):
    import numpy as np
    import pandas as pd
    import yaml

    region = ["--region", str(own_region_file)]
    scen = tmp_path / "mixed.yaml"
    scen.write_text(yaml.safe_dump(CUSTOM_SCENARIO), encoding="utf-8")
    checked, scored = _check_and_score(region, scen, tmp_path / "s.parquet")
    assert "profile custom (wgm)" in checked
    assert re.search(r"weight height +0\.750", checked)
    assert "constraint poverty >= 40" in checked
    assert "scenario 'mixed' of profile 'custom'" in scored
    cells = pd.read_parquet(tmp_path / "s.parquet")
    poor = cells["unit_code"].isin(["N2", "S1"])  # the units of 45 % and 60 % poverty
    assert 0 < poor.sum() < len(cells)
    assert cells.loc[~poor, "score"].isna().all()  # the scenario's constraint excludes them
    assert cells.loc[poor, "score"].notna().all()
    # a weighted geometric mean, not the linear combination of the same weights
    assert not np.allclose(cells.loc[poor, "score"], cells.loc[poor, ["contrib_height",
                                                                      "contrib_market_count"]].sum(axis=1))
    r = runner.invoke(app, ["rank", *region, "--scenario", str(scen), "--out",
                            str(tmp_path / "r.csv")])
    assert r.exit_code == 0, r.output
    ranked = pd.read_csv(tmp_path / "r.csv").set_index("code")
    best = cells.groupby("unit_code")["score"].max()
    assert ranked["max"].sort_index().to_numpy() == pytest.approx(best.sort_index().to_numpy(),
                                                                  nan_ok=True)
    r = runner.invoke(app, ["plan", *region, "--scenario", str(scen), "--sites", "1",
                            "--speed-kmh", "40", "--reach", "60", "--niche-min", "0",
                            "--demand-column", "town_people",
                            "--out", str(tmp_path / "p.csv"), "--brief", str(tmp_path / "p.html"),
                            "--lang", "en"])
    assert r.exit_code == 0, r.output
    plan = pd.read_csv(tmp_path / "p.csv")
    site = plan[plan["role"] == "site"]
    assert len(site) == 1
    chosen = cells.set_index("h3").loc[site["h3"].iloc[0], "unit_code"]
    assert chosen in {"N2", "S1"}  # only cells the scenario scores can be sites
    assert "Own" in (tmp_path / "p.html").read_text(encoding="utf-8")


@pytest.mark.hostile
@pytest.mark.parametrize(("change", "message"), [
    ({"custom": {**CUSTOM_SCENARIO["custom"],
                 "layers": [{"id": "nowhere", "weight": 1, "rationale": "r"}]},
      "weights": {}}, r"scenario 'mixed': profile 'custom' names layers that the region does not have: "
                  r"layers\.0\.id = 'nowhere'"),
    ({"custom": {**CUSTOM_SCENARIO["custom"],
                 "layers": [{"id": "../../etc/passwd", "weight": 1, "rationale": "r"}]}},
     r"`custom` names layers by id"),
    ({"custom": {**CUSTOM_SCENARIO["custom"], "id": "engine"}}, r"`custom` defines the profile"),
    ({"custom": {**CUSTOM_SCENARIO["custom"], "source": "/etc/passwd"}},
     r"key `custom.source`: Extra inputs are not permitted"),
    ({"custom": {**CUSTOM_SCENARIO["custom"], "aggregation": {"method": "eval"}}},
     r"key `custom.aggregation.method`"),
    ({"custom": None, "weights": {}}, "neither carries it"),
    ({"constraints": [{"layer": "nowhere", "op": "<", "value": 1, "rationale": "r"}]},
     r"constraints\.0\.layer = 'nowhere'"),
    ({"weights": {"poverty": 1}}, r"weighs layers \['poverty'\] that profile 'custom' lacks"),
])
def test_a_bad_custom_scenario_ends_in_one_line(own_region_file, tmp_path, change, message):
    import yaml

    scen = tmp_path / "bad.yaml"
    scen.write_text(yaml.safe_dump({**CUSTOM_SCENARIO, **change}), encoding="utf-8")
    for command in (["score", "--out", str(tmp_path / "s.csv")], ["scenario", "check"]):
        args = [*command, "--region", str(own_region_file)]
        r = runner.invoke(app, [*args, "--scenario", str(scen)] if command[0] == "score"
                          else [*args, str(scen)])
        assert r.exit_code == 1
        lines = [line for line in r.output.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, r.output
        assert re.search(message, lines[0]), r.output
