import re
from pathlib import Path

import pytest

from geo_engine.i18n import LANGUAGES, MESSAGES, t

ROOT = Path(__file__).resolve().parents[1]


def test_every_message_in_every_language():
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        fields = {lang: set(re.findall(r"{(\w+)", text)) for lang, text in texts.items()}
        assert fields["es"] == fields["en"], key


def test_format_and_unknown_key():
    assert t("stable_core", "en", n=1200, pop=3.5e4) == "Stable core: 1,200 cells, 35,000 people"
    assert t("district", "fr") == "District"  # falls back to English
    with pytest.raises(KeyError, match="no message 'nope'"):
        t("nope", "es")


def test_app_uses_only_catalogued_keys():
    used = set(re.findall(r"""\bt\(\s*f?["']([a-z_{}]+)["']""", (ROOT / "app.py").read_text()))
    static = {k for k in used if "{" not in k}
    assert static <= set(MESSAGES), static - set(MESSAGES)


def test_numbers_are_written_the_language_s_way():
    from geo_engine.i18n import number, numbers

    assert number(1234.5, "es", decimals=1) == "1.234,5"
    assert number(1234.5, "en", decimals=1) == "1,234.5"
    assert number(97704.1936, "es") == "97.704"
    assert number(float("nan"), "en") == "—"
    assert number("x", "en") == "—"
    assert numbers([0.5, None], "es", decimals=2, missing="sin datos") == ["0,50", "sin datos"]


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("decimals", [0, 1, 3])
def test_numbers_of_many_values_match_number_one_by_one(lang, decimals):
    import numpy as np
    import pandas as pd

    from geo_engine.i18n import number, numbers

    rng = np.random.default_rng(7)
    values = rng.normal(0, 1, 300) * 10.0 ** rng.integers(-3, 8, 300)
    values[::11] = np.nan
    values[5] = np.inf
    expected = [number(v, lang, decimals=decimals) for v in values]
    expected = ["x" if e == "—" else e for e in expected]
    assert numbers(values, lang, decimals=decimals, missing="x") == expected
    assert numbers(pd.Series(values), lang, decimals=decimals, missing="x") == expected
    assert numbers(iter(values.tolist()), lang, decimals=decimals, missing="x") == expected
    assert numbers(["12.5", "n/a", None], lang, decimals=decimals, missing="x") == [
        number(12.5, lang, decimals=decimals), "x", "x"]
    assert numbers([], lang) == []


@pytest.mark.parametrize("region", ["peru", "brazil", "latam"])
def test_every_shipped_layer_unit_is_written_in_spanish(region):
    from geo_engine.i18n import UNITS, unit
    from geo_engine.ingest.specs import load_layers
    from geo_engine.regions.region import load_region

    symbols = {"ha", "km", "m", "MW"}  # written alike in both languages
    units = {s.units for s in load_layers(load_region(region).layers)}
    assert sorted(units - set(UNITS) - symbols) == []
    assert all(unit(u, "es") != u for u in units - symbols)
