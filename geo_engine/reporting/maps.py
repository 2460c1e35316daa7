"""Prepare cell results for drawing: coarser H3 parents, colour scales, and folium hexagon maps."""

from __future__ import annotations

import functools
import hashlib
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

from geo_engine.i18n import number, numbers
from geo_engine.spatial.grid import cell_polygons

__all__ = [
    "CATEGORICAL",
    "DIVERGING",
    "LOCAL_ASSETS",
    "MAX_POLYGONS",
    "NO_DATA_COLOUR",
    "SEQUENTIAL",
    "CategoricalLegend",
    "HexLayer",
    "Orientation",
    "axis_labels",
    "bar_chart",
    "base_map",
    "cells_key",
    "declutter",
    "display_resolution",
    "dual_map",
    "escape_markdown",
    "hex_layer",
    "hexagon_bounds",
    "hexagon_rings",
    "histogram_chart",
    "in_view",
    "ramp_colours",
    "to_parent",
    "use_local_assets",
    "view_bounds",
    "view_resolution",
]

NO_DATA_COLOUR = "#bdbdbd"
"""Fill of units without a value (shown as missing, never as zero)."""

LOCAL_ASSETS: dict[str, str] = {
    "js": "/app/static/vendor/leaflet-1.9.3/leaflet.js",
    "css": "/app/static/vendor/leaflet-1.9.3/leaflet.css",
}
"""Where the app serves its own copy of Leaflet (see ``static/vendor/README.md``)."""

MAX_POLYGONS = 30_000
"""Most hexagons sent to the browser in one map (Leaflet stays responsive below this)."""

SEQUENTIAL = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
"""Viridis, light = high: perceptually uniform and readable with colour-vision deficiencies."""

DIVERGING = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")
"""ColorBrewer RdBu (reversed), for differences around zero; colour-blind safe."""

CATEGORICAL = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
               "#000000", "#882255")
"""Okabe–Ito's eight colours, distinguishable with the common colour-vision deficiencies, then Paul
Tol's wine (his colour-blind-safe "muted" scheme) for a ninth category — the nine Peru families of
the niche-family map; darker than the reddish purple and unlike the grey of missing data."""


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
    """JSON array of the rings of all hexagons (ids as bytes)."""
    return _compact_json(_rings_cached(key))


def hexagon_rings(ids: np.ndarray) -> tuple[list[list[float]], ...]:
    """Return each cell's boundary as a closed lon/lat ring (5 decimals, ~1 m), cached per id set.

    When some cell crosses the antimeridian, negative longitudes are given as 180–360° so that
    the region is drawn in one piece (web maps accept longitudes beyond 180°).

    The same hexagons are redrawn on every re-scoring; only their colours change, so their
    coordinates are computed once.
    """
    return _rings_cached(np.ascontiguousarray(ids, dtype=np.uint64).tobytes())


def cells_key(ids: np.ndarray) -> str:
    """Return a short key naming a set of hexagons (the same ids in the same order, the same key).

    The browser keeps the hexagons it drew under this key and recolours them when it comes again.
    """
    data = np.ascontiguousarray(ids, dtype=np.uint64).tobytes()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def hexagon_bounds(ids: np.ndarray, *, pad: float = 0.3) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) around the hexagons' centres, padded by ``pad`` degrees.

    East of 180° when the hexagons cross the antimeridian (as :func:`hexagon_rings` draws them).
    Cached per set of hexagons, as their rings are.
    """
    return _bounds_cached(np.ascontiguousarray(ids, dtype=np.uint64).tobytes(), pad)


@functools.lru_cache(maxsize=16)
def _bounds_cached(key: bytes, pad: float) -> tuple[float, float, float, float]:
    ids = np.frombuffer(key, dtype=np.uint64)
    lats, lons = _centres(ids)
    if any(x > 180 for r in hexagon_rings(ids) for x, _ in r):
        lons = np.where(lons < 0, lons + 360, lons)
    return (float(lons.min()) - pad, float(lats.min()) - pad, float(lons.max()) + pad,
            float(lats.max()) + pad)


@functools.lru_cache(maxsize=32)
def _escaped(values: tuple[object, ...], no_data: str) -> tuple[str, ...]:
    """Return tooltip texts: HTML-escaped, ``no_data`` where missing.

    Cached: most columns of a map (names, populations) stay the same while the scores change.
    """
    return tuple(no_data if v is None or (isinstance(v, float) and np.isnan(v))
                 else html.escape(str(v)) for v in values)


@functools.lru_cache(maxsize=16)
def _centres_cached(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    ids = np.frombuffer(key, dtype=np.uint64)
    lat_lon = np.array([h3n.cell_to_latlng(c) for c in ids], dtype=float).reshape(-1, 2)
    return lat_lon[:, 0], lat_lon[:, 1]


def _centres(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the cells' centres (lat, lon), cached per id set as :func:`hexagon_rings` is."""
    return _centres_cached(np.ascontiguousarray(ids, dtype=np.uint64).tobytes())


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
    within: np.ndarray | None = None,
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
    within : numpy.ndarray of bool, optional
        Per cell: keep only the parents with at least one such child (a map's view), each still
        aggregated over all its children.

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
    if within is not None:
        touched = np.zeros(n, dtype=bool)
        touched[inverse[np.asarray(within, dtype=bool)]] = True
        out = out[touched].reset_index(drop=True)
    return out


def view_resolution(ids: np.ndarray, inside: np.ndarray, *, coarsest: int,
                    max_polygons: int = MAX_POLYGONS) -> int:
    """Return the finest resolution whose hexagons touching a view number ≤ ``max_polygons``.

    Parameters
    ----------
    ids : numpy.ndarray of uint64
        The cells (one resolution).
    inside : numpy.ndarray of bool
        Per cell: its centre lies in the view (:func:`in_view`).
    coarsest : int
        The resolution the whole map is drawn at; returned when no finer one fits.
    max_polygons : int, default :data:`MAX_POLYGONS`

    Returns
    -------
    int
        Between ``coarsest`` and the cells' own resolution.
    """
    ids = np.ascontiguousarray(ids, dtype=np.uint64)
    inside = np.asarray(inside, dtype=bool)
    if not inside.any():
        return coarsest
    own = int(h3n.get_resolution(ids[0]))
    key = ids.tobytes()
    for res in range(own, coarsest, -1):
        # parents' count only once the cells alone fit: each step divides it by about 7
        if int(inside.sum()) <= max_polygons * 7 ** (own - res):
            _, inverse = _parents(key, res)
            if np.unique(inverse[inside]).size <= max_polygons:
                return res
    return coarsest


def in_view(lat: np.ndarray, lon: np.ndarray, bounds: tuple[float, float, float, float], *,
            pad: float = 0.1) -> np.ndarray:
    """Return which points lie in (west, south, east, north), widened by ``pad`` of its size.

    The margin keeps hexagons under the edges of the map when it is panned a little.
    """
    west, south, east, north = bounds
    dx, dy = (east - west) * pad, (north - south) * pad
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    return ((lat >= south - dy) & (lat <= north + dy) & (lon >= west - dx) & (lon <= east + dx))


def view_bounds(state: Mapping[str, Any] | None) -> tuple[float, float, float, float] | None:
    """Return (west, south, east, north) of a map's view as streamlit-folium reports it.

    ``state["bounds"]`` is ``{"_southWest": {"lat", "lng"}, "_northEast": {"lat", "lng"}}``;
    None when it is missing or incomplete.
    """
    try:
        sw, ne = state["bounds"]["_southWest"], state["bounds"]["_northEast"]  # type: ignore[index]
        out = (float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
    except (KeyError, TypeError, ValueError):
        return None
    return out if all(np.isfinite(out)) and out[0] < out[2] and out[1] < out[3] else None


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


class _ScriptAsIs(MacroElement):
    """An element whose script, holding much data, is added to the page without compiling it.

    branca adds a rendered script as a new template, which it compiles on every render (a pass
    over every byte of data the script holds).
    """

    def render(self, **kwargs: Any) -> str:
        """Add the script to the figure as it is."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            msg = f"{type(self).__name__} can only be rendered in a map inside a figure"
            raise TypeError(msg)
        figure.script.add_child(_Script(self._template.module.script(self, kwargs)),
                                name=self.get_name())
        return ""


_CELLS_JS = """
function geCells(map, spec, cols, rings) {
  var cur = map.geCells, S = window.Streamlit, G = window.__GLOBAL_DATA__;
  if (!rings && !(cur && cur.key === spec.key)) {
    if (!S || !G) { return; }
    if (!S.geAsking) {  // every value sent while the rings are missing carries the request
      var send = S.setComponentValue;
      S.setComponentValue = function(v) {
        send.call(S, window.geMissing ? Object.assign({}, v, {missing_cells: window.geMissing}) : v);
      };
      S.geAsking = true;
    }
    window.geMissing = window.geMissing || spec.key + ':' + Date.now();
    S.setComponentValue(G.previous_data);
    return;
  }
  window.geMissing = null;
  var style = function(i) { var c = cols.fill[i]; return {fillColor: c, color: c, weight: 1,
      fillOpacity: spec.opacity, opacity: spec.opacity}; };
  if (cur && cur.key === spec.key) {
    cur.spec = spec; cur.cols = cols;
    cur.layers.forEach(function(l, i) { l.setStyle(style(i)); });
    return;
  }
  if (cur) { map.removeLayer(cur.group); }
  var state = {key: spec.key, spec: spec, cols: cols, layers: []};
  state.layers = rings.map(function(r, i) {
    var poly = L.polygon(r.map(function(c) { return [c[1], c[0]]; }), style(i));
    poly.geIndex = i; return poly; });
  state.group = L.featureGroup(state.layers);
  state.group.bindTooltip(function(l) {
    var s = state.spec, rows = s.fields.map(function(f, k) {
      return '<tr><th>' + s.aliases[k] + '</th><td>' + state.cols[f][l.geIndex] + '</td></tr>'; });
    return '<table class="ge-tip">' + rows.join('') + '</table>'; }, {sticky: true});
  state.group.on('mouseover', function(e) { e.layer.setStyle({weight: 2, color: '#000000'}); });
  state.group.on('mouseout', function(e) {
    e.layer.setStyle({weight: 1, color: state.cols.fill[e.layer.geIndex]}); });
  state.group.addTo(map);
  map.geCells = state;
}
"""
"""The browser side of :class:`_CellLayer`: draw the hexagons once, then only restyle them."""


class _CellLayer(_ScriptAsIs):
    """Hexagons drawn by the browser from their rings and colours, kept between redraws.

    The hexagons are added to the map itself (not to the layer group that holds this element),
    under ``map.geCells`` with the key of their set of ids. Sent again with the same key, they
    are only restyled (new colours and tooltips on the polygons already drawn), and the rings
    may then be left out (``rings`` None): re-creating 5,000 SVG polygons took longer than
    scoring. When rings are left out but the browser lacks them (the map was drawn anew), the
    map asks for them through the component's value: every value it sends carries
    ``missing_cells`` (one token per request) until rings come, so a view change sent at the
    same moment cannot hide the request.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}" + _CELLS_JS.strip() + "\n"
        "geCells({{ this._parent._parent.get_name() }}, {{ this.spec }}, {{ this.cols }},"
        " {{ this.rings }});{% endmacro %}")

    def __init__(self, spec: Mapping[str, Any], cols: Mapping[str, Sequence[Any]],
                 rings: str | None) -> None:
        super().__init__()
        self._name = "CellLayer"
        self.spec = htmlsafe_json_dumps(dict(spec), dumps=_compact_json)
        self.cols = htmlsafe_json_dumps({k: list(v) for k, v in cols.items()}, dumps=_compact_json)
        self.rings = rings if rings is not None else "null"


def _compact_json(obj: Any, **kwargs: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), **kwargs)


_HEX_BYTES = np.array([f"{i:02x}" for i in range(256)], dtype=object)


def ramp_colours(values: np.ndarray, colors: Sequence[str], *, vmin: float, vmax: float
                 ) -> list[str]:
    """Return the ``#rrggbbaa`` colour of each value on a linear ramp, grey where missing.

    The colours of ``branca.colormap.LinearColormap(colors, vmin=vmin, vmax=vmax)`` for the
    values clipped to [vmin, vmax] (same arithmetic, one array pass instead of a Python call
    per hexagon); :data:`~geo_engine.reporting.maps.NO_DATA_COLOUR` where a value is not finite.
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
    """Hexagons ready to draw: the folium layer, its legend (HTML), the view, their set's key.

    ``key`` names the set of hexagons (:func:`cells_key`).
    """

    group: folium.FeatureGroup
    legend: str
    bounds: tuple[float, float, float, float]
    key: str



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
    opacity: float = 0.8,
    lang: str = "en",
    send_rings: bool = True,
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
    opacity : float, default 0.8
        Opacity of the hexagons' fill and edge, in [0, 1] (lower shows more of the map under them).
    lang : {"en", "es"}
        How the legend writes numbers (:func:`geo_engine.i18n.number`).
    send_rings : bool, default True
        Send the hexagons' outlines. Leave them out when the map in the browser already drew
        this set of hexagons (same :attr:`HexLayer.key`): it then only recolours them, and asks
        for the outlines if it has lost them (see :class:`_CellLayer`).

    Returns
    -------
    HexLayer
    """
    if not 0 <= opacity <= 1:
        msg = f"`opacity` was {opacity} but must be between 0 and 1"
        raise ValueError(msg)
    if len(frame) > MAX_POLYGONS:
        msg = (f"{len(frame):,} hexagons is more than the {MAX_POLYGONS:,} a map can draw "
               "smoothly; aggregate to a coarser resolution with to_parent()")
        raise ValueError(msg)
    # short property keys: a smaller payload, and none for streamlit-folium to rename (it
    # rewrites every `_name` of the script, which the column names would be)
    field = {col: f"t{i}" for i, col in enumerate(tooltip)}
    shown: dict[str, list[str]] = {}
    for col in tooltip:
        values = tuple(frame[col].to_numpy(dtype=object).tolist())  # not Arrow's slow iterator
        fmt = (formats or {}).get(col)
        if fmt is not None:
            shown[field[col]] = [no_data_label if pd.isna(v) else format(float(v), fmt)
                                 for v in values]
        else:
            shown[field[col]] = list(_escaped(values, no_data_label))
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
    ids = np.ascontiguousarray(frame["h3"].to_numpy(dtype=np.uint64))
    west, south, east, north = bounds if bounds is not None else hexagon_bounds(ids)
    group = folium.FeatureGroup(name="cells")
    key = cells_key(ids)
    spec = {"key": key, "opacity": round(opacity, 2), "fields": list(shown),
            "aliases": [html.escape(str(a)) for a in tooltip.values()]}
    _CellLayer(spec, {**shown, "fill": fill},
               _rings_json(ids.tobytes()) if send_rings else None).add_to(group)
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
              else _continuous_legend_html(caption, list(colors), lo, hi, no_data_label, lang))
    return HexLayer(group=group, legend=legend, bounds=(west, south, east, north), key=key)


@dataclass(frozen=True)
class Orientation:
    """What a map draws to find one's way without tiles: land, water, outlines, names, credits.

    Attributes
    ----------
    land : geopandas.GeoDataFrame
        The region's own outline (filled under everything; the country border is its edge).
    outlines : geopandas.GeoDataFrame
        Unit borders drawn as lines over the hexagons (departments, or one department's districts).
    water : geopandas.GeoDataFrame, optional
        Lakes (polygons) and rivers (lines), drawn on the land under the hexagons.
    labels : pandas.DataFrame, optional
        ``name``, ``lat``, ``lon`` and ``kind`` (``"capital"``: a dot and its name; ``"unit"``: a
        unit's name in small capitals), drawn over the hexagons.
    credits : tuple of str
        Who made these data, shown in the map's attribution (plain text, escaped when drawn).
    """

    land: gpd.GeoDataFrame
    outlines: gpd.GeoDataFrame
    water: gpd.GeoDataFrame | None = None
    labels: pd.DataFrame | None = None
    credits: tuple[str, ...] = ()

    @functools.cached_property
    def geojson(self) -> dict[str, str]:
        """The land, water and outlines as GeoJSON text, written once (every map reuses it)."""
        frames = {"land": self.land, "water": self.water, "outlines": self.outlines}
        return {k: _geojson_text(f) for k, f in frames.items() if f is not None and len(f)}


def _geojson_text(frame: gpd.GeoDataFrame) -> str:
    """Return a frame's geometries as compact GeoJSON, safe inside an HTML script."""
    return str(htmlsafe_json_dumps(frame[["geometry"]].__geo_interface__, dumps=_compact_json))


def declutter(labels: pd.DataFrame, *, points_per_degree: float, lat_scale: float = 1.0,
              font_pt: Mapping[str, float] | None = None, char_em: float = 0.62,
              line_em: float = 1.3) -> pd.DataFrame:
    """Return the names that can be written without covering one another, in their order.

    Parameters
    ----------
    labels : pandas.DataFrame
        ``name``, ``lat``, ``lon`` and ``kind`` (as :attr:`Orientation.labels`), most important
        first: capitals, then units from the largest (as :mod:`geo_engine.reporting.orientation`
        orders them), then places.
    points_per_degree : float
        Scale of the drawing: points (or pixels) per degree of latitude.
    lat_scale : float, default 1
        Points per degree of longitude over points per degree of latitude (the cosine of the
        map's central latitude when longitudes are stretched to true shape there).
    font_pt : mapping of str to float, optional
        Font size per ``kind`` in the same unit as ``points_per_degree`` (capital 6.5, unit 5.5,
        place 5 by default, the brief's sizes).
    char_em, line_em : float
        Width of a character and height of a line, as a share of the font size.

    Returns
    -------
    pandas.DataFrame
        The rows of ``labels`` whose box overlaps no box kept before it.

    Notes
    -----
    A name's box is ``len(name) × char_em × size`` wide and ``line_em × size`` high, centred on
    its point; a capital's name starts right of its dot. The rule is greedy in the given order:
    a name is skipped when its box overlaps one already placed, so a large unit keeps its name
    and a small neighbour that would cover it loses its own.
    """
    sizes = {"capital": 6.5, "unit": 5.5, "place": 5.0, **(font_pt or {})}
    placed: list[tuple[float, float, float, float]] = []
    keep = []
    for row in labels.itertuples(index=False):
        size = sizes.get(str(row.kind), sizes["unit"])
        width, height = len(str(row.name)) * char_em * size, line_em * size
        x = float(row.lon) * points_per_degree * lat_scale
        y = float(row.lat) * points_per_degree
        x0 = x + size / 2 if row.kind == "capital" else x - width / 2
        box = (x0, y - height / 2, x0 + width, y + height / 2)
        clear = all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1]
                    for b in placed)
        keep.append(clear)
        if clear:
            placed.append(box)
    return labels[np.asarray(keep, dtype=bool)] if len(labels) else labels


TILES_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
"""Background tiles tried first; without them the map shows :class:`Orientation` alone."""

TILES_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                     "OpenStreetMap</a> contributors")

_TILE_WAIT_MS = 6000
"""How long the browser waits for a first tile before dropping the tiles and their credit."""

_MAP_CSS = """
<style>
.leaflet-container { background: #dfe4e8; }
.leaflet-tooltip.ge-label { background: transparent; border: 0; box-shadow: none; padding: 0 2px;
  font: 600 11px sans-serif; color: #1a1a1a;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }
.leaflet-tooltip.ge-label:before { display: none; }
.ge-unit { pointer-events: none; }
.ge-unit span { position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
  font: italic 600 9px sans-serif; color: #3a3a3a; letter-spacing: 0.02em; text-transform: uppercase;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }
.leaflet-container .leaflet-control-attribution { font-size: 10px; line-height: 1.3; max-width: 75%; }
.ge-small .leaflet-tooltip.ge-capital { display: none; }
</style>
"""


class _TileFallback(MacroElement):
    """Drop the tile layer (and so its attribution) when no tile loads: the map is offline."""

    _template = Template("""
{% macro header(this, kwargs) %}""" + _MAP_CSS + """{% endmacro %}
{% macro script(this, kwargs) %}
(function() {
  var map = {{ this._parent.get_name() }};
  {% if this.tiles %}
  var tiles = {{ this.tiles.get_name() }}, loaded = false;
  var drop = function() { if (!loaded && map.hasLayer(tiles)) { map.removeLayer(tiles); } };
  tiles.on('tileload', function() { loaded = true; });
  tiles.on('tileerror', drop);
  setTimeout(drop, {{ this.wait }});
  {% endif %}
  {% if this.credits %}map.attributionControl.addAttribution({{ this.credits | tojson }});{% endif %}
  var small = function() {
    map.getContainer().classList.toggle('ge-small', map.getZoom() < {{ this.label_zoom }}); };
  map.on('zoomend', small); map.whenReady(small);
})();
{% endmacro %}
""")

    def __init__(self, tiles: folium.TileLayer | None, credits: str, label_zoom: int) -> None:
        super().__init__()
        self._name = "TileFallback"
        self.tiles = tiles
        self.credits = credits
        self.wait = _TILE_WAIT_MS
        self.label_zoom = label_zoom


class _Names(MacroElement):
    """Place names over the hexagons: a dot and a name per capital, a name alone per unit.

    One element draws them all from a list (49 folium markers with tooltips took 0.1 s to
    render on every rerun). Names are HTML-escaped here; Leaflet shows them as HTML. They sit in
    the ``ge-lines`` pane, not interactive and without pointer events, so clicks reach the
    hexagons. Unit names are centred icons (a centred tooltip drifted from its point after the
    view was fitted).
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function() {
  var map = {{ this._parent.get_name() }}, names = [];
  {{ this.items | tojson }}.forEach(function(d) {
    if (d.kind === 'capital') {  // a dot, its name to the right
      L.circleMarker([d.lat, d.lon], {pane: 'ge-lines', interactive: false, radius: 4,
          color: '#1a1a1a', weight: 1.5, fillColor: '#ffffff', fillOpacity: 1})
        .bindTooltip(d.name, {permanent: true, direction: 'right',
                              className: 'ge-label ge-capital'})
        .addTo(map);
    } else {  // a name alone, centred on its point
      names.push(L.marker([d.lat, d.lon], {pane: 'ge-lines', interactive: false, keyboard: false,
          icon: L.divIcon({className: 'ge-label ge-' + d.kind, iconSize: null,
                           html: '<span>' + d.name + '</span>'})})
        .addTo(map));
    }
  });
  // larger units first (the order given): a name whose box overlaps a shown one is hidden
  var declutter = function() {
    var placed = [];
    map.getContainer().querySelectorAll('.ge-capital').forEach(function(el) {
      var r = el.getBoundingClientRect(); if (r.width > 0) { placed.push(r); } });
    names.forEach(function(m) {
      var span = m.getElement() && m.getElement().firstChild;
      if (!span) { return; }
      span.style.visibility = '';
      var r = span.getBoundingClientRect();
      var clear = placed.every(function(b) {
        return r.right <= b.left || b.right <= r.left || r.bottom <= b.top || b.bottom <= r.top; });
      if (clear) { placed.push(r); } else { span.style.visibility = 'hidden'; }
    });
  };
  map.on('zoomend moveend', declutter); map.whenReady(function() { setTimeout(declutter, 0); });
})();
{% endmacro %}
""")

    def __init__(self, labels: pd.DataFrame) -> None:
        super().__init__()
        self._name = "Names"
        self.items = [{"name": html.escape(str(r.name)), "lat": round(float(r.lat), 5),
                       "lon": round(float(r.lon), 5), "kind": str(r.kind)}
                      for r in labels.itertuples(index=False)]


def base_map(*, bounds: tuple[float, float, float, float],
             boundaries: gpd.GeoDataFrame | None = None,
             orientation: Orientation | None = None, tiles: bool = True,
             label_zoom: int = 6) -> folium.Map:
    """Return the map the hexagons are drawn on: background, view and reference outlines.

    Built anew on every call but identical for the same bounds and outlines, so the browser
    keeps it and only swaps the hexagon layer when scores change.

    Parameters
    ----------
    bounds : tuple
        (west, south, east, north) to fit.
    boundaries : geopandas.GeoDataFrame, optional
        Outlines drawn over the hexagons when there is no ``orientation``.
    orientation : Orientation, optional
        The offline base: land and water under the hexagons (and under the tiles), outlines and
        names over them, and the credits of these data.
    tiles : bool, default True
        Try the OpenStreetMap tiles of :data:`TILES_URL` under everything. When none has loaded
        after a few seconds or one fails first (no internet), the browser removes the tile layer
        and with it the OpenStreetMap credit, so the map credits only what it shows.
    label_zoom : int, default 6
        Capitals' names are shown from this zoom on (their dots always).

    Notes
    -----
    Panes order the drawing: land and water (z 150) under the tiles (200), the hexagons (400),
    then outlines and names (450) that let clicks through to the hexagons.
    """
    west, south, east, north = bounds
    fmap = folium.Map(tiles=None, control_scale=True)
    fmap.fit_bounds([[south, west], [north, east]])
    return _add_base(fmap, boundaries=boundaries, orientation=orientation, tiles=tiles,
                     label_zoom=label_zoom)


class _Shapes(_ScriptAsIs):
    """Reference shapes (land, water, outlines) in one style, not interactive, in a pane.

    Their GeoJSON is written once (:attr:`Orientation.geojson`) and added to the page as it is: a
    ``folium.GeoJson`` re-serialises its data and branca compiles the script holding it as a
    template on every render (two renders a rerun in the app, a fifth of a second each for
    Peru's outlines).
    """

    _template = Template(
        "{% macro script(this, kwargs) %}L.geoJson({{ this.data }}, {pane: {{ this.pane }},"
        " interactive: false, style: function() { return {{ this.style }}; }})"
        ".addTo({{ this._parent.get_name() }});{% endmacro %}")

    def __init__(self, data: str, *, pane: str, style: Mapping[str, object]) -> None:
        super().__init__()
        self._name = "Shapes"
        self.data = data
        self.pane = json.dumps(pane)
        self.style = json.dumps(dict(style))


def _add_base(fmap: folium.Map, *, boundaries: gpd.GeoDataFrame | None,
              orientation: Orientation | None, tiles: bool, label_zoom: int) -> folium.Map:
    """Add :func:`base_map`'s tiles, panes, land, water, outlines, names and credits to a map."""
    layer = None
    if tiles:
        layer = folium.TileLayer(TILES_URL, attr=TILES_ATTRIBUTION, name="OpenStreetMap",
                                 max_zoom=19)
        layer.add_to(fmap)
    folium.map.CustomPane("ge-land", z_index=150, pointer_events=False).add_to(fmap)
    folium.map.CustomPane("ge-lines", z_index=450, pointer_events=False).add_to(fmap)
    shapes = orientation.geojson if orientation is not None else (
        {"outlines": _geojson_text(boundaries)} if boundaries is not None and len(boundaries)
        else {})
    if "land" in shapes:
        _Shapes(shapes["land"], pane="ge-land", style={
            "fillColor": "#f6f3ea", "fillOpacity": 1.0, "color": "#6b6b6b", "weight": 1.2,
        }).add_to(fmap)
    if "water" in shapes:
        _Shapes(shapes["water"], pane="ge-land", style={
            "fillColor": "#a8cbe0", "fillOpacity": 1.0, "color": "#7fb0cf", "weight": 1.0,
        }).add_to(fmap)
    if "outlines" in shapes:
        _Shapes(shapes["outlines"], pane="ge-lines", style={
            "fill": False, "color": "#333333", "weight": 0.8, "opacity": 0.85,
        }).add_to(fmap)
    if orientation is not None and orientation.labels is not None and len(orientation.labels):
        _Names(orientation.labels).add_to(fmap)
    credits = " · ".join(html.escape(c) for c in (orientation.credits if orientation else ()))
    _TileFallback(layer, credits, label_zoom).add_to(fmap)
    return fmap


def _continuous_legend_html(caption: str, colors: Sequence[str], lo: float, hi: float,
                            no_data: str, lang: str = "en") -> str:
    span = abs(hi - lo)
    decimals = 0 if span >= 50 else 1 if span >= 5 else 2 if span >= 0.5 else 3
    ticks = "".join(f"<span>{number(v, lang, decimals=decimals)}</span>"
                    for v in np.linspace(lo, hi, 5))
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


def use_local_assets(fmap: folium.Map, assets: dict[str, str] | None = None) -> folium.Map:
    """Make a map load Leaflet from the app's own copy instead of a CDN.

    Only Leaflet is kept: the maps of this module need neither jQuery nor Bootstrap, and their
    legend is plain HTML.

    Parameters
    ----------
    fmap : folium.Map
        Map to change in place.
    assets : dict, optional
        ``{"js": url, "css": url}``; :data:`LOCAL_ASSETS` by default.

    Returns
    -------
    folium.Map
        The same map, for chaining.
    """
    assets = assets or LOCAL_ASSETS
    fmap.default_js = [("leaflet", assets["js"])]
    fmap.default_css = [("leaflet_css", assets["css"])]
    return fmap


def axis_labels(lang: str, *, decimals: int = 0) -> str:
    """Return a Vega expression that writes an axis label as :func:`geo_engine.i18n.number` does.

    Spanish groups thousands with a point and uses a decimal comma; English the other way round.
    """
    text = f"format(datum.value, ',.{decimals}f')"
    if lang != "es":
        return text
    return (f"replace(replace(replace({text}, regexp(',', 'g'), '~'), regexp('[.]', 'g'), ','),"
            " regexp('~', 'g'), '.')")


def histogram_chart(values: np.ndarray, *, marked: float | None, mark_label: str, x_title: str,
                    y_title: str, lang: str = "es", bins: int = 30) -> Any:
    """Return an Altair histogram of ``values`` with one value marked by a labelled rule.

    Parameters
    ----------
    values : numpy.ndarray
        The values (NaN left out); counted in ``bins`` equal bins here, so the chart carries
        ``bins`` rows whatever the number of values.
    marked : float, optional
        Value to mark (the selected cell's); nothing is marked when it is None or NaN.
    mark_label : str
        Text beside the mark.
    x_title, y_title : str
        Axis titles.
    lang : {"es", "en"}
        How axis numbers are written.
    bins : int, default 30

    Returns
    -------
    altair.LayerChart
    """
    import altair as alt

    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi if hi > lo else lo + 1.0))
    table = pd.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts})
    bars = alt.Chart(table).mark_bar(color=SEQUENTIAL[1]).encode(
        x=alt.X("start:Q", title=x_title, axis=alt.Axis(labelExpr=axis_labels(lang, decimals=2))),
        x2="end:Q",
        # a symmetric-log count: one bin holding most cells (zeros) does not flatten the others
        y=alt.Y("count:Q", title=y_title, scale=alt.Scale(type="symlog"),
                axis=alt.Axis(labelExpr=axis_labels(lang))),
        y2=alt.datum(0))
    layers = [bars]
    if marked is not None and np.isfinite(marked):
        point = pd.DataFrame({"x": [float(marked)], "label": [mark_label]})
        rule = alt.Chart(point).mark_rule(color="#d62728", strokeWidth=2).encode(x="x:Q")
        text = alt.Chart(point).mark_text(align="left", dx=4, dy=-6, color="#d62728",
                                          fontWeight="bold").encode(
            x="x:Q", y=alt.value(8), text="label:N")
        layers += [rule, text]
    return alt.layer(*layers).properties(height=170)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, lang: str = "es",
              decimals: int = 3, colors: tuple[str, str] = (SEQUENTIAL[2], "#b2182b")) -> Any:
    """Return a horizontal Altair bar chart, one labelled bar per item, in the order given.

    Each bar carries its value written as ``lang`` writes numbers; negative values (a layer
    pulling a score down) are drawn in the second colour.

    Parameters
    ----------
    labels : sequence of str
        Bar names (shown whole on the axis, up to 170 px, then cut with an ellipsis; the
        tooltip has them whole).
    values : sequence of float
    title : str
        Axis title of the values.
    lang : {"es", "en"}
    decimals : int, default 3
        Decimals of the bar labels and axis.
    colors : (str, str)
        Colours of positive and negative bars.

    Returns
    -------
    altair.LayerChart
    """
    import altair as alt

    table = pd.DataFrame({"label": list(labels), "value": np.asarray(values, dtype=float)})
    table["text"] = numbers(table["value"], lang, decimals=decimals)
    table["sign"] = np.where(table["value"] < 0, "neg", "pos")
    y = alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=170))
    bars = alt.Chart(table).mark_bar().encode(
        x=alt.X("value:Q", title=title, axis=alt.Axis(labelExpr=axis_labels(lang, decimals=decimals
                                                                            if decimals < 3 else 2))),
        y=y, color=alt.Color("sign:N", scale=alt.Scale(domain=["pos", "neg"], range=list(colors)),
                             legend=None),
        tooltip=[alt.Tooltip("label:N", title=" "), alt.Tooltip("text:N", title=title)])
    text = alt.Chart(table).mark_text(align="left", dx=3, fontSize=11).encode(
        x="value:Q", y=y, text="text:N")
    return alt.layer(bars, text).properties(height=alt.Step(22))


SYNC_JS = "/app/static/vendor/leaflet-sync-0.2.4/L.Map.Sync.js"
"""Where the app serves its copy of Leaflet.Sync, which keeps two maps on the same view."""


class _LegendControl(MacroElement):
    """A legend drawn as a Leaflet control, so each of two maps side by side has its own."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function() {
  var legend = L.control({position: 'bottomright'});
  legend.onAdd = function() {
    var box = L.DomUtil.create('div'); box.innerHTML = {{ this.markup | tojson }}; return box; };
  legend.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
""")

    def __init__(self, markup: str) -> None:
        super().__init__()
        self._name = "LegendControl"
        # in the control's corner, compact: two maps share the width of one
        self.markup = (markup.replace("position:absolute;z-index:9999;bottom:24px;right:12px;", "")
                       .replace("font:12px sans-serif;", "font:10px sans-serif;max-width:240px;")
                       .replace("width:220px", "width:150px"))


def dual_map(left: HexLayer, right: HexLayer, *, orientation: Orientation | None = None,
             tiles: bool = True, assets: Mapping[str, str] | None = None) -> Any:
    """Return two maps side by side that pan and zoom together (folium's ``DualMap``).

    Parameters
    ----------
    left, right : HexLayer
        The hexagons of each map (:func:`hex_layer`); each map shows its own legend, so the
        captions should say which is which ("A: …", "B: …").
    orientation : Orientation, optional
        The offline base drawn on both (:func:`base_map`).
    tiles : bool, default True
        As in :func:`base_map`.
    assets : mapping, optional
        ``{"js": url, "css": url, "sync": url}`` of Leaflet and Leaflet.Sync; by default the
        app's own copies (:data:`geo_engine.reporting.maps.LOCAL_ASSETS` and :data:`SYNC_JS`), so the
        maps work offline.

    Returns
    -------
    folium.plugins.DualMap
        Render it with ``get_root().render()`` into a self-contained page.
    """
    from folium.plugins import DualMap

    urls = {**LOCAL_ASSETS, "sync": SYNC_JS, **(assets or {})}
    dual = DualMap(tiles=None, control_scale=True)
    dual.default_js = [("Leaflet.Sync", urls["sync"])]
    west = min(left.bounds[0], right.bounds[0])
    south = min(left.bounds[1], right.bounds[1])
    east = max(left.bounds[2], right.bounds[2])
    north = max(left.bounds[3], right.bounds[3])
    for fmap, layer in ((dual.m1, left), (dual.m2, right)):
        use_local_assets(fmap, {"js": urls["js"], "css": urls["css"]})
        fmap.fit_bounds([[south, west], [north, east]])
        _add_base(fmap, boundaries=None, orientation=orientation, tiles=tiles, label_zoom=6)
        layer.group.add_to(fmap)
        _LegendControl(layer.legend).add_to(fmap)
    return dual
