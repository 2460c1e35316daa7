"""The friction surface: each cell's speed from terrain, roads, rivers, lakes and towns, plus links."""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import WindowError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from geo_engine._errors import GeoEngineWarning, MissingSourceError, SourceFormatError
from geo_engine.access.graph import Graph, neighbour_graph
from geo_engine.access.speeds import (
    ROAD_SPEED_COLUMN,
    FloatArray,
    Friction,
    IntArray,
    SpeedTable,
    show_value,
    walking_speed,
)
from geo_engine.ingest.raster import raster_to_cells
from geo_engine.ingest.vector import (
    LINE_TYPES,
    check_features,
    lines_to_cells,
    point_positions,
    polygons_to_cells,
)
from geo_engine.io.safe_read import open_raster
from geo_engine.spatial.sphere import (
    EARTH_RADIUS_KM,
    Grid,
    check_grid,
    edge_km,
    haversine_km,
    unit_vectors,
)

__all__ = [
    "are_adjacent",
    "cell_speeds",
]

def _dem_window(src: Any, g: Grid) -> Window:
    """Window of the DEM covering the grid's cells with a margin of two cell edges."""
    pad = 2.0 * edge_km(g.resolution) / (EARTH_RADIUS_KM * math.pi / 180.0)  # in degrees of latitude
    coslat = max(math.cos(math.radians(float(np.abs(g.lat).max()) + pad)), 1e-6)
    bounds = (float(g.lon.min()) - pad / coslat, float(g.lat.min()) - pad,
              float(g.lon.max()) + pad / coslat, float(g.lat.max()) + pad)
    if not CRS.from_user_input(src.crs).equals("EPSG:4326"):
        bounds = transform_bounds("EPSG:4326", src.crs, *bounds)
    raw = from_bounds(*bounds, transform=src.transform)
    col0, row0 = math.floor(raw.col_off), math.floor(raw.row_off)
    win = Window(col0, row0, math.ceil(raw.col_off + raw.width) - col0,
                 math.ceil(raw.row_off + raw.height) - row0)
    try:
        return win.intersection(Window(0, 0, src.width, src.height))
    except WindowError as err:
        msg = f"the elevation raster {src.name} does not cover the grid; use a DEM of the region"
        raise SourceFormatError(msg) from err


def _terrain_raster(elevation: str | os.PathLike[str], g: Grid, table: SpeedTable, folder: str) -> Path:
    """Write walking pace (h/km), slope and elevation of the DEM window over the grid to a GeoTIFF."""
    path = Path(elevation)
    if not path.is_file():
        msg = f"elevation raster {path} not found; pass the path of a DEM (e.g. data/peru/elevation.tif)"
        raise MissingSourceError(msg)
    with open_raster(path) as src:  # a GeoTIFF with a CRS, checked like every user raster
        t = src.transform
        if t.b != 0 or t.d != 0:
            msg = f"elevation raster {path} is rotated; warp it to a north-up grid first (gdalwarp)"
            raise SourceFormatError(msg)
        win = _dem_window(src, g)
        data = src.read(1, window=win, masked=True)
        z = np.ma.filled(data.astype(np.float64), np.nan)
        z = z * float(src.scales[0]) + float(src.offsets[0])
        wt = src.window_transform(win)
        crs = CRS.from_user_input(src.crs)
        profile = {"driver": "GTiff", "width": z.shape[1], "height": z.shape[0], "count": 3,
                   "dtype": "float32", "crs": src.crs, "transform": wt, "nodata": np.nan}
    if crs.is_geographic:
        rows = np.arange(z.shape[0]) + 0.5
        lat = wt.f + wt.e * rows
        metres_per_degree = EARTH_RADIUS_KM * 1000.0 * math.pi / 180.0
        dy = abs(wt.e) * metres_per_degree
        dx = (abs(wt.a) * metres_per_degree * np.cos(np.radians(lat)))[:, None]
    else:
        unit = float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0
        dx, dy = abs(wt.a) * unit, abs(wt.e) * unit
    if min(z.shape) >= 2:
        gy, gx = np.gradient(z)
        slope = np.hypot(gx / dx, gy / dy)
    else:
        slope = np.zeros_like(z)
    pace = 1.0 / (table.walk_factor * walking_speed(slope))
    out = Path(folder) / "terrain.tif"
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack([pace, slope, z]).astype(np.float32))
    return out


def are_adjacent(graph: Graph, a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """Whether cells ``a[k]`` and ``b[k]`` are neighbours in the graph."""
    out = np.zeros(len(a), dtype=bool)
    if len(a) == 0:
        return out
    start = graph.indptr[a].astype(np.int64)
    degree = graph.indptr[a + 1].astype(np.int64) - start
    for k in range(int(degree.max())):
        has = k < degree
        out[has] |= graph.indices[start[has] + k] == b[has]
    return out


def _line_links(g: Grid, graph: Graph, geoms: np.ndarray, speed: FloatArray, max_gap_km: float
                ) -> tuple[IntArray, FloatArray]:
    """Pairs of grid rows joined by a line that runs outside the grid between them, and its speed.

    Each line is sampled every quarter of a cell edge (linear steps in lon/lat, far shorter than a
    cell); consecutive samples that fall in grid cells, with only samples outside the grid between
    them, mark a gap. A gap of at most ``max_gap_km`` of line between two cells that are not
    neighbours gives a link.
    """
    empty = (np.empty((0, 2), np.int64), np.empty(0))
    if len(geoms) == 0 or g.size == 0:
        return empty
    parts, line = shapely.get_parts(geoms, return_index=True)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return empty
    lon, lat = coords[:, 0], coords[:, 1]
    seg_km = haversine_km(lat[:-1], lon[:-1], lat[1:], lon[1:])
    same = part[1:] == part[:-1]
    seg = np.flatnonzero(same)
    along = np.concatenate([[0.0], np.cumsum(np.where(same, seg_km, 0.0))])  # km from the part's start
    step = 0.25 * edge_km(g.resolution)
    n_sub = np.maximum(np.ceil(seg_km[seg] / step), 1).astype(np.int64)
    which = np.repeat(seg, n_sub)
    t = (np.arange(len(which)) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)) / np.repeat(n_sub, n_sub)
    ends = np.flatnonzero(np.concatenate([~same, [True]]))  # the last vertex of every part
    order = np.argsort(np.concatenate([which + t, ends.astype(float)]), kind="stable")
    s_lat = np.concatenate([lat[which] + t * (lat[which + 1] - lat[which]), lat[ends]])[order]
    s_lon = np.concatenate([lon[which] + t * (lon[which + 1] - lon[which]), lon[ends]])[order]
    s_km = np.concatenate([along[which] + t * seg_km[which], along[ends]])[order]
    s_part = np.concatenate([part[which], part[ends]])[order]
    rows = point_positions(pd.DataFrame({"h3": g.cells, "lat": g.lat, "lon": g.lon}), s_lat, s_lon)
    inside = np.flatnonzero(rows >= 0)
    a, b = inside[:-1], inside[1:]
    gap = ((b - a) > 1) & (s_part[a] == s_part[b]) & (rows[a] != rows[b]) \
        & (s_km[b] - s_km[a] <= max_gap_km)
    a, b = a[gap], b[gap]
    ra, rb = rows[a], rows[b]
    keep = ~are_adjacent(graph, ra, rb)
    pairs = np.column_stack([ra[keep], rb[keep]]).astype(np.int64)
    return pairs, speed[line[s_part[a[keep]]]].astype(float)


def _line_cells(grid: pd.DataFrame, lines: gpd.GeoDataFrame, min_km: float) -> FloatArray:
    """Length (km) of lines in each cell, 0 where it is shorter than ``min_km``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)  # an empty group is not news here
        length = lines_to_cells(grid, lines)
    return np.where(length >= min_km, length, 0.0)


def _road_line_speeds(roads: gpd.GeoDataFrame, table: SpeedTable) -> FloatArray:
    if ROAD_SPEED_COLUMN in roads:
        speed = pd.to_numeric(roads[ROAD_SPEED_COLUMN], errors="coerce").to_numpy(dtype=float,
                                                                                   na_value=np.nan)
        bad = ~(np.isfinite(speed) & (speed > 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            value = show_value(roads[ROAD_SPEED_COLUMN].iloc[first])
            msg = (f"{int(bad.sum())} roads have no positive speed in {ROAD_SPEED_COLUMN!r}, e.g. row "
                   f"{show_value(roads.index[first])} with {value}; every road needs a speed above 0 km/h "
                   "(drop the rows that are not roads)")
            raise ValueError(msg)
        return speed
    column = table.road_class_column
    if column not in roads:
        msg = (f"`roads` have neither a {ROAD_SPEED_COLUMN!r} column nor the class column {column!r}; "
               f"columns are {list(roads.columns)}; add speeds or set SpeedTable(road_class_column=...)")
        raise KeyError(msg)
    classes = roads[column]
    if classes.isna().any():
        msg = (f"{int(classes.isna().sum())} roads have no class in {column!r}; give them one of "
               f"{sorted(table.road_speeds_kmh)} or a {ROAD_SPEED_COLUMN!r} column")
        raise ValueError(msg)
    names = classes.astype(str)
    unknown = sorted(set(names) - set(table.road_speeds_kmh))
    if unknown:
        msg = (f"road classes {unknown} of column {column!r} have no speed; known classes are "
               f"{sorted(table.road_speeds_kmh)}: add them to SpeedTable(road_speeds_kmh=...)")
        raise ValueError(msg)
    return names.map(dict(table.road_speeds_kmh)).to_numpy(dtype=float)


@dataclass(frozen=True)
class _Lines:
    """Line features in EPSG:4326 with one value per feature."""

    frame: gpd.GeoDataFrame
    geoms: np.ndarray


def _lines(features: gpd.GeoDataFrame, what: str) -> _Lines:
    frame, geoms = check_features(features, what=what, allowed=LINE_TYPES)
    return _Lines(frame, geoms)


def _road_speeds(cells: pd.DataFrame, g: Grid, graph: Graph, roads: _Lines, table: SpeedTable,
                 min_km: float, max_gap_km: float) -> tuple[FloatArray, IntArray, FloatArray]:
    """Fastest flat-ground road speed of each cell (0 where no road counts) and the road links."""
    line_speed = _road_line_speeds(roads.frame, table)
    out = np.zeros(len(cells))
    for speed in np.unique(line_speed)[::-1]:
        length = _line_cells(cells, roads.frame[line_speed == speed], min_km)
        out[(length > 0) & (out == 0)] = speed
    pairs, link_speed = _line_links(g, graph, roads.geoms, line_speed, max_gap_km)
    return out, pairs, link_speed


def _river_cells(cells: pd.DataFrame, g: Grid, graph: Graph, rivers: _Lines, table: SpeedTable,
                 min_km: float, max_gap_km: float, terrain: Path
                 ) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """Cells crossed by a navigable river, and the river links between them."""
    frame, geoms = rivers.frame, rivers.geoms
    ruled = "navigable" not in frame
    if not ruled:
        flag = frame["navigable"]
        if not pd.api.types.is_bool_dtype(flag):
            msg = f"rivers column 'navigable' must be true/false, not {flag.dtype}"
            raise ValueError(msg)
        keep = flag.fillna(False).to_numpy(dtype=bool)
    elif "scalerank" in frame:
        rank = pd.to_numeric(frame["scalerank"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        keep = rank <= table.river_max_scalerank
    else:
        keep = np.ones(len(frame), dtype=bool)
    frame, geoms = frame[keep], geoms[keep]
    length = _line_cells(cells, frame, min_km)
    pairs, _ = _line_links(g, graph, geoms, np.zeros(len(geoms)), max_gap_km)
    candidate = length > 0
    candidate[pairs.ravel()] = True
    rows = np.flatnonzero(candidate)
    boat = np.zeros(len(cells), dtype=bool)
    if len(rows) and ruled:
        elev = raster_to_cells(cells.iloc[rows][["h3"]], terrain, method="mean", band=3)
        rows = rows[elev < table.river_max_elevation_m]
        local = np.full(len(cells), -1, dtype=np.int64)
        local[rows] = np.arange(len(rows))
        sub = graph.matrix(graph.km)[rows][:, rows].tocoo()
        la, lb = local[pairs[:, 0]], local[pairs[:, 1]]
        both = (la >= 0) & (lb >= 0)
        link = csr_array((np.ones(int(both.sum())), (la[both], lb[both])), shape=sub.shape)
        n_comp, label = connected_components(csr_array(sub) + link, directed=False)
        reach = np.bincount(label, weights=length[rows], minlength=n_comp)
        rows = rows[reach[label] >= table.river_min_reach_km]
    boat[rows] = True
    return boat, pairs[boat[pairs[:, 0]] & boat[pairs[:, 1]]]


def _town_cells(cells: pd.DataFrame, towns: gpd.GeoDataFrame, table: SpeedTable, graph: Graph
                ) -> npt.NDArray[np.bool_]:
    """Cells whose centre lies in a town's built-up disc, or that hold a large enough town."""
    feats, geoms = check_features(towns, what="towns", allowed=frozenset({"Point"}))
    if "population" not in feats:
        msg = f"`towns` need a 'population' column; columns are {list(feats.columns)}"
        raise KeyError(msg)
    pop = pd.to_numeric(feats["population"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(pop) & (pop > 0)
    pop, geoms = pop[ok], geoms[ok]
    out = np.zeros(len(cells), dtype=bool)
    if len(pop) == 0 or len(cells) == 0:
        return out
    lat, lon = shapely.get_y(geoms), shapely.get_x(geoms)
    radius_km = np.sqrt(pop / (math.pi * table.town_density_per_km2)) if table.town_density_per_km2 \
        else np.zeros(len(pop))
    chords = 2.0 * np.sin(np.minimum(radius_km / EARTH_RADIUS_KM, np.pi) / 2.0)
    hits = graph.tree.query_ball_point(unit_vectors(lat, lon), chords)
    inside = [np.asarray(h, dtype=np.int64) for h in hits if len(h)]
    if inside:
        out[np.concatenate(inside)] = True
    big = pop >= table.town_min_population
    pos = point_positions(cells, lat[big], lon[big])
    out[pos[pos >= 0]] = True
    return out


def cell_speeds(
    grid: pd.DataFrame,
    *,
    elevation: str | os.PathLike[str],
    roads: gpd.GeoDataFrame | None = None,
    rivers: gpd.GeoDataFrame | None = None,
    lakes: gpd.GeoDataFrame | None = None,
    towns: gpd.GeoDataFrame | None = None,
    table: SpeedTable | None = None,
) -> Friction:
    r"""Return the friction surface of a grid: the travel speed across every cell, and line links.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid or indicator matrix (cells sorted by ``h3`` with ``lat``, ``lon``); other columns are
        not used.
    elevation : str or os.PathLike
        Digital elevation model in metres (any CRS, north-up), e.g. ``data/peru/elevation.tif``.
    roads : geopandas.GeoDataFrame, optional
        Road lines with a ``speed_kmh`` column, or a class column (``table.road_class_column``,
        default ``system``) whose values are keys of ``table.road_speeds_kmh``.
    rivers : geopandas.GeoDataFrame, optional
        River lines; a boolean ``navigable`` column, if present, says which are navigable, else the
        lowland rule of the Notes applies (and ``scalerank`` filters them if present).
    lakes : geopandas.GeoDataFrame, optional
        Lake polygons.
    towns : geopandas.GeoDataFrame, optional
        Town points with a ``population`` column (towns without one are skipped).
    table : SpeedTable, optional
        Speeds and thresholds; the module defaults when omitted.

    Returns
    -------
    Friction
        ``speed_kmh`` per grid row (> 0, except 0 for water cells when ``table.lake_kmh`` is None)
        and the links of roads and rivers across gaps in the grid; pass it to :func:`travel_time`.

    Raises
    ------
    ValueError
        If a road has no positive speed, or a road class has no speed (the message names them).
    MissingSourceError, SourceFormatError
        If the elevation raster is missing, has no CRS, is rotated or does not cover the grid.

    Notes
    -----
    As in Weiss et al. (2018), a cell takes the speed of the fastest way of crossing it:

    .. math::

        v_c = \max(w_c, r_c, b_c, l_c, u_c).

    - **Walking** :math:`w_c`: with :math:`s_p` the steepest gradient of DEM pixel :math:`p` (central
      differences over the pixel's neighbours, pixel sizes in metres), the walking pace
      :math:`1 / \bar W(s_p)` of :func:`walking_speed` (divided by ``walk_factor``) is averaged over
      the pixels of the cell (:func:`~geo_engine.ingest.raster.raster_to_cells`), and
      :math:`w_c = 1 / \overline{\text{pace}}`, the harmonic mean of the pixel speeds: the time to
      cross the cell is the mean of the pixels' times. Averaging paces of ~1 km pixels keeps the
      steepness of the terrain whatever the cell size, where a slope between cell centres would
      flatten it at coarse resolutions. Cells without DEM pixels walk at the flat speed. Water
      cells (lake share > ``lake_min_share``) cannot be walked: :math:`w_c = 0`.
    - **Roads** :math:`r_c`: the fastest road class with at least ``min_edge_fraction`` of an average
      cell edge inside the cell, times the terrain factor
      :math:`f = 1 - (1 - f_s)\,\mathrm{clip}\big((\bar s_c - s_0)/(s_1 - s_0), 0, 1\big)`, with
      :math:`\bar s_c` the cell's mean pixel gradient, :math:`s_0, s_1, f_s` = ``road_flat_slope``,
      ``road_steep_slope``, ``road_steep_factor``.
    - **River boats** :math:`b_c` = ``river_kmh`` in cells holding at least ``min_edge_fraction``
      of an edge of navigable river: rivers in cells of mean elevation below
      ``river_max_elevation_m``, in connected reaches (over the cell graph and the river links) of
      at least ``river_min_reach_km`` of river.
    - **Lake boats** :math:`l_c` = ``lake_kmh`` in water cells.
    - **Towns** :math:`u_c` = ``town_kmh`` in land cells whose centre lies within
      :math:`\rho_t = \sqrt{P_t / (\pi D)}` km of a town of population :math:`P_t` (:math:`D` =
      ``town_density_per_km2``, the built-up disc), and in the cell holding any town of at least
      ``town_min_population``.

    **Links.** Where a road or a navigable river leaves the grid (a coast, a border) and comes back
    within ``link_max_gap_edges`` average edges of line, the grid cells on either side are joined
    directly; the link is crossed at the line's speed (a road's flat-ground speed, ``river_kmh``)
    over the great-circle distance between the two centres.

    A layer left out (None) contributes nothing.
    """
    table = table if table is not None else SpeedTable()
    if not isinstance(table, SpeedTable):
        msg = f"`table` must be a SpeedTable, not {type(table).__name__}"
        raise TypeError(msg)
    g = check_grid(grid)
    n = g.size
    road_lines = _lines(roads, "roads") if roads is not None else None
    river_lines = _lines(rivers, "rivers") if rivers is not None and table.river_kmh is not None else None
    if n == 0:
        return Friction(np.zeros(0))
    graph = neighbour_graph(g)
    edge = edge_km(g.resolution)
    min_km, max_gap_km = table.min_edge_fraction * edge, table.link_max_gap_edges * edge
    cells = pd.DataFrame({"h3": g.cells, "lat": g.lat, "lon": g.lon})
    flat = float(walking_speed(0.0)) * table.walk_factor
    links: list[tuple[IntArray, FloatArray]] = []
    with tempfile.TemporaryDirectory(prefix="geo-engine-access-") as folder:
        terrain = _terrain_raster(elevation, g, table, folder)
        pace = raster_to_cells(cells[["h3"]], terrain, method="mean", band=1)
        walk = np.where(np.isfinite(pace) & (pace > 0), 1.0 / pace, flat)
        water = np.zeros(n, dtype=bool)
        if lakes is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GeoEngineWarning)
                water = polygons_to_cells(cells, lakes) > table.lake_min_share
        speed = np.where(water, 0.0, walk)
        if road_lines is not None:
            road, pairs, link_speed = _road_speeds(cells, g, graph, road_lines, table, min_km, max_gap_km)
            links.append((pairs, link_speed))
            rows = np.flatnonzero(road > 0)
            if len(rows):
                slope = raster_to_cells(cells.iloc[rows][["h3"]], terrain, method="mean", band=2)
                ramp = np.clip((slope - table.road_flat_slope)
                               / (table.road_steep_slope - table.road_flat_slope), 0.0, 1.0)
                factor = 1.0 - (1.0 - table.road_steep_factor) * np.nan_to_num(ramp, nan=0.0)
                speed[rows] = np.maximum(speed[rows], road[rows] * factor)
        if river_lines is not None and table.river_kmh is not None:
            boat, pairs = _river_cells(cells, g, graph, river_lines, table, min_km, max_gap_km, terrain)
            speed[boat] = np.maximum(speed[boat], table.river_kmh)
            links.append((pairs, np.full(len(pairs), float(table.river_kmh))))
    if table.lake_kmh is not None:
        speed[water] = np.maximum(speed[water], table.lake_kmh)
    if towns is not None:
        town = _town_cells(cells, towns, table, graph) & ~water
        speed[town] = np.maximum(speed[town], table.town_kmh)
    pairs = np.concatenate([p for p, _ in links]) if links else np.empty((0, 2), np.int64)
    link_speed = np.concatenate([v for _, v in links]) if links else np.empty(0)
    link_km = haversine_km(g.lat[pairs[:, 0]], g.lon[pairs[:, 0]], g.lat[pairs[:, 1]], g.lon[pairs[:, 1]])
    return Friction(speed, pairs, link_km, link_speed)
