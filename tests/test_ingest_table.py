import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_engine._errors import GeoEngineWarning, SourceFormatError
from geo_engine.ingest.table import centre_weights, table_to_cells


@pytest.fixture
def grid():
    return pd.DataFrame({
        "h3": np.arange(5, dtype=np.uint64),
        "area_km2": [1.0, 1.0, 2.0, 1.0, 1.0],
        "district_code": ["01", "01", "01", "02", "03"],
    })


@pytest.fixture
def table():
    return pd.DataFrame({"code": ["01", "02", "03"], "rate": [10.0, 20.0, None],
                         "pop": [100.0, 50.0, 7.0]})


def test_intensive_copies(grid, table):
    out = table_to_cells(grid, table, column="rate", key="code", level="district_code")
    np.testing.assert_array_equal(out, [10, 10, 10, 20, np.nan])


def test_extensive_by_area(grid, table):
    out = table_to_cells(grid, table, column="pop", key="code", level="district_code",
                         method="extensive")
    np.testing.assert_allclose(out, [25, 25, 50, 50, 7])


def test_extensive_by_weights_falls_back_to_area(grid, table):
    w = np.array([0.0, 3.0, 1.0, 0.0, 0.0])
    out = table_to_cells(grid, table, column="pop", key="code", level="district_code",
                         method="extensive", weights=w)
    # unit 01: weights 0,3,1; units 02 and 03 weigh nothing: split by area
    np.testing.assert_allclose(out, [0, 75, 25, 50, 7])


def test_centre_weights():
    np.testing.assert_array_equal(centre_weights(np.array([1, 0]), np.array([2, 5]),
                                                 urban_weight=90), [92, 5])
    with pytest.raises(ValueError, match="must be positive"):
        centre_weights(np.zeros(1), np.zeros(1), urban_weight=0)


def test_unmatched_codes_warn_with_examples(grid, table):
    extra = pd.concat([table, pd.DataFrame({"code": ["99"], "rate": [1.0], "pop": [5.0]})])
    with pytest.warns(GeoEngineWarning, match=r"1 codes of 'code' match no unit.*'99'.*5 not placed"):
        table_to_cells(grid, extra, column="pop", key="code", level="district_code",
                       method="extensive")


def test_empty_table_warns_and_is_nan(grid, table):
    with pytest.warns(GeoEngineWarning, match="no rows"):
        out = table_to_cells(grid, table.iloc[:0], column="rate", key="code", level="district_code")
    assert np.isnan(out).all()


def test_units_without_row_are_nan(grid, table):
    out = table_to_cells(grid, table.iloc[:1], column="rate", key="code", level="district_code")
    assert np.isnan(out[3:]).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: pd.concat([t, t.iloc[:1]]), r"1 codes in 'code' appear more than once.*'01'"),
        (lambda t: t.assign(code=["x", "y", "z"]), "none of the 3 codes"),
        (lambda t: t.assign(rate=["a", "b", "c"]), "must be numeric"),
        (lambda t: t.drop(columns="rate"), "no column 'rate'"),
    ],
)
def test_bad_tables(grid, table, change, message):
    with pytest.raises(SourceFormatError, match=message):
        table_to_cells(grid, change(table), column="rate", key="code", level="district_code")


def test_bad_method_and_weights(grid, table):
    with pytest.raises(ValueError, match="must be 'intensive' or 'extensive'"):
        table_to_cells(grid, table, column="rate", key="code", level="district_code",
                       method="sum")
    with pytest.raises(ValueError, match="non-negative"):
        table_to_cells(grid, table, column="pop", key="code", level="district_code",
                       method="extensive", weights=np.array([-1.0, 0, 0, 0, 0]))


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.integers(0, 4), min_size=1, max_size=40),
    weights=st.lists(st.floats(0, 1e3, allow_nan=False), min_size=40, max_size=40),
    totals=st.lists(st.floats(0, 1e7, allow_nan=False), min_size=5, max_size=5),
)
def test_dasymetric_totals_preserved(units, weights, totals):
    n = len(units)
    grid = pd.DataFrame({"area_km2": np.linspace(1, 2, n),
                         "district_code": [f"u{u}" for u in units]})
    table = pd.DataFrame({"code": [f"u{i}" for i in range(5)], "v": totals})
    present = sorted(set(units))
    with pytest.warns(GeoEngineWarning) if len(present) < 5 else contextlib.nullcontext():
        out = table_to_cells(grid, table, column="v", key="code", level="district_code",
                             method="extensive", weights=np.array(weights[:n]))
    sums = pd.Series(out).groupby(grid["district_code"]).sum()
    for u in present:
        assert sums[f"u{u}"] == pytest.approx(totals[u], rel=1e-9, abs=1e-6)
    assert (out >= 0).all()

