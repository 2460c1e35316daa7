"""Prepare cell results for drawing: coarser H3 parents, colour scales, and folium hexagon maps."""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import branca.colormap as cm
import folium
import geopandas as gpd
import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement, Template
from jinja2.utils import htmlsafe_json_dumps

from geo_engine.grid import cell_polygons
from geo_engine.maps import NO_DATA_COLOUR

__all__ = [
    "CATEGORICAL",
    "DIVERGING",
    "MAX_POLYGONS",
    "SEQUENTIAL",
    "CategoricalLegend",
    "HexLayer",
    "base_map",
    "display_resolution",
    "escape_markdown",
    "hex_layer",
    "hex_map",
    "hexagon_rings",
    "ramp_colours",
    "to_parent",
]

MAX_POLYGONS = 30_000
"""Most hexagons sent to the browser in one map (Leaflet stays responsive below this)."""

SEQUENTIAL = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
"""Viridis, light = high: perceptually uniform and readable with colour-vision deficiencies."""

DIVERGING = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")
"""ColorBrewer RdBu (reversed), for differences around zero; colour-blind safe."""

CATEGORICAL = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
               "#000000")
"""Okabe–Ito palette: eight colours distinguishable with the common colour-vision deficiencies."""


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")
"""Characters that Markdown, GitHub's extensions or Streamlit give a meaning (links, images, emphasis,
lists, tables, autolinks, HTML, entities, maths, colours)."""


def escape_markdown(text: object) -> str:
    r"""Return ``text`` so that Streamlit's Markdown shows it as typed, never as a link or image.

    Parameters
    ----------
    text : object
        A name, title, file name or message that holds the user's text (converted with ``str``).

    Returns
    -------
    str
        Every punctuation character Markdown reads is escaped with a backslash, and line breaks
        and runs of spaces become one space (the text stays one inline run: no heading, list,
        quote or code block).

    Examples
    --------
    >>> print(escape_markdown("![x](http://evil/x.png)"))
    \!\[x\]\(http\://evil/x\.png\)
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", re.sub(r"\s+", " ", str(text)))



@functools.lru_cache(maxsize=16)
def _rings_cached(key: bytes) -> tuple[list[list[float]], ...]:
    ids = np.frombuffer(key, dtype=np.uint64)
    polys = cell_polygons(ids)
    rings = [np.asarray(p.exterior.coords) for p in polys]
    if any(r[:, 0].max() - r[:, 0].min() > 180 for r in rings):
        # cells across the antimeridian: draw the region east of 180° so it stays in one piece
        for r in rings:
            r[r[:, 0] < 0, 0] += 360
    return tuple([[round(float(x), 5), round(float(y), 5)] for x, y in r] for r in rings)


@functools.lru_cache(maxsize=16)
def _rings_json(key: bytes) -> str:
    """JSON array of the rings of all hexagons but the first (ids as bytes)."""
    return _compact_json(_rings_cached(key)[1:])


def hexagon_rings(ids: np.ndarray) -> tuple[list[list[float]], ...]:
    """Return each cell's boundary as a closed lon/lat ring (5 decimals, ~1 m), cached per id set.

    When some cell crosses the antimeridian, negative longitudes are given as 180–360° so that
    the region is drawn in one piece (web maps accept longitudes beyond 180°).

    The same hexagons are redrawn on every re-scoring; only their colours change, so their
    coordinates are computed once.
    """
    return _rings_cached(np.ascontiguousarray(ids, dtype=np.uint64).tobytes())


@functools.lru_cache(maxsize=16)
def _centres_cached(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    ids = np.frombuffer(key, dtype=np.uint64)
    lat_lon = np.array([h3n.cell_to_latlng(c) for c in ids], dtype=float).reshape(-1, 2)
    return lat_lon[:, 0], lat_lon[:, 1]


def _centres(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the cells' centres (lat, lon), cached per id set as :func:`hexagon_rings` is."""
    return _centres_cached(np.ascontiguousarray(ids, dtype=np.uint64).tobytes())


_CELL_STYLE = folium.JsCode(
    "function(f) { var c = f.properties.fill;"
    " return {fillColor: c, color: c, fillOpacity: 0.8, opacity: 0.8, weight: 1}; }")
_CELL_HIGHLIGHT = folium.JsCode(
    "function(f, layer) { layer.on({"
    " mouseover: function() { layer.setStyle({weight: 2, color: '#000000'}); },"
    " mouseout: function() { layer.setStyle({weight: 1, color: f.properties.fill}); } }); }")


def display_resolution(n_cells: int, resolution: int, *, max_polygons: int = MAX_POLYGONS) -> int:
    """Return the finest resolution at or below ``resolution`` whose cells number ≤ ``max_polygons``.

    Each step to a parent divides the number of cells by about 7.
    """
    res, n = resolution, float(n_cells)
    while n > max_polygons and res > 0:
        res -= 1
        n /= 7
    return res


@functools.lru_cache(maxsize=8)
def _parents(key: bytes, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.frombuffer(key, dtype=np.uint64)
    own = int(h3n.get_resolution(ids[0]))
    parents = ids if resolution == own else np.fromiter(
        (h3n.cell_to_parent(c, resolution) for c in ids), np.uint64, len(ids))
    unique, inverse = np.unique(parents, return_inverse=True)
    return unique, inverse


def to_parent(
    cells: pd.DataFrame,
    *,
    resolution: int,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    weight: str = "area_km2",
    sums: Sequence[str] = (),
) -> pd.DataFrame:
    """Aggregate cell values to their H3 parents at a coarser resolution.

    Parameters
    ----------
    cells : pandas.DataFrame
        With ``h3`` (uint64), ``weight`` and the columns to aggregate.
    resolution : int
        Parent resolution (≤ the cells' resolution; equal returns the cells' own values).
    numeric : sequence of str
        Averaged, weighted by ``weight`` over the children with a value.
    categorical : sequence of str
        The value covering the largest weight among the children (ties: the first in sort order).
    weight : str, default "area_km2"
        Child weight.
    sums : sequence of str
        Added up (population, counts).

    Returns
    -------
    pandas.DataFrame
        One row per parent sorted by ``h3``, with ``n_children`` and the aggregated columns; a
        parent whose children all lack a value gets NaN (None for categories).

    Notes
    -----
    The child-to-parent mapping of a set of cells is computed once and cached, since a map is
    redrawn many times over the same cells.
    """
    ids = np.ascontiguousarray(cells["h3"].to_numpy(dtype=np.uint64))
    if len(ids) == 0:
        return pd.DataFrame(columns=["h3", "n_children", *numeric, *categorical, *sums])
    own = int(h3n.get_resolution(ids[0]))
    if resolution > own:
        msg = f"`resolution` was {resolution} but the cells are at {own}; pick {own} or coarser"
        raise ValueError(msg)
    unique, inverse = _parents(ids.tobytes(), resolution)
    n = len(unique)
    w = cells[weight].to_numpy(dtype=float)
    out = pd.DataFrame({"h3": unique, "n_children": np.bincount(inverse, minlength=n)})
    for col in numeric:
        v = cells[col].to_numpy(dtype=float)
        ok = np.isfinite(v)
        num = np.bincount(inverse, weights=np.where(ok, v * w, 0.0), minlength=n)
        den = np.bincount(inverse, weights=np.where(ok, w, 0.0), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[col] = np.where(den > 0, num / den, np.nan)
    for col in categorical:
        labels = cells[col].astype("string")
        table = pd.DataFrame({"p": inverse, "v": labels.to_numpy(), "w": w}).dropna()
        best = (table.groupby(["p", "v"], sort=False)["w"].sum().reset_index()
                .sort_values(["p", "w", "v"], ascending=[True, False, True])
                .drop_duplicates("p").set_index("p")["v"])
        values = best.reindex(np.arange(n)).astype(object)
        out[col] = values.where(values.notna(), None).to_numpy()
    for col in sums:
        v = cells[col].to_numpy(dtype=float)
        out[col] = np.bincount(inverse, weights=np.where(np.isfinite(v), v, 0.0), minlength=n)
    return out


class _HtmlBlock(MacroElement):
    """A fixed block of (already escaped) HTML drawn over the map."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.markup }}{% endmacro %}")

    def __init__(self, markup: str) -> None:
        super().__init__()
        self._name = "HtmlBlock"
        self.markup = markup


class _Script(Element):
    """Script text added to a figure as it is (branca would compile it as a Jinja template)."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class _GeoJsonFeatures(MacroElement):
    """Hexagons added to their parent ``folium.GeoJson`` layer, as JSON written once.

    A ``folium.GeoJson`` embeds its data in its script, which branca then compiles as a Jinja
    template on every render (a pass over megabytes of hexagons). This child sends the
    properties (HTML-safe, as Jinja's ``tojson`` writes them) and the rings (cached per set of
    hexagons: only colours and values change between redraws) as two arrays that the browser
    zips into features; neither is ever compiled.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}(function(props, rings) {"
        " {{ this._parent.get_name() }}_add({type: 'FeatureCollection', features:"
        " props.map(function(p, i) { return {type: 'Feature', properties: p,"
        " geometry: {type: 'Polygon', coordinates: [rings[i]]}}; })});"
        " })({{ this.props }}, {{ this.rings }});{% endmacro %}")

    def __init__(self, props: Sequence[Mapping[str, Any]], rings: str) -> None:
        super().__init__()
        self._name = "GeoJsonFeatures"
        self.props = htmlsafe_json_dumps(list(props), dumps=_compact_json)
        self.rings = rings

    def render(self, **kwargs: Any) -> str:
        """Add the script to the figure as it is."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            msg = "the hexagons can only be rendered in a map inside a figure"
            raise TypeError(msg)
        figure.script.add_child(_Script(self._template.module.script(self, kwargs)),
                                name=self.get_name())
        return ""


def _compact_json(obj: Any, **kwargs: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), **kwargs)


_HEX_BYTES = np.array([f"{i:02x}" for i in range(256)], dtype=object)


def ramp_colours(values: np.ndarray, colors: Sequence[str], *, vmin: float, vmax: float
                 ) -> list[str]:
    """Return the ``#rrggbbaa`` colour of each value on a linear ramp, grey where missing.

    The colours of ``branca.colormap.LinearColormap(colors, vmin=vmin, vmax=vmax)`` for the
    values clipped to [vmin, vmax] (same arithmetic, one array pass instead of a Python call
    per hexagon); :data:`~geo_engine.maps.NO_DATA_COLOUR` where a value is not finite.
    """
    ramp = cm.LinearColormap(list(colors), vmin=vmin, vmax=vmax)
    index = np.asarray(ramp.index, dtype=float)
    stops = np.asarray(ramp.colors, dtype=float)
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x)
    v = np.clip(np.where(ok, x, vmin), vmin, vmax)
    i = np.clip(np.searchsorted(index, v, side="left"), 1, len(index) - 1)
    width = index[i] - index[i - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(width > 0, (v - index[i - 1]) / np.where(width > 0, width, 1.0), 1.0)
    rgba = (1.0 - p)[:, None] * stops[i - 1] + p[:, None] * stops[i]
    rgba = np.where((v <= index[0])[:, None], stops[0], rgba)
    rgba = np.where((v >= index[-1])[:, None], stops[-1], rgba)
    codes = _HEX_BYTES[(rgba * 255.9999).astype(np.int64)]
    return ["#" + r + g + b + a if good else NO_DATA_COLOUR
            for (r, g, b, a), good in zip(codes.tolist(), ok.tolist(), strict=True)]


@dataclass(frozen=True)
class CategoricalLegend:
    """Colours of a categorical map: category → colour, with display labels."""

    colours: Mapping[str, str]
    labels: Mapping[str, str]

    @classmethod
    def build(cls, categories: Sequence[str], labels: Mapping[str, str] | None = None
              ) -> CategoricalLegend:
        """Assign the Okabe–Ito colours in order to ``categories``."""
        if len(categories) > len(CATEGORICAL):
            msg = f"at most {len(CATEGORICAL)} categories can be told apart, got {len(categories)}"
            raise ValueError(msg)
        colours = dict(zip(categories, CATEGORICAL, strict=False))
        return cls(colours=colours, labels={c: (labels or {}).get(c, c) for c in categories})


def _categorical_legend_html(caption: str, legend: CategoricalLegend, no_data: str) -> str:
    rows = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;background:{colour};'
        f'vertical-align:middle;margin-right:4px;"></span>{html.escape(legend.labels[cat])}</div>'
        for cat, colour in legend.colours.items())
    rows += (f'<div><span style="display:inline-block;width:12px;height:12px;'
             f'background:{NO_DATA_COLOUR};vertical-align:middle;margin-right:4px;"></span>'
             f"{html.escape(no_data)}</div>")
    return (
        '<div class="ge-legend" style="position:absolute;z-index:9999;bottom:24px;right:12px;'
        "background:rgba(255,255,255,0.92);padding:6px 10px;border-radius:4px;font:12px sans-serif;"
        'box-shadow:0 1px 4px rgba(0,0,0,0.3);">'
        f'<div style="font-weight:bold;margin-bottom:4px;">{html.escape(caption)}</div>{rows}</div>'
    )


@dataclass(frozen=True)
class HexLayer:
    """Hexagons ready to draw: the folium layer, its legend (HTML) and the view to fit."""

    group: folium.FeatureGroup
    legend: str
    bounds: tuple[float, float, float, float]


def hex_map(frame: pd.DataFrame, *, boundaries: gpd.GeoDataFrame | None = None,
            **options: Any) -> folium.Map:
    """Return a complete folium map: :func:`base_map` with a :func:`hex_layer` and its legend.

    ``options`` are those of :func:`hex_layer`.
    """
    layer = hex_layer(frame, **options)
    fmap = base_map(bounds=layer.bounds, boundaries=boundaries)
    layer.group.add_to(fmap)
    _HtmlBlock(layer.legend).add_to(fmap)
    return fmap


def hex_layer(
    frame: pd.DataFrame,
    *,
    column: str,
    caption: str,
    tooltip: Mapping[str, str],
    formats: Mapping[str, str] | None = None,
    categories: CategoricalLegend | None = None,
    colors: Sequence[str] = SEQUENTIAL,
    vmin: float | None = None,
    vmax: float | None = None,
    outlines: gpd.GeoDataFrame | None = None,
    outline_tooltip: Mapping[str, str] | None = None,
    no_data_label: str = "no data",
    bounds: tuple[float, float, float, float] | None = None,
) -> HexLayer:
    """Return a layer of hexagons coloured by one column, with its legend.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per hexagon with ``h3`` (uint64) and the columns named in ``tooltip``.
    column : str
        Column to colour by: numbers (continuous scale) or, with ``categories``, labels.
    caption : str
        Legend title, with units.
    tooltip : mapping
        ``{column: label}`` shown on hover, in order (values are HTML-escaped).
    formats : mapping, optional
        ``{column: format spec}`` for numbers in the tooltip.
    categories : CategoricalLegend, optional
        For categorical columns.
    colors : sequence of str
        Continuous palette, low to high (:data:`SEQUENTIAL` by default, :data:`DIVERGING` for
        differences).
    vmin, vmax : float, optional
        Colour scale limits; the data's range by default.
    outlines : geopandas.GeoDataFrame, optional
        Polygons drawn as outlines over the hexagons (clusters), with ``outline_tooltip``.
    no_data_label : str
        Legend and tooltip text for missing values.
    bounds : tuple, optional
        (west, south, east, north) to fit; the hexagons' extent by default.

    Returns
    -------
    HexLayer
    """
    if len(frame) > MAX_POLYGONS:
        msg = (f"{len(frame):,} hexagons is more than the {MAX_POLYGONS:,} a map can draw "
               "smoothly; aggregate to a coarser resolution with to_parent()")
        raise ValueError(msg)
    # short property keys: a smaller payload, and none for streamlit-folium to rename (it
    # rewrites every `_name` of the script, which the column names would be)
    key = {col: f"t{i}" for i, col in enumerate(tooltip)}
    shown = pd.DataFrame(index=range(len(frame)))
    for col in tooltip:
        values = frame[col]
        spec = (formats or {}).get(col)
        if spec is not None:
            shown[key[col]] = [no_data_label if pd.isna(v) else format(float(v), spec)
                               for v in values]
        else:
            shown[key[col]] = [no_data_label if v is None or (isinstance(v, float) and np.isnan(v))
                          else html.escape(str(v)) for v in values]
    if categories is not None:
        fill = [categories.colours.get(str(v), NO_DATA_COLOUR) if v is not None else NO_DATA_COLOUR
                for v in frame[column]]
    else:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
        hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
        if hi <= lo:
            hi = lo + 1e-9
        fill = ramp_colours(values, colors, vmin=lo, vmax=hi)
    shown["fill"] = fill
    ids = np.ascontiguousarray(frame["h3"].to_numpy(dtype=np.uint64))
    rings = hexagon_rings(ids)
    names = list(shown.columns)
    props = [dict(zip(names, row, strict=True))
             for row in zip(*(shown[c].tolist() for c in names), strict=True)]
    if bounds is not None:
        west, south, east, north = bounds
    else:
        lats, lons = _centres(frame["h3"].to_numpy(dtype=np.uint64))
        if any(x > 180 for r in rings for x, _ in r):  # drawn east of 180° (see hexagon_rings)
            lons = np.where(lons < 0, lons + 360, lons)
        pad = 0.3
        west, south, east, north = lons.min() - pad, lats.min() - pad, lons.max() + pad, lats.max() + pad
    group = folium.FeatureGroup(name="cells")
    # the first hexagon goes in the layer itself (its tooltip checks the fields there), the
    # rest are added to it as JSON written once (see _GeoJsonFeatures)
    first = [{"type": "Feature", "properties": pr, "geometry": {"type": "Polygon",
                                                                 "coordinates": [r]}}
             for pr, r in zip(props[:1], rings[:1], strict=True)]
    cells = folium.GeoJson(
        {"type": "FeatureCollection", "features": first}, name="cells",
        # styles read from each feature's own colour in the browser: a Python style_function
        # would embed a lookup of every hexagon id per colour (about a third of the payload)
        style=_CELL_STYLE, on_each_feature=_CELL_HIGHLIGHT,
        tooltip=folium.GeoJsonTooltip(fields=list(key.values()), aliases=list(tooltip.values()),
                                      sticky=True),
    ).add_to(group)
    if len(props) > 1:
        _GeoJsonFeatures(props[1:], _rings_json(ids.tobytes())).add_to(cells)
    if outlines is not None and len(outlines):
        o_fields = list(outline_tooltip or {})
        o = outlines[[*o_fields, "geometry"]].copy()
        for col in o_fields:
            o[col] = [html.escape(str(v)) for v in o[col]]
        folium.GeoJson(
            o, name="clusters",
            style_function=lambda f: {"fill": True, "fillOpacity": 0.0, "color": "#000000",
                                      "weight": 2.5, "dashArray": "4 3"},
            tooltip=folium.GeoJsonTooltip(fields=o_fields,
                                          aliases=[(outline_tooltip or {})[f] for f in o_fields])
            if o_fields else None,
        ).add_to(group)
    legend = (_categorical_legend_html(caption, categories, no_data_label) if categories is not None
              else _continuous_legend_html(caption, list(colors), lo, hi, no_data_label))
    return HexLayer(group=group, legend=legend, bounds=(west, south, east, north))


def base_map(*, bounds: tuple[float, float, float, float],
             boundaries: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Return the map the hexagons are drawn on: background, view and reference outlines.

    Built anew on every call but identical for the same bounds and outlines, so the browser
    keeps it and only swaps the hexagon layer when scores change.
    """
    west, south, east, north = bounds
    fmap = folium.Map(tiles="OpenStreetMap", control_scale=True)
    fmap.fit_bounds([[south, west], [north, east]])
    if boundaries is not None and len(boundaries):
        folium.GeoJson(boundaries[["geometry"]], name="boundaries", interactive=False,
                       style_function=lambda f: {"fill": False, "color": "#444444",
                                                 "weight": 0.6}).add_to(fmap)
    return fmap


def _continuous_legend_html(caption: str, colors: Sequence[str], lo: float, hi: float,
                            no_data: str) -> str:
    span = abs(hi - lo)
    decimals = 0 if span >= 50 else 1 if span >= 5 else 2 if span >= 0.5 else 3
    ticks = "".join(f"<span>{v:,.{decimals}f}</span>" for v in np.linspace(lo, hi, 5))
    return (
        '<div class="ge-legend" style="position:absolute;z-index:9999;bottom:24px;right:12px;'
        "background:rgba(255,255,255,0.92);padding:6px 10px;border-radius:4px;font:12px sans-serif;"
        'box-shadow:0 1px 4px rgba(0,0,0,0.3);">'
        f'<div style="font-weight:bold;margin-bottom:4px;">{html.escape(caption)}</div>'
        f'<div style="width:220px;height:12px;background:linear-gradient(to right, '
        f'{", ".join(colors)});"></div>'
        f'<div style="display:flex;justify-content:space-between;width:220px;">{ticks}</div>'
        f'<div style="margin-top:4px;"><span style="display:inline-block;width:12px;height:12px;'
        f'background:{NO_DATA_COLOUR};vertical-align:middle;"></span> {html.escape(no_data)}</div>'
        "</div>")
