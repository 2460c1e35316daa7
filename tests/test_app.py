"""The Streamlit app under Streamlit's AppTest (no browser)."""

import json
import os
import re
import time
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_uploads import PROFILES, region_files

from geo_engine.regions.region import load_region, shipped_regions
from geo_engine.regions.uploads import MAX_UPLOAD_BYTES, build_region, save_uploads

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _app(cache, monkeypatch, resolution=5):
    monkeypatch.setattr("geo_engine.settings.cache_dir", cache)
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.session_state["resolution"] = resolution
    return at.run()


def test_server_config_hides_error_details_and_developer_menu():
    from streamlit import config

    text = (APP.parent / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    conf = tomllib.loads(text)
    assert conf["client"] == {"showErrorDetails": "none", "toolbarMode": "viewer"}
    assert conf["server"]["enableStaticServing"] is True
    assert conf["server"]["maxUploadSize"] * 2**20 == MAX_UPLOAD_BYTES
    assert conf["browser"]["gatherUsageStats"] is False
    # the installed Streamlit knows these keys and values
    assert "none" in {o.value for o in config.ShowErrorDetailsConfigOptions}
    assert {"client.showErrorDetails", "client.toolbarMode"} <= set(config.get_config_options())
    assert '"viewer"' in config.get_config_options()["client.toolbarMode"].description


def test_app_runs_in_spanish_by_default(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    assert not at.exception
    assert at.title[0].value == "Plataforma de Oportunidades Territoriales"
    assert at.selectbox(key="profile").value == "inclusion"


def test_language_switch_changes_labels(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Territorial Opportunity Platform"
    assert at.selectbox(key="output").label == "Show on the map"


def test_moving_a_weight_changes_the_scores(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    before = at.dataframe[0].value.iloc[:, 3].tolist()
    assert at.dataframe[0].value.columns[3] == "Mejor puntaje"  # engine.yaml ranks by `max`
    at.slider(key="w_engine_operating_mines").set_value(5.0).run()
    assert not at.exception
    after = at.dataframe[0].value.iloc[:, 3].tolist()
    assert before != after


def test_selecting_a_cell_shows_its_card(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("nature_heritage_tourism").run()
    at.text_input(key="find_cell").input("-13.52, -71.97").run()  # Cusco
    assert not at.exception
    assert any(s.value.startswith("Ficha de la celda") for s in at.subheader)
    assert any("Cusco" in m.value for m in at.markdown)
    assert len(at.dataframe) >= 2  # top districts and the card's layer values
    buttons = at.get("download_button")
    labels = [b.proto.label for b in buttons]
    assert "Ficha de la unidad (HTML imprimible)" in labels
    assert "Ficha de la unidad (PDF, A4)" in labels


def test_other_tabs_run(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    for tab in ("rankings", "compare", "sensitivity", "data"):
        at.session_state["tab"] = {"rankings": "Rankings", "compare": "Comparar escenarios",
                                   "sensitivity": "Sensibilidad", "data": "Datos y método"}[tab]
        at.run()
        assert not at.exception, tab
    at.session_state["tab"] = "Comparar escenarios"
    at.run()
    at.radio(key="compare_by").set_value("typology").run()
    assert not at.exception


def test_custom_profile_and_probability_output(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("custom").run()
    assert not at.exception
    assert at.slider(key="w_custom_poverty_2018").value == 1.0
    at.multiselect(key="custom_layers").set_value(["hdi_2019", "travel_port"]).run()
    assert not at.exception
    at.slider(key="w_custom_travel_port").set_value(3.0).run()
    assert not at.exception
    at.session_state["tab"] = "Sensibilidad"
    at.run()
    at.number_input(key="draws").set_value(50).run()
    at.button(key="run_sens").click().run()
    assert not at.exception
    at.session_state["tab"] = "Mapa"
    at.run()
    labels = at.selectbox(key="output").options
    assert "P(decil superior)" in labels


# ---------------------------------------------------------------- other regions


def _own(tmp_path, *, profiles=True, files=None, parent=None) -> str:
    folder = save_uploads(files or region_files(tmp_path), tmp_path / "uploads",
                          profiles=PROFILES if profiles else None)
    region = build_region(folder, region_id="altiplano", boundary="altiplano units.geojson",
                          code_column="CODE", name_column="NAME", layers="layers.yaml",
                          resolution=6, parent_column=parent)
    return str(region.file)


def _own_app(cache, monkeypatch, region: str, **state):
    monkeypatch.setattr("geo_engine.settings.cache_dir", cache)
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.session_state["lang"] = "en"
    at.session_state["user_regions"] = {region: "altiplano"}
    at.session_state["region"] = region
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _hexagons(at) -> int:
    """Return how many hexagons the map component was given."""
    maps = [e for e in at.main if getattr(e, "type", "") == "component_instance"]
    assert maps, "no map drawn"
    script = json.loads(maps[0].proto.json_args)["feature_group"]
    # the cell layer's call: geCells(map, spec, cols, rings); one fill colour per hexagon
    decode = json.JSONDecoder().raw_decode
    count = 0
    for m in re.finditer(r"geCells\(\w+, (?=\{)", script):
        _spec, end = decode(script, m.end())
        cols, _ = decode(script, end + 2)
        count += len(cols["fill"])
    return count


def test_rankings_name_an_uploaded_regions_levels_in_the_users_language(cache, monkeypatch,
                                                                       tmp_path):
    region = _own(tmp_path, parent="ZONE")
    at = _own_app(cache, monkeypatch, region, tab="Rankings")
    assert not at.exception
    assert at.selectbox(key="rank_level").options == ["Cluster", "Unit", "Parent unit"]
    at.session_state["tab"] = "Rankings"
    at.selectbox(key="lang").set_value("es").run()
    assert at.selectbox(key="rank_level").options[1:] == ["Unidad", "Unidad mayor"]


def test_own_region_without_need_profile(cache, monkeypatch, tmp_path):
    region = _own(tmp_path)
    at = _own_app(cache, monkeypatch, region)
    assert not at.exception
    assert at.selectbox(key="region").value == region
    assert at.selectbox(key="region").options[-1] == "altiplano (uploaded)"
    assert at.selectbox(key="resolution").value == 6
    assert at.selectbox(key="resolution").options[0].startswith("6 (≈ 36 km²")
    profile = at.selectbox(key="profile")
    assert profile.value == "engine"  # inclusion needs a need profile
    assert "Inclusion" not in profile.options
    assert any("no need profile" in i.value for i in at.info)
    outputs = at.selectbox(key="output").options
    assert "Engine of growth" in outputs
    assert not {"Inclusion", "Need", "Typology", "Linkage to engines"} & set(outputs)
    assert _hexagons(at) > 50
    top = at.dataframe[0].value
    assert list(top.columns) == ["Unit", "Score"]  # no population layer: no population column
    assert set(top["Unit"]) == {"Norte 1", "Norte 2", "Sur 1", "Sur 2"}
    assert "q_engine" not in at.session_state  # no typology: no typology thresholds
    at.text_input(key="find_cell").input("-16.85, -65.85").run()
    assert not at.exception
    assert any(s.value.startswith("Card of cell") for s in at.subheader)
    assert "**Population:** —" in [m.value for m in at.markdown]
    assert [m.label for m in at.metric] == ["Score", "Engine of growth", "Market access"]
    for tab in ("Rankings", "Compare scenarios", "Sensitivity", "Weights & scenarios",
                "Data & method"):
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception, tab
    files = next(d.value for d in at.dataframe if "sha256" in d.value)
    assert {"layers.yaml", "height.tif", "profiles/engine.yaml"} <= set(files["File"])
    assert files["sha256"].str.len().eq(64).all()


def test_own_region_without_profiles_starts_on_a_custom_profile(cache, monkeypatch, tmp_path):
    region = _own(tmp_path, profiles=False)
    at = _own_app(cache, monkeypatch, region)
    assert not at.exception
    assert at.selectbox(key="profile").options == ["Custom profile"]
    assert at.multiselect(key="custom_layers").value == ["town_people", "distance_town", "height"]
    assert any("has no profiles" in i.value for i in at.info)
    assert _hexagons(at) > 50
    at.slider(key="w_custom_height").set_value(4.0).run()
    assert not at.exception
    at.toggle(key="show_clusters").set_value(True).run()
    assert not at.exception


def test_a_region_that_does_not_load_keeps_the_previous_one(cache, monkeypatch, tmp_path):
    files = region_files(tmp_path)
    del files["height.tif"]  # the layers YAML names it: the build fails
    broken = _own(tmp_path, files=files)
    at = _app(cache, monkeypatch)
    at.session_state["user_regions"] = {broken: "altiplano"}  # as the build button does
    at.run()
    at.session_state["region"] = broken
    at.run()
    assert not at.exception
    assert at.selectbox(key="region").value == "peru"
    errors = [e.value for e in at.sidebar.error]
    assert any("could not be loaded" in e or "No se pudo cargar" in e for e in errors), errors
    assert any(r"height\.tif" in e for e in errors)  # the file name, escaped for Markdown
    assert broken not in at.session_state["user_regions"]  # it never loaded: not offered again


@pytest.mark.hostile
def test_uploads_beyond_the_session_budget_are_refused_and_old_ones_swept(cache, monkeypatch,
                                                                          tmp_path):
    old = cache / "uploads" / "0123456789abcdef"
    old.mkdir(parents=True)
    os.utime(old, (time.time() - 25 * 3600,) * 2)
    monkeypatch.setattr("geo_engine.settings.max_upload_bytes_per_session", 2**20)
    boundary = region_files(tmp_path)["altiplano units.geojson"]
    at = _app(cache, monkeypatch)
    assert not old.exists()  # older than upload_max_age_hours: removed when the session started
    at.file_uploader(key="up_boundary").upload("units.geojson", boundary).run()
    assert not at.exception
    assert at.selectbox(key="up_code").options  # within the budget: read
    at.file_uploader(key="up_data").upload("big.tif", bytes(2**20)).run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert any("allowed per session (setting max_upload_bytes_per_session)" in e.replace("\\", "")
               for e in errors)  # shown escaped for Markdown
    assert not list((cache / "uploads").glob("*/big.tif"))


@pytest.mark.skipif("brazil" not in shipped_regions(), reason="layers/brazil not curated here")
def test_switching_to_brazil(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    at.selectbox(key="lang").set_value("en").run()
    at.selectbox(key="region").set_value("brazil").run()
    assert not at.exception
    assert at.selectbox(key="region").options[:2] == ["Peru (districts)", "Brazil (states)"]
    assert [o.split(" ")[0] for o in at.selectbox(key="resolution").options] == ["5", "4", "3"]
    at.selectbox(key="resolution").set_value(3).run()
    assert not at.exception
    assert any("no need profile" in i.value for i in at.info)
    assert at.selectbox(key="profile").value == "engine"
    whole = _hexagons(at)
    assert whole > 100
    assert at.selectbox(key="focus_unit").options[0] == "Whole region"
    units = load_region("brazil").units()
    code = units.loc[units["unit"] == "Minas Gerais", "unit_code"].iloc[0]
    at.selectbox(key="focus_unit").set_value(code).run()
    assert not at.exception
    assert 0 < _hexagons(at) < whole
    at.selectbox(key="region").set_value("peru").run()
    assert at.selectbox(key="resolution").value == 5  # 3 is not one of Peru's: the nearest
    assert not at.exception
    assert at.selectbox(key="profile").value == "inclusion"


def test_a_cell_in_a_cluster_offers_the_cluster_brief(cache, monkeypatch, tmp_path):
    import warnings

    from geo_engine._errors import GeoEngineWarning
    from geo_engine.explore import scenario, scenario_clusters
    from geo_engine.pipeline import run

    region = _own(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        r = run(region=region)
        found = scenario_clusters(r, scenario(r, profile_id="engine"))
    members = found.cells["cluster_id"].notna().to_numpy()
    assert members.any(), "the test region should have a significant engine cluster"
    lat, lon = r.matrix.loc[members, ["lat", "lon"]].iloc[0]
    at = _own_app(cache, monkeypatch, region, profile="engine", show_clusters=True)
    at.text_input(key="find_cell").input(f"{lat:.6f}, {lon:.6f}").run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Cluster brief (printable HTML)" in labels
    assert "Cluster brief (PDF, A4)" in labels
    assert "Unit brief (PDF, A4)" in labels


@pytest.mark.hostile
def test_a_unit_name_with_markdown_shows_as_text(cache, monkeypatch, tmp_path):
    from geo_engine.reporting.maps import escape_markdown

    hostile = "Norte ![x](http://evil.example/x.png) [click](javascript:alert(1)) **1**"
    files = region_files(tmp_path)
    files["altiplano units.geojson"] = files["altiplano units.geojson"].replace(
        b'"Norte 1"', json.dumps(hostile).encode())
    at = _own_app(cache, monkeypatch, _own(tmp_path, files=files))
    at.text_input(key="find_cell").input("-16.85, -65.85").run()  # a cell of that unit
    assert not at.exception
    shown = [m.value for m in at.markdown if "Norte" in m.value]
    assert shown == [escape_markdown(hostile)]
    assert "](" not in shown[0]
    assert "**" not in shown[0]


def test_no_bare_strings_that_streamlit_would_draw():
    """Streamlit's "magic" writes any bare expression of app.py on the page: only the docstring may be one."""
    import ast

    tree = ast.parse((Path(__file__).resolve().parents[1] / "app.py").read_text(encoding="utf-8"))
    bare = [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)]
    docstrings = {tree.body[0].lineno} | {
        f.body[0].lineno for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.ClassDef) and f.body and isinstance(f.body[0], ast.Expr)}
    assert [line for line in bare if line not in docstrings] == []


def test_plan_tab_solves_and_traces_the_front(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.sidebar.selectbox(key="profile").set_value("agro_food").run()
    at.session_state["tab"] = "Plan"
    at.run()
    assert not at.exception
    at.number_input(key="plan_sites").set_value(3)
    at.button(key="plan_run").click().run()
    assert not at.exception
    assert any("Óptimo" in m.value for m in at.markdown)
    at.button(key="plan_front").click().run()
    assert not at.exception
    assert at.selectbox(key="plan_pick").options[0]


def test_focus_filters_the_tables_and_lives_in_the_url(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    at.selectbox(key="dep").set_value("08").run()  # Cusco
    assert not at.exception
    assert any("Cusco \\(departamento\\)" in i.value for i in at.info)
    assert set(at.dataframe[0].value["Departamento"]) == {"Cusco"}
    at.selectbox(key="prov").set_value("0813").run()  # Urubamba
    assert set(at.dataframe[0].value["Provincia"]) == {"Urubamba"}
    assert at.query_params["dep"] == "08"
    assert at.query_params["prov"] == "0813"
    assert at.query_params["profile"] == "engine"
    at.session_state["tab"] = "Rankings"
    at.run()
    at.selectbox(key="rank_level").set_value("unit").run()
    assert set(at.dataframe[0].value["Provincia"]) == {"Urubamba"}


def test_a_shared_link_restores_the_view(cache, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.cache_dir", cache)
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.session_state["resolution"] = 5
    for key, value in {"lang": "en", "profile": "engine", "dep": "08", "show": "typology",
                       "cell": "-13.52,-71.97"}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert at.selectbox(key="lang").value == "en"
    assert at.selectbox(key="profile").value == "engine"
    assert at.selectbox(key="dep").value == "08"
    assert at.selectbox(key="output").value.key == "typology"
    assert any(s.value.startswith("Card of cell") for s in at.subheader)


def test_a_place_name_opens_its_card_and_focus(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.text_input(key="find_cell").input("urubamba").run()
    assert not at.exception
    assert at.selectbox(key="dep").value == "08"
    assert at.selectbox(key="prov").value == "0813"
    assert any(s.value.startswith("Ficha de la celda") for s in at.subheader)
    assert any("Urubamba" in m.value for m in at.success)
    at.text_input(key="find_cell").input("xyzzy").run()
    assert any("No se encontró" in w.value for w in at.warning)


ENGLISH = re.compile(r"\b(the|of|and|score|rank|population|cells?|mean|change|layer|weight|"
                     r"district|province|department|share|top|poor|best|to|from)\b", re.IGNORECASE)
CODE_NAME = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


def _visible_headers(at) -> list[str]:
    """Table headers, subheaders, captions, bold labels and widget labels of the page."""
    texts = [str(c) for d in at.dataframe for c in d.value.columns]
    assert not [c for c in texts if re.fullmatch(r"[a-z0-9_]+", c)], texts  # no column codes
    texts += [e.value for e in (*at.subheader, *at.caption)]
    texts += [w.label for w in (*at.selectbox, *at.slider, *at.checkbox, *at.toggle, *at.radio)]
    texts += [m for x in at.markdown for m in re.findall(r"\*\*([^*]+)\*\*", x.value)]
    return texts


def test_every_tab_in_spanish_has_no_english_or_code_names(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    at.toggle(key="show_clusters").set_value(True).run()
    at.text_input(key="find_cell").input("Urubamba").run()
    bad = []
    for tab in ("Mapa", "Rankings", "Comparar escenarios", "Sensibilidad", "Pesos y escenarios",
                "Datos y método"):
        at.session_state["tab"] = tab
        at.run()
        assert not at.exception, tab
        if tab == "Rankings":
            for level in ("cluster", "unit", "parent", "grandparent"):
                at.selectbox(key="rank_level").set_value(level).run()
                bad += [(tab, level, x) for x in _visible_headers(at)
                        if CODE_NAME.match(x) or ENGLISH.search(x)]
        if tab == "Sensibilidad":
            at.number_input(key="draws").set_value(50).run()
            at.button(key="run_sens").click().run()
        bad += [(tab, x) for x in _visible_headers(at) if CODE_NAME.match(x) or ENGLISH.search(x)]
    assert bad == [], "\n".join(map(str, bad))


def test_rankings_sort_by_poor_people_with_labels_in_the_language(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("agro_food").run()
    at.session_state["tab"] = "Rankings"
    at.run()
    at.selectbox(key="rank_level").set_value("parent").run()
    # the profile's own statistic first (agro_food.yaml `ranking: max`), with its reason
    assert at.selectbox(key="rank_by_agro_food").value == "max"
    assert "mejor zona agrícola" in " ".join(c.value for c in at.caption)
    assert at.dataframe[0].value["Mejor puntaje"].is_monotonic_decreasing
    assert at.selectbox(key="rank_by_agro_food").options[0] == (
        "Población pobre en celdas del decil superior")
    at.selectbox(key="rank_by_agro_food").set_value("poor_population_top").run()
    table = at.dataframe[0].value
    assert table["Puesto"].tolist()[:3] == [1, 2, 3]
    assert table["Población pobre en celdas del decil superior"].is_monotonic_decreasing
    assert {"Provincia", "Departamento", "Población pobre", "Puntaje medio",
            "Mejor puntaje"} <= set(table.columns)


DECIDE = "Pesos y escenarios"


def _judge(at, profile, pairs):
    """Set AHP judgements of participant 0: {(i, j): "3"} for layers i < j of the profile."""
    for (i, j), value in pairs.items():
        at.select_slider(key=f"_ahp_{profile}_0_{i}_{j}").set_value(value)
    return at.run()


def test_ahp_form_feeds_the_weight_sliders(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    before = at.dataframe[0].value.iloc[:, 3].tolist()
    at.session_state["tab"] = DECIDE
    at.run()
    assert not at.exception
    layers = [s.key.removeprefix("w_engine_") for s in at.sidebar.slider
              if s.key.startswith("w_engine_")]
    n = len(layers)
    assert len(at.select_slider) == n * (n - 1) // 2
    # the first layer 3 times as important as each other one, the rest equal: consistent
    at = _judge(at, "engine", {(0, j): "3" for j in range(1, n)})
    assert not at.exception
    table = at.dataframe[0].value
    first = float(table.iloc[0, 0].replace(",", "."))
    assert first == pytest.approx(3 / (3 + n - 1), abs=1e-3)
    assert any("RC de Participante 1: 0,000" in c.value for c in at.caption)
    at.button(key="ahp_use").click().run()
    assert not at.exception
    assert at.slider(key=f"w_engine_{layers[0]}").value == pytest.approx(5.0)
    assert [at.slider(key=f"w_engine_{x}").value for x in layers[1:]] == pytest.approx(
        [1.7] * (n - 1))
    assert any("Pesos AHP aplicados" in s.value for s in at.success)
    at.session_state["tab"] = "Mapa"
    at.run()
    assert at.dataframe[0].value.iloc[:, 3].tolist() != before


def test_ahp_inconsistent_judgements_are_refused_and_named(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    at.session_state["tab"] = DECIDE
    at.run()
    at = _judge(at, "engine", {(0, 1): "9", (1, 2): "9", (0, 2): "1/9"})
    assert at.button(key="ahp_use").disabled
    assert any("supera 0,1" in w.value and "frente a" in w.value for w in at.warning)
    assert any("no se aplican" in e.value for e in at.error)
    # a second participant: the group's weights and the spread between them
    at.text_input(key="ahp_new_name").input("ONG").run()
    at.button(key="ahp_add").click().run()
    assert not at.exception
    assert at.selectbox(key="ahp_who").value == 1
    columns = list(at.dataframe[0].value.columns)
    assert columns[:3] == ["Participante 1", "ONG", "Grupo"]
    assert {"Mínimo", "Máximo", "Desv. estándar", "Pesos actuales"} <= set(columns)
    assert at.select_slider(key="_ahp_engine_1_0_1").value == "1"  # the new one starts equal
    at.button(key="ahp_remove").click().run()
    assert at.dataframe[0].value.columns[0] == "Participante 1"


def _from_link(cache, monkeypatch, params: dict[str, str]) -> AppTest:
    """Return the app opened from a link holding ``params`` (run once, without an exception)."""
    monkeypatch.setattr("geo_engine.settings.cache_dir", cache)
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.session_state["resolution"] = 5
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def test_a_link_with_weights_reproduces_the_view(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    at.slider(key="w_engine_operating_mines").set_value(5.0).run()
    at.slider(key="w_engine_population_2020").set_value(0.0).run()
    at.checkbox(key="c_engine_0").uncheck().run()
    at.slider(key="q_engine").set_value(0.8).run()
    assert not at.exception
    params = {k: at.query_params[k] for k in at.query_params}
    assert "operating_mines:5" in params["weights"]
    assert "population_2020:0" in params["weights"]
    assert params["off"] == "protected_strict"
    assert params["thresholds"].startswith("0.8,")
    shown = at.dataframe[0].value

    again = _from_link(cache, monkeypatch, params)
    assert again.slider(key="w_engine_operating_mines").value == pytest.approx(5.0)
    assert again.slider(key="w_engine_population_2020").value == 0.0
    assert again.checkbox(key="c_engine_0").value is False
    assert again.slider(key="q_engine").value == pytest.approx(0.8)
    assert again.dataframe[0].value.equals(shown)


def test_a_bad_link_says_so_in_one_line_and_keeps_the_defaults(cache, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.cache_dir", cache)
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.session_state["resolution"] = 5
    at.query_params["profile"] = "engine"
    at.query_params["weights"] = "operating_mines:lots"
    at.run()
    assert not at.exception
    assert any("El enlace trae una vista" in w.value and "lots" in w.value
               and "no es capa:peso" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.slider(key="w_engine_operating_mines").value == pytest.approx(
        load_profiles_weight("engine", "operating_mines"))


def load_profiles_weight(profile, layer):
    from geo_engine.scoring.profiles import load_profiles

    return next(x.weight for x in load_profiles(load_region("peru").profiles)[profile].layers
                if x.id == layer)


def _card_score(at) -> str:
    """Return the score the selected cell's card shows ("—" when the cell has none)."""
    return next(m.value for m in at.metric if m.label == "Puntaje")


HIGHLANDS = ("id: lowlands\nprofile: engine\nconstraints:\n"
             "  - {layer: elevation_mean, op: '<', value: 2500, rationale: Below the highlands.}\n")


def test_an_uploaded_scenario_adding_a_constraint_excludes_its_cells(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("engine").run()
    at.text_input(key="find_cell").input("-13.52, -71.97").run()  # Cusco, 3,400 m
    assert _card_score(at) != "—"
    at.session_state["tab"] = DECIDE
    at.run()
    at.file_uploader(key="scen_upload").upload("lowlands.yaml", HIGHLANDS.encode()).run()
    at.button(key="scen_apply").click().run()
    assert not at.exception
    assert any("añade 1 restricciones" in w.value for w in at.warning)
    switch = at.checkbox(key="ca_engine_0")
    assert switch.value is True
    assert switch.label.endswith(r"\(del escenario\)")
    params = {k: at.query_params[k] for k in at.query_params}
    assert params["add"] == "elevation_mean<2500.0"
    at.session_state["tab"] = "Mapa"
    at.run()
    assert _card_score(at) == "—"  # above 2,500 m: excluded by the scenario's constraint
    shown = at.dataframe[0].value
    at.text_input(key="find_cell").input("-5.19, -80.63").run()  # Piura, on the coast
    assert _card_score(at) != "—"

    # the link reproduces the added constraint
    again = _from_link(cache, monkeypatch, params)
    assert again.checkbox(key="ca_engine_0").value is True
    assert again.dataframe[0].value.equals(shown)
    again.text_input(key="find_cell").input("-13.52, -71.97").run()
    assert _card_score(again) == "—"
    again.checkbox(key="ca_engine_0").uncheck().run()  # switched off: Cusco scores again
    assert _card_score(again) != "—"
    assert "add" not in again.query_params


def test_a_custom_profile_scenario_loads_and_its_link_reproduces_it(cache, monkeypatch):
    import yaml

    from geo_engine.planning.scenario import custom_profile

    doc = {"id": "mine", "profile": "custom", "weights": {"hdi_2019": 1, "travel_port": 3},
           "custom": {**custom_profile(["hdi_2019", "travel_port"], aggregation="wgm").model_dump(
               mode="json", exclude_defaults=True), "missing": "exclude"}}
    at = _app(cache, monkeypatch)
    at.session_state["tab"] = DECIDE
    at.run()
    at.file_uploader(key="scen_upload").upload("mine.yaml", yaml.safe_dump(doc).encode()).run()
    at.button(key="scen_apply").click().run()
    assert not at.exception
    assert at.selectbox(key="profile").value == "custom"
    assert at.selectbox(key="custom_agg").value == "wgm"
    assert at.multiselect(key="custom_layers").value == ["hdi_2019", "travel_port"]
    assert at.slider(key="w_custom_travel_port").value == 3.0
    assert any("define además missing" in w.value for w in at.warning)  # said, not applied
    params = {k: at.query_params[k] for k in at.query_params}
    assert params["agg"] == "wgm"
    at.session_state["tab"] = "Mapa"
    at.run()
    shown = at.dataframe[0].value

    again = _from_link(cache, monkeypatch, params)
    assert again.selectbox(key="custom_agg").value == "wgm"
    assert again.dataframe[0].value.equals(shown)


@pytest.mark.skipif("latam" not in shipped_regions(), reason="layers/latam not curated here")
def test_switching_to_latin_america(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="lang").set_value("en").run()
    at.selectbox(key="region").set_value("latam").run()
    assert not at.exception
    assert [o.split(" ")[0] for o in at.selectbox(key="resolution").options] == ["5", "4", "3"]
    at.selectbox(key="resolution").set_value(3).run()
    assert not at.exception
    assert any("no need profile" in i.value for i in at.info)
    assert _hexagons(at) > 1000  # 33 countries at about 12,400 km² a cell


@pytest.mark.parametrize(("data", "spanish", "english"), [
    (b"profile: engine\nweights: {operating_mines: 2}\n", "falta la clave obligatoria «id»",
     "is missing"),
    (b"id: x\nprofile: engine\nthresholds: {engine: 3}\n",
     "«thresholds.engine» = 3 debe ser un número (≤ 0.95)", "must be"),
    (b"id: x\nprofile: [engine\n", "malo.yaml, línea 3: no es YAML válido", "not valid YAML"),
])
def test_a_bad_scenario_upload_on_the_spanish_page_says_why_in_spanish(cache, monkeypatch, data,
                                                                      spanish, english):
    at = _app(cache, monkeypatch)
    at.session_state["tab"] = "Pesos y escenarios"
    at.run()
    at.file_uploader(key="scen_upload").upload("malo.yaml", data).run()
    at.button(key="scen_apply").click().run()
    assert not at.exception
    said = [w.value.replace("\\", "") for w in at.warning
            if "El escenario no se pudo leer" in w.value]
    assert len(said) == 1, [w.value for w in at.warning]
    assert spanish in said[0]
    assert english not in said[0]
    assert "\n" not in said[0]
