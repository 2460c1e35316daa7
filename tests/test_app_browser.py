"""The app in a real browser: streamlit serves it, headless Chromium opens it and clicks a hexagon."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import system_tool

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    system_tool("chromium", "chromium")
    pytest.importorskip("playwright")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "GEO_ENGINE_CACHE": str(tmp_path_factory.mktemp("cache"))}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def test_map_draws_hexagons_and_a_click_opens_the_card(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "app.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        start = time.time()
        page.goto(server)
        frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']").first
        hexes = frame.locator("path.leaflet-interactive")
        hexes.first.wait_for(timeout=240_000)
        first_map = time.time() - start
        assert hexes.count() > 1000  # Peru at a display resolution of ~4,700 hexagons
        assert page.locator(".ge-legend").count() >= 1
        box = page.locator("iframe[title='streamlit_folium.st_folium']").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55)
        page.get_by_text("Ficha de la celda").first.wait_for(timeout=120_000)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 50_000
    print(f"first map in {first_map:.1f} s (cold cache); screenshot: {shot}")


def _launch(p):
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"])


def _hexagons(page):
    frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']").first
    return frame.locator("path.leaflet-interactive")


def _choose(page, label: str, option: str) -> None:
    page.locator(f"div[data-testid='stSelectbox']:has(label:has-text('{label}'))").first.click()
    page.get_by_role("option", name=option, exact=True).first.click()


def _idle(page) -> None:
    time.sleep(1.5)  # let the rerun start before waiting for it to end
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=240_000)


@pytest.mark.skipif(not (ROOT / "layers" / "brazil" / "region.yaml").is_file(),
                    reason="layers/brazil not curated here")
def test_switching_to_brazil_redraws_the_map_and_says_what_is_missing(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(server)
        _hexagons(page).first.wait_for(timeout=240_000)
        _choose(page, "Idioma", "English")
        _idle(page)
        _choose(page, "Region", "Brazil (states)")
        _idle(page)
        page.get_by_text("This region has no need profile").first.wait_for(timeout=240_000)
        _hexagons(page).first.wait_for(timeout=240_000)
        assert _hexagons(page).count() > 1000
        # no inclusion without need: the engine profile is shown first
        assert page.get_by_role("combobox", name="Profile").input_value() == "Engines of growth"
        assert page.locator("[data-testid='stException']").count() == 0
        browser.close()


def test_uploading_files_builds_a_region(server, tmp_path):
    from playwright.sync_api import sync_playwright
    from test_uploads import PROFILES, region_files

    for name, data in {**region_files(tmp_path), **PROFILES}.items():
        (tmp_path / name).write_bytes(data)
    # a unit name that would run script if it were ever inserted as HTML
    hostile = '<img src=x onerror="window.__pwned=1;alert(1)">Norte<script>window.__pwned=2</script>'
    units_file = tmp_path / "altiplano units.geojson"
    units_file.write_text(units_file.read_text(encoding="utf-8").replace("Norte 1", hostile.replace(
        '"', '\\"')), encoding="utf-8")
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server)
        _hexagons(page).first.wait_for(timeout=240_000)
        _choose(page, "Idioma", "English")
        _idle(page)
        page.get_by_text("Your own region").click()
        uploads = page.locator("section[data-testid='stSidebar'] input[type='file']")
        for index, names in enumerate((["altiplano units.geojson"], ["towns.geojson", "height.tif"],
                                       ["layers.yaml"], list(PROFILES))):
            uploads.nth(index).set_input_files([str(tmp_path / n) for n in names])
            _idle(page)
        page.get_by_role("button", name="Build the region").click()
        _idle(page)
        page.get_by_text("This region has no need profile").first.wait_for(timeout=240_000)
        assert (page.get_by_role("combobox", name="Region").input_value()
                == "altiplano-units (uploaded)")
        _hexagons(page).first.wait_for(timeout=240_000)
        assert 50 < _hexagons(page).count() < 1000  # the 2×2 units at resolution 6, not Peru
        assert page.locator("[data-testid='stException']").count() == 0
        # hover hexagons of the hostile unit (tooltips), open its card: the name stays text
        hexes = _hexagons(page)
        for i in range(0, hexes.count(), 7):
            hexes.nth(i).hover(force=True)
        box = page.get_by_label("Find a place: district, province, department, “lat, lon” or H3 cell")
        box.fill("-16.85, -65.85")
        box.press("Enter")
        _idle(page)
        page.get_by_text("Card of cell").first.wait_for(timeout=60_000)
        page.mouse.wheel(0, 600)
        time.sleep(1)
        frame = page.frame(name=None, url=lambda u: "st_folium" in u or "component" in u)
        assert dialogs == []
        assert page.evaluate("() => window.__pwned") is None
        if frame is not None:
            assert frame.evaluate("() => window.__pwned") is None
        browser.close()
