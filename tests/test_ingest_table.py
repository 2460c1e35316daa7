import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_engine._errors import GeoEngineWarning, SourceFormatError
from geo_engine.ingest.table import (
    CROPLAND_PRIORITY,
    SUITABLE_PRIORITY,
    centre_allocation,
    combine_allocations,
    placement_priority,
    suitable_allocation,
    table_to_cells,
)


@pytest.fixture
def grid():
    return pd.DataFrame({
        "h3": np.arange(5, dtype=np.uint64),
        "area_km2": [1.0, 1.0, 2.0, 1.0, 1.0],
        "unit_code": ["01", "01", "01", "02", "03"],
    })


@pytest.fixture
def table():
    return pd.DataFrame({"code": ["01", "02", "03"], "rate": [10.0, 20.0, None],
                         "pop": [100.0, 50.0, 7.0]})


def test_intensive_copies(grid, table):
    out = table_to_cells(grid, table, column="rate", key="code", level="unit_code")
    np.testing.assert_array_equal(out, [10, 10, 10, 20, np.nan])


def test_extensive_by_area(grid, table):
    out = table_to_cells(grid, table, column="pop", key="code", level="unit_code",
                         method="extensive")
    np.testing.assert_allclose(out, [25, 25, 50, 50, 7])


def test_extensive_by_centres_falls_back_to_area(grid, table):
    # unit 01 has a rural centre in cell 1 and an urban one in cell 2; 02 and 03 have none
    alloc = centre_allocation(np.array(["01", "01", "01"]), np.array([1, 2, -1]),
                              np.array([False, True, True]), urban_weight=3)
    out = table_to_cells(grid, table, column="pop", key="code", level="unit_code",
                         method="extensive", allocation=alloc)
    np.testing.assert_allclose(out, [0, 25, 75, 50, 7])


def test_small_unit_places_its_total_on_its_centres_cell(grid):
    # unit 04 owns no cell but has a centre in cell 0 (owned by 01)
    table = pd.DataFrame({"code": ["01", "04"], "pop": [10.0, 5.0]})
    alloc = centre_allocation(np.array(["04"]), np.array([0]), np.array([False]), urban_weight=9)
    out = table_to_cells(grid, table, column="pop", key="code", level="unit_code",
                         method="extensive", allocation=alloc)
    assert np.nansum(out) == pytest.approx(15.0)
    assert out[0] == pytest.approx(5.0 + 10.0 / 4)
    assert np.isnan(out[3:]).all()  # units 02, 03 have no row


def test_representative_point_is_the_last_resort(grid):
    table = pd.DataFrame({"code": ["09"], "pop": [4.0]})
    alloc = pd.DataFrame({"unit": ["09"], "cell": [4], "weight": [1.0], "priority": [2]})
    out = table_to_cells(grid, table, column="pop", key="code", level="unit_code",
                         method="extensive", allocation=alloc)
    assert out[4] == 4.0


def test_centre_allocation():
    a = centre_allocation(np.array(["a", "a", "b"]), np.array([0, 0, -1]),
                          np.array([True, False, True]), urban_weight=90)
    assert a.to_dict("list") == {"unit": ["a"], "cell": [0], "weight": [91.0], "priority": [0]}
    with pytest.raises(ValueError, match="must be positive"):
        centre_allocation(np.array(["a"]), np.array([0]), np.array([True]), urban_weight=0)


def test_unmatched_codes_warn_with_examples(grid, table):
    extra = pd.concat([table, pd.DataFrame({"code": ["99"], "rate": [1.0], "pop": [5.0]})])
    with pytest.warns(GeoEngineWarning, match=r"1 codes of 'code' have no cell.*'99'.*5 not placed"):
        table_to_cells(grid, extra, column="pop", key="code", level="unit_code",
                       method="extensive")


def test_empty_table_warns_and_is_nan(grid, table):
    with pytest.warns(GeoEngineWarning, match="no rows"):
        out = table_to_cells(grid, table.iloc[:0], column="rate", key="code", level="unit_code")
    assert np.isnan(out).all()


def test_units_without_row_are_nan(grid, table):
    out = table_to_cells(grid, table.iloc[:1], column="rate", key="code", level="unit_code")
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
        table_to_cells(grid, change(table), column="rate", key="code", level="unit_code")


def test_bad_method_and_weights(grid, table):
    with pytest.raises(ValueError, match="must be 'intensive' or 'extensive'"):
        table_to_cells(grid, table, column="rate", key="code", level="unit_code",
                       method="sum")
    bad = pd.DataFrame({"unit": ["01"], "cell": [0], "weight": [-1.0], "priority": [0]})
    with pytest.raises(ValueError, match="non-negative"):
        table_to_cells(grid, table, column="pop", key="code", level="unit_code",
                       method="extensive", allocation=bad)


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.integers(0, 4), min_size=1, max_size=40),
    weights=st.lists(st.floats(0, 1e3, allow_nan=False), min_size=40, max_size=40),
    totals=st.lists(st.floats(0, 1e7, allow_nan=False), min_size=5, max_size=5),
)
def test_dasymetric_totals_preserved(units, weights, totals):
    n = len(units)
    grid = pd.DataFrame({"area_km2": np.linspace(1, 2, n),
                         "unit_code": [f"u{u}" for u in units]})
    table = pd.DataFrame({"code": [f"u{i}" for i in range(5)], "v": totals})
    present = sorted(set(units))
    # centres of each unit in its own cells, with the drawn weights (some zero)
    alloc = pd.DataFrame({"unit": grid["unit_code"], "cell": np.arange(n),
                          "weight": weights[:n], "priority": 0})
    with pytest.warns(GeoEngineWarning) if len(present) < 5 else contextlib.nullcontext():
        out = table_to_cells(grid, table, column="v", key="code", level="unit_code",
                             method="extensive", allocation=alloc)
    sums = pd.Series(out).groupby(grid["unit_code"]).sum()
    for u in present:
        assert sums[f"u{u}"] == pytest.approx(totals[u], rel=1e-9, abs=1e-6)
    assert (out >= 0).all()



def test_to_numbers_reads_decimal_commas_with_a_warning():
    from geo_engine.ingest.table import to_numbers

    with pytest.warns(GeoEngineWarning, match=r"decimal comma \('45,5' read as 45.5\)"):
        out = to_numbers(pd.Series(["45,5", "30", None, " 2,25 "]), name="t.csv", column="pobreza")
    assert out.tolist()[:2] == [45.5, 30.0]
    assert np.isnan(out.iloc[2])
    assert out.iloc[3] == 2.25
    # with decimal points present a comma is not a decimal mark: the value is refused
    with pytest.raises(SourceFormatError, match=r"'1,5'; write plain numbers"):
        to_numbers(pd.Series(["1.5", "1,5"]), name="t.csv", column="x")
    assert to_numbers(pd.Series([1, 2]), name="t.csv", column="x").tolist() == [1.0, 2.0]


# --- suitability-aware placement ----------------------------------------------------------------

# six cells: district 01 owns cells 0-3, district 02 owns 4-5, district 03 owns no cell
_UNITS = np.array(["01", "01", "01", "01", "02", "02"])
_AREA = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 3.0])


@pytest.mark.parametrize(
    ("suitable", "cropland", "centres", "expected"),
    [
        # band + cropland + centres: 01's total on its qualifying cells with centres (1 and 2, by
        # count); 02 has no qualifying cell with a centre: its qualifying cells by cropland area
        ([0, 1, 1, 0, 1, 1], [5, 5, 5, 5, 5, 10], [0, 1, 3, 0, 0, 0],
         [0, 25, 75, 0, 200 * 0.05 / (0.05 + 0.3), 200 * 0.3 / (0.05 + 0.3)]),
        # no qualifying cell in 02: its cropland cells at any elevation (cell 5 only)
        ([0, 1, 0, 0, 0, 0], [5, 5, 5, 5, 0, 10], None, [0, 100, 0, 0, 0, 200]),
        # no cropland at all in 02: its cells by area (table_to_cells' own fallback)
        ([1, 1, 1, 1, 1, 1], [5, 5, 5, 5, 0, np.nan], None, [20, 20, 40, 20, 50, 150]),
        # elevation band only (no cropland): qualifying cells by area
        ([0, 0, 1, 1, 1, 0], None, None, [0, 0, 200 / 3, 100 / 3, 200, 0]),
    ],
    ids=["band-cropland-centres", "cropland-fallback", "area-fallback", "band-only"],
)
def test_suitable_allocation_keeps_each_district_total(suitable, cropland, centres, expected):
    grid = pd.DataFrame({"h3": np.arange(6, dtype=np.uint64), "area_km2": _AREA,
                         "unit_code": _UNITS})
    table = pd.DataFrame({"code": ["01", "02"], "v": [100.0, 200.0]})
    alloc = suitable_allocation(
        _UNITS, area=_AREA, suitable=np.array(suitable, dtype=bool),
        cropland=None if cropland is None else np.array(cropland, dtype=float),
        centres=None if centres is None else np.array(centres))
    out = table_to_cells(grid, table, column="v", key="code", level="unit_code",
                         method="extensive", allocation=alloc)
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose([out[:4].sum(), out[4:].sum()], [100.0, 200.0])


def test_placement_priority_names_each_units_tier():
    alloc = suitable_allocation(_UNITS, area=_AREA, suitable=np.array([0, 1, 0, 0, 0, 0], bool),
                                cropland=np.array([5, 5, 5, 5, 0, 10.0]))
    best = placement_priority(alloc, pd.Index(["01", "02", "03"]))
    assert best["01"] == SUITABLE_PRIORITY
    assert best["02"] == CROPLAND_PRIORITY
    assert np.isnan(best["03"])


def test_categorical_codes_give_the_same_cells_as_text():
    # the build hands table layers a grid whose codes are categorical, and allocations whose
    # units are: the values must be those of plain text codes
    grid = pd.DataFrame({"h3": np.arange(6, dtype=np.uint64), "area_km2": _AREA,
                         "unit_code": _UNITS})
    coded = grid.assign(unit_code=grid["unit_code"].astype("category"))
    table = pd.DataFrame({"code": ["01", "02", "09"], "v": [100.0, 200.0, 5.0]})
    text_alloc = pd.DataFrame({"unit": ["09"], "cell": [5], "weight": [1.0], "priority": [2]})
    for method in ("intensive", "extensive"):
        alloc = combine_allocations([
            suitable_allocation(coded["unit_code"], area=_AREA,
                                suitable=np.array([0, 1, 1, 0, 0, 1], bool)),
            text_alloc])
        assert isinstance(alloc["unit"].dtype, pd.CategoricalDtype)
        assert alloc["unit"].astype(str).tolist() == ["01", "01", "02", "09"]
        plain = alloc.assign(unit=alloc["unit"].astype(str))
        got = table_to_cells(coded, table, column="v", key="code", level="unit_code",
                             method=method, allocation=alloc)
        expected = table_to_cells(grid, table, column="v", key="code", level="unit_code",
                                  method=method, allocation=plain)
        np.testing.assert_array_equal(got, expected)
    assert placement_priority(alloc, pd.Index(["01", "09", "03"])).tolist()[:2] == [
        SUITABLE_PRIORITY, 2]


def test_numeric_codes_match_as_text():
    grid = pd.DataFrame({"h3": np.arange(3, dtype=np.uint64), "area_km2": [1.0, 1.0, 2.0],
                         "code": [7, 7, 8]})
    table = pd.DataFrame({"code": ["7", "8"], "v": [10.0, 4.0]})
    out = table_to_cells(grid, table, column="v", key="code", level="code", method="extensive")
    np.testing.assert_allclose(out, [5.0, 5.0, 4.0])


@pytest.mark.hostile
def test_codes_that_lost_their_leading_zeros_get_a_precise_hint():
    from geo_engine.ingest.table import code_mismatch_hint

    grid = pd.DataFrame({"unit_code": ["010101", "010102", "020101"]})
    table = pd.DataFrame({"ubigeo": [10101, 10102, 20101], "rate": [1.0, 2.0, 3.0]})
    with pytest.raises(SourceFormatError, match=r"3 of them match once zero-padded to 6 digits "
                       r"\(e\.g\. '10101' → '010101'\): column 'ubigeo' lost its leading zeros"):
        table_to_cells(grid, table, column="rate", key="ubigeo", level="unit_code",
                       method="intensive", name="rates.csv")
    assert code_mismatch_hint(["101.0"], {"101", "102"}, column="c").startswith(
        "; 1 of them match without their decimals (e.g. '101.0' → '101')")
    assert code_mismatch_hint(["999"], {"101"}, column="c") == ""


def test_some_codes_without_zeros_warn_with_the_hint():
    grid = pd.DataFrame({"unit_code": ["010101", "010102", "020101"]})
    table = pd.DataFrame({"ubigeo": ["010101", "10102"], "rate": [1.0, 2.0]})
    with pytest.warns(GeoEngineWarning, match="1 of them match once zero-padded"):
        out = table_to_cells(grid, table, column="rate", key="ubigeo", level="unit_code",
                             method="intensive", name="rates.csv")
    assert out[0] == 1.0
