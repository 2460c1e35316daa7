import numpy as np
import pandas as pd
import pytest

from geo_engine.reporting.brief import brief_content, brief_html, brief_map, brief_pdf, cells_svg


def test_district_brief_is_escaped_and_complete(peru):
    rows = peru.matrix["grandparent_code"].to_numpy() == "08"
    page = brief_html(peru, profile_id="nature_heritage_tourism", rows=rows,
                      title="<script>alert(1)</script> Cusco", lang="en")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Cusco" in page
    assert '<img src="data:image/png;base64,' in page
    assert "UNESCO World Heritage sites in Peru" in page
    assert "Caveats" in page
    assert "Why, in its most populous cell:" in page  # the niche, need and reach in words


def test_spanish_labels_and_empty_selection(peru):
    biggest = peru.matrix["unit_code"].value_counts().index[0]
    rows = np.flatnonzero(peru.matrix["unit_code"].to_numpy() == biggest)
    page = brief_html(peru, profile_id="engine", rows=rows, title="Cusco", lang="es")
    assert "Fuentes" in page
    assert "Compuerta de recurso" in page  # the gated profile says what opens its gate, in Spanish
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


def _pdf_text(data: bytes) -> tuple[int, str]:
    """Return the page count and the text of a PDF (opened strictly), whitespace collapsed."""
    import io

    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
    text = " ".join(page.extract_text() for page in reader.pages)
    return len(reader.pages), " ".join(text.split())  # lines joined, no-break spaces as spaces


def _district_title(run, code: str) -> str:
    names = run.names.set_index("unit_code")
    return " · ".join(str(names.loc[code, c]) for c in ("unit", "parent", "grandparent"))


def test_pdf_brief_of_a_district_is_one_readable_page(peru):
    rows = peru.matrix["unit_code"].astype(str).to_numpy() == "040206"
    title = _district_title(peru, "040206")
    assert title == "OCOÑA · CAMANA · AREQUIPA"
    data = brief_pdf(peru, profile_id="nature_heritage_tourism", rows=rows, title=title, lang="es")
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    pages, text = _pdf_text(data)
    assert pages == 1
    for expected in (title, "Perfil: Turismo de naturaleza y patrimonio", "Cifras", "Población",
                     "Superficie (km²)", "UNESCO World Heritage sites in Peru", "Advertencias",
                     "geo-engine"):
        assert expected in text, expected


def test_pdf_brief_writes_names_as_plain_text(peru):
    rows = peru.matrix["grandparent_code"].to_numpy() == "08"
    title = "<script>alert(1)</script> **Cusco** — Ñuñoa"
    data = brief_pdf(peru, profile_id="engine", rows=rows, title=title, lang="en")
    assert b"/JavaScript" not in data
    _, text = _pdf_text(data)
    assert title in text
    assert "Caveats" in text


def test_pdf_brief_content_matches_the_html(peru):
    rows = peru.matrix["unit_code"].astype(str).to_numpy() == "040206"
    content = brief_content(peru, profile_id="engine", rows=rows, title="Cusco", lang="en",
                            extra=[("Rank among districts", "3")])
    assert content.figures[0] == ("Rank among districts", "3")
    assert content.map_png.startswith(b"\x89PNG")
    page = brief_html(peru, profile_id="engine", rows=rows, title="Cusco", lang="en",
                      extra=[("Rank among districts", "3")])
    _, text = _pdf_text(brief_pdf(peru, profile_id="engine", rows=rows, title="Cusco", lang="en",
                                   extra=[("Rank among districts", "3")]))
    for label, _value in content.figures:
        assert label in page
        assert label in text
    for dataset, vintage, _licence in content.sources:
        assert dataset in page
        assert dataset in text
        assert vintage in text
    for layer, value in content.drivers:
        assert f"{layer} {value}" in text


def test_pdf_brief_without_a_unicode_font_uses_helvetica(peru, monkeypatch):
    import geo_engine.reporting.brief as brief

    monkeypatch.setattr(brief, "_dejavu", lambda: None)
    rows = peru.matrix["unit_code"].astype(str).to_numpy() == "040206"
    data = brief_pdf(peru, profile_id="engine", rows=rows, title="OCOÑA — Łódź ″", lang="es")
    assert b"/Helvetica" in data
    assert b"/FontFile2" not in data  # no embedded TrueType font
    _, text = _pdf_text(data)
    assert 'OCOÑA — ?ódz "' in text


@pytest.mark.parametrize(("raw", "printed"), [
    ("Cañón · Güe — ñ", "Cañón · Güe — ñ"),
    ("30″ ≥ 1", '30" >= 1'),
    ("Łódź", "?ódz"),
    ("日本", "??"),
])
def test_core_font_fallback_keeps_spanish(raw, printed):
    from geo_engine.reporting.brief import _to_cp1252

    assert _to_cp1252(raw) == printed


def test_pdf_brief_holds_the_map_image(peru):
    import io

    pypdf = pytest.importorskip("pypdf")
    rows = peru.matrix["unit_code"].astype(str).to_numpy() == "080901"
    data = brief_pdf(peru, profile_id="agro_food", rows=rows, title="Santa Ana", lang="es")
    images = pypdf.PdfReader(io.BytesIO(data), strict=True).pages[0].images
    assert len(images) == 1
    width, height = images[0].image.size
    assert width >= 800
    assert height > width  # the map over its legend


def _hexes():
    import h3

    return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(-12, -77, 6), 1)),
                    dtype=np.uint64)


def _colours(png: bytes) -> set[tuple[int, int, int]]:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {rgb for _, rgb in image.getcolors(maxcolors=1 << 20)}


def test_brief_map_draws_cells_legend_base_and_no_data():
    import geopandas as gpd
    from shapely.geometry import box

    from geo_engine.reporting.maps import Orientation

    base = Orientation(land=gpd.GeoDataFrame(geometry=[box(-78, -13, -76, -11)], crs=4326),
                       outlines=gpd.GeoDataFrame(geometry=[box(-77.5, -12.5, -76.5, -11.5)],
                                                 crs=4326),
                       labels=pd.DataFrame({"name": ["Lima"], "lat": [-12.0], "lon": [-77.0],
                                            "kind": ["capital"]}),
                       credits=("INEI via MINAM",))
    values = np.array([0.0, 1.0, np.nan, 0.5, 0.2, 0.3, 0.9])
    png = brief_map(_hexes(), values, caption="Score", lang="en", base=base, vmin=0, vmax=1)
    colours = _colours(png)
    assert (0xf6, 0xf3, 0xea) in colours  # land
    assert (0xbd, 0xbd, 0xbd) in colours  # the cell without data (and its legend entry)
    assert (0xfd, 0xe7, 0x25) in colours  # the top of the colour bar
    bare = brief_map(_hexes(), values[~np.isnan(values)].repeat(2)[:7], caption="Score")
    assert (0xf6, 0xf3, 0xea) not in _colours(bare)  # no base: no land drawn


def test_brief_map_skips_a_name_that_would_cover_one_written_before():
    def names(*rows):
        return pd.DataFrame(rows, columns=["name", "lat", "lon", "kind"])

    values = np.linspace(0, 1, 7)
    big = ("Gran Unidad", -12.0, -77.0, "unit")
    alone = brief_map(_hexes(), values, caption="Score", labels=names(big))
    covered = brief_map(_hexes(), values, caption="Score",
                        labels=names(big, ("Vecina", -12.002, -76.99, "unit")))
    apart = brief_map(_hexes(), values, caption="Score",
                      labels=names(big, ("Vecina", -11.9, -77.0, "unit")))
    assert covered == alone  # the neighbour's name is not written over the larger unit's
    assert apart != alone


@pytest.mark.parametrize(("km", "nice"), [(0.7, 0.5), (3.0, 2.0), (9.9, 5.0), (10.0, 10.0),
                                          (260.0, 200.0)])
def test_scale_bar_lengths(km, nice):
    from geo_engine.reporting.brief import _nice_length

    assert _nice_length(km) == nice
