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
