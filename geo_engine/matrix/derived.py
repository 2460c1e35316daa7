"""Layers derived from other layers after the indicator matrix is built (poor people per cell)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DERIVED",
    "POOR_POPULATION",
    "POPULATION_LAYER",
    "POVERTY_LAYER",
    "Derived",
    "poor_population",
    "with_derived",
]

POPULATION_LAYER = "population_2020"
"""Layer holding the people living in each cell (dasymetric split of the district estimate)."""
POVERTY_LAYER = "poverty_2018"
"""Layer holding the poverty rate (%) of each cell's district."""
POOR_POPULATION = "poor_population"
"""Derived column: poor people per cell, poverty rate × population."""



@dataclass(frozen=True)
class Derived:
    """A column computed from layers of the matrix: its inputs, units and meaning."""

    inputs: tuple[str, ...]
    units: str
    description: str


DERIVED = {
    POOR_POPULATION: Derived(
        inputs=(POVERTY_LAYER, POPULATION_LAYER), units="people",
        description="Poor people living in the cell: the district's monetary poverty rate "
                    f"({POVERTY_LAYER}, %) times the cell's population ({POPULATION_LAYER})."),
}
"""Derived columns, the layers they are computed from, their units and what they mean."""


def poor_population(matrix: pd.DataFrame, *, rate: str = POVERTY_LAYER,
                    population: str = POPULATION_LAYER) -> np.ndarray:
    r"""Return the poor people of every cell: poverty rate (%) × population / 100.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Indicator matrix.
    rate, population : str
        Columns of the poverty rate (% of the population) and of the people per cell.

    Returns
    -------
    numpy.ndarray
        One count per cell; NaN where either input is missing, or everywhere when the matrix
        lacks one of the columns (a region without poverty data knows no count of poor people).

    Notes
    -----
    :math:`Q_c = P_c\,\pi_{d(c)} / 100`. The population layer splits each district's estimate
    among its cells (weights summing to 1) and the rate is the district's, copied to each cell, so
    the cells of a district add up to the district's own rate × population:
    :math:`\sum_{c \in d} Q_c = \pi_d P_d / 100`. The same rule gives the poor people of a roll-up,
    a cluster and a brief.
    """
    if rate not in matrix or population not in matrix:
        return np.full(len(matrix), np.nan)
    pct = matrix[rate].to_numpy(dtype=float)
    people = matrix[population].to_numpy(dtype=float)
    return people * pct / 100.0


def with_derived(matrix: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of the matrix with every :data:`DERIVED` column whose inputs it has.

    Profiles may then name a derived column like any layer (``- id: poor_population``); it has no
    layer spec, so its direction is ``benefit`` unless the profile says otherwise and a skewed
    count is best normalized by ``percentile`` (or ``minmax`` with ``winsorize``).
    """
    out = matrix.copy()
    for column, meta in DERIVED.items():
        if column not in out and all(c in out for c in meta.inputs):
            out[column] = poor_population(out)
    out.attrs = dict(matrix.attrs)
    return out
