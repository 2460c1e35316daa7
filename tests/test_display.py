import html
import json
import re

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo_engine.display import (
    MAX_POLYGONS,
    CategoricalLegend,
    display_resolution,
    escape_markdown,
    hex_layer,
    hex_map,
    hexagon_rings,
    to_parent,
)


@pytest.fixture
def cells():
    parent = h3.latlng_to_cell(-12.0, -77.0, 5)
    kids = sorted(h3.str_to_int(c) for c in h3.cell_to_children(parent, 6))
    return pd.DataFrame({"h3": np.array(kids, dtype=np.uint64),
                         "area_km2": [1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0],
                         "v": [0.0, 1.0, 2.0, np.nan, 1.0, 1.0, 1.0],
                         "cat": ["a", "b", "b", None, "a", "a", "c"],
                         "pop": [1.0, 2.0, 3.0, 4.0, np.nan, 0.0, 0.0]})


def test_to_parent_weighted_mean_mode_and_sums(cells):
    out = to_parent(cells, resolution=5, numeric=["v"], categorical=["cat"], sums=["pop"])
    assert len(out) == 1
    assert out.loc[0, "n_children"] == 7
    # (0 + 1 + 2*2 + 1 + 1 + 1) / (1 + 1 + 2 + 1 + 1 + 1)
    assert out.loc[0, "v"] == pytest.approx(8 / 7)
    assert out.loc[0, "cat"] == "a"  # a covers 3, b covers 3 (1 + 2): tie goes to the first
    assert out.loc[0, "pop"] == 10.0


def test_to_parent_same_resolution_and_errors(cells):
    same = to_parent(cells, resolution=6, numeric=["v"])
    assert same["h3"].tolist() == cells["h3"].tolist()
    assert np.isnan(same.loc[3, "v"])
    with pytest.raises(ValueError, match="`resolution` was 7"):
        to_parent(cells, resolution=7)


def test_display_resolution():
    assert display_resolution(218_678, 7) == 5
    assert display_resolution(20_000, 7) == 7
    assert display_resolution(MAX_POLYGONS + 1, 6) == 5


def test_rings_are_closed_lon_lat(cells):
    rings = hexagon_rings(cells["h3"].to_numpy())
    assert len(rings) == 7
    assert rings[0][0] == rings[0][-1]
    lon, lat = rings[0][0]
    assert -78 < lon < -76
    assert -13 < lat < -11


def test_hex_map_continuous_and_categorical(cells):
    html = hex_map(cells.assign(name=["<b>x</b>"] * 7), column="v", caption="Score (0–1)",
                   tooltip={"name": "Name", "v": "V"}, formats={"v": ".2f"}).get_root().render()
    assert "<b>x</b>" not in html
    assert "Score (0–1)" in html
    assert "no data" in html
    legend = CategoricalLegend.build(["a", "b", "c"], {"a": "Alpha"})
    html = hex_map(cells, column="cat", caption="Kind", tooltip={"cat": "Kind"},
                   categories=legend).get_root().render()
    assert "Alpha" in html
    assert "#E69F00" in html


def test_hex_map_refuses_too_many(cells):
    big = pd.concat([cells] * (MAX_POLYGONS // 7 + 1), ignore_index=True)
    with pytest.raises(ValueError, match="aggregate to a coarser resolution"):
        hex_map(big, column="v", caption="c", tooltip={"v": "V"})
    with pytest.raises(ValueError, match="at most 8 categories"):
        CategoricalLegend.build(list("abcdefghi"))


def test_rings_across_the_antimeridian_are_drawn_in_one_piece():
    import h3.api.numpy_int as h3n


    west = h3n.latlng_to_cell(-16.9, 179.99, 5)
    ids = np.array(sorted({int(c) for c in h3n.grid_disk(west, 2)}), dtype=np.uint64)
    rings = hexagon_rings(ids)
    xs = np.array([x for r in rings for x, _ in r])
    assert xs.min() > 170
    assert xs.max() < 190
    assert max(max(x for x, _ in r) - min(x for x, _ in r) for r in rings) < 5
    layer = hex_layer(pd.DataFrame({"h3": ids, "v": np.arange(len(ids), dtype=float)}), column="v",
                      caption="V", tooltip={"v": "V"})
    west_b, _, east_b, _ = layer.bounds
    assert 170 < west_b < east_b < 190


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


@pytest.mark.hostile
@pytest.mark.parametrize("name", [
    "![x](http://evil/x.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "**Lima** _centro_ `code` ~~no~~ $x^2$ &lt;",
    "# Heading\n- item\n> quote\n    code",
    "1. first | a | b |",
    "http://evil.example www.evil.example a@evil.example",
])
def test_escaped_names_render_as_their_own_text(name):
    page = _rendered(escape_markdown(name))
    for tag in ("<a", "<img", "<strong", "<em", "<code", "<h1", "<li", "<blockquote", "<del",
                "<table", "<pre"):
        assert tag not in page, page
    text = re.sub(r"</?p>", "", page).strip()
    assert html.unescape(text) == " ".join(name.split())


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
       .filter(lambda s: s.strip()))
def test_any_escaped_text_is_one_paragraph_of_itself(text):
    page = _rendered(escape_markdown(text)).strip()
    assert page.startswith("<p>")
    assert page.endswith("</p>")
    assert html.unescape(page[3:-4]) == " ".join(text.split())


@pytest.mark.parametrize(("vmin", "vmax"), [(0.0, 1.0), (-3.0, 250.0), (0.5, 0.5 + 1e-9)])
def test_ramp_colours_equal_branca(vmin, vmax):
    import branca.colormap as cm

    from geo_engine.display import DIVERGING, SEQUENTIAL, ramp_colours
    from geo_engine.maps import NO_DATA_COLOUR

    rng = np.random.default_rng(2)
    span = vmax - vmin
    values = np.r_[rng.uniform(vmin - span, vmax + span, 2000), vmin, vmax,
                   np.linspace(vmin, vmax, 9), np.nan, np.inf]
    for colors in (SEQUENTIAL, DIVERGING):
        scale = cm.LinearColormap(list(colors), vmin=vmin, vmax=vmax)
        want = [scale(min(max(v, vmin), vmax)) if np.isfinite(v) else NO_DATA_COLOUR
                for v in values]
        assert ramp_colours(values, colors, vmin=vmin, vmax=vmax) == want


def _features(script):
    """Every feature of the hexagon layer in a map's script: in the layer, then added to it."""
    decode = json.JSONDecoder().raw_decode
    found = []
    for start in (m.end() for m in re.finditer(r"geo_json_\w+_add\(\{\"", script)):
        found += decode(script[start - 2:])[0]["features"]
    for start in (m.end() for m in re.finditer(r"\}\)\(\[", script)):
        props, end = decode(script[start - 1:])
        rings, _ = decode(script[start - 1 + end + 2:])
        found += [{"properties": p, "geometry": {"coordinates": [r]}}
                  for p, r in zip(props, rings, strict=True)]
    return found


def test_every_hexagon_reaches_the_map_and_the_app(cells):
    from streamlit_folium import _get_feature_group_string

    from geo_engine.display import base_map

    frame = cells.assign(name=["<b>x</b>", "a'b", "Áncash", "d", "e", "f", "g"])
    options = {"column": "v", "caption": "c", "tooltip": {"name": "Name", "v": "V"},
               "formats": {"v": ".2f"}}
    page = hex_map(frame, **options).get_root().render()
    layer = hex_layer(frame, **options)
    app = _get_feature_group_string(layer.group, base_map(bounds=layer.bounds))
    for script in (page, app):
        found = _features(script)
        # the tooltip's fields are named in order: t0 is "name", t1 is "v"
        assert [f["properties"]["t0"] for f in found] == [
            "&lt;b&gt;x&lt;/b&gt;", "a&#x27;b", "Áncash", "d", "e", "f", "g"]
        assert [f["geometry"]["coordinates"][0] for f in found] == [
            list(r) for r in hexagon_rings(frame["h3"].to_numpy())]
        assert found[3]["properties"]["t1"] == "no data"
        assert found[0]["properties"]["fill"].startswith("#")
        assert "<b>x</b>" not in script
