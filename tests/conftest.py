from __future__ import annotations

import os
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n: one worker per core, each one thread
    # (torch and BLAS would start a thread per core in every worker: oversubscribed)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "data" / "nir-zoo"  # copied from the NIR paper (README there)
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/nir_oracle.py


def zoo_file(name: str) -> Path:
    """Path of a NIR zoo file shipped in tests/data/nir-zoo (a missing one is a failure)."""
    path = ZOO / name
    assert path.exists(), f"NIR zoo file {path} missing from the repository"
    return path


def digits_spread(neurons: int, tiles_x: int, tiles_y: int, cores_per_tile: int, chips: int):
    """examples/digits compiled for the reference chip with `neurons` per core and the mesh
    given, so that its 138 neurons span cores, tiles and chips (messages, hops)."""
    import warnings

    import neurocomp as nc
    from neurocomp.program.folder import _toml_shape
    from neurocomp.target import load_target, spec_from_dict

    raw = _toml_shape(load_target("reference").to_dict())
    raw["mesh"].update(tiles_x=tiles_x, tiles_y=tiles_y, cores_per_tile=cores_per_tile)
    raw["core"]["neurons"] = neurons
    spec = spec_from_dict(raw, f"reference, {neurons} neurons per core")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        return nc.compile(EXAMPLES / "digits" / "digits.nir", target=spec, chips=chips, dt=1e-4)


def onnx_digits_split() -> list:
    """The split of examples/onnx_digits (sklearn digits, images (N, 1, 8, 8) in [0, 1]):
    x_train, x_test, y_train, y_test with 397 test samples, as its train.py makes it."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(x, d.target, test_size=397, random_state=0, stratify=d.target)


def lif_norse_input() -> object:
    """The NIR paper's single-LIF input: 100 events spread over 1000 steps, shape (1000, 1, 1)."""
    import numpy as np

    gaps = [
        6,
        15,
        4,
        3,
        0,
        2,
        1,
        2,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        13,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        5,
        0,
        14,
    ]
    d1 = np.concatenate([[0] * g + [1] for g in gaps])[:100]
    x = np.zeros(1000)
    x[::10] = d1
    return x.reshape(1000, 1, 1)
