import html
import json
import re

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo_engine.reporting.maps import (
    MAX_POLYGONS,
    CategoricalLegend,
    base_map,
    display_resolution,
    escape_markdown,
    hex_layer,
    hexagon_rings,
    to_parent,
    use_local_assets,
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


def _map_html(frame, **options):
    """Render the app's composition: base map, hexagon layer and its legend."""
    layer = hex_layer(frame, **options)
    fmap = base_map(bounds=layer.bounds)
    layer.group.add_to(fmap)
    return fmap.get_root().render() + layer.legend


def test_hex_layer_continuous_and_categorical(cells):
    html = _map_html(cells.assign(name=["<b>x</b>"] * 7), column="v", caption="Score (0–1)",
                     tooltip={"name": "Name", "v": "V"}, formats={"v": ".2f"})
    assert "<b>x</b>" not in html
    assert "Score (0–1)" in html
    assert "no data" in html
    legend = CategoricalLegend.build(["a", "b", "c"], {"a": "Alpha"})
    html = _map_html(cells, column="cat", caption="Kind", tooltip={"cat": "Kind"}, categories=legend)
    assert "Alpha" in html
    assert "#E69F00" in html


def test_hex_layer_refuses_too_many(cells):
    big = pd.concat([cells] * (MAX_POLYGONS // 7 + 1), ignore_index=True)
    with pytest.raises(ValueError, match="aggregate to a coarser resolution"):
        hex_layer(big, column="v", caption="c", tooltip={"v": "V"})
    with pytest.raises(ValueError, match="at most 9 categories"):
        CategoricalLegend.build(list("abcdefghij"))


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


def test_local_assets_replace_the_cdn(cells):
    layer = hex_layer(cells, column="v", caption="V", tooltip={"v": "V"})
    fmap = base_map(bounds=layer.bounds)
    layer.group.add_to(fmap)
    html = use_local_assets(fmap).get_root().render()
    assert "/app/static/vendor/leaflet-1.9.3/leaflet.js" in html
    assert "cdn.jsdelivr.net/npm/leaflet" not in html
    assert "jquery" not in html


def _orientation():
    import geopandas as gpd
    from shapely.geometry import LineString, box

    from geo_engine.reporting.maps import Orientation

    return Orientation(
        land=gpd.GeoDataFrame(geometry=[box(-78, -13, -76, -11)], crs=4326),
        outlines=gpd.GeoDataFrame(geometry=[box(-78, -13, -77, -11), box(-77, -13, -76, -11)],
                                  crs=4326),
        water=gpd.GeoDataFrame(geometry=[LineString([(-78, -12), (-76, -12.5)])], crs=4326),
        labels=pd.DataFrame({"name": ["<b>Lima</b>", "Norte"], "lat": [-12.0, -11.5],
                             "lon": [-77.0, -76.5], "kind": ["capital", "unit"]}),
        credits=("INEI <script>", "Natural Earth"))


def test_base_map_draws_the_offline_base_over_and_under_the_hexagons():
    from geo_engine.reporting.maps import base_map

    page = base_map(bounds=(-78, -13, -76, -11), orientation=_orientation(),
                    tiles=False).get_root().render()
    # land and water under the tiles (z 150), outlines and names over the hexagons (z 450)
    assert re.search(r'createPane\(\s*"ge-land"\);\s*\S+\.style\.zIndex = 150', page)
    assert re.search(r'createPane\(\s*"ge-lines"\);\s*\S+\.style\.zIndex = 450', page)
    assert 'pane: "ge-lines"' in page  # the outlines
    assert 'pane: "ge-land"' in page  # land and water
    names = re.search(r"(\[\{.*?\}\])\.forEach", page)
    assert names is not None
    assert json.loads(names.group(1)) == [  # names escaped: Leaflet shows tooltips as HTML
        {"name": "&lt;b&gt;Lima&lt;/b&gt;", "lat": -12.0, "lon": -77.0, "kind": "capital"},
        {"name": "Norte", "lat": -11.5, "lon": -76.5, "kind": "unit"}]
    assert "<b>Lima</b>" not in page
    assert "pane: 'ge-lines', interactive: false" in page
    assert "switch(feature.id)" not in page  # one style a layer, no per-feature lookup
    # no tiles: nothing credits OpenStreetMap; the data drawn are credited, escaped
    assert "openstreetmap" not in page.lower()
    credit = re.search(r"addAttribution\((.*?)\);", page)
    assert credit is not None
    assert json.loads(credit.group(1)) == "INEI &lt;script&gt; · Natural Earth"


def test_base_map_drops_the_tiles_and_their_credit_when_none_loads():
    from geo_engine.reporting.maps import TILES_URL, base_map

    page = base_map(bounds=(-78, -13, -76, -11), orientation=_orientation()).get_root().render()
    assert TILES_URL in page
    assert "tiles.on('tileerror', drop)" in page
    assert "map.removeLayer(tiles)" in page


def test_hex_layer_opacity(cells):
    layer = hex_layer(cells, column="v", caption="V", tooltip={"v": "V"}, opacity=0.35)
    import folium

    fmap = folium.Map()
    layer.group.add_to(fmap)
    assert '"opacity":0.35' in fmap.get_root().render()
    with pytest.raises(ValueError, match=r"`opacity` was 1\.5 but must be between 0 and 1"):
        hex_layer(cells, column="v", caption="V", tooltip={"v": "V"}, opacity=1.5)


def test_axis_labels_swap_the_marks_only_in_spanish():
    from geo_engine.reporting.maps import axis_labels

    # evaluated by Vega in the browser (test_app_browser checks the labels drawn: "20.000", "0,10")
    assert axis_labels("en", decimals=2) == "format(datum.value, ',.2f')"
    spanish = axis_labels("es", decimals=0)
    assert spanish.startswith("replace(replace(replace(format(datum.value, ',.0f'),")
    assert spanish.count("regexp(") == 3


def test_histogram_marks_the_cell_and_counts_in_bins():
    from geo_engine.reporting.maps import histogram_chart

    values = np.r_[np.linspace(0, 1, 1000), np.nan]
    spec = histogram_chart(values, marked=0.42, mark_label="esta celda", x_title="Puntaje",
                           y_title="Celdas", bins=20).to_dict()
    datasets = list(spec["datasets"].values())
    counts = next(d for d in datasets if "count" in d[0])
    assert len(counts) == 20
    assert sum(row["count"] for row in counts) == 1000  # NaN left out
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in spec["layer"]]
    assert marks == ["bar", "rule", "text"]
    assert next(d for d in datasets if "label" in d[0]) == [{"x": 0.42, "label": "esta celda"}]
    unmarked = histogram_chart(values, marked=float("nan"), mark_label="x", x_title="x",
                               y_title="y").to_dict()
    assert len(unmarked["layer"]) == 1


def test_bar_chart_labels_each_bar_in_the_users_language():
    from geo_engine.reporting.maps import bar_chart

    spec = bar_chart(["Pobreza", "Acceso", "Pobreza "], [0.1234, -0.05, 1234.5],
                     title="Contribución", lang="es").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [r["text"] for r in rows] == ["0,123", "-0,050", "1.234,500"]
    assert [r["sign"] for r in rows] == ["pos", "neg", "pos"]
    assert spec["layer"][0]["encoding"]["y"]["sort"] is None  # the order given, not alphabetical


def test_dual_map_syncs_two_maps_from_local_assets_with_their_own_legends(cells):
    from geo_engine.reporting.maps import SYNC_JS, dual_map

    a = hex_layer(cells, column="v", caption="A: Engine", tooltip={"v": "V"})
    b = hex_layer(cells, column="v", caption="B: <i>Tourism</i>", tooltip={"v": "V"})
    page = dual_map(a, b, orientation=_orientation(), tiles=False).get_root().render()
    assert f'src="{SYNC_JS}"' in page
    assert "cdn.jsdelivr.net" not in page  # offline: Leaflet and Leaflet.Sync from the app
    assert re.search(r"(map_\w+)\.sync\((map_\w+)\);\s*\2\.sync\(\1\);", page)
    legends = re.findall(r"box\.innerHTML = (.*?); return box;", page)
    assert len(legends) == 2
    assert "A: Engine" in json.loads(legends[0])
    assert "B: &lt;i&gt;Tourism&lt;/i&gt;" in json.loads(legends[1])
    assert len(re.findall(r'createPane\(\s*"ge-lines"\)', page)) == 2  # the base on both


def test_legend_numbers_are_written_as_the_language_does(cells):
    es = hex_layer(cells.assign(v=cells["v"] * 1000), column="v", caption="V",
                   tooltip={"v": "V"}, lang="es").legend
    assert "<span>1.000</span>" in es
    assert "<span>2.000</span>" in es
    en = hex_layer(cells, column="v", caption="V", tooltip={"v": "V"}).legend
    assert "<span>1.50</span>" in en
    assert "<span>1,50</span>" in hex_layer(cells, column="v", caption="V", tooltip={"v": "V"},
                                            lang="es").legend


@pytest.mark.parametrize(("vmin", "vmax"), [(0.0, 1.0), (-3.0, 250.0), (0.5, 0.5 + 1e-9)])
def test_ramp_colours_equal_branca(vmin, vmax):
    import branca.colormap as cm

    from geo_engine.reporting.maps import DIVERGING, NO_DATA_COLOUR, SEQUENTIAL, ramp_colours

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
    """Every feature of the hexagon layer in a map's script: its tooltip fields, colour and ring."""
    decode = json.JSONDecoder().raw_decode
    found = []
    for m in re.finditer(r"geCells\(\w+, (?=\{)", script):
        _spec, end = decode(script, m.end())
        cols, end = decode(script, end + 2)
        rings, _ = decode(script, end + 2)
        found += [{"properties": {c: cols[c][i] for c in cols},
                   "geometry": {"coordinates": [rings[i]] if rings else None}}
                  for i in range(len(cols["fill"]))]
    return found


def test_every_hexagon_reaches_the_map_and_the_app(cells):
    from streamlit_folium import _get_feature_group_string

    from geo_engine.reporting.maps import base_map

    frame = cells.assign(name=["<b>x</b>", "a'b", "Áncash", "d", "e", "f", "g"])
    options = {"column": "v", "caption": "c", "tooltip": {"name": "Name", "v": "V"},
               "formats": {"v": ".2f"}}
    layer = hex_layer(frame, **options)
    fmap = base_map(bounds=layer.bounds)
    layer.group.add_to(fmap)
    page = fmap.get_root().render()
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


def test_declutter_skips_a_name_that_would_cover_one_placed_before():
    import pandas as pd

    from geo_engine.reporting.maps import declutter

    labels = pd.DataFrame({
        "name": ["Grande", "Vecina", "Lejana", "Pequeña"],
        "lat": [0.0, 0.02, 0.0, -0.1], "lon": [0.0, 0.05, 5.0, 0.0],
        "kind": ["unit", "unit", "unit", "unit"]})
    # 100 points a degree: "Grande" is 6 × 0.62 × 5.5 ≈ 20 points wide, 7 high
    kept = declutter(labels, points_per_degree=100)
    assert list(kept["name"]) == ["Grande", "Lejana", "Pequeña"]  # the neighbour overlaps
    assert list(declutter(labels.iloc[[1, 0, 2, 3]], points_per_degree=100)["name"]) == [
        "Vecina", "Lejana", "Pequeña"]  # first come, first placed: order is the priority
    # zoomed out ten times every name but the far one covers the first
    assert list(declutter(labels, points_per_degree=10)["name"]) == ["Grande", "Lejana"]
    # zoomed in, nothing overlaps
    assert len(declutter(labels, points_per_degree=1000)) == 4
    # a capital's name is right of its dot: a unit name left of it does not collide
    pair = pd.DataFrame({"name": ["Lima", "Oeste"], "lat": [0.0, 0.0], "lon": [0.0, -0.12],
                         "kind": ["capital", "unit"]})
    assert len(declutter(pair, points_per_degree=100)) == 2
    assert len(declutter(pair.assign(lon=[0.0, 0.15]), points_per_degree=100)) == 1
    assert declutter(labels.iloc[:0], points_per_degree=100).empty


def test_declutter_stretches_longitudes_by_the_latitude_scale():
    import pandas as pd

    from geo_engine.reporting.maps import declutter

    two = pd.DataFrame({"name": ["Norte", "Sur"], "lat": [0.0, 0.0], "lon": [0.0, 0.2],
                        "kind": ["unit", "unit"]})
    assert len(declutter(two, points_per_degree=100)) == 2  # 20 points apart, 17 and 10 wide
    assert len(declutter(two, points_per_degree=100, lat_scale=0.5)) == 1  # 10 points apart


def test_base_map_hides_unit_names_that_cover_a_larger_units_name():
    from geo_engine.reporting.maps import base_map

    page = base_map(bounds=(-78, -13, -76, -11), orientation=_orientation(),
                    tiles=False).get_root().render()
    assert "getBoundingClientRect" in page  # measured in the browser at every zoom
    assert "span.style.visibility = 'hidden'" in page
    assert "map.on('zoomend moveend', declutter)" in page


def test_to_parent_within_keeps_touched_parents_whole(cells):
    two = pd.concat([cells, cells.assign(h3=np.array(
        sorted(h3.str_to_int(c) for c in h3.cell_to_children(h3.latlng_to_cell(-5.0, -75.0, 5), 6)),
        dtype=np.uint64))], ignore_index=True)
    within = np.zeros(len(two), dtype=bool)
    within[1] = True  # one child of the first parent
    out = to_parent(two, resolution=5, numeric=["v"], sums=["pop"], within=within)
    full = to_parent(two, resolution=5, numeric=["v"], sums=["pop"])
    assert len(full) == 2
    assert len(out) == 1
    row = full[full["h3"] == out.loc[0, "h3"]].iloc[0]
    assert out.loc[0, "n_children"] == 7  # all its children, not only the one in view
    assert out.loc[0, "v"] == pytest.approx(row["v"])
    assert out.loc[0, "pop"] == row["pop"]


def test_view_resolution_is_the_finest_that_fits():
    from geo_engine.reporting.maps import view_resolution

    parent = h3.latlng_to_cell(-12.0, -77.0, 4)
    ids = np.array(sorted(h3.str_to_int(c) for c in h3.cell_to_children(parent, 7)), dtype=np.uint64)
    everything = np.ones(len(ids), dtype=bool)  # 343 cells, 49 at 6, 7 at 5, 1 at 4
    assert view_resolution(ids, everything, coarsest=4, max_polygons=343) == 7
    assert view_resolution(ids, everything, coarsest=4, max_polygons=342) == 6
    assert view_resolution(ids, everything, coarsest=4, max_polygons=48) == 5
    assert view_resolution(ids, everything, coarsest=4, max_polygons=6) == 4
    few = np.zeros(len(ids), dtype=bool)
    few[:10] = True
    assert view_resolution(ids, few, coarsest=4, max_polygons=10) == 7
    assert view_resolution(ids, np.zeros(len(ids), dtype=bool), coarsest=4, max_polygons=10) == 4


def test_in_view_and_view_bounds():
    from geo_engine.reporting.maps import in_view, view_bounds

    lat = np.array([-12.0, -12.0, -12.0, -20.0])
    lon = np.array([-77.0, -75.95, -74.0, -77.0])
    # (west, south, east, north) = (-78, -13, -76, -11), widened by a tenth: to -75.8 east
    assert in_view(lat, lon, (-78.0, -13.0, -76.0, -11.0)).tolist() == [True, True, False, False]
    state = {"bounds": {"_southWest": {"lat": -13.0, "lng": -78.0},
                        "_northEast": {"lat": -11.0, "lng": -76.0}}}
    assert view_bounds(state) == (-78.0, -13.0, -76.0, -11.0)
    for bad in (None, {}, {"bounds": None}, {"bounds": {"_southWest": {"lat": None, "lng": 1},
                                                          "_northEast": {"lat": 1, "lng": 2}}},
                {"bounds": {"_southWest": {"lat": 0, "lng": 0}, "_northEast": {"lat": 0, "lng": 0}}}):
        assert view_bounds(bad) is None


def test_hexagons_are_keyed_and_can_be_sent_without_rings(cells):
    from geo_engine.reporting.maps import cells_key

    ids = cells["h3"].to_numpy()
    assert cells_key(ids) == cells_key(ids.copy())
    assert cells_key(ids) != cells_key(ids[:-1])
    full = hex_layer(cells, column="v", caption="V", tooltip={"v": "V"})
    bare = hex_layer(cells.assign(v=-cells["v"]), column="v", caption="V", tooltip={"v": "V"},
                     send_rings=False, bounds=full.bounds)
    assert bare.key == full.key == cells_key(ids)
    pages = []
    for layer in (full, bare):
        fmap = base_map(bounds=layer.bounds)
        layer.group.add_to(fmap)
        pages.append(_features(fmap.get_root().render()))
    assert [f["geometry"]["coordinates"][0] for f in pages[0]] == [
        list(r) for r in hexagon_rings(ids)]
    assert all(f["geometry"]["coordinates"] is None for f in pages[1])  # colours and tips only
    assert [f["properties"]["fill"] for f in pages[0]] != [f["properties"]["fill"]
                                                          for f in pages[1]]
