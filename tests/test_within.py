"""Tests of the build of one admin unit: the same values as the whole build on the unit's cells."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_context import two_departments  # noqa: F401  (fixture: two departments of three districts)

from geo_engine._errors import GeoEngineWarning, SpecError
from geo_engine.matrix.indicators import build_indicators, matrix_path
from geo_engine.matrix.within import build_within


def _builds(units, specs, folder, resolution=7):
    common = {"region": "t", "layers": specs, "units": units, "data_dir": folder,
              "cache_dir": folder / "cache", "urban_centre_weight": 10.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        whole = build_indicators(resolution=7, **common)
        part = build_within(within=("grandparent_code", "01"), resolution=resolution, **common)
    return whole, part


def test_the_unit_build_equals_the_whole_build_on_its_cells(two_departments):  # noqa: F811
    units, specs, folder = two_departments
    whole, part = _builds(units, specs, folder)
    ref = whole[whole["grandparent_code"] == "01"].reset_index(drop=True)
    assert len(part) == len(ref) > 0
    assert (part["h3"].to_numpy() == ref["h3"].to_numpy()).all()
    for spec in specs:
        np.testing.assert_allclose(part[spec.id], ref[spec.id], rtol=0, atol=1e-6,
                                   err_msg=spec.id)
    assert part["town"].notna().all()  # the towns lie outside the unit: reached from its edge
    report = part.attrs["report"]
    assert report["grid"]["context_cells"] > len(part)
    assert report["grid"]["seed_resolution"] == 7


def test_a_finer_unit_build_starts_its_travel_times_from_the_coarser_whole_grid(two_departments):  # noqa: F811
    units, specs, folder = two_departments
    travel = [s for s in specs if s.method == "travel_time"]
    _, part = _builds(units, travel, folder, resolution=8)
    assert part.attrs["report"]["grid"]["seed_resolution"] == 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoEngineWarning)
        fine = build_indicators(region="t", resolution=8, layers=travel, units=units,
                                data_dir=folder, cache_dir=folder / "cache")
    ref = fine[fine["grandparent_code"] == "01"]["town"].to_numpy()
    got = part["town"].to_numpy()
    assert np.isfinite(got).all()
    rel = np.abs(got - ref) / ref
    assert np.median(rel) < 0.02  # resolutions 7 and 8 time this random terrain 6 % apart
    assert rel.max() < 0.08  # the part outside the context is timed at resolution 7


def test_the_cache_name_and_key_hold_the_unit(two_departments):  # noqa: F811
    units, specs, folder = two_departments
    kw = {"region": "t", "resolution": 7, "specs": specs, "units": units, "data_dir": folder,
          "cache_dir": folder / "cache", "urban_centre_weight": 10.0}
    whole = matrix_path(**kw)
    one = matrix_path(**kw, within=("grandparent_code", "01"))
    other = matrix_path(**kw, within=("grandparent_code", "02"))
    assert len({whole, one, other}) == 3
    assert one.name.startswith("t-grandparent01-r7-")
    _, part = _builds(units, specs[:1], folder)
    assert part.attrs["cache_path"].endswith(".parquet")
    assert "grandparent01" in part.attrs["cache_path"]
    again = build_within(within=("grandparent_code", "01"), region="t", resolution=7,
                         layers=specs[:1], units=units, data_dir=folder,
                         cache_dir=folder / "cache", urban_centre_weight=10.0)
    assert again.attrs["cache_hit"] is True


def test_an_unknown_unit_is_an_error(two_departments):  # noqa: F811
    units, specs, folder = two_departments
    with pytest.raises(SpecError, match=r"no unit with grandparent_code '09'"):
        build_within(within=("grandparent_code", "09"), region="t", layers=specs, units=units,
                     data_dir=folder, cache_dir=folder / "cache")
