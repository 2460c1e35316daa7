"""The neighbour graph of a grid: every pair of adjacent cells with its great-circle length (cached)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import csr_array
from scipy.spatial import cKDTree

from geo_engine.access.speeds import FloatArray
from geo_engine.spatial.sphere import (
    Grid,
    check_grid,
    disks,
    haversine_km,
    positions,
    unit_vectors,
)

__all__ = [
    "GRAPH_CACHE_SIZE",
    "Graph",
    "cell_graph",
    "clear_graphs",
    "grid_digest",
    "neighbour_graph",
]

@dataclass(frozen=True)
class Graph:
    """Directed CSR structure of the cell adjacency (both directions of every pair)."""

    indptr: npt.NDArray[np.int32]
    indices: npt.NDArray[np.int32]
    row: npt.NDArray[np.int32]
    km: FloatArray
    lat: FloatArray
    lon: FloatArray

    @property
    def size(self) -> int:
        """Number of cells."""
        return len(self.indptr) - 1

    def matrix(self, data: FloatArray, keep: npt.NDArray[np.bool_] | None = None) -> csr_array:
        """Return the graph with ``data`` as edge weights, without the edges not in ``keep``."""
        n = self.size
        if keep is None or keep.all():
            return csr_array((data, self.indices, self.indptr), shape=(n, n))
        counts = np.bincount(self.row[keep], minlength=n)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return csr_array((data[keep], self.indices[keep], indptr), shape=(n, n))

    @cached_property
    def tree(self) -> cKDTree:
        """KD-tree of the cell centres as unit vectors (for snapping points to cells)."""
        return cKDTree(unit_vectors(self.lat, self.lon))


_GRAPHS: OrderedDict[bytes, Graph] = OrderedDict()
GRAPH_CACHE_SIZE = 4
"""Neighbour graphs kept in memory (least recently used dropped first)."""


def grid_digest(g: Grid) -> bytes:
    """Return a 16-byte digest of a grid's cells and centres (the key of the graph cache)."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (g.cells, g.lat, g.lon):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.digest()


def neighbour_graph(g: Grid) -> Graph:
    """Return the (cached) :class:`Graph` of a checked grid."""
    key = grid_digest(g)
    if key in _GRAPHS:
        _GRAPHS.move_to_end(key)
        return _GRAPHS[key]
    n = g.size
    if n:
        flat, offsets = disks(g.cells)
        src = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
        dst = positions(g, flat)
        keep = (dst >= 0) & (dst != src)
        src, dst = src[keep], dst[keep]
    else:
        src = dst = np.empty(0, np.int64)
    # src is sorted (disks come cell by cell), so (src, dst) is already in CSR row order
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]).astype(np.int32)
    km = haversine_km(g.lat[src], g.lon[src], g.lat[dst], g.lon[dst])
    graph = Graph(indptr, dst.astype(np.int32), src.astype(np.int32), km, g.lat, g.lon)
    _GRAPHS[key] = graph
    while len(_GRAPHS) > GRAPH_CACHE_SIZE:
        _GRAPHS.popitem(last=False)
    return graph


def cell_graph(grid: pd.DataFrame) -> csr_array:
    """Return the neighbour graph of a grid: great-circle km between the centres of adjacent cells.

    Parameters
    ----------
    grid : pandas.DataFrame
        Grid (or indicator matrix) from :func:`geo_engine.spatial.grid.build_grid`: cells sorted by ``h3``,
        with their centre ``lat`` and ``lon``.

    Returns
    -------
    scipy.sparse.csr_array
        Symmetric ``n × n`` matrix in grid-row order; entry ``(i, j)`` is the distance in km between
        the centres of cells ``i`` and ``j`` when they share an edge, absent otherwise. An interior
        hexagon has 6 entries in its row, a pentagon 5, a cell on the region's edge fewer.

    Notes
    -----
    The neighbours are H3's ``grid_disk(cell, 1)`` less the cell itself, kept when they are in the
    grid. The structure is cached for the last few grids (keyed by a hash of the cells and their
    centres), so repeated travel-time runs on one grid build it once.
    """
    graph = neighbour_graph(check_grid(grid))
    return graph.matrix(graph.km.copy())


def clear_graphs() -> None:
    """Forget the cached neighbour graphs (to time a cold start or free memory)."""
    _GRAPHS.clear()
