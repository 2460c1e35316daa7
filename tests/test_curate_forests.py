import pandas as pd
import pytest

from curation.peru.forests import NAME_VARIANTS, match_district_names, parse_thousands
from geo_engine._errors import SourceFormatError


@pytest.mark.parametrize(("text", "value"), [
    ("2,403.72", 2403.72), ("0.54", 0.54), ("1,029,600.00", 1029600.0), ("833", 833.0),
    ("-1,234.5", -1234.5),
])
def test_parse_thousands(text, value):
    assert parse_thousands(pd.Series([text]), column="c", file="f").iloc[0] == value


def test_parse_thousands_keeps_blanks_missing():
    assert parse_thousands(pd.Series(["", None]), column="c", file="f").isna().all()


@pytest.mark.parametrize("bad", ["1,5", "12,34.5", "1.234,56", "abc"])
def test_parse_thousands_refuses_other_formats(bad):
    with pytest.raises(SourceFormatError, match=r"1,234\.56"):
        parse_thousands(pd.Series(["1.0", bad]), column="c", file="f.csv")


def _crosswalk():
    return pd.DataFrame({"inei": ["110301", "080907", "120604"],
                         "dep": ["ICA", "CUSCO", "JUNIN"],
                         "prov": ["NAZCA", "LA CONVENCION", "SATIPO"],
                         "dist": ["NAZCA", "QUIMBIRI", "MAZAMARI"]})


def test_names_match_with_accents_spaces_and_variants():
    rows = pd.DataFrame({"d": ["Ica", " CUSCO", "JUNÍN", "JUNIN"],
                         "p": ["NASCA", "La Convención", "SATIPO", "SATIPO"],
                         "x": ["Nasca", "KIMBIRI", " Mazamari ", "MAZAMARI PANGOA"]})
    codes = match_district_names(rows, ["d", "p", "x"], _crosswalk())
    assert codes.tolist()[:3] == ["110301", "080907", "120604"]
    assert pd.isna(codes.iloc[3])  # two districts at once: left unmatched
    assert NAME_VARIANTS["NASCA"] == "NAZCA"


@pytest.mark.needs_shared
@pytest.mark.slow
def test_real_forest_rebuild_reproduces_committed_files(step_reproduces, data_dir):
    step_reproduces("forests")
    cover = pd.read_parquet(data_dir / "peru" / "forest_cover_loss.parquet")
    assert len(cover) == 1834
    assert not cover.loc[~cover["geobosques_monitored"], "forest_2024_ha"].any()
    assert 6.0e7 < cover["forest_2024_ha"].sum() < 7.0e7  # Peru's humid Amazon forest ~ 67 Mha
