import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from geo_engine._errors import MissingSourceError, SourceFormatError
from geo_engine.curate._common import (
    BuildContext,
    assign_district,
    clip_to_country,
    normalize_name,
    points_frame,
    require_columns,
)


@pytest.mark.parametrize(("raw", "folded"), [
    ("  San Martín de Porres ", "SAN MARTIN DE PORRES"),
    ("Ñuñoa-Alta", "NUNOA ALTA"),
    (None, ""),
    (float("nan"), ""),
    ("Cusco/Qosqo", "CUSCO QOSQO"),
])
def test_normalize_name(raw, folded):
    assert normalize_name(raw) == folded


def test_require_columns_names_file_and_columns():
    with pytest.raises(SourceFormatError, match=r"t\.csv: missing column\(s\) \['b'\]"):
        require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], file="t.csv")


def test_points_assign_and_clip():
    districts = gpd.GeoDataFrame({"district_code": ["000002", "000001"]},
                                 geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)], crs="EPSG:4326")
    pts = points_frame(pd.DataFrame({"longitude": [0.5, 1.0, 5.0, None],
                                     "latitude": [0.5, 0.5, 5.0, None]}))
    assert pts.crs.to_epsg() == 4326
    codes = assign_district(pts, districts)
    # a point on the shared border takes the lowest code; outside or missing -> <NA>
    assert codes.tolist()[:2] == ["000001", "000001"]
    assert codes.isna().tolist()[2:] == [True, True]
    country = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 1)], crs="EPSG:4326")
    lines = gpd.GeoDataFrame(geometry=[LineString([(-1, 0.5), (3, 0.5)]),
                                       LineString([(5, 5), (6, 6)])], crs="EPSG:4326")
    clipped = clip_to_country(lines, country)
    assert len(clipped) == 1
    assert clipped.geometry.iloc[0].bounds == (0.0, 0.5, 2.0, 0.5)


def test_context_source_and_writer(tmp_path):
    ctx = BuildContext(src=tmp_path, out=tmp_path / "out")
    with pytest.raises(MissingSourceError, match=r"ubigeo_distrito\.csv.*--from"):
        ctx.source("ubigeo_distrito")
    rel = ctx.write_table(pd.DataFrame({"a": [1, 2]}), "t.parquet")
    assert rel == "peru/t.parquet"
    assert pd.read_parquet(tmp_path / "out" / rel)["a"].tolist() == [1, 2]
    bad = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs="EPSG:3857")
    with pytest.raises(SourceFormatError, match="EPSG:4326"):
        ctx.write_table(bad, "g.parquet")
