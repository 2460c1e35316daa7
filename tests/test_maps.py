import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo_engine.reporting.maps import NO_DATA_COLOUR, choropleth_map, escape_text_columns, use_local_assets


@pytest.fixture
def units():
    return gpd.GeoDataFrame(
        {"name": ["<script>alert(1)</script>", "Ok"], "value": [10.0, None]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )


def test_escape_text_columns_leaves_numbers(units):
    out = escape_text_columns(units, ["name", "value"])
    assert out.loc[0, "name"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert units.loc[0, "name"].startswith("<script>")  # input not changed
    assert pd.isna(out.loc[1, "value"])


def test_map_escapes_tooltips_and_greys_missing(units):
    html = choropleth_map(units, column="value", caption="Value (%)", tooltip_fields=["name"],
                          tooltip_aliases=["Name"]).get_root().render()
    assert "<script>alert(1)</script>" not in html
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html  # &lt;script&gt; inside the GeoJSON
    assert NO_DATA_COLOUR in html
    assert "Value (%)" in html


def test_map_formats_numbers(units):
    html = choropleth_map(units, column="value", caption="V", tooltip_fields=["value"],
                          tooltip_aliases=["V"], formats={"value": ".1f"}).get_root().render()
    assert '"value": "10.0"' in html
    assert '"value": "no data"' in html


def test_map_refuses_other_crs(units):
    with pytest.raises(ValueError, match=r"EPSG:4326.*to_crs"):
        choropleth_map(units.to_crs(3857), column="value", caption="V", tooltip_fields=["name"],
                       tooltip_aliases=["N"])


def test_legend_is_plain_html_with_ticks(units):
    html = choropleth_map(units, column="value", caption="Poverty <2018> (%)",
                          tooltip_fields=["name"], tooltip_aliases=["N"]).get_root().render()
    assert "Poverty &lt;2018&gt; (%)" in html
    assert "linear-gradient(to right, #ffffcc" in html
    assert "d3.min.js" not in html


def test_local_assets_replace_the_cdn(units):
    fmap = choropleth_map(units, column="value", caption="V", tooltip_fields=["name"],
                          tooltip_aliases=["N"])
    html = use_local_assets(fmap).get_root().render()
    assert "/app/static/vendor/leaflet-1.9.3/leaflet.js" in html
    assert "cdn.jsdelivr.net/npm/leaflet" not in html
    assert "jquery" not in html
