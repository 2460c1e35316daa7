import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_engine._errors import SpecError
from geo_engine.ingest.specs import METHODS, LayerSpec, default_layers_path, load_layers, source_paths
from geo_engine.io.yaml_io import dump_yaml

GOOD = {
    "id": "ports_distance",
    "title": {"es": "Distancia a puertos", "en": "Distance to ports"},
    "theme": "infrastructure",
    "kind": "points",
    "source": "peru/ports.parquet",
    "method": "distance",
    "units": "km",
    "direction": "cost",
}

TABLE = {**GOOD, "id": "crop", "theme": "resource", "kind": "table", "source": "t.parquet",
         "method": "extensive", "units": "t"}


def _write(tmp_path, layers, name="layers.yaml"):
    path = tmp_path / name
    path.write_text(dump_yaml({"layers": layers}), encoding="utf-8")  # the same title twice: no alias
    return path


def test_good_spec_loads(tmp_path):
    specs = load_layers(_write(tmp_path, [GOOD]))
    assert specs[0].id == "ports_distance"
    assert specs[0].source_path(tmp_path) == tmp_path.resolve() / "peru" / "ports.parquet"


def test_list_form_and_folder(tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump([GOOD]))
    (tmp_path / "b.yml").write_text(yaml.safe_dump([{**GOOD, "id": "other"}]))
    assert [s.id for s in load_layers(tmp_path)] == ["ports_distance", "other"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "mean"}, r"method 'mean' is not available for kind 'points'"),
        ({"method": "density"}, r"method 'density' needs params \['bandwidth_km'\]"),
        ({"params": {"colour": "x"}}, r"unknown params \['colour'\]"),
        ({"theme": "economy"}, r"field `theme`.*value: 'economy'"),
        ({"id": "Bad Id"}, r"field `id`.*String should match pattern"),
        ({"direction": None}, r"field `direction`"),
        ({"title": {"es": "x"}}, r"field `title.en`: Field required"),
        ({"transform": {"kind": "cap"}}, r"transform `cap` needs `percentile`"),
        ({"extra": 1}, r"field `extra`: Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_name_file_layer_and_field(tmp_path, change, message):
    path = _write(tmp_path, [{**GOOD, **change}])
    with pytest.raises(SpecError, match=message) as info:
        load_layers(path)
    assert str(path) in str(info.value)
    assert "ports_distance" in str(info.value) or "Bad Id" in str(info.value)


def test_duplicate_ids(tmp_path):
    with pytest.raises(SpecError, match="duplicate id"):
        load_layers(_write(tmp_path, [GOOD, GOOD]))


@pytest.mark.parametrize("text", ["layers: [", "just a string", "layers: 3"])
def test_bad_yaml(tmp_path, text):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=r"x\.yaml"):
        load_layers(path)


def test_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(SpecError, match=r"not found"):
        load_layers(tmp_path / "none.yaml")
    with pytest.raises(SpecError, match=r"no \.yaml layer files"):
        load_layers(tmp_path)


def test_shipped_specs_are_valid_and_cover_every_kind(data_dir):
    specs = load_layers(default_layers_path("peru"))
    assert len(specs) >= 40
    assert {s.kind for s in specs} == set(METHODS)
    assert {s.theme for s in specs} == {"resource", "infrastructure", "social", "environment"}
    from geo_engine.io.manifest import load_manifest

    ids = {e["id"]: e["file"] for e in load_manifest(data_dir)["datasets"]}
    for spec in specs:
        assert spec.dataset in ids, spec.id
        assert ids[spec.dataset] == spec.source, spec.id


def test_model_can_be_built_in_code():
    spec = LayerSpec(**{**GOOD, "kind": "raster", "method": "share", "params": {"classes": [1]}})
    assert spec.params == {"classes": [1]}


@pytest.mark.hostile
@pytest.mark.parametrize("layer_id", ["h3", "lat", "lon", "area_km2", "unit_code", "parent_code",
                                      "grandparent_code", "centre_inside", "geometry"])
def test_an_id_clashing_with_a_grid_column_is_refused(tmp_path, layer_id):
    path = _write(tmp_path, [{**GOOD, "id": layer_id}])
    with pytest.raises(SpecError, match=rf"{path}: layer '{layer_id}': field `id`: .*id '{layer_id}' is the "
                       rf"name of a column of the grid \(h3, lat, .*\); rename the layer, e\.g\. "
                       rf"{layer_id}_layer"):
        load_layers(path)


@pytest.mark.hostile
@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_params_must_be_finite(tmp_path, value):
    path = tmp_path / "layers.yaml"
    path.write_text(yaml.safe_dump({"layers": [{**GOOD, "params": {"max_km": 1.0}}]}).replace(
        "max_km: 1.0", f"max_km: {value}"))
    with pytest.raises(SpecError, match=r"layer 'ports_distance'.*params \['max_km'\] must be finite "
                       r"numbers"):
        load_layers(path)


@pytest.mark.hostile
def test_filter_is_parsed_when_the_spec_loads(tmp_path):
    path = _write(tmp_path, [{**GOOD, "filter": "size.str.len() > 3"}])
    with pytest.raises(SpecError, match=rf"{path}: layer 'ports_distance': field `filter`: .*uses "
                       r"attribute access '\.len'"):
        load_layers(path)
    assert load_layers(_write(tmp_path, [{**GOOD, "filter": "size in ['large']"}]))[0].filter


# --- sources stay inside the data folder ----------------------------------------------------------

def _spec_with_source(tmp_path, source):
    return load_layers(_write(tmp_path, [{**GOOD, "source": source}]))[0]


def test_sources_inside_the_folder(tmp_path):
    data = tmp_path / "data"
    (data / "peru").mkdir(parents=True)
    (data / "peru" / "ports.parquet").write_bytes(b"x")
    (data / "link.parquet").symlink_to(data / "peru" / "ports.parquet")
    target = (data / "peru" / "ports.parquet").resolve()
    for source in ("peru/ports.parquet", "peru/../peru/ports.parquet", str(data / "peru" / "ports.parquet"),
                   "link.parquet"):
        assert _spec_with_source(tmp_path, source).source_path(data) == target
    assert _spec_with_source(tmp_path, "new.csv").source_path(data) == data.resolve() / "new.csv"


@pytest.mark.hostile
@pytest.mark.parametrize(("source", "how"), [
    ("../../../../../../etc/passwd", r"leads outside the data folder"),
    ("/etc/passwd", r"leads outside the data folder"),
    ("peru/../../secret.csv", r"leads outside the data folder"),
    ("escape.csv", r"is a link to '.*secret\.csv', which lies outside the data folder"),
    ("escape_dir/secret.csv", r"is a link to '.*secret\.csv', which lies outside the data folder"),
])
def test_sources_outside_the_folder_are_refused(tmp_path, source, how):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (data / "escape.csv").symlink_to(tmp_path / "secret.csv")
    (data / "escape_dir").symlink_to(tmp_path)
    spec = _spec_with_source(tmp_path, source)
    with pytest.raises(SpecError, match=rf"layers\.yaml: layer 'ports_distance': source '{source}' {how}"
                       rf" .*; sources are read only inside that folder: put the file there and write its "
                       r"path relative to it"):
        spec.source_path(data)


@pytest.mark.hostile
def test_source_paths_lists_every_escape(tmp_path):
    specs = load_layers(_write(tmp_path, [{**GOOD, "source": "/etc/passwd"},
                                          {**GOOD, "id": "b", "source": "../x.csv"},
                                          {**GOOD, "id": "c", "source": "ok.csv"}]))
    with pytest.raises(SpecError, match=r"(?s)layer 'ports_distance'.*'/etc/passwd'.*\n.*layer 'b'.*"
                       r"'\.\./x\.csv'"):
        source_paths(specs, tmp_path / "data")
    assert source_paths(specs[2:], tmp_path) == {"c": tmp_path.resolve() / "ok.csv"}


@pytest.mark.hostile
@pytest.mark.parametrize("source", ["a\x00b.csv", "a\nb.csv", "x" * 1025])
def test_odd_sources_are_refused_at_load(tmp_path, source):
    with pytest.raises(SpecError, match=r"field `source`"):
        _spec_with_source(tmp_path, source)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=200),
                 st.text(alphabet="layers:- id{}[]&*!<>|'\"\n #x1.", max_size=200)))
@pytest.mark.hostile
def test_fuzz_spec_loader_gives_only_spec_errors(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        specs = load_layers(path)
    except SpecError:
        return
    assert all(isinstance(s, LayerSpec) for s in specs)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weights": "suitable"}, "described by params.suitability"),
        ({"suitability": {"cropland": True, "source": "cropland map"}}, "needs params.weights"),
        ({"weights": "suitable", "suitability": {"source": "no condition at all"}},
         "needs `elevation_m"),
        ({"weights": "suitable", "suitability": {"elevation_m": [2000, 600],
                                                 "source": "a reversed band"}},
         "low end must be below"),
        ({"weights": "suitable", "suitability": {"elevation_m": [600, 2000]}}, "source"),
        ({"weights": "suitable", "suitability": {"elevation_m": [600, 2000], "slope": 3,
                                                 "source": "an unknown key"}}, "slope"),
    ],
)
def test_suitability_params_are_validated(params, message):
    spec = {**TABLE, "params": {"column": "t", "key": "code", **params}}
    with pytest.raises(ValueError, match=message):
        LayerSpec(**spec)


def test_suitability_band_may_be_open_ended():
    params = {"column": "t", "weights": "suitable",
              "suitability": {"elevation_m": [None, 1200], "cropland": True, "centres": True,
                              "source": "an open lower end"}}
    assert LayerSpec(**{**TABLE, "params": params}).params["suitability"]["elevation_m"] == [
        None, 1200]


def test_slot_column_maps_perus_code_columns_and_keeps_the_slots():
    from geo_engine.ingest.specs import LEGACY_CODE_COLUMNS, slot_column

    assert [slot_column(c) for c in LEGACY_CODE_COLUMNS] == [
        "unit_code", "parent_code", "grandparent_code"]
    assert slot_column("parent_code") == "parent_code"
    assert slot_column("comuna_code") == "comuna_code"


def test_perus_code_columns_may_not_be_layer_ids():
    from geo_engine.ingest.specs import LEGACY_CODE_COLUMNS, RESERVED_IDS

    assert set(LEGACY_CODE_COLUMNS) <= set(RESERVED_IDS)  # exports use them for Peru
