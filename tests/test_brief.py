import numpy as np
import pytest

from geo_engine.brief import brief_html, cells_svg


def test_district_brief_is_escaped_and_complete(peru):
    rows = peru.matrix["department_code"].to_numpy() == "08"
    page = brief_html(peru, profile_id="nature_heritage_tourism", rows=rows,
                      title="<script>alert(1)</script> Cusco", lang="en")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Cusco" in page
    assert "<svg" in page
    assert page.count("<path ") == int(rows.sum())
    assert "UNESCO World Heritage sites in Peru" in page
    assert "Caveats" in page


def test_spanish_labels_and_empty_selection(peru):
    biggest = peru.matrix["district_code"].value_counts().index[0]
    rows = np.flatnonzero(peru.matrix["district_code"].to_numpy() == biggest)
    page = brief_html(peru, profile_id="engine", rows=rows, title="Cusco", lang="es")
    assert "Fuentes" in page
    with pytest.raises(ValueError, match="has no cells"):
        brief_html(peru, profile_id="engine", rows=np.zeros(len(peru.matrix), bool), title="x")


def test_svg_scales_and_marks_missing():
    import h3

    ids = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(-12, -77, 6), 1)),
                   dtype=np.uint64)
    svg = cells_svg(ids, np.array([0.0, 1.0, np.nan, 0.5, 0.2, 0.3, 0.9]))
    assert svg.count("<path ") == 7
    assert "#bdbdbd" in svg
    assert cells_svg(np.array([], dtype=np.uint64), np.array([])).startswith("<svg")
