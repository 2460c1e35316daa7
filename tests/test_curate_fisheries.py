import geopandas as gpd
import pandas as pd
import pytest

from curation.peru.places import port_functions


def test_port_functions_oil_first_then_fishing_then_cargo():
    ports = gpd.GeoDataFrame({"wpi_index": pd.array([1, 2, 3, 4, None], dtype="Int64")},
                             geometry=gpd.points_from_xy([-77.0, -77.0, -78.0, -79.0, -80.0],
                                                         [-12.0, -12.0, -9.0, -8.0, -7.0]),
                             crs="EPSG:4326")
    wpi = pd.DataFrame({"World Port Index Number": [1, 2, 3, 4],
                        "Main Port Name": ["Conchan Oil Terminal", "Callao", "Tanker Bay", "Port"],
                        "Cargo Pier Depth (m)": [0.0, 9.4, 0.0, 11.0],
                        "Oil Terminal Depth (m)": [17.1, 9.4, 14.0, 11.0]})
    sites = gpd.GeoDataFrame(geometry=gpd.points_from_xy([-77.0], [-12.01]), crs="EPSG:4326")
    function, km = port_functions(ports, wpi, sites)
    assert function.tolist() == ["oil_terminal", "fishing", "oil_terminal", "cargo", "cargo"]
    assert km.iloc[1] < 2


@pytest.mark.needs_shared
@pytest.mark.slow
def test_real_fisheries_rebuild_reproduces_committed_files(step_reproduces, data_dir):
    step_reproduces("fisheries")
    sites = gpd.read_parquet(data_dir / "peru" / "landing_sites.parquet")
    assert len(sites) == 77
    assert sites["district_code"].notna().all()
    ports = gpd.read_parquet(data_dir / "peru" / "ports.parquet")
    oil = set(ports.loc[ports["function"] == "oil_terminal", "name"])
    assert oil == {"Conchan Oil Terminal", "La Pampilla Oil Terminal"}
