"""fit: prune, quantize and fine-tune until a network fits a budget, or say why it cannot."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.passes.base import Calibration
from neurocomp.target.spec import load_target
from neurocomp.train.fit import Budget, FitConfig, FitError, fit_network, measure

from conftest import EXAMPLES

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def case():
    """digits on a chip whose cores hold 32 kbit of synapses: 8-bit weights need 3 cores."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.NeurocompWarning)
        net = nc.load(EXAMPLES / "digits" / "digits.nir")
    cal = np.load(EXAMPLES / "digits" / "digits_calib.npz")
    spec = load_target("reference")
    small = dataclasses.replace(
        spec, core=dataclasses.replace(spec.core, synapse_memory_bits=1 << 15)
    )
    return net, small, Calibration(cal["x"][:, :250], cal["labels"][:250])


FAST = FitConfig(epochs=2, ladder=((0.0, 8), (0.75, 8), (0.9, 4)))


def test_fit_meets_a_cores_budget(case):
    net, spec, cal = case
    result = fit_network(net, spec, cal, "cores=2,max_drop=0.1", FAST)
    assert result.path[0].measure.cores > 2 and not result.path[0].fits  # a test that can fail
    assert result.final.fits and result.final.measure.cores <= 2
    assert result.final.val_accuracy >= result.baseline_accuracy - 0.1
    again = measure(result.network, spec, cal.x[:, :20])
    assert again.cores == result.final.measure.cores and not again.violations
    assert [s["sparsity"] for s in result.to_dict()["path"]] == [0.0, 0.75][: len(result.path)]


def test_fit_says_when_the_budget_cannot_be_met(case):
    net, spec, cal = case
    with pytest.raises(FitError, match="cannot meet the budget.*cores"):
        fit_network(
            net,
            spec,
            cal,
            Budget(cores=1, max_drop=0.5),
            dataclasses.replace(FAST, ladder=((0.0, 8),)),
        )
    with pytest.raises(FitError, match="floor"):
        fit_network(net, spec, cal, "synapse_bits=10,max_drop=0", FAST)


@pytest.mark.parametrize(
    "text, message",
    [
        ("cores=0", "must be > 0"),
        ("max_drop=0.1", "at least one"),
        ("chips=2", "unknown"),
        ("cores", "key=value"),
        ("cores=abc", r"cores = 'abc' \(must be an integer\)"),
        ("cores=2.5", r"cores = '2.5' \(must be an integer\)"),
        ("cores=2,max_drop=lots", r"max_drop = 'lots' \(must be a number\)"),
    ],
)
def test_budget_errors_name_the_item(text, message):
    with pytest.raises(FitError, match=message):
        Budget.parse(text)


def test_budget_from_a_dict_refuses_what_would_be_rounded():
    with pytest.raises(FitError, match=r"cores = 2.5 \(must be an integer\)"):
        Budget.parse({"cores": 2.5})
    with pytest.raises(FitError, match=r"cores = True"):
        Budget.parse({"cores": True})
    assert Budget.parse({"cores": 2.0}).cores == 2


def test_fit_refuses_labels_beyond_the_outputs(case):
    net, spec, cal = case  # torch's IndexError before, a traceback from the CLI
    wrong = Calibration(cal.x, cal.labels + 10)
    with pytest.raises(nc.NeurocompError, match=r"class \d+ given, but output 'output' has 10"):
        fit_network(net, spec, wrong, "cores=1", FAST)


@pytest.mark.parametrize("spec", [[1, 2], 3, None, b"cores=2"])
def test_budget_of_another_type_is_refused(spec):
    with pytest.raises(FitError, match=r"expected 'cores=N,...' or a dict"):
        Budget.parse(spec)


def test_budget_checks_every_item():
    from neurocomp.train.fit import Measure

    m = Measure(cores=3, synapse_bits=5000, synapses=100, energy_j=2e-6)
    assert Budget.parse({"cores": 3, "synapse_bits": 5000, "energy_j": 2e-6}).misses(m) == []
    missed = Budget.parse("cores=2;synapse_bits=4000;energy_j=1e-6").misses(m)
    assert [s.split()[0] for s in missed] == ["cores", "synapse_bits", "energy_j"]
