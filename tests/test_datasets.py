import geopandas as gpd
import pandas as pd
import pytest

from geo_engine.regions.datasets import (
    dataset_sources,
    display_districts,
    district_table,
    layer_provenance,
    read_dataset,
)


def test_read_dataset_returns_geodataframe_for_geoparquet(data_dir):
    assert isinstance(read_dataset("districts", data_dir=data_dir), gpd.GeoDataFrame)
    table = read_dataset("district_indicators", data_dir=data_dir)
    assert not isinstance(table, gpd.GeoDataFrame)
    assert isinstance(table, pd.DataFrame)


def test_district_table_is_one_row_per_district(data_dir):
    table = district_table(data_dir=data_dir)
    assert len(table) == 1834
    assert table["district_code"].is_unique
    assert table["poverty_2018_pct"].notna().all()
    assert table["dni_holders_2022q4"].notna().all()


def test_display_districts_is_cached_and_keeps_borders_shared(data_dir, tmp_path):
    first = display_districts(data_dir=data_dir, cache_dir=tmp_path)
    files = list((tmp_path / "display").glob("*.parquet"))
    assert len(files) == 1
    second = display_districts(data_dir=data_dir, cache_dir=tmp_path)
    assert len(first) == len(second) == 1826  # the 8 without polygon are not drawn
    assert first.crs.to_epsg() == 4326
    assert first.is_valid.all()
    full = read_dataset("districts", data_dir=data_dir)
    full = full[full.geometry.notna()]
    # simplification keeps the total area within 0.5 %
    ratio = first.to_crs("ESRI:102033").area.sum() / full.to_crs("ESRI:102033").area.sum()
    assert ratio == pytest.approx(1.0, abs=0.005)


def test_sources_are_listed_once(data_dir):
    rows = dataset_sources(["districts", "provinces", "district_indicators"], data_dir=data_dir)
    origins = [(r["origin"], r["origin_path"]) for r in rows]
    assert len(origins) == len(set(origins))
    assert any("peru-geojson" in r["origin"] for r in rows)


def test_layer_provenance_names_publisher_and_vintage_or_leaves_them_missing(data_dir):
    from geo_engine.ingest.specs import LayerSpec

    base = {"title": {"es": "x", "en": "x"}, "theme": "social", "kind": "points", "method": "count",
            "units": "n", "direction": "benefit"}
    specs = [LayerSpec(id="visits", source="peru/protected_area_visits.parquet",
                       dataset="protected_area_visits", **base),
             LayerSpec(id="mine", source="my_points.geojson", **base),
             LayerSpec(id="gone", source="x.parquet", dataset="no_such_dataset", **base)]
    table = layer_provenance(specs, data_dir=data_dir)
    assert table["id"].tolist() == ["visits", "mine", "gone"]
    assert "SERNANP" in table.loc[0, "publisher"]
    assert table.loc[0, "vintage"] == "Jan 2022–Nov 2023"
    assert table.loc[1, "publisher"] == "my_points.geojson"
    assert table.loc[1:, "vintage"].isna().all()
    assert table.loc[1:, "licence"].isna().all()
