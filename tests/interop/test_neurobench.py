"""NeuroBench's synaptic operations and activation sparsity, computed by NeuroBench on an
snnTorch model, equal neurocomp's counts for the compiled program of the same model.

The model is chosen so that the integer program spikes exactly like the float one: no leak to
speak of (beta 1e-4), dyadic weights, a threshold off the weights' grid."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("neurobench")

from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import SNNTorchModel  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402

pytestmark = pytest.mark.frameworks
T, B = 60, 3


def _leaky(n: int, output: bool = False):
    return snn.Leaky(
        beta=torch.full((n,), 1e-4),
        threshold=torch.full((n,), 1.03125),
        init_hidden=True,
        output=output,
        reset_mechanism="zero",
        reset_delay=False,
    )


def _model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(10, 20, bias=False),
        _leaky(20),
        torch.nn.Linear(20, 5, bias=False),
        _leaky(5, output=True),
    )
    with torch.no_grad():
        for k in (0, 2):
            w = torch.rand(net[k].weight.shape) * 1.5 - 0.5
            net[k].weight.copy_(torch.round(w * 16) / 16)
    return net


def test_neurobench_synops_and_sparsity_equal_neurocomp_counts():
    net = _model()
    x = (np.random.default_rng(21).random((T, B, 10)) < 0.3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, torch.rand(1, 10), ignore_dims=[0])
        ours = nc.compile(graph, dt=1e-4).energy(x).to_dict()
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x).transpose(0, 1), torch.zeros(B)),
        batch_size=B,
    )
    bench = Benchmark(
        SNNTorchModel(net), data, [], [], [[], [SynapticOperations, ActivationSparsity]]
    )
    theirs = (
        bench.run(verbose=False) if "verbose" in Benchmark.run.__code__.co_varnames else bench.run()
    )
    synops = theirs["SynapticOperations"]
    assert ours["spikes"] > 0.2 * ours["neuron_updates"]  # both layers busy: a real comparison
    assert synops["Effective_ACs"] == pytest.approx(ours["synops_per_inference"], abs=1e-9)
    assert synops["Effective_MACs"] == 0
    # Dense: every weight, zero or not, every step; neurocomp keeps only the non-zero ones
    assert synops["Dense"] == (10 * 20 + 20 * 5) * T
    assert ours["ann"]["macs"] < 10 * 20 + 20 * 5
    assert theirs["ActivationSparsity"] == pytest.approx(ours["activation_sparsity"], abs=1e-12)
