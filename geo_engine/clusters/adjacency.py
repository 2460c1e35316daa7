"""The H3 adjacency matrix of a grid (neighbouring cells), as a sparse matrix."""

from __future__ import annotations

from collections.abc import Sequence

import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from geo_engine.clusters.checks import cell_ids, to_numpy

__all__ = [
    "h3_adjacency",
]

def h3_adjacency(grid: pd.DataFrame | pd.Series | np.ndarray | Sequence[int]) -> sparse.csr_matrix:
    """Return the binary neighbour matrix of the cells of an H3 grid.

    Parameters
    ----------
    grid : pandas.DataFrame or array of uint64
        A grid (its ``h3`` column is used) or the cell ids themselves, all of one resolution,
        without duplicates, in any order.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n × n`` float64 matrix, rows and columns in the order of ``grid``, with 1 where two
        cells are neighbours and 0 on the diagonal. Symmetric.

    Raises
    ------
    ValueError
        If an id is not a valid H3 cell, ids have different resolutions or repeat.

    Notes
    -----
    The neighbours of a cell are the cells of its H3 ``grid_disk`` of radius 1 (the cells sharing
    an edge with it) that are present in ``grid``: 6 for interior hexagons, 5 for the twelve
    pentagons, fewer at the edge of the region or next to cells left out of the grid.

    Examples
    --------
    >>> import h3
    >>> centre = h3.str_to_int(h3.latlng_to_cell(-12.05, -77.04, 7))
    >>> disk = [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(centre), 1)]
    >>> adj = h3_adjacency(np.array(disk, dtype=np.uint64))
    >>> int(adj[disk.index(centre)].sum()), adj.shape
    (6, (7, 7))
    """
    ids = cell_ids(grid)
    n = len(ids)
    if n == 0:
        return sparse.csr_matrix((0, 0), dtype=np.float64)
    valid = to_numpy(h3ronpy.cells_valid(ids, booleanarray=True)).astype(bool)
    if not valid.all():
        bad = [format(int(c), "x") for c in ids[~valid][:5]]
        msg = f"`grid` has {int((~valid).sum())} ids that are not valid H3 cells, e.g. {bad}"
        raise ValueError(msg)
    res = to_numpy(h3ronpy.cells_resolution(ids))
    if (res != res[0]).any():
        msg = (f"`grid` mixes H3 resolutions {sorted(set(res.tolist()))}; adjacency needs cells of "
               "one resolution (use h3 cell_to_parent / cell_to_children first)")
        raise ValueError(msg)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    repeated = sorted_ids[1:] == sorted_ids[:-1]
    if repeated.any():
        dups = np.unique(sorted_ids[1:][repeated])[:5]
        msg = f"`grid` repeats cell ids, e.g. {[format(int(c), 'x') for c in dups]}; drop duplicates"
        raise ValueError(msg)
    disk = pa.array(h3ronpy.grid_disk(ids, 1, flatten=False))
    lengths = disk.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
    near = disk.flatten().to_numpy(zero_copy_only=False).astype(np.uint64)
    row = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pos = np.minimum(np.searchsorted(sorted_ids, near), n - 1)
    col = order[pos]
    keep = (sorted_ids[pos] == near) & (col != row)
    return sparse.csr_matrix((np.ones(int(keep.sum())), (row[keep], col[keep])), shape=(n, n))
