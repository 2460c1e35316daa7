import geopandas as gpd
import pandas as pd
import pytest

from curation.peru.attractions import AttractionFacts, load_attraction_facts, site_points
from geo_engine._errors import DataIntegrityError

_DISTRICTS = pd.DataFrame({"district_code": ["040501", "040503"],
                           "department": ["AREQUIPA", "AREQUIPA"],
                           "province": ["CAYLLOMA", "CAYLLOMA"],
                           "district": ["CHIVAY", "CABANACONDE"]})
_CAPITALS = pd.DataFrame({"inei": ["040501", "040503"], "longitude": [-71.60, -71.97],
                          "latitude": [-15.64, -15.62]})


def _facts(gateway, visits=1100, months=11):
    return AttractionFacts.model_validate({"sites": [{
        "name": "Colca", "body": "AUTOCOLCA", "visits": visits, "months": months,
        "period": "2023", "gateway": gateway, "note": "n",
        "source": {"title": "t", "publisher": "p", "year": 2023, "url": "https://example.org"}}]})


def test_visits_are_scaled_to_a_year_and_placed_at_the_gateway_capital():
    out = site_points(_facts(["Arequipa", "Caylloma", "Chivay"]), _DISTRICTS, _CAPITALS)
    assert out["visits_per_year"].tolist() == [1200]  # 1,100 in 11 months
    assert out["district_code"].tolist() == ["040501"]
    assert (out.geometry.x.iloc[0], out.geometry.y.iloc[0]) == (-71.60, -15.64)
    assert out.crs == "EPSG:4326"


def test_an_unknown_gateway_names_the_file_the_site_and_the_fix():
    with pytest.raises(DataIntegrityError, match=r"attractions.yaml: site 'Colca' names gateway"):
        site_points(_facts(["AREQUIPA", "CAYLLOMA", "YANQUE"]), _DISTRICTS, _CAPITALS)


def test_the_shipped_colca_count_is_the_committed_layer_source(data_dir):
    facts = load_attraction_facts()
    colca = next(s for s in facts.sites if "Colca" in s.name)
    assert (colca.visits, colca.months) == (186791, 11)
    assert colca.source.url.startswith("https://diariocorreo.pe/")
    committed = gpd.read_parquet(data_dir / "peru" / "attraction_visits.parquet")
    row = committed[committed["name"] == colca.name]
    assert row["visits_per_year"].item() == round(186791 / 11 * 12)
    assert row["district_code"].item() == "040501"  # Chivay, the valley's gateway
