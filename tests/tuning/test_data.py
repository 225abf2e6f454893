import numpy as np
import pytest
import torch

from advisor.errors import DataError
from advisor.tuning import as_tensors, load_data_file


def test_arrays_become_float_features_and_long_classes():
    d = as_tensors((np.zeros((6, 2)), np.array([0, 1, 2, 0, 1, 2.0])), task="classification")
    assert d.X.dtype == torch.float32 and d.y.dtype == torch.int64 and len(d) == 6


def test_regression_targets_are_float():
    d = as_tensors((torch.zeros(5, 3), torch.arange(5)), task="regression")
    assert d.y.dtype == torch.float32


def test_dataset_of_pairs_is_read():
    ds = torch.utils.data.TensorDataset(torch.randn(8, 3), torch.arange(8) % 2)
    d = as_tensors(ds, task="classification")
    assert d.X.shape == (8, 3) and d.y.tolist() == [0, 1] * 4


@pytest.mark.parametrize(
    ("data", "task", "match"),
    [
        ((np.zeros((5, 2)), np.zeros(4)), "regression", "5 samples but y has 4"),
        ((np.zeros((5, 2)), np.array([0, 0.5, 1, 1, 0])), "classification", "integer class ids"),
        ((np.full((5, 2), np.nan), np.zeros(5)), "regression", "NaN"),
        ((np.zeros((2, 2)), np.zeros(2)), "regression", "at least 4"),
        ("not data", "regression", "not supported"),
    ],
)
def test_bad_data_is_one_line_data_error(data, task, match):
    with pytest.raises(DataError, match=match) as info:
        as_tensors(data, task=task)
    assert "\n" not in str(info.value)


def test_npz_pt_and_csv_files(tmp_path):
    X, y = np.ones((4, 2), dtype=np.float32), np.array([0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    torch.save({"X": torch.tensor(X), "y": torch.tensor(y)}, tmp_path / "d.pt")
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    assert load_data_file(tmp_path / "d.npz")[0].shape == (4, 2)
    assert load_data_file(tmp_path / "d.pt")[1].tolist() == [0, 1, 0, 1]
    Xc, yc = load_data_file(tmp_path / "d.csv", target="label")
    assert Xc.shape == (4, 2) and list(yc) == [0, 1, 0, 1]


def test_file_errors_say_how_to_fix(tmp_path):
    np.savez(tmp_path / "bad.npz", features=np.ones(3))
    with pytest.raises(DataError, match="np.savez"):
        load_data_file(tmp_path / "bad.npz")
    (tmp_path / "d.csv").write_text("a,label\n1,0\n")
    with pytest.raises(DataError, match="--target"):
        load_data_file(tmp_path / "d.csv")
    with pytest.raises(DataError, match="no column 'y'"):
        load_data_file(tmp_path / "d.csv", target="y")
    (tmp_path / "d.txt").write_text("1 2\n")
    with pytest.raises(DataError, match="unsupported"):
        load_data_file(tmp_path / "d.txt")


def test_pt_with_objects_is_refused_without_trust(tmp_path):
    from argparse import Namespace  # an importable class, which weights_only refuses

    torch.save(
        {"X": torch.ones(4, 2), "y": torch.zeros(4), "meta": Namespace(a=1)}, tmp_path / "obj.pt"
    )
    with pytest.raises(DataError, match="--trust"):
        load_data_file(tmp_path / "obj.pt")
