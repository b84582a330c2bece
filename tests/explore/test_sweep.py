"""nc.sweep in-process: every figure against the public API run directly, failures recorded,
sharding exact, the cache reused, the files written."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import neurocomp as nc
from neurocomp.analysis import accuracy
from neurocomp.explore.points import COLUMNS
from neurocomp.passes.base import REGISTRY

from sweep_data import digits, without_timings


@pytest.fixture(scope="module")
def inputs():
    return digits()


@pytest.fixture(scope="module")
def result(inputs):
    return nc.sweep(**inputs)


def test_every_point_matches_compile_simulate_energy(inputs, result):
    table = result.table
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 8
    assert list(table["target"]) == ["reference"] * 4 + ["loihi2"] * 4
    ok = table[table["error"] == ""]
    assert len(ok) == 6
    for _, row in ok.iterrows():
        prog = nc.compile(
            inputs["model"],
            target=row["target"],
            passes=row["passes"] or None,
            calibration=inputs["calibration"],
            labels=inputs["labels"],
        )
        x = inputs["eval_input"]
        assert row["accuracy"] == accuracy(prog.simulate(x), inputs["eval_labels"])
        report = prog.energy(x)
        assert row["energy_per_inference_j"] == report.energy_per_inference_j
        assert row["latency_s"] == report.totals["latency_s"]
        assert row["cores_used"] == prog.summary["cores_used"]
        assert row["synapses"] == prog.summary["synapses"]
        assert row["pipeline"] == prog.pipeline
        assert row["samples"] == x.shape[1]
        assert row["compile_time_s"] > 0 and row["simulate_time_s"] > 0
        for side in ("low", "high"):  # the band, when the energy report has one
            band = getattr(report, f"energy_per_inference_{side}_j", None)
            got = row[f"energy_per_inference_{side}_j"]
            assert math.isnan(got) if band is None else got == band


def test_failing_point_recorded_and_others_go_on(result):
    failed = result.failed
    assert list(failed["passes"]) == ["quantize{weight_bits=16}"] * 2
    for text, target in zip(failed["error"], ["reference", "loihi2"], strict=True):
        assert text.startswith("PassError:") and f"'{target}' maximum 8" in text
    assert failed["accuracy"].isna().all() and failed["cores_used"].isna().all()


def test_sharded_evaluation_gives_the_same_table(inputs, result):
    sharded = nc.sweep(**{**inputs, "passes": inputs["passes"][:2]}, shard_size=37)
    same = result.table[result.table["passes"].isin(sharded.table["passes"])]
    pd.testing.assert_frame_equal(
        without_timings(sharded.table).drop(columns="point").reset_index(drop=True),
        without_timings(same).drop(columns="point").reset_index(drop=True),
        check_exact=True,
    )


def test_cache_hit_on_rerun_and_files_written(inputs, tmp_path):
    first = nc.sweep(**inputs, folder=tmp_path)
    assert first.cached == 0
    cached = sorted((tmp_path / "cache").glob("*.json"))
    assert len(cached) == 8  # the failures are neurocomp errors: kept, they would fail again
    again = nc.sweep(**inputs, folder=tmp_path)
    assert again.cached == 8
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)  # timings too
    csv = pd.read_csv(tmp_path / "table.csv", float_precision="round_trip")
    assert list(csv.columns) == list(COLUMNS)
    energy = "energy_per_inference_j"
    np.testing.assert_array_equal(csv[energy], first.table[energy])
    parquet = pd.read_parquet(tmp_path / "table.parquet")
    pd.testing.assert_frame_equal(parquet, first.table, check_exact=True, check_dtype=False)
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "Pareto front" in html
    # another evaluation set is another point: nothing reused
    other = nc.sweep(
        **{
            **inputs,
            "eval_input": inputs["eval_input"][:, :60],
            "eval_labels": inputs["eval_labels"][:60],
        },
        folder=tmp_path,
    )
    assert other.cached == 0


def test_cache_entry_is_the_row(inputs, tmp_path):
    res = nc.sweep(**{**inputs, "targets": ["reference"], "passes": [None]}, folder=tmp_path)
    (path,) = (tmp_path / "cache").glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["key"] == res.table["key"][0] == path.stem
    assert stored["row"]["accuracy"] == res.table["accuracy"][0]


@pytest.mark.parametrize("damage", ["[1, 2]", '"text"', '{"format": 1, "key": "K", "row": [1]}'])
def test_a_damaged_cache_entry_is_computed_again(inputs, tmp_path, damage):
    """JSON of another shape in a cache file (AttributeError/TypeError before) is a miss."""
    args = {**inputs, "targets": ["reference"], "passes": [None]}
    first = nc.sweep(**args, folder=tmp_path)
    (path,) = (tmp_path / "cache").glob("*.json")
    path.write_text(damage.replace("K", path.stem))
    again = nc.sweep(**args, folder=tmp_path)
    assert again.cached == 0
    assert again.table["accuracy"][0] == first.table["accuracy"][0]


def test_pareto_of_the_table_is_non_dominated(result):
    front = result.pareto()
    ok = result.table[result.table["error"] == ""]
    assert 1 <= len(front) <= len(ok)
    acc, energy = ok["accuracy"], ok["energy_per_inference_j"]
    for _, p in front.iterrows():
        no_worse = (acc >= p["accuracy"]) & (energy <= p["energy_per_inference_j"])
        better = (acc > p["accuracy"]) | (energy < p["energy_per_inference_j"])
        assert not (no_worse & better).any()


def test_bad_inputs_raise_before_any_work(inputs):
    with pytest.raises(nc.PassError, match="unknown pass 'qantize'"):
        nc.sweep(**{**inputs, "passes": ["qantize{weight_bits=4}"]})
    with pytest.raises(nc.TargetError, match="nochip"):
        nc.sweep(**{**inputs, "targets": ["nochip"]})
    with pytest.raises(nc.InputError, match="eval_labels"):
        nc.sweep(**{**inputs, "eval_labels": inputs["eval_labels"][:5]})
    with pytest.raises(nc.InputError, match="local:N"):
        nc.sweep(**inputs, scheduler="local:0")


@pytest.mark.parametrize(
    "change, message",
    [  # each was accepted: every point scored 0 (labels), or ran unsharded (sizes)
        ({"eval_labels": "+50"}, r"class \d+ given, but output 'output' has 10 neurons"),
        ({"eval_labels": "-1"}, "labels must be >= 0"),
        ({"shard_size": 0}, "shard_size = 0; expected a whole number of samples >= 1"),
        ({"shard_size": -3}, "shard_size = -3"),
        ({"shard_size": 2.5}, "shard_size = 2.5"),
        ({"output": "nope"}, r"no output 'nope'; outputs are \['output'\]"),
    ],
)
def test_bad_evaluation_arguments_raise_before_any_work(inputs, change, message):
    labels = inputs["eval_labels"]
    shifts = {"+50": labels + 50, "-1": np.where(labels == 0, -1, labels)}
    args = {k: shifts.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    with pytest.raises(nc.InputError, match=message):
        nc.sweep(**{**inputs, **args})


def test_one_thread_for_torch_during_a_point():
    torch = pytest.importorskip("torch")
    from neurocomp.explore.points import one_thread

    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@dataclass(frozen=True)
class Explode:
    """A pass with a bug: not a neurocomp error, so another run may not repeat it."""

    name: ClassVar[str] = "explode"

    def run(self, net, ctx):
        raise RuntimeError("boom")


def test_other_failures_recorded_but_not_cached(inputs, tmp_path, monkeypatch):
    monkeypatch.setitem(REGISTRY, "explode", Explode)
    kw = {**inputs, "targets": ["reference"], "passes": [None, [Explode()]]}
    first = nc.sweep(**kw, folder=tmp_path)
    assert first.table["passes"].tolist() == ["", "explode"]
    error = first.table["error"][1]
    assert error.startswith("RuntimeError: boom (at test_sweep.py:")
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
    again = nc.sweep(**kw, folder=tmp_path)
    assert again.cached == 1 and again.table["error"][1] == error


def test_progress_counts_points_cached_ones_first(inputs, tmp_path):
    from neurocomp.progress import reporting

    kw = {**inputs, "targets": ["reference"], "passes": inputs["passes"][:3]}
    nc.sweep(**{**kw, "passes": kw["passes"][:1]}, folder=tmp_path)  # one point cached
    seen: list[tuple[int, int]] = []
    with reporting(
        lambda task, done, total: seen.append((done, total)) if task == "sweep" else None
    ):
        nc.sweep(**kw, folder=tmp_path)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_without_labels_no_accuracy_and_the_front_trades_cores_for_energy(inputs):
    res = nc.sweep(**{**inputs, "targets": ["reference"], "eval_labels": None})
    ok = res.table[res.table["error"] == ""]
    assert ok["accuracy"].isna().all() and len(ok) == 3
    front = res.pareto()
    best = ok["energy_per_inference_j"].min()
    assert best in set(front["energy_per_inference_j"])
    assert front["cores_used"].min() == ok["cores_used"].min()
    res.plot()
