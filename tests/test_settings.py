import importlib
from pathlib import Path

import geo_engine.settings as settings


def test_defaults_and_environment(monkeypatch, tmp_path):
    assert settings.region_dir() == settings.data_dir / "peru"
    assert settings.region_dir("chile") == settings.data_dir / "chile"
    assert settings.urban_centre_weight > 0
    monkeypatch.setenv("GEO_ENGINE_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("GEO_ENGINE_CACHE", str(tmp_path / "c"))
    reloaded = importlib.reload(settings)
    try:
        assert reloaded.data_dir == Path(tmp_path / "d")
        assert reloaded.cache_dir == Path(tmp_path / "c")
    finally:
        monkeypatch.delenv("GEO_ENGINE_DATA")
        monkeypatch.delenv("GEO_ENGINE_CACHE")
        importlib.reload(settings)
