from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def test_app_runs_and_lists_sources(tmp_path, monkeypatch):
    monkeypatch.setattr("geo_engine.settings.cache_dir", tmp_path)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert "Peru" in at.title[0].value
    assert len(at.dataframe) == 1
    sources = at.dataframe[0].value
    assert "MPL-2.0" in set(sources["Licence"])
    assert any("poverty" in c.value.lower() for c in at.caption)
