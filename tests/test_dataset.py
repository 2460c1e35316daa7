"""Tests of the partitioned matrix dataset: parents of cells, writing, reading, damage."""

from __future__ import annotations

import json

import h3
import numpy as np
import pandas as pd
import pytest

from geo_engine._errors import GeoEngineWarning
from geo_engine.matrix.dataset import MANIFEST, DatasetWriter, dataset_folder, parent_cells, read_dataset


def _cells(centre: str = "87283082bffffff", k: int = 12) -> np.ndarray:
    return np.sort(np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, k)], dtype=np.uint64))


@pytest.mark.parametrize("resolution", [0, 3, 4, 6, 7])
def test_parent_cells_match_h3(resolution):
    ids = _cells(k=4)
    expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), resolution)) for c in ids]
    assert parent_cells(ids, resolution).tolist() == expected


def test_parent_resolution_out_of_range_is_refused():
    with pytest.raises(ValueError, match="`resolution` was 16"):
        parent_cells(_cells(k=1), 16)


def _matrix(ids: np.ndarray) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"h3": ids, "district_code": "010101", "a": rng.random(len(ids)),
                         "b": np.where(rng.random(len(ids)) < 0.2, np.nan, 1.0)})


def _write(folder, matrix, pieces=3):
    with DatasetWriter(folder, parent_resolution=5) as writer:
        for rows in np.array_split(np.random.default_rng(1).permutation(len(matrix)), pieces):
            writer.add(matrix.iloc[rows])
        writer.finish({"layers": {"a": {}, "b": {}}})


def test_a_dataset_reads_back_as_the_matrix_written(tmp_path):
    matrix = _matrix(_cells())
    folder = dataset_folder(tmp_path / "peru-r7-abc.parquet")
    assert folder.name == "peru-r7-abc.parts"
    _write(folder, matrix)
    parents = {p.name for p in folder.iterdir() if p.is_dir()}
    expected = {f"parent={h3.cell_to_parent(h3.int_to_str(int(c)), 5)}" for c in matrix["h3"]}
    assert parents == expected
    back = read_dataset(folder)
    pd.testing.assert_frame_equal(back, matrix)
    assert back.attrs["report"] == {"layers": {"a": {}, "b": {}}}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_some_parents_and_columns_are_read_alone(tmp_path):
    matrix = _matrix(_cells())
    _write(tmp_path / "m.parts", matrix)
    one = sorted(p.name.split("=")[1] for p in (tmp_path / "m.parts").iterdir() if p.is_dir())[0]
    part = read_dataset(tmp_path / "m.parts", parents=[one], columns=["a"])
    mine = parent_cells(matrix["h3"].to_numpy(), 5) == h3.str_to_int(one)
    assert list(part.columns) == ["h3", "a"]
    assert part["h3"].tolist() == matrix.loc[mine, "h3"].tolist()


def test_a_missing_folder_is_none_and_an_unfinished_one_warns(tmp_path):
    assert read_dataset(tmp_path / "none.parts") is None
    matrix = _matrix(_cells(k=3))
    with DatasetWriter(tmp_path / "m.parts", parent_resolution=5) as writer:
        writer.add(matrix)  # left without finish(): nothing appears
    assert not (tmp_path / "m.parts").exists()
    assert not list(tmp_path.iterdir())


def test_a_damaged_dataset_is_read_as_missing_with_a_warning(tmp_path):
    matrix = _matrix(_cells())
    _write(tmp_path / "m.parts", matrix)
    record = json.loads((tmp_path / "m.parts" / MANIFEST).read_text())
    (tmp_path / "m.parts" / record["files"][0]["path"]).write_bytes(b"PAR1 broken")
    with pytest.warns(GeoEngineWarning, match="unfinished or damaged.*SHA-256"):
        assert read_dataset(tmp_path / "m.parts") is None
    (tmp_path / "m.parts" / MANIFEST).unlink()
    with pytest.warns(GeoEngineWarning, match=f"no {MANIFEST}"):
        assert read_dataset(tmp_path / "m.parts") is None


def test_parts_with_other_columns_are_refused(tmp_path):
    matrix = _matrix(_cells(k=2))
    with DatasetWriter(tmp_path / "m.parts", parent_resolution=5) as writer:
        writer.add(matrix)
        with pytest.raises(ValueError, match="a part has columns"):
            writer.add(matrix[["h3", "a"]])


def test_a_new_dataset_replaces_the_old_one(tmp_path):
    first, second = _matrix(_cells(k=2)), _matrix(_cells(k=5))
    _write(tmp_path / "m.parts", first)
    _write(tmp_path / "m.parts", second)
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "m.parts"), second)
