"""The Streamlit app under Streamlit's AppTest (no browser)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _app(cache, monkeypatch, resolution=5):
    monkeypatch.setattr("geo_engine.settings.cache_dir", cache)
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.session_state["resolution"] = resolution
    return at.run()


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
    at.slider(key="w_engine_large_mines").set_value(5.0).run()
    assert not at.exception
    after = at.dataframe[0].value.iloc[:, 3].tolist()
    assert before != after


def test_selecting_a_cell_shows_its_card(cache, monkeypatch):
    at = _app(cache, monkeypatch)
    at.selectbox(key="profile").set_value("nature_heritage_tourism").run()
    at.text_input(key="find_cell").input("-13.52, -71.97").run()  # Cusco
    assert not at.exception
    assert any(s.value.startswith("Ficha de la celda") for s in at.subheader)
    assert any("CUSCO" in m.value for m in at.markdown)
    assert len(at.dataframe) >= 2  # top districts and the card's layer values


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
