import subprocess
import sys

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


def test_missing_manifest_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "list", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no MANIFEST.yaml" in result.output


def test_layers_lists_shipped_specs():
    result = runner.invoke(app, ["layers"])
    assert result.exit_code == 0, result.output
    assert "poverty_2018" in result.output
    assert "distance_port" in result.output


def test_validate_good_and_bad(tmp_path, data_dir):
    from geo_engine.layers import default_layers_path

    good = default_layers_path("peru") / "social.yaml"
    result = runner.invoke(app, ["validate", str(good), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers:\n  - id: x\n    kind: volcano\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml: layer 'x': field `kind`" in result.output


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


def test_build_boundary_errors(tmp_path):
    _boundary(tmp_path)
    result = runner.invoke(app, ["build", "--boundary", str(tmp_path / "region.gpkg"),
                                 "--layers", str(tmp_path / "layers.yaml")])
    assert result.exit_code == 1
    assert "no column 'district_code'" in result.output
    assert "--code-column" in result.output
    result = runner.invoke(app, ["build", "--boundary", str(tmp_path / "region.gpkg")])
    assert "--boundary needs --layers" in result.output
