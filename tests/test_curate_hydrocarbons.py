import geopandas as gpd
import pandas as pd
import pytest
from pydantic import ValidationError

from curation.peru.hydrocarbons import (
    HydrocarbonFacts,
    district_values,
    load_hydrocarbon_facts,
    lot_values,
)
from geo_engine._errors import DataIntegrityError

_PAGE = {"title": "t", "publisher": "p", "year": 2025, "url": "https://example.org/a"}


def _facts(lots, sources=None):
    return HydrocarbonFacts.model_validate({
        "prices": {"source": "World Bank",
                   "oil_usd_per_bbl": {"series": "Crude oil", "years": {2015: 40.0, 2016: 60.0}},
                   "gas_usd_per_mmbtu": {"series": "Natural gas", "years": {2015: 3.0}},
                   "mmbtu_per_mmcf": 1000.0, "mmbtu_per_mmcf_source": "EIA"},
        "sources": sources if sources is not None else {"a": _PAGE},
        "lots": lots,
    })


def _lot(name, fluid, rate, districts):
    return {"lot": name, "fluid": fluid, "rate": rate, "period": "2025-09", "rate_source": "a",
            "districts": districts, "location_source": "a", "location_note": "n"}


_DISTRICTS = pd.DataFrame({"district_code": ["080902", "200701", "200704"],
                           "department": ["CUSCO", "PIURA", "PIURA"],
                           "province": ["LA CONVENCION", "TALARA", "TALARA"],
                           "district": ["ECHARATE", "PARIÑAS", "LOBITOS"]})


def test_a_lot_is_valued_at_the_mean_price_a_year():
    facts = _facts([_lot("95", "oil", 1000.0, [["CUSCO", "LA CONVENCION", "ECHARATE"]]),
                    _lot("88", "gas", 100.0, [["CUSCO", "LA CONVENCION", "ECHARATE"]])])
    values = lot_values(facts).set_index("lot")["value_usd_year"]
    assert values["95"] == pytest.approx(1000.0 * 365 * 50.0)  # mean of 40 and 60 USD/bbl
    assert values["88"] == pytest.approx(100.0 * 1000.0 * 365 * 3.0)  # MMcf → MMBtu → USD


def test_a_lot_over_two_districts_is_split_equally_and_districts_sum_their_lots():
    facts = _facts([_lot("VI", "oil", 2000.0, [["PIURA", "TALARA", "LOBITOS"],
                                               ["Piura", "Talara", "Pariñas"]]),
                    _lot("I", "oil", 500.0, [["PIURA", "TALARA", "PARINAS"]])])
    out = district_values(facts, _DISTRICTS).set_index("district_code")
    assert out.loc["200704", "oil_bbl_day"] == pytest.approx(1000.0)
    assert out.loc["200701", "oil_bbl_day"] == pytest.approx(1500.0)  # half of VI plus all of I
    assert out.loc["200701", "lots"] == "VI, I"
    assert out["value_usd_year"].sum() == pytest.approx(2500.0 * 365 * 50.0)
    assert "080902" not in out.index  # no lot, no row


def test_an_unknown_district_names_the_file_the_lot_and_the_fix():
    facts = _facts([_lot("X", "oil", 8340.0, [["PIURA", "TALARA", "EL ALTISIMO"]])])
    with pytest.raises(DataIntegrityError, match=r"hydrocarbons.yaml: lot 'X' names district"):
        district_values(facts, _DISTRICTS)


def test_every_lot_must_cite_a_listed_page():
    with pytest.raises(ValidationError, match="cites source 'a', which is not under 'sources'"):
        _facts([_lot("X", "oil", 1.0, [["PIURA", "TALARA", "LOBITOS"]])], sources={"b": _PAGE})


def test_the_shipped_lots_cite_pages_and_name_real_districts(data_dir):
    facts = load_hydrocarbon_facts()
    assert {lot.lot for lot in facts.lots} >= {"88", "56", "57", "95", "X"}
    assert all(page.url.startswith("https://") for page in facts.sources.values())
    districts = gpd.read_parquet(data_dir / "peru" / "districts.parquet")
    out = district_values(facts, districts).set_index("district_code")
    # Camisea (Echarate) carries the largest value; Lote 95 is Puinahua's, Lote X El Alto's
    assert out.index[0] == "080902"
    assert out.loc["080902", "value_usd_year"] > 1.0e9
    assert out.loc["160506", "lots"] == "95"
    assert out.loc["200702", "lots"] == "X"
    committed = pd.read_parquet(data_dir / "peru" / "hydrocarbon_production.parquet")
    pd.testing.assert_frame_equal(committed.reset_index(drop=True), out.reset_index(),
                                  check_dtype=False)
