import pytest
import yaml

from geo_engine._errors import SpecError
from geo_engine.layers import METHODS, LayerSpec, default_layers_path, load_layers

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
    path.write_text(yaml.safe_dump({"layers": layers}, allow_unicode=True), encoding="utf-8")
    return path


def test_good_spec_loads(tmp_path):
    specs = load_layers(_write(tmp_path, [GOOD]))
    assert specs[0].id == "ports_distance"
    assert specs[0].source_path(tmp_path) == tmp_path / "peru" / "ports.parquet"


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
    from geo_engine.manifest import load_manifest

    ids = {e["id"]: e["file"] for e in load_manifest(data_dir)["datasets"]}
    for spec in specs:
        assert spec.dataset in ids, spec.id
        assert ids[spec.dataset] == spec.source, spec.id


def test_model_can_be_built_in_code():
    spec = LayerSpec(**{**GOOD, "kind": "raster", "method": "share", "params": {"classes": [1]}})
    assert spec.params == {"classes": [1]}


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
