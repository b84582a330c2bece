"""Sinabs, Rockpool and Spyx exports against the frameworks themselves, spike for spike.

Every case in compat_cases.py is built in its framework, run there on Bernoulli input, exported
by the framework's own exporter and loaded by neurocomp with `framework=` (or `from_torch`); the
framework's output and neurocomp's float simulation must be equal entry by entry (the figure
aimed at is within 1 %; all are exact). Spyx runs from golden data (scripts/spyx_golden.py).

The other tests show each departure is real (NIR's own reading of the same file differs) and
never silent (loading without `framework=` warns, naming the framework and the option).
docs/compatibility.md is checked against a fresh run of every case.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sinabs")
pytest.importorskip("rockpool")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compat_cases as cc  # noqa: E402

import neurocomp as nc  # noqa: E402
from neurocomp.errors import NeurocompWarning, ParameterError  # noqa: E402

pytestmark = [
    pytest.mark.frameworks,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
CASES = cc.cases()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.framework}-{c.model}-{c.route}" for c in CASES])
def test_spike_for_spike(case: cc.Case, tmp_path: Path) -> None:
    ref, ours, _ = cc.result(case, tmp_path)
    assert ref.sum() > 0, "the framework's model never spikes: the comparison proves nothing"
    np.testing.assert_array_equal(np.asarray(ours, np.float64), np.asarray(ref, np.float64))


def test_spyx_golden_data_present() -> None:
    assert len(cc.spyx_models()) >= 8, "run scripts/spyx_golden.py"


def _warnings(fn, *args, **kwargs) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, NeurocompWarning)]


def _sinabs_file(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    import sinabs
    import torch
    from nir import write

    model = cc._sinabs_mlp("LIF", "multi", "subtract")
    x = cc.bernoulli((40, 3, 20), 0.3, 1)
    path = tmp_path / "s.nir"
    write(str(path), sinabs.to_nir(model, torch.zeros(1, 1, 20)))
    return path, x, cc._sinabs_run(model, x)


def test_sinabs_without_framework_warns_and_nir_reading_differs(tmp_path: Path) -> None:
    path, x, ref = _sinabs_file(tmp_path)
    net, msgs = _warnings(nc.load, path, dt=1.0)
    assert any("looks like a sinabs export" in m and "framework='sinabs'" in m for m in msgs)
    assert any("batch dimension" in m for m in msgs)  # (1, 20) Input type repaired
    plain = nc.simulate(net, x)
    assert cc.mismatches(ref, plain) > 0.05 * ref.sum()  # NIR's Euler step is not Sinabs'


def test_sinabs_file_reports_every_repair_by_layer(tmp_path: Path) -> None:
    path, _, _ = _sinabs_file(tmp_path)
    _, msgs = _warnings(nc.load, path, framework="sinabs")
    for layer in ("'1' (LIF)", "'3' (LIF)"):
        assert any(layer in m and "exp(-dt/tau)" in m for m in msgs)
        assert any(layer in m and "v >= threshold" in m for m in msgs)
    assert any("drops tau_syn" in m for m in msgs)
    assert any("spikes a neuron sends per step" in m for m in msgs)


def test_rockpool_detected_from_node_names(tmp_path: Path) -> None:
    import torch
    from nir import write
    from rockpool.nn.modules.torch.nir import to_nir

    model = cc._rockpool_net("CubaLIF")
    x = cc.bernoulli((50, 2, 16), 0.3, 4)
    path = tmp_path / "r.nir"
    write(str(path), to_nir(model, torch.zeros(1, 16)))
    net, msgs = _warnings(nc.load, path)
    assert any("are Rockpool's" in m and "framework='nir'" in m for m in msgs)
    np.testing.assert_array_equal(nc.simulate(net, x), cc._rockpool_run(model, x))
    plain, _ = _warnings(nc.load, path, framework="nir", dt=1e-3)
    assert cc.mismatches(cc._rockpool_run(model, x), nc.simulate(plain, x)) > 0


def test_spyx_without_framework_warns_and_nir_reading_differs() -> None:
    data = np.load(cc.SPYX_DIR / "mlp_lif.npz")
    net, msgs = _warnings(nc.load, cc.SPYX_DIR / "mlp_lif.nir", dt=1.0)
    assert any("looks like a spyx export" in m and "r = beta" in m for m in msgs)
    plain = nc.simulate(net, data["x"])
    assert plain.sum() < 0.2 * data["spikes"].sum()  # NIR's reading loses the input


def test_max_spikes_option_overrides_the_framework_default(tmp_path: Path) -> None:
    path, x, ref = _sinabs_file(tmp_path)
    capped = nc.simulate(nc.load(path, framework="sinabs", max_spikes=1), x)
    assert capped.max() == 1 and ref.max() > 1
    with pytest.raises(ParameterError, match="max_spikes"):
        nc.load(path, framework="sinabs", max_spikes=0)


def test_unknown_framework_is_refused(tmp_path: Path) -> None:
    path, _, _ = _sinabs_file(tmp_path)
    with pytest.raises(ParameterError, match="framework"):
        nc.load(path, framework="lava-dl")


def test_docs_table_is_current(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import compat_table

    assert compat_table.render(tmp_path) == (ROOT / "docs" / "compatibility.md").read_text(), (
        "docs/compatibility.md is stale: run python scripts/compat_table.py"
    )


def test_sinabs_refusals() -> None:
    import sinabs.activation as act
    import sinabs.layers as sl
    import torch

    sample = np.zeros((1, 1, 4), np.float32)
    for layer, field in [
        (sl.IAF(min_v_mem=-1.0), "min_v_mem"),
        (sl.IAF(reset_fn=act.MembraneSubtract(subtract_value=0.5)), "subtract_value"),
        (sl.IAF(reset_fn=act.MembraneReset(reset_value=0.2)), "reset_value"),
    ]:
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), layer)
        with pytest.raises(ParameterError, match=field):
            nc.from_torch(model, sample, framework="sinabs")


def test_rockpool_refusals() -> None:
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch

    model = Sequential(LinearTorch((4, 3)), LIFTorch(3, noise_std=0.1))
    with pytest.raises(ParameterError, match="noise_std"):
        nc.from_torch(model, np.zeros((1, 4), np.float32), framework="rockpool")


def test_cli_framework_and_max_spikes_options(tmp_path: Path) -> None:
    import subprocess

    path, x, ref = _sinabs_file(tmp_path)
    np.savez(tmp_path / "x.npz", x=x)

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "neurocomp.cli",
                "simulate",
                str(path),
                "-i",
                str(tmp_path / "x.npz"),
                "-o",
                str(tmp_path / "y.npz"),
                "-q",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = cli("--framework", "sinabs")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npz")["output"], ref)
    done = cli("--framework", "sinabs", "--max-spikes", "1")
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "y.npz")["output"].max() == 1
    bad = cli("--framework", "sinabs", "--max-spikes", "many")
    assert bad.returncode == 2 and bad.stderr.count("error:") == 1 and "--max-spikes" in bad.stderr


def test_from_torch_path_file_reloads_with_its_framework(tmp_path: Path) -> None:
    model = cc._sinabs_mlp("LIF", "multi", "subtract", tau_syn=True)
    x = cc.bernoulli((40, 3, 20), 0.3, 2)
    path = tmp_path / "m.nir"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nc.from_torch(model, np.zeros((1, 1, 20), np.float32), framework="sinabs", path=path)
    net, msgs = _warnings(nc.load, path)
    assert any("metadata says framework = 'sinabs'" in m for m in msgs)
    np.testing.assert_array_equal(nc.simulate(net, x), cc._sinabs_run(model, x))


def test_norse_convention_reads_lifcell_current_jump() -> None:
    """Norse writes LIFCell as a CubaLIF with w_in = 1 but adds its input to the current as a
    jump; framework='norse' reads w_in = 1 that way (and dt = 1e-3, Norse's default)."""
    import dataclasses

    import nir
    import norse.torch as nt
    import torch

    from neurocomp.frontend.torch_frontend import export_torch

    torch.manual_seed(4)
    net = nt.SequentialState(
        torch.nn.Linear(10, 16),
        nt.LIFCell(nt.LIFParameters(v_th=torch.tensor(0.2))),
        torch.nn.Linear(16, 4),
        nt.LIFCell(nt.LIFParameters(v_th=torch.tensor(0.1))),
    )
    graph = export_torch(net, torch.rand(1, 10), "norse").graph
    nodes = {  # w_in back to the 1 Norse's own exporter writes
        k: dataclasses.replace(v, w_in=np.ones_like(v.w_in)) if isinstance(v, nir.CubaLIF) else v
        for k, v in graph.nodes.items()
    }
    raw = nir.NIRGraph(nodes=nodes, edges=graph.edges)
    x = cc.bernoulli((60, 2, 10), 0.5, 8)
    state, ref = None, []
    with torch.no_grad():
        for t in range(len(x)):
            y, state = net(torch.as_tensor(x[t]), state)
            ref.append(y.numpy())
    ours, msgs = _warnings(nc.load, raw, framework="norse")
    assert any("current jump" in m for m in msgs) and any("dt = 1e-3" in m for m in msgs)
    want = np.stack(ref)
    assert want.sum() > 0
    np.testing.assert_array_equal(nc.simulate(ours, x), want)
    plain, _ = _warnings(nc.load, raw, dt=1e-3)
    assert cc.mismatches(want, nc.simulate(plain, x)) > 0


def test_snntorch_convention_defaults_to_subtract_reset() -> None:
    path = ROOT / "tests" / "data" / "nir-zoo" / "braille_noDelay_noBias_subtract.nir"
    net, msgs = _warnings(nc.load, path, framework="snntorch")
    assert net.metadata["reset"] == "subtract" and net.dt == pytest.approx(1e-4)
    assert any("snntorch's default reset 'subtract'" in m for m in msgs)
    assert nc.load(path, dt=1e-4).metadata["reset"] == "zero"  # NIR's reading stays the default


def test_rockpool_expsyn_readout_voltages(tmp_path: Path) -> None:
    import torch
    from nir import write
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import ExpSynTorch, LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    torch.manual_seed(2)
    model = Sequential(
        LinearTorch((16, 24)),
        LIFTorch(24, dt=1e-3),
        LinearTorch((24, 6)),
        ExpSynTorch(6, tau=0.01, dt=1e-3),
    )
    x = cc.bernoulli((50, 2, 16), 0.3, 5)
    ref = cc._rockpool_run(model, x)
    with pytest.raises(RuntimeError, match="requires grad"):  # Rockpool's own graph
        write(str(tmp_path / "raw.nir"), to_nir(model, torch.zeros(1, 16)))
    path = tmp_path / "r.nir"  # written by from_torch, then read as a file
    _warnings(nc.from_torch, model, np.zeros((1, 16), np.float32), "rockpool", path=path)
    ours, msgs = _warnings(nc.load, path, framework="rockpool")
    assert any("ExpSynTorch" in m for m in msgs)
    assert np.abs(ref).max() > 0.05
    np.testing.assert_allclose(nc.simulate(ours, x), ref, rtol=1e-4, atol=1e-5)


def test_sinabs_expleak_readout_voltages(tmp_path: Path) -> None:
    import sinabs
    import sinabs.layers as sl
    import torch
    from nir import write

    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Linear(20, 16),
        sl.IAF(spike_threshold=torch.full((16,), 1.0)),
        torch.nn.Linear(16, 5),
        sl.ExpLeak(tau_mem=torch.full((5,), 4.0)),
    )
    cc._scaled(model, 2.0)
    x = cc.bernoulli((40, 3, 20), 0.3, 6)
    ref = cc._sinabs_run(model, x)
    path = tmp_path / "s.nir"
    write(str(path), sinabs.to_nir(model, torch.zeros(1, 1, 20)))
    ours, msgs = _warnings(nc.load, path, framework="sinabs")
    assert any("ExpLeak" in m for m in msgs)
    assert np.abs(ref).max() > 0.05
    np.testing.assert_allclose(nc.simulate(ours, x), ref, rtol=1e-4, atol=1e-5)
