"""Shared fixtures: the raw-data folder (optional) and the project's data folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from geo_engine._errors import GeoEngineWarning

# Property tests draw the same examples on every run, so that a result never depends on luck;
# `HYPOTHESIS_PROFILE=explore pytest` searches with fresh random examples instead.
hypothesis_settings.register_profile("repeatable", derandomize=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parents[1]


def _raw_dir() -> Path | None:
    candidates = [os.environ.get("GEO_ENGINE_RAW"), ROOT.parent / "shared" / "data"]
    for cand in candidates:
        if cand and (Path(cand) / "peru").is_dir():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """Raw public sources; tests that need them are skipped when they are not on this machine."""
    path = _raw_dir()
    if path is None:
        pytest.skip("raw sources not found (../shared/data or $GEO_ENGINE_RAW): rebuild tests skipped")
    return path


REQUIRE_TOOLS = os.environ.get("GEO_ENGINE_REQUIRE_TOOLS") == "1"
"""Set by .ci/run, which installs the system programs: there a missing one fails instead of skipping."""


def system_tool(name: str, package: str) -> str:
    """Return the path of a system program a test needs, or skip the test with the package to install.

    The quick start asks only for Python and make, so a test that calls GDAL's ``ogrinfo`` or a
    browser skips on a machine without them; continuous integration installs them and, with
    ``GEO_ENGINE_REQUIRE_TOOLS=1``, fails rather than skips when one is missing.
    """
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian package `{package}`)"
        if REQUIRE_TOOLS:
            pytest.fail(f"{reason}, but GEO_ENGINE_REQUIRE_TOOLS=1 says it must be")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The project's committed curated data."""
    return ROOT / "data"


@pytest.fixture(scope="session")
def peru(tmp_path_factory):
    """The shipped Peru data run end to end at resolution 5, with its own cache folder."""
    import geo_engine.settings as s
    from geo_engine.pipeline import run

    old = s.cache_dir
    s.cache_dir = tmp_path_factory.mktemp("cache")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeoEngineWarning)
            result = run(resolution=5)
    finally:
        s.cache_dir = old
    return result


@pytest.fixture
def sigkill_at():
    """Return ``run(script, *args, line=...)``: run a Python script, SIGKILL it once it prints ``line``."""
    def run(script: str, *args: str, line: str) -> None:
        child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == line
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    return run


def pytest_collection_modifyitems(config, items):
    """Give every hostile-input test a time limit, so that a hang fails instead of blocking the run."""
    for item in items:
        if item.get_closest_marker("hostile") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(60))


@pytest.fixture
def step_reproduces(raw_dir, data_dir, tmp_path):
    """Return a check that one rebuild step alone reproduces the committed files' checksums."""
    from curation import rebuild
    from geo_engine.io.manifest import load_manifest

    def check(step: str) -> None:
        target = tmp_path / "data"
        entries = rebuild(raw_dir, data_dir=target, steps=[step], log=lambda _: None)
        committed = {e["file"]: e for e in load_manifest(data_dir)["datasets"]}
        admin = ("districts.parquet", "provinces.parquet", "departments.parquet")
        built = [e for e in entries if not e["file"].endswith(admin)]
        assert built
        for entry in built:
            assert entry["file"] in committed, entry["file"]
            assert entry["sha256"] == committed[entry["file"]]["sha256"], entry["file"]
            assert entry["features"] == committed[entry["file"]]["features"], entry["file"]

    return check


@pytest.fixture
def listener():
    """A local HTTP server recording every request: hostile files point GDAL at it, and it must stay idle.

    Yields the server's base URL and the list of paths requested.
    """
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815  (the name http.server looks up)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()
