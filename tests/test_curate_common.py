import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon, box

from curation.common import frames
from curation.common.context import BuildContext
from curation.common.frames import (
    assign_district,
    clip_to_country,
    normalize_name,
    points_frame,
    require_columns,
)
from geo_engine._errors import MissingSourceError, SourceFormatError


def _points(rows, **columns):
    frame = pd.DataFrame(rows, columns=["name", "longitude", "latitude"])
    for key, values in columns.items():
        frame[key] = values
    return points_frame(frame).drop(columns=["longitude", "latitude"])


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


def test_name_similarity():
    assert frames.name_similarity("Chincha Alta", "Chincha") == 1.0
    assert frames.name_similarity("Nasca", "Nazca") == pytest.approx(0.8)
    assert frames.name_similarity("Lima", "") == 0.0
    assert frames.name_similarity("Ica", "Ilo") < 0.8


def test_match_points_is_one_to_one_nearest_first():
    left = _points([("a", -77.0, -12.0), ("b", -77.0, -12.02)])
    right = _points([("c", -77.0, -12.01)])
    pairs = frames.match_points(left, right, near_km=5, name_km=0)
    # a and b are both about 1.1 km from c: only one of them gets it
    assert len(pairs) == 1
    assert pairs.loc[0, "right"] == 0
    assert pairs.loc[0, "rule"] == "distance"
    assert pairs.loc[0, "distance_km"] == pytest.approx(1.1, abs=0.05)


def test_match_points_empty_input():
    left = _points([("a", -77.0, -12.0)])
    pairs = frames.match_points(left, left.iloc[:0], near_km=5, name_km=5)
    assert pairs.empty
    assert list(pairs.columns) == ["left", "right", "distance_km", "rule"]


def test_nearest_district_within_limit_only():
    districts = gpd.GeoDataFrame(
        {"district_code": ["150101", "150102", "070105"]},
        geometry=[box(-77.0, -12.1, -76.9, -12.0), box(-76.9, -12.1, -76.8, -12.0), None],
        crs="EPSG:4326",
    )
    pts = _points([("in", -76.95, -12.05), ("coast", -77.01, -12.05), ("sea", -77.2, -12.05)])
    pts.index = [10, 11, 12]
    codes, dist = frames.nearest_district(pts, districts, max_km=5)
    assert codes.tolist() == ["150101", "150101", pd.NA]
    assert dist.loc[10] == 0.0
    assert 0.9 < dist.loc[11] < 1.3
    assert np.isnan(dist.loc[12])


def test_geodesic_length_of_one_degree_on_the_equator():
    lines = gpd.GeoSeries([LineString([(0, 0), (1, 0)]), None], crs="EPSG:4326")
    km = frames.geodesic_length_km(lines)
    assert km.iloc[0] == pytest.approx(111.32, abs=0.01)
    assert math.isnan(km.iloc[1])
    with pytest.raises(SourceFormatError, match="EPSG:4326"):
        frames.geodesic_length_km(lines.set_crs(3857, allow_override=True))


def test_repair_counts_and_fixes_a_bowtie():
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    series = gpd.GeoSeries([bowtie, box(0, 0, 1, 1), None], crs="EPSG:4326")
    fixed, n = frames.repair_geometries(series)
    assert n == 1
    assert fixed.iloc[0].is_valid
    assert fixed.iloc[0].geom_type in {"Polygon", "MultiPolygon"}
    assert fixed.iloc[2] is None
