import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from scipy.sparse import csr_array

from geo_engine.planning.plan import (
    CoverProblem,
    InfeasiblePlanError,
    brute_force_cover,
    conflict_pairs,
    coverage_by_distance,
    greedy_cover,
    pareto_front,
    solve_cover,
)


def _problem(cover, demand, **kw):
    return CoverProblem(coverage=csr_array(np.asarray(cover, dtype=np.int8)),
                        demand=np.asarray(demand, dtype=float), **kw)


# Three sites over five demand points: the classic trap for greedy. Site 0 covers the middle
# (points 1, 2, 3: 3 + 3 + 3 = 9); sites 1 and 2 each cover one side (0, 1 → 5 + 3; 3, 4 → 3 + 5).
TRAP = [[0, 1, 1, 1, 0], [1, 1, 0, 0, 0], [0, 0, 0, 1, 1]]
TRAP_DEMAND = [5, 3, 3, 3, 5]


def test_hand_solved_instance_and_greedy_trap():
    p = _problem(TRAP, TRAP_DEMAND, sites=2)
    best = solve_cover(p)
    assert sorted(best.sites.tolist()) == [1, 2]
    assert best.demand == pytest.approx(16)  # 5 + 3 + 3 + 5; the middle point 2 is left out
    greedy = greedy_cover(p)
    assert greedy.sites[0] == 0  # greedy takes the 9 first
    assert greedy.demand == pytest.approx(14)
    assert best.mip_gap == pytest.approx(0.0, abs=1e-9)
    assert best.marginal.sum() == pytest.approx(best.demand)


def test_budget_costs_and_side_constraints():
    p = _problem(TRAP, TRAP_DEMAND, budget=2.0, cost=np.array([1.0, 1.5, 1.0]))
    assert sorted(solve_cover(p).sites.tolist()) == [0, 2]  # 1 + 1 ≤ 2: 9 + 5
    p = _problem(TRAP, TRAP_DEMAND, sites=2, conflicts=np.array([[1, 2]]))
    assert solve_cover(p).demand == pytest.approx(14)
    p = _problem(TRAP, TRAP_DEMAND, sites=2, groups=np.array(["x", "y", "y"], dtype=object),
                 per_group=1)
    assert solve_cover(p).demand == pytest.approx(14)
    p = _problem(TRAP, TRAP_DEMAND, sites=2, include=[0])
    assert 0 in solve_cover(p).sites
    p = _problem(TRAP, TRAP_DEMAND, sites=2, exclude=[1])
    assert 1 not in solve_cover(p).sites


def test_infeasible_constraints_are_reported():
    p = _problem(TRAP, TRAP_DEMAND, sites=2, include=[1, 2], conflicts=np.array([[1, 2]]))
    with pytest.raises(InfeasiblePlanError, match="loosen the minimum distance"):
        solve_cover(p)


@pytest.mark.parametrize(("kw", "message"), [
    ({}, "give a number of `sites`, a `budget`"),
    ({"sites": 0}, "`sites` was 0"),
    ({"sites": 1, "include": [7]}, r"sites \[7\] in `include`/`exclude` are not among the 3"),
    ({"sites": 1, "include": [1], "exclude": [1]}, "both included and excluded"),
    ({"sites": 1, "groups": np.array(["a"] * 3, dtype=object)}, "`groups` and `per_group` go together"),
    ({"sites": 1, "cost": np.array([1.0])}, "`cost` must hold one value"),
])
def test_problem_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        _problem(TRAP, TRAP_DEMAND, **kw)


@st.composite
def instances(draw):
    m = draw(st.integers(2, 7))
    k = draw(st.integers(1, 9))
    cover = draw(st.lists(st.lists(st.booleans(), min_size=k, max_size=k), min_size=m, max_size=m))
    demand = draw(st.lists(st.integers(0, 20), min_size=k, max_size=k))
    kw = {"sites": draw(st.integers(1, m))}
    if draw(st.booleans()):
        kw["conflicts"] = np.array(draw(st.lists(
            st.tuples(st.integers(0, m - 1), st.integers(0, m - 1)).filter(lambda t: t[0] < t[1]),
            max_size=4)), dtype=np.int64).reshape(-1, 2)
    if draw(st.booleans()):
        kw["groups"] = np.array(draw(st.lists(st.sampled_from("ab"), min_size=m, max_size=m)),
                                dtype=object)
        kw["per_group"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        kw["budget"] = float(draw(st.integers(1, 6)))
        kw["cost"] = np.array(draw(st.lists(st.integers(1, 4), min_size=m, max_size=m)), float)
    return _problem(cover, demand, **kw)


@hsettings(max_examples=60, deadline=None)
@given(instances())
def test_solver_equals_brute_force_and_beats_greedy(p):
    exact = brute_force_cover(p)
    best = solve_cover(p)
    assert p.feasible(best.sites)
    assert best.demand == pytest.approx(exact.demand)
    greedy = greedy_cover(p)
    assert p.feasible(greedy.sites)
    assert greedy.demand <= best.demand + 1e-9


@hsettings(max_examples=30, deadline=None)
@given(instances(), st.lists(st.integers(0, 9), min_size=9, max_size=9))
def test_front_is_monotone_and_ends_at_both_optima(p, growth):
    p = dataclasses.replace(p, growth=np.array(growth[:p.coverage.shape[1]], dtype=float))
    front, plans = pareto_front(p, points=4, time_limit=None, mip_rel_gap=0.0)
    assert front["demand"].iloc[0] == pytest.approx(solve_cover(p).demand)
    swapped = dataclasses.replace(p, demand=p.growth, growth=p.demand)
    assert front["growth"].iloc[-1] == pytest.approx(solve_cover(swapped).demand)
    # along the front, growth rises and demand never does
    assert (np.diff(front["growth"]) >= -1e-9).all()
    assert (np.diff(front["demand"]) <= 1e-9).all()
    assert all(p.feasible(plan.sites) for plan in plans)


def test_front_needs_growth():
    with pytest.raises(ValueError, match="needs `growth`"):
        pareto_front(_problem(TRAP, TRAP_DEMAND, sites=1))


def test_distance_coverage_and_conflicts():
    lat = np.array([0.0, 0.0, 0.0])
    lon = np.array([0.0, 0.5, 2.0])  # 0.5° of longitude at the equator ≈ 55.6 km
    cov = coverage_by_distance(lat[:1], lon[:1], lat, lon, reach_km=60).toarray()
    assert cov.tolist() == [[1, 1, 0]]
    assert conflict_pairs(lat, lon, min_km=60).tolist() == [[0, 1]]
    assert conflict_pairs(lat, lon, min_km=0).shape == (0, 2)
