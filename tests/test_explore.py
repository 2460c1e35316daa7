import h3
import numpy as np
import pandas as pd
import pytest

from geo_engine import explore
from geo_engine.explore import (
    INCLUSION,
    categories,
    cell_at,
    cell_card,
    difference,
    focus_choices,
    map_frame,
    movers,
    output_options,
    parse_location,
    scenario,
    with_constraints,
)
from geo_engine.reporting.orientation import boundaries


def test_scenario_reweights_one_profile(peru):
    base = scenario(peru, profile_id="engine")
    heavier = scenario(peru, profile_id="engine", weights={"operating_mines": 10})
    assert not np.allclose(base.table["score"], heavier.table["score"], equal_nan=True)
    np.testing.assert_allclose(base.dual.need, heavier.dual.need, equal_nan=True)
    assert heavier.weights["operating_mines"] > base.weights["operating_mines"]


def test_inclusion_pseudo_profile(peru):
    sc = scenario(peru, profile_id=INCLUSION)
    np.testing.assert_allclose(sc.table["score"], sc.dual.inclusion, equal_nan=True)
    assert sc.result is None


def test_constraints_toggle(peru):
    profile = peru.profile("engine")
    n = len(profile.constraints)
    assert with_constraints(profile, [True] * n) is profile
    assert with_constraints(profile, [False] * n).constraints == []
    on = scenario(peru, profile_id="engine")
    off = scenario(peru, profile_id="engine", constraints=[False] * n)
    assert np.isnan(on.table["score"]).sum() > np.isnan(off.table["score"]).sum()


def test_outputs_frames_and_card(peru):
    sc = scenario(peru, profile_id="nature_heritage_tourism")
    options = output_options(peru, "es")
    keys = [o.key for o in options]
    assert {"score", "typology", "niche_family", "layer:poverty_2018"} <= set(keys)
    typ = next(o for o in options if o.key == "typology")
    frame, res = map_frame(peru, sc, typ)
    assert res == 5
    assert set(frame["value"].dropna()) <= {"engine_hub", "inclusion_niche", "dual_zone", "latent"}
    assert categories(typ, peru, "es").labels["dual_zone"] == "Zona dual"
    niche = next(o for o in options if o.key == "niche_family")
    legend = categories(niche, peru, "es")
    fams = [p.id for p in peru.profiles.values() if p.kind == "family"]
    assert list(legend.colours) == fams
    assert len(set(legend.colours.values())) == len(fams) == 9
    assert legend.labels["environmental_services"] == "Servicios ambientales"
    focus, _ = map_frame(peru, sc, options[0], department="08")
    assert 0 < len(focus) < len(frame)
    row = cell_at(peru, -13.52, -71.97)
    card = cell_card(peru, sc, row, "en")
    assert card["names"]["grandparent"] == "CUSCO"
    assert "Monetary poverty 2018" in card["why"]
    assert card["contributions"]["contribution"].sum() == pytest.approx(sc.table["score"].iloc[row])
    assert set(card["raw"].columns) == {"layer", "value", "units", "source"}
    assert cell_at(peru, 40.0, 10.0) is None


@pytest.mark.parametrize("profile_id", ["engine", INCLUSION])
def test_dual_outputs_equal_the_cell_table(peru, profile_id):
    sc = scenario(peru, profile_id=profile_id, weights={"operating_mines": 4}
                  if profile_id == "engine" else None)
    dual_keys = {"engine", "inclusion", "need", "access", "typology", "niche_family", "linkage"}
    outputs = [o for o in output_options(peru, "es") if o.key in dual_keys]
    assert {o.key for o in outputs} == dual_keys
    for output in outputs:
        got = explore._values(sc, peru, output)
        want = sc.table[output.key].to_numpy()
        if output.kind == "categorical":
            assert (pd.isna(got) == pd.isna(want)).all(), output.key
            assert got[~pd.isna(got)].tolist() == want[~pd.isna(want)].tolist(), output.key
            assert got.dtype == want.dtype
        else:
            np.testing.assert_array_equal(got, want, err_msg=output.key)


def test_difference_and_movers(peru):
    a = scenario(peru, profile_id="engine")
    b = scenario(peru, profile_id="engine", weights={"population_2020": 10})
    change = difference(a, b, by="rank")
    assert np.nanmax(np.abs(change)) <= 1
    top = movers(peru, change)
    assert len(top) == 10
    assert top["change"].abs().is_monotonic_decreasing
    with pytest.raises(ValueError, match="must be 'score' or 'rank'"):
        difference(a, b, by="typology")


def test_parse_location_and_boundaries():
    assert parse_location("-13.5, -72") == (-13.5, -72.0)
    assert parse_location("-13.5 -72") == (-13.5, -72.0)
    lat, _lon = parse_location("878b61164ffffff")
    assert -14 < lat < -13
    assert parse_location("hello") is None
    assert parse_location("100, 10") is None
    assert len(boundaries()) == 25
    assert len(boundaries("08")) > 50


def test_typology_change(peru):
    from geo_engine.explore import TYPOLOGY_CHANGE, typology_change

    a = scenario(peru, profile_id="engine")
    b = scenario(peru, profile_id="engine", weights={"operating_mines": 20})
    change = typology_change(a, b)
    present = {c for c in change if c is not None}
    assert present <= set(TYPOLOGY_CHANGE)
    assert "unchanged" in present
    same = typology_change(a, a)
    assert {c for c in same if c is not None} == {"unchanged"}


def test_focus_choices_are_departments_by_name(peru):
    kind, labels = focus_choices(peru)
    assert kind == "department"
    assert len(labels) == 25
    assert labels["08"] == "CUSCO"
    assert list(labels.values()) == sorted(labels.values())


def test_focus_mask_narrows_department_then_province(peru):
    from geo_engine.explore import focus_label, focus_mask, province_choices

    everything = focus_mask(peru)
    assert everything.all()
    cusco = focus_mask(peru, department="08")
    provinces = province_choices(peru, "08")
    assert provinces["0813"] == "URUBAMBA"
    assert list(provinces.values()) == sorted(provinces.values())
    urubamba = focus_mask(peru, department="08", province="0813")
    assert 0 < urubamba.sum() < cusco.sum() < len(peru.matrix)
    assert not (urubamba & ~cusco).any()
    assert focus_label(peru, "es", department="08", province="0813") == (
        "CUSCO (departamento) · URUBAMBA (provincia)")
    assert focus_label(peru, "en") == "Whole country"
    assert province_choices(peru, "") == {}


def test_rankings_movers_and_clusters_follow_the_focus(peru):
    from geo_engine.explore import Clusters, clusters_in_focus, focus_mask, in_focus
    from geo_engine.reporting.rollup import rollup

    sc = scenario(peru, profile_id="engine")
    mask = focus_mask(peru, department="08")
    ranked = rollup(peru.matrix, np.asarray(sc.score, dtype=float), level="unit")
    local = in_focus(ranked, peru, mask, level="unit")
    assert local["code"].str.startswith("08").all()
    assert local["rank"].iloc[0] == 1
    assert in_focus(ranked, peru, np.ones(len(mask), dtype=bool), level="unit") is ranked
    provinces = in_focus(rollup(peru.matrix, np.asarray(sc.score, dtype=float), level="parent"),
                         peru, mask, level="parent")
    assert len(provinces) == 13  # Cusco's provinces
    b = scenario(peru, profile_id="engine", weights={"population_2020": 10})
    top = movers(peru, difference(sc, b), mask=mask)
    assert top["unit_code"].str.startswith("08").all()
    import geopandas as gpd
    import pandas as pd

    cells = pd.DataFrame({"cluster_id": pd.array([pd.NA] * len(mask), dtype="Int64")})
    inside, outside = np.flatnonzero(mask)[0], np.flatnonzero(~mask)[0]
    cells.loc[inside, "cluster_id"], cells.loc[outside, "cluster_id"] = 1, 2
    table = gpd.GeoDataFrame({"cluster_id": [1, 2], "rank": [2, 1]}, geometry=[None, None])
    kept = clusters_in_focus(Clusters(cells=cells, table=table), mask)
    assert kept.table["cluster_id"].tolist() == [1]


@pytest.mark.parametrize(("text", "kind", "name", "codes"), [
    ("Cusco", "department", "CUSCO", ("08", None, None)),  # a department before its namesakes
    ("  urubamba ", "province", "URUBAMBA", ("08", "0813", None)),
    ("Apurímac", "department", "APURIMAC", ("03", None, None)),  # accents ignored
    ("Cuzco", "department", "CUSCO", ("08", None, None)),  # a near miss
    ("machu picchu", "district", "MACHUPICCHU", ("08", "0813", "081304")),
    ("Santa Rosa, Puno", "district", "SANTA ROSA", ("21", "2108", "210808")),  # told apart by parent
])
def test_find_place_by_name(peru, text, kind, name, codes):
    from geo_engine.explore import find_place, focus_mask

    place = find_place(peru, text)
    assert (place.kind, place.name) == (kind, name)
    assert (place.department, place.province, place.district) == codes
    row = cell_at(peru, place.lat, place.lon)  # the card opens inside the place
    assert focus_mask(peru, department=codes[0], province=codes[1], unit=codes[2])[row]


def test_find_place_by_point_or_nothing(peru):
    from geo_engine.explore import find_place, place_index

    assert find_place(peru, "-13.5, -72").kind == "point"
    assert find_place(peru, "878b61164ffffff").kind == "point"
    index = place_index(peru)
    assert set(index["kind"]) == {"department", "province", "district"}
    assert find_place(peru, "xyzzy", index=index) is None
    assert find_place(peru, "   ", index=index) is None


def test_card_summary_states_why_with_thresholds(peru):
    from geo_engine.explore import card_summary, hexagon_note

    row = cell_at(peru, -13.52, -71.97)
    engine = scenario(peru, profile_id="engine")
    lines = card_summary(peru, engine, row, "en", profile_title="Engines of growth")
    assert lines[0].startswith("Score ")
    assert "rank " in lines[0]
    assert "What adds most" in lines[0]
    assert lines[1].startswith("Resource gate ")  # a gated profile says what opens its gate
    cut = engine.dual.thresholds["engine"]
    assert f"top third of engine scores (threshold ≥ {cut:.2f})" in lines[2]
    es = card_summary(peru, scenario(peru, profile_id=INCLUSION), row, "es")
    assert es[0].startswith("Inclusión ")
    assert "× necesidad" in es[0]  # the formula, with its exponents
    assert "^0,5" in es[0]
    assert "tercio superior" in es[1]
    assert "," in es[1]  # decimal comma
    typ = next(o for o in output_options(peru, "es") if o.key == "score")
    frame, res = map_frame(peru, engine, typ)
    h3_id = format(int(peru.matrix["h3"].iloc[row]), "x")
    assert hexagon_note(frame, res, h3_id, "en") is None  # drawn at the grid's resolution
    import h3
    import pandas as pd

    parent = h3.str_to_int(h3.cell_to_parent(h3_id, 4))
    coarse = pd.DataFrame({"h3": np.array([parent], dtype=np.uint64), "value": [0.25],
                           "n_children": [7]})
    assert hexagon_note(coarse, 4, h3_id, "es") == (
        "En el mapa esta celda está dentro de un hexágono que promedia 7 celdas (0,25); la ficha "
        "describe solo esta celda.")


def test_ranking_for_targeting_counts_poor_people(peru):
    from geo_engine.explore import RANK_CHOICES, focus_mask, ranking

    sc = scenario(peru, profile_id="agro_food")
    table = ranking(peru, sc.score, level="grandparent")
    assert table["rank"].tolist() == list(range(1, 26))  # unique ranks, ties broken
    assert table["poor_population_top"].is_monotonic_decreasing
    pop = peru.matrix["population_2020"].to_numpy(dtype=float)
    rate = peru.matrix["poverty_2018"].to_numpy(dtype=float)
    expected = np.nansum(pop * rate / 100)
    assert abs(int(table["poor_population"].sum()) - expected) <= 25  # rounded per unit
    assert (table["poor_population_top"] <= table["poor_population"]).all()
    assert str(table["population"].dtype) == "Int64"
    local = ranking(peru, sc.score, level="parent", rank_by="max",
                    mask=focus_mask(peru, department="08"))
    assert set(local["grandparent"]) == {"CUSCO"}
    assert local["max"].is_monotonic_decreasing
    assert local["rank"].iloc[0] == 1
    assert set(RANK_CHOICES) <= set(local.columns)
    with pytest.raises(ValueError, match="`rank_by` was 'nope'"):
        ranking(peru, sc.score, level="unit", rank_by="nope")


@pytest.mark.parametrize("rank_by", ["poor_population_top", "poor_population", "pop_weighted_mean",
                                     "mean", "max", "share_pop_top", "score_km2"])
@pytest.mark.parametrize("department", [None, "08"])  # Peru's names: focus_mask's argument
def test_top_units_are_the_first_rows_of_the_ranking(peru, rank_by, department):
    from geo_engine.explore import focus_mask, ranking, top_units, unit_groups

    sc = scenario(peru, profile_id="engine", weights={"operating_mines": 4})
    score = np.asarray(sc.score, dtype=float).copy()
    score[::7] = np.nan  # unscored cells count as the roll-up counts them
    mask = focus_mask(peru, department=department)
    units = unit_groups(peru, level="unit")
    fast = top_units(units, score, rank_by=rank_by, mask=mask, n=5)
    slow = ranking(peru, score, level="unit", rank_by=rank_by, mask=mask).head(5)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True),
                                  rtol=1e-9)


def test_top_units_of_a_flat_score_are_ties_ordered_by_poor_people(peru):
    from geo_engine.explore import ranking, top_units, unit_groups

    flat = np.full(len(peru.matrix), 0.5)
    units = unit_groups(peru, level="grandparent")
    fast = top_units(units, flat, rank_by="mean", n=3)
    assert fast["tie"].all()
    assert fast["code"].tolist() == ranking(peru, flat, level="grandparent",
                                            rank_by="mean")["code"].head(3).tolist()
    with pytest.raises(ValueError, match="`rank_by` was 'nope'"):
        top_units(units, flat, rank_by="nope")

def test_ranking_flags_ties(peru):
    from geo_engine.explore import ranking

    flat = np.full(len(peru.matrix), 0.5)
    table = ranking(peru, flat, level="grandparent", rank_by="mean")
    assert table["tie"].all()
    assert table["rank"].tolist() == list(range(1, 26))
    assert table["poor_population"].is_monotonic_decreasing  # ties ordered by poor people




def test_typology_matrix_counts_transitions_in_focus(peru):
    from geo_engine.explore import typology_matrix
    from geo_engine.scoring.dual import TYPOLOGY

    a = scenario(peru, profile_id="engine")
    b = scenario(peru, profile_id="engine", weights={"operating_mines": 20})
    cells = typology_matrix(a, b)
    assert list(cells.index) == list(TYPOLOGY)
    assert list(cells.columns) == list(TYPOLOGY)
    both = np.array([x is not None and y is not None
                     for x, y in zip(a.dual.typology, b.dual.typology, strict=True)])
    assert cells.to_numpy().sum() == both.sum()
    kept = np.array([x == y and x is not None
                     for x, y in zip(a.dual.typology, b.dual.typology, strict=True)])
    assert np.trace(cells.to_numpy()) == kept.sum()
    same = typology_matrix(a, a)
    assert same.to_numpy().sum() == np.trace(same.to_numpy())  # A against itself: all kept
    cusco = peru.matrix["grandparent_code"].to_numpy() == "08"
    people = peru.matrix["population_2020"].to_numpy(dtype=float)
    weighted = typology_matrix(a, b, mask=cusco, weights=people)
    assert weighted.to_numpy().sum() == pytest.approx(np.nansum(people[cusco & both]))


def test_comparison_table_names_cells_and_both_scenarios(peru):
    from geo_engine.explore import comparison_table

    a = scenario(peru, profile_id="engine")
    b = scenario(peru, profile_id="agro_food")
    cusco = peru.matrix["grandparent_code"].to_numpy() == "08"
    table = comparison_table(peru, a, b, mask=cusco)
    assert len(table) == cusco.sum()
    assert table["h3"].is_monotonic_increasing
    assert {"unit", "parent", "grandparent", "score_a", "score_b", "change",
            "standing_change", "typology_a", "typology_b"} <= set(table.columns)
    assert np.allclose(table["change"], table["score_b"] - table["score_a"], equal_nan=True)
    assert set(table["grandparent"].dropna()) == {"CUSCO"}


def test_map_frame_draws_finer_hexagons_for_a_zoomed_view(peru):
    sc = scenario(peru, profile_id="engine")
    score = output_options(peru, "en")[0]
    whole, coarse = map_frame(peru, sc, score, max_polygons=500)
    assert coarse < peru.resolution
    # the country's view keeps the coarse hexagons
    same, res = map_frame(peru, sc, score, max_polygons=500, view=(-82.0, -19.0, -68.0, 0.5))
    assert res == coarse
    assert same["h3"].tolist() == whole["h3"].tolist()
    # around Cusco: finer hexagons, only those of the view, within the budget
    view = (-72.5, -14.0, -71.5, -13.0)
    zoomed, fine = map_frame(peru, sc, score, max_polygons=500, view=view)
    assert fine > coarse
    assert 0 < len(zoomed) <= 500
    lat = np.array([h3.cell_to_latlng(h3.int_to_str(int(c)))[0] for c in zoomed["h3"]])
    assert lat.min() > -14.0 - 0.3
    assert lat.max() < -13.0 + 0.3
    # each hexagon is the mean of all its cells, as drawn for the whole country at that resolution
    budget = int(np.ceil(len(peru.matrix) / 7 ** (peru.resolution - fine)))
    everywhere, res = map_frame(peru, sc, score, max_polygons=budget)
    assert res == fine
    everywhere = everywhere.set_index("h3").loc[zoomed["h3"]]
    np.testing.assert_allclose(zoomed["value"], everywhere["value"], equal_nan=True)
    assert zoomed["n_children"].tolist() == everywhere["n_children"].tolist()
    assert zoomed["unit"].tolist() == everywhere["unit"].tolist()
    # the resolution is known without drawing: the same as map_frame's, for either view
    from geo_engine.explore import drawn_resolution

    assert drawn_resolution(peru, max_polygons=500) == coarse
    assert drawn_resolution(peru, view=(-82.0, -19.0, -68.0, 0.5), max_polygons=500) == coarse
    assert drawn_resolution(peru, view=view, max_polygons=500) == fine
    cusco = drawn_resolution(peru, view=view, department="08", max_polygons=500)
    assert cusco == map_frame(peru, sc, score, department="08", max_polygons=500, view=view)[1]
