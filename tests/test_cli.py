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
