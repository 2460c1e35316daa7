import pandas as pd
import pytest

from curation.common.context import BuildContext
from curation.peru import admin, social


def _ubigeo():
    return pd.DataFrame(
        {
            "inei": ["010101", "160801", "160802", "160804", "160803", None],
            "pct_pobreza_total": [10.0, 40.0, 20.0, 60.0, 42.0, None],
            "pct_pobreza_extrema": [1.0, 4.0, 2.0, 6.0, 4.2, None],
            "idh_2019": [0.6, 0.4, 0.5, 0.3, 0.3, None],
            "indice_vulnerabilidad_alimentaria": [0.2, 0.4, 0.6, 0.8, 0.7, None],
            "pob_densidad_2020": [100.0, 1.0, 1.0, 3.0, 0.5, None],
            "altitude": [2000.0, 131.0, 132.0, 94.0, 185.0, None],
            "superficie": [10.0, 100.0, 100.0, 100.0, 10.0, None],
        }
    )


def test_population_is_density_times_area():
    table, missing = social.district_indicators(_ubigeo(), pd.Series(["010101"]))
    assert table.loc[0, "population_2020"] == pytest.approx(1000.0)
    assert missing == []


def test_successors_combine_population_weighted():
    table, _ = social.district_indicators(_ubigeo(), pd.Series(["160109", "160114"]))
    row = table.set_index("district_code").loc["160109"]
    # populations 100, 100, 300: poverty = (40*100 + 20*100 + 60*300) / 500
    assert row["population_2020"] == pytest.approx(500.0)
    assert row["poverty_2018_pct"] == pytest.approx(48.0)
    assert row["capital_altitude_m"] == 131.0
    assert row["values_from"] == "160801+160802+160804"
    assert table.set_index("district_code").loc["160114", "poverty_2018_pct"] == 42.0


def test_unknown_codes_stay_missing():
    table, missing = social.district_indicators(_ubigeo(), pd.Series(["999999"]))
    assert missing == ["999999"]
    assert table["poverty_2018_pct"].isna().all()


def test_real_social_tables(raw_dir, tmp_path):
    ctx = BuildContext(src=raw_dir, out=tmp_path)
    admin.build(ctx)
    out = {d.id: d for d in social.build(ctx)}
    ind = pd.read_parquet(tmp_path / "peru" / "district_indicators.parquet")
    assert len(ind) == 1834
    assert set(ind["district_code"]) == set(ctx.frames["districts"]["district_code"])
    assert ind["poverty_2018_pct"].between(0, 100).all()
    assert ind["hdi_2019"].between(0, 1).all()
    # density x area sums to about 34.0 million (INEI's national 2020 estimate is 32.6 million)
    assert 3.2e7 < ind["population_2020"].sum() < 3.5e7
    pop = pd.read_parquet(tmp_path / "peru" / "population.parquet")
    assert pop["district_code"].str.len().eq(6).all()
    assert pop.loc[pop["on_2007_map"], "dni_holders_2022q4"].notna().all()
    assert out["population"].report["dni_holders_total"] == 35_063_104
    assert out["populated_centres"].report["centres"] == 94_922
    assert out["populated_centres"].report["urban"] == 3_747
    pred = pd.read_parquet(tmp_path / "peru" / "province_predictors.parquet")
    assert pred["province_code"].str.len().eq(4).all()
    assert pred["night_lights_2013"].notna().all()
