"""Cache keys are content hashes: equal contents, equal keys; any change, another key."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import sparse

import neurocomp as nc
from neurocomp.explore.digest import digest
from neurocomp.target import shipped_targets

from sweep_data import digits


def test_equal_contents_equal_digests():
    a = {"w": np.arange(6.0).reshape(2, 3), "m": sparse.random(4, 4, 0.5, random_state=1)}
    b = {"m": sparse.csc_matrix(a["m"]), "w": a["w"].copy()}  # other order, other layout
    assert digest(a) == digest(b)
    assert digest(a["w"]) != digest(a["w"].astype(np.float32))  # the dtype counts
    assert digest(a["w"]) != digest(a["w"].reshape(3, 2))  # and the shape
    changed = a["w"].copy()
    changed[1, 2] = np.nextafter(changed[1, 2], 10)
    assert digest(changed) != digest(a["w"])
    assert digest([1, 2]) != digest([[1, 2]]) and digest("1") != digest(1)
    with pytest.raises(nc.InputError, match="cannot hash a object"):
        digest(object())


def test_network_digest_follows_the_weights():
    net = digits()["model"]
    proj = net.projections[0]
    op = proj.ops[0]
    name = next(
        f.name for f in dataclasses.fields(op) if isinstance(getattr(op, f.name), np.ndarray)
    )
    w = getattr(op, name).copy()
    w.flat[0] += 1e-9
    proj2 = dataclasses.replace(proj, ops=(dataclasses.replace(op, **{name: w}), *proj.ops[1:]))
    other = dataclasses.replace(net, projections=(proj2, *net.projections[1:]))
    assert digest(net) == digest(digits()["model"])
    assert digest(other) != digest(net)


def test_target_file_contents_are_in_the_key(tmp_path):
    kw = {**digits(40), "passes": [None]}
    chip = tmp_path / "chip.toml"
    text = shipped_targets()["reference"].read_text()
    chip.write_text(text)
    first = nc.sweep(**{**kw, "targets": [str(chip)]}, folder=tmp_path / "out")
    chip.write_text(text + "\n")
    same = nc.sweep(**{**kw, "targets": [str(chip)]}, folder=tmp_path / "out")
    assert same.cached == 1  # a blank line is no change of contents
    chip.write_text(_more_synop(text))
    changed = nc.sweep(**{**kw, "targets": [str(chip)]}, folder=tmp_path / "out")
    assert changed.cached == 0 and changed.table["key"][0] != first.table["key"][0]
    assert changed.table["dynamic_per_inference_j"][0] > first.table["dynamic_per_inference_j"][0]


def _more_synop(text: str) -> str:
    """The chip text with 1.2x the energy of a synaptic op (inside its band)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(("synop_j.value", "synop_j =")):
            key, value = line.split("=", 1)
            lines[i] = f"{key}= {1.2 * float(value.split('#')[0])}"
            return "\n".join(lines) + "\n"
    raise AssertionError("no synop_j in the reference target")
