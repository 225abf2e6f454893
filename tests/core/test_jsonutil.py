import json
import math
from pathlib import Path

import numpy as np

from advisor._jsonutil import dumps, to_jsonable


def test_non_finite_floats_become_null_and_numpy_becomes_python():
    data = {
        "a": math.nan,
        "b": [np.float32(1.5), np.inf],
        "c": np.arange(3),
        "d": Path("x/y"),
        1: True,
    }
    out = to_jsonable(data)
    assert out == {"a": None, "b": [1.5, None], "c": [0, 1, 2], "d": "x/y", "1": True}
    assert json.loads(dumps(data)) == out


def test_objects_with_to_dict_are_serialised():
    class Result:
        def to_dict(self):
            return {"score": np.float64(0.5), "bad": float("-inf")}

    assert json.loads(dumps([Result()])) == [{"score": 0.5, "bad": None}]
