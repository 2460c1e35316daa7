import geopandas as gpd
import pandas as pd
import pytest

from curation.peru.energy import dedupe_plants


def _plants(names, fuels, xs, ys):
    return gpd.GeoDataFrame({"name": names, "fuel": fuels,
                             "source_id": [f"id{n}" for n in names]},
                            geometry=gpd.points_from_xy(xs, ys), crs="EPSG:4326")


def test_same_fuel_nearby_plants_merge_once():
    wri = _plants(["Kallpa", "Ilo 1", "Ilo 2"], ["gas", "coal", "gas"],
                  [-76.7295, -71.1896, -71.1859], [-12.4976, -17.7762, -17.7780])
    other = _plants(["Chilca Kallpa", "CT Ilo-I", "Far"], ["gas", "gas", "hydro"],
                    [-76.7290, -71.1896, -75.0], [-12.4980, -17.7762, -10.0])
    out = dedupe_plants(wri, other)
    assert out["name"].tolist() == ["Kallpa", "Ilo 1", "Ilo 2", "Far"]
    assert out["also_in"].tolist()[:3] == ["idChilca Kallpa", pd.NA, "idCT Ilo-I"]


@pytest.mark.needs_shared
@pytest.mark.slow
def test_real_energy_rebuild_reproduces_committed_files(step_reproduces, data_dir):
    step_reproduces("energy")
    plants = gpd.read_parquet(data_dir / "peru" / "power_plants.parquet")
    assert plants["district_code"].notna().all()
    assert plants.loc[plants["name"] == "Kallpa", "district_code"].item() == "150505"  # Chilca


def test_a_name_match_wins_over_a_nearer_plant_of_the_same_fuel():
    # WRI's Panamericana (20 MW) lies 1.2 km from the CDM's Moquegua FV (16 MW) and 1.3 km from
    # the CDM's Panamericana Solar 20 TS: by distance alone it merged with Moquegua FV and the
    # second Panamericana row stayed as a separate plant.
    wri = _plants(["Panamericana"], ["solar"], [-71.030441], [-17.544016])
    other = _plants(["MOQUEGUA FV: 16 MW Solar Photovoltaic Power Plant",
                     "PANAMERICANA SOLAR 20 TS: 20 MW Solar Photovoltaic Power Plant"],
                    ["solar", "solar"], [-71.027, -71.0419], [-17.5545, -17.5489])
    out = dedupe_plants(wri, other)
    assert out["name"].tolist() == ["Panamericana",
                                    "MOQUEGUA FV: 16 MW Solar Photovoltaic Power Plant"]
    assert out["also_in"].iloc[0] == "idPANAMERICANA SOLAR 20 TS: 20 MW Solar Photovoltaic Power Plant"


def test_a_shared_first_word_is_not_a_name_match():
    # WRI's Chilca 1 and Kallpa share a site with GEODB's "Chilca Kallpa" and "ChilcaUno CCGT":
    # Kallpa is inside "Chilca Kallpa"; Chilca 1 is not (its "1" is missing), so it takes the other
    wri = _plants(["Kallpa", "Chilca 1"], ["gas", "gas"], [-76.72953, -76.7292],
                  [-12.497598, -12.497])
    other = _plants(["Chilca Kallpa Gas Power Plant Peru", "ChilcaUno CCGT Power Plant Peru"],
                    ["gas", "gas"], [-76.729, -76.729], [-12.498, -12.5026])
    out = dedupe_plants(wri, other)
    assert out["also_in"].tolist() == ["idChilca Kallpa Gas Power Plant Peru",
                                       "idChilcaUno CCGT Power Plant Peru"]
