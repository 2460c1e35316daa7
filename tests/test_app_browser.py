"""The app in a real browser: streamlit serves it, headless Chromium opens it and clicks a hexagon."""

from __future__ import annotations

import os
import re
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


def _pick(page, label: re.Pattern[str], option: str) -> None:
    """Choose an option of the select box labelled ``label`` (opened by its box; tried again
    when a rerun redraws it while open)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        page.get_by_role("combobox", name=label).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=15_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            _idle(page)


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


def _upload(page, server: str, folder: Path) -> None:
    """Open the app in English and upload a small region of one's own from ``folder`` (not built)."""
    from test_uploads import PROFILES

    page.goto(server)
    _hexagons(page).first.wait_for(timeout=240_000)
    _choose(page, "Idioma", "English")
    _idle(page)
    page.get_by_text("Your own region").click()
    uploads = page.locator("section[data-testid='stSidebar'] input[type='file']")
    for index, names in enumerate((["altiplano units.geojson"], ["towns.geojson", "height.tif"],
                                   ["layers.yaml"], list(PROFILES))):
        uploads.nth(index).set_input_files([str(folder / n) for n in names])
        _idle(page)


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
        _upload(page, server, tmp_path)
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


def test_an_uploaded_region_with_a_parent_level_is_ranked_by_it(server, tmp_path):
    import io

    import pandas as pd
    from playwright.sync_api import sync_playwright
    from test_uploads import PROFILES, region_files

    for name, data in {**region_files(tmp_path), **PROFILES}.items():
        (tmp_path / name).write_bytes(data)
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
        _upload(page, server, tmp_path)
        # the optional parent level: each unit's zone (N or S), two units a zone
        _pick(page, re.compile("parent unit's code"), "ZONE")
        _idle(page)
        page.get_by_role("button", name="Build the region").click()
        _idle(page)
        _hexagons(page).first.wait_for(timeout=240_000)
        assert (page.get_by_role("combobox", name="Region").input_value()
                == "altiplano-units (uploaded)")
        page.get_by_role("tab", name="Rankings").click()
        _idle(page)
        levels = page.locator("div[data-testid='stSelectbox']:has(label:has-text('Level'))").first
        levels.click()
        options = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        assert len(options) == 3, options  # clusters, the units and their zones
        assert options[1:] == ["Unit", "Parent unit"], options  # not Peru's district and province
        _choose(page, "Level", options[-1])
        _idle(page)
        ranked = pd.read_csv(io.BytesIO(_download(page, "Download CSV")))
        assert sorted(ranked["code"].astype(str)) == ["N", "S"]  # one row a zone
        assert ranked["cells"].sum() > 50  # every cell of the four units, in two zones
        assert page.locator("[data-testid='stException']").count() == 0
        browser.close()


# ---------------------------------------------------------------- a planner's tasks, in Spanish

def _open(p, server, *, query: str = "", width: int = 1400, height: int = 1200):
    browser = _launch(p)
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    page.goto(f"{server}/{query}")
    _hexagons(page).first.wait_for(timeout=240_000)
    _idle(page)
    return browser, page


def _map_frame(page):
    return next(f for f in page.frames if "st_folium" in f.url)


def _fills(page) -> list[str]:
    return _map_frame(page).evaluate(
        "() => Array.from(document.querySelectorAll('path.leaflet-interactive'))"
        ".map(p => p.getAttribute('fill'))")


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    _idle(page)


def _download(page, label: str) -> bytes:
    with page.expect_download(timeout=240_000) as info:
        page.get_by_role("button", name=label).first.click()
    return Path(info.value.path()).read_bytes()


def _card_names(page) -> str:
    """The line of unit names under the card's title (district · province · department)."""
    page.get_by_role("heading", name=re.compile("Ficha de la celda")).first.wait_for(
        timeout=120_000)
    text = page.locator("[data-testid='stMain']").inner_text()
    after = text[text.index("Ficha de la celda"):]
    return next(line for line in after.splitlines() if line.count(" · ") == 2)


def test_the_map_credits_only_what_it_draws_offline_with_names_over_the_hexagons(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server)
        frame = _map_frame(page)
        # no internet here: the tiles fail, so they and their credit are dropped
        frame.wait_for_function("() => !document.querySelector('.leaflet-tile-pane img')"
                                " || !document.body.innerText.includes('OpenStreetMap')",
                                timeout=30_000)
        credit = frame.locator(".leaflet-control-attribution").inner_text()
        assert "OpenStreetMap" not in credit
        assert "INEI via MINAM" in credit
        assert frame.locator(".ge-label.ge-unit").count() >= 20  # departments named
        # no two names shown cover each other: the smaller unit's name is hidden
        boxes = frame.evaluate(
            "() => Array.from(document.querySelectorAll('.ge-unit span'))"
            ".filter(s => s.style.visibility !== 'hidden')"
            ".map(s => { const r = s.getBoundingClientRect();"
            " return [r.left, r.top, r.right, r.bottom]; })")
        assert len(boxes) >= 12, boxes
        assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[:i]
                    if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
        assert frame.locator(".ge-label.ge-capital").count() >= 25
        names = frame.evaluate("() => getComputedStyle(document.querySelector('.ge-label'))"
                               ".pointerEvents")
        assert names == "none"  # clicks go through the names to the hexagons
        land = frame.evaluate("() => document.querySelector('.leaflet-ge-land-pane path') !== null")
        assert land
        browser.close()


def test_a_weight_slider_recolours_the_map(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food")
        before = _fills(page)
        # mark the polygons drawn: a recolouring keeps them, a redraw would make new ones
        _map_frame(page).evaluate(
            "() => document.querySelectorAll('path.leaflet-interactive')"
            ".forEach(p => { p.dataset.drawn = 'first'; })")
        slider = page.locator("section[data-testid='stSidebar'] [data-testid='stSlider']",
                              has_text="Superficie agrícola 2018").get_by_role("slider")
        slider.focus(timeout=120_000)
        page.keyboard.press("End")  # weight 1 → 5
        _idle(page)
        page.wait_for_function(
            "before => { const f = Array.from(document.querySelectorAll('iframe'))"
            ".find(i => i.title === 'streamlit_folium.st_folium');"
            " const now = Array.from(f.contentDocument.querySelectorAll('path.leaflet-interactive'))"
            ".map(p => p.getAttribute('fill'));"
            " return now.length === before.length && now.some((c, i) => c !== before[i]); }",
            arg=before, timeout=120_000)
        after = _fills(page)
        changed = sum(a != b for a, b in zip(before, after, strict=True)) / len(before)
        assert changed > 0.05, changed
        kept = _map_frame(page).evaluate(
            "() => Array.from(document.querySelectorAll('path.leaflet-interactive'))"
            ".filter(p => p.dataset.drawn === 'first').length")
        assert kept == len(before)  # the same polygons, recoloured
        # colours and tooltips only: the outlines of ~4,700 hexagons (~0.6 MB) are not sent again
        sent = _map_frame(page).evaluate(
            "() => { const s = window.__GLOBAL_DATA__.last_feature_group;"
            " return [s.length, /geCells\\(map_div, [^\\n]*, null\\);/.test(s)]; }")
        assert sent[1], sent
        assert sent[0] < 500_000, sent
        # a tab away and back draws the map anew: it asks for the outlines it no longer has
        _tab(page, "Rankings")
        _tab(page, "Mapa")
        _hexagons(page).nth(1000).wait_for(state="attached", timeout=120_000)
        assert page.locator("[data-testid='stException']").count() == 0
        browser.close()


def _plain(text: str) -> str:
    """Text without accents and case (the map and the card may write a name differently)."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c)).casefold()


def test_zooming_in_draws_finer_cells_and_the_tooltip_is_the_card(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food")
        country = _hexagons(page).count()
        note = page.get_by_text(re.compile(r"hexágonos de resolución \d")).first
        assert "resolución 5" in note.inner_text()
        frame = _map_frame(page)
        # zoom in on Cusco, as the + button or the wheel would
        frame.evaluate("() => window.map.setView([-13.52, -71.97], 10)")
        note = page.get_by_text(re.compile(r"hexágonos de resolución 7")).first
        note.wait_for(timeout=120_000)
        _idle(page)
        page.wait_for_function(
            "() => { const f = Array.from(document.querySelectorAll('iframe'))"
            ".find(i => i.title === 'streamlit_folium.st_folium');"
            " return f.contentWindow.map.geCells.spec.fields.length > 0"
            " && f.contentDocument.querySelectorAll('path.leaflet-interactive').length > 0; }",
            timeout=120_000)
        fine = _hexagons(page).count()
        assert 0 < fine <= 30_000
        assert fine != country
        # the hexagons drawn are the grid's cells around the view, not the country's
        bounds = frame.evaluate("() => window.map.geCells.group.getBounds().toBBoxString()")
        west, south, east, north = map(float, bounds.split(","))
        assert -73.5 < west < east < -70.5
        assert -15.0 < south < north < -12.0
        # hover and click the middle of the hexagon in the middle of the map (a point on an
        # edge may fall to either side): the tooltip's hexagon is the card's cell
        box = page.locator("iframe[title='streamlit_folium.st_folium']").first.bounding_box()
        point = frame.evaluate(
            "() => { const s = window.map.getSize(), c = window.map.geCells;"
            " const el = document.elementFromPoint(s.x / 2, s.y / 2);"
            " const hit = c.layers.find(l => l._path === el);"
            " return window.map.latLngToContainerPoint(hit.getCenter()); }")
        x, y = box["x"] + point["x"], box["y"] + point["y"]
        page.mouse.move(x, y)
        tip = frame.locator(".leaflet-tooltip:not(.ge-label)").first
        tip.wait_for(timeout=30_000)
        tooltip = tip.inner_text()
        page.mouse.click(x, y)
        _idle(page)
        names = _card_names(page)
        district = names.split(" · ")[0]
        assert _plain(district) in _plain(tooltip), (district, tooltip)
        assert "Celdas promediadas" not in tooltip  # one cell, not a mean
        population = re.search(r"Población\s+([\d.]+)", tooltip).group(1)
        assert f"Población: {population}" in page.locator("[data-testid='stMain']").inner_text()
        assert page.locator("[data-testid='stException']").count() == 0
        browser.close()


def test_a_place_name_opens_its_card_and_focuses_its_department(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server)
        box = page.get_by_label(re.compile("Buscar un lugar"))
        box.fill("urubamba")  # case and accents ignored
        box.press("Enter")
        _idle(page)
        page.get_by_text("Encontrado: Urubamba").first.wait_for(timeout=120_000)
        # the province of Urubamba: its most populous cell's card
        assert _card_names(page).endswith(" · Urubamba · Cusco")
        assert page.get_by_role("combobox", name="Enfocar un departamento").input_value() == "Cusco"
        assert "cell=" in page.url
        assert "dep=08" in page.url
        browser.close()


def test_focus_filters_the_tables_and_downloads(server):
    import io

    import pandas as pd
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food")
        # typed: the list of 25 departments is drawn a few at a time
        page.locator("div[data-testid='stSelectbox']:has(label:has-text('Enfocar un departamento'))"
                     ).first.click()
        page.keyboard.type("Cusco")
        page.get_by_role("option", name="Cusco", exact=True).first.click()
        _idle(page)
        page.get_by_text("En foco:").first.wait_for(timeout=120_000)
        _tab(page, "Rankings")
        _choose(page, "Nivel", "Provincia")
        _idle(page)
        ranked = pd.read_csv(io.BytesIO(_download(page, "Descargar CSV")))
        assert len(ranked) == 13  # Cusco's provinces, not the country's 195
        assert set(ranked["department"]) == {"Cusco"}
        _tab(page, "Comparar escenarios")
        compared = pd.read_csv(io.BytesIO(_download(page, "Descargar la comparación")))
        assert set(compared["department"].dropna()) == {"Cusco"}
        assert {"score_a", "score_b", "typology_a", "typology_b"} <= set(compared.columns)
        assert page.locator("[data-testid='stException']").count() == 0
        browser.close()


def test_the_pdf_brief_downloaded_from_the_card_holds_a_map_image(server):
    import io

    from playwright.sync_api import sync_playwright

    pypdf = pytest.importorskip("pypdf")
    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food&cell=878e6e4d2ffffff")
        page.get_by_role("heading", name=re.compile("Ficha de la celda")).first.wait_for(
            timeout=120_000)
        data = _download(page, "Ficha de la unidad (PDF, A4)")
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        assert len(reader.pages) == 1
        images = reader.pages[0].images
        assert len(images) == 1
        assert images[0].image.size[0] >= 800
        assert "Yauca del Rosario" in reader.pages[0].extract_text()
        browser.close()


# Streamlit's own hidden texts (a skip link, icon ligatures) are not the app's words
_STREAMLIT_TEXT = re.compile(r"Skip to main content|keyboard_arrow_\w+|keyboard_double_arrow_\w+"
                             r"|arrow_\w+|expand_\w+|chevron_\w+")
_ENGLISH = re.compile(r"\b(the|of|and|with|by|score|rank|population|cells?|mean|change|layer|"
                      r"weights?|district|province|department|share|top|poor|best|to|from|"
                      r"minutes|download|here|none|unit|evidence|count)\b", re.IGNORECASE)
_CODE_NAME = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


def _english_and_code_names(page, tab: str) -> list[tuple[str, str, str]]:
    """The English words and code names in the text of the open tab."""
    text = _STREAMLIT_TEXT.sub(" ", page.locator("[data-testid='stAppViewContainer']").inner_text())
    assert "Plataforma de Oportunidades Territoriales" in text, tab  # the page was read
    assert len(text.splitlines()) > 20, tab
    bad = []
    for line in text.splitlines():
        bad += [(tab, m.group(0), line) for m in _ENGLISH.finditer(line)]
        bad += [(tab, m.group(0), line) for m in _CODE_NAME.finditer(line)]
    return bad


def test_every_tab_in_spanish_has_no_english_or_code_names(server):
    from playwright.sync_api import sync_playwright

    bad = []
    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food&cell=878e6e4d2ffffff")
        page.get_by_role("heading", name=re.compile("Ficha de la celda")).first.wait_for(
            timeout=120_000)
        # chart axes and bar labels (SVG drawn by Vega) write numbers the Spanish way
        page.locator("[data-testid='stVegaLiteChart'] svg text").first.wait_for(timeout=60_000)
        numbers = [x for x in page.locator("[data-testid='stVegaLiteChart'] svg text").evaluate_all(
            "ts => ts.map(t => t.textContent)") if re.fullmatch(r"[\d.,]+", x)]
        assert any("," in x for x in numbers), numbers
        assert all(re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d+)?", x) for x in numbers), numbers
        for tab in ("Mapa", "Rankings", "Comparar escenarios", "Sensibilidad", "Plan",
                    "Datos y método"):
            _tab(page, tab)
            bad += _english_and_code_names(page, tab)
        # the niche evidence levels and their reasons are read too (the card and this tab)
        assert page.get_by_text("Evidencia de nicho: dónde existe la familia").count() == 1
        browser.close()
        # a gated profile: the card says what opens the gate, the data tab lists gate and hubs
        browser, page = _open(p, server, query="?profile=engine&cell=878e6e4d2ffffff")
        page.get_by_text(re.compile("Compuerta de recurso (abierta|cerrada)")).first.wait_for(
            timeout=120_000)
        bad += _english_and_code_names(page, "Mapa (engine)")
        _tab(page, "Datos y método")
        assert page.get_by_text("Sitios motor reales, para el vínculo").count() == 1
        bad += _english_and_code_names(page, "Datos y método (engine)")
        browser.close()
    assert bad == [], "\n".join(map(str, bad))


@pytest.mark.parametrize(("width", "height"), [(1400, 1000), (390, 844)])
def test_screenshots_desktop_and_phone(server, tmp_path, width, height):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food&cell=878e6e4d2ffffff",
                              width=width, height=height)
        page.get_by_role("heading", name=re.compile("Ficha de la celda")).first.wait_for(
            timeout=120_000)
        time.sleep(3)
        shot = tmp_path / f"app-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        # nothing wider than the window: no sideways scrolling on a phone
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, overflow
        map_box = page.locator("iframe[title='streamlit_folium.st_folium']").first.bounding_box()
        assert map_box["width"] <= width
        browser.close()
    assert shot.stat().st_size > 30_000
    print(f"screenshot: {shot}")


def test_a_scenario_saved_edited_and_loaded_back_moves_the_sliders_and_the_link(server, tmp_path):
    import yaml
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page = _open(p, server, query="?profile=agro_food")
        _tab(page, "Pesos y escenarios")
        page.get_by_label("Nombre del escenario").fill("Fruta en el sur")
        page.keyboard.press("Enter")
        _idle(page)
        saved = yaml.safe_load(_download(page, "Guardar esta vista como escenario (YAML)"))
        assert saved["id"] == "fruta_en_el_sur"
        assert saved["profile"] == "agro_food"
        assert saved["weights"]["crop_value_fruit"] == 1.0
        saved["weights"]["crop_value_fruit"] = 4.5
        saved["thresholds"] = {"engine": 0.8, "inclusion": 0.7}
        edited = tmp_path / "fruta.yaml"
        edited.write_text(yaml.safe_dump(saved), encoding="utf-8")
        uploader = page.get_by_test_id("stFileUploader").filter(has_text="Cargar un escenario")
        uploader.locator("input[type=file]").set_input_files(str(edited))
        _idle(page)
        page.get_by_role("button", name="Aplicar el escenario").click()
        _idle(page)
        page.get_by_text("Escenario «Fruta en el sur» aplicado.").wait_for(timeout=60_000)
        assert "crop_value_fruit%3A4.5" in page.url or "crop_value_fruit:4.5" in page.url
        assert "thresholds=0.8" in page.url
        again = yaml.safe_load(_download(page, "Guardar esta vista como escenario (YAML)"))
        assert again["weights"]["crop_value_fruit"] == 4.5
        assert again["thresholds"] == {"engine": 0.8, "inclusion": 0.7}
        bad = tmp_path / "bad.yaml"
        bad.write_text("id: x\nprofile: agro_food\nweights: {crop_value_fruit: -1}\n")
        uploader.locator("input[type=file]").set_input_files(str(bad))
        _idle(page)
        page.get_by_role("button", name="Aplicar el escenario").click()
        _idle(page)
        # said in the page's language, naming the file and the fix
        page.get_by_text(re.compile("El escenario no se pudo leer: bad.yaml: «weights» nombra "
                                    "capas .*cada peso va de 0 a 1e6")).first.wait_for(
            timeout=60_000)
        page.screenshot(path=str(tmp_path / "scenario.png"), full_page=True)
        browser.close()
