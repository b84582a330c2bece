"""The models behind docs/compatibility.md: each built in its framework, run there on Bernoulli
input, exported by the framework's own exporter and loaded and simulated by neurocomp.

A case returns the framework's output and neurocomp's on the same input; tests/interop/
test_compatibility.py compares them and scripts/compat_table.py writes the table from them.
Spyx cannot be installed beside Lava (it needs numpy 2): its cases read golden files that
scripts/spyx_golden.py made with Spyx 1.0.0 (tests/data/spyx/).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import neurocomp as nc

SPYX_DIR = Path(__file__).resolve().parents[1] / "data" / "spyx"


@dataclass(frozen=True)
class Case:
    """One model: what it is (the table's columns) and how to run it both ways."""

    framework: str
    model: str
    neuron: str
    reset: str
    multi_spike: str
    recurrent: bool
    conv: bool
    route: str  # how neurocomp gets it: "file" (nc.load) or "from_torch"
    # tmp dir -> (framework's output, neurocomp's, neurocomp's with NIR's reading or None)
    run: Callable[[Path], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


def bernoulli(shape: tuple[int, ...], p: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float32)


def _quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.load(*args, **kwargs)


def _plain(path: Path, x: np.ndarray, dt: float | None) -> np.ndarray:
    """The same file read with NIR's own equations (framework='nir'): what neurocomp did
    before exporter conventions."""
    return nc.simulate(_quiet_load(path, framework="nir", dt=dt), x)


def _quiet_from_torch(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.from_torch(*args, **kwargs)


# ------------------------------------------------------------------------------------------------
# Sinabs
# ------------------------------------------------------------------------------------------------


def _sinabs_run(model, x: np.ndarray, squeeze: bool = False) -> np.ndarray:
    import sinabs
    import torch

    for m in model.modules():
        if isinstance(m, sinabs.layers.StatefulLayer):
            m.reset_states()
    t, b = x.shape[:2]
    xt = torch.as_tensor(np.swapaxes(x, 0, 1).copy())  # (B, T, ...)
    with torch.no_grad():
        y = model(xt.reshape(b * t, *x.shape[2:])).reshape(b, t, -1) if squeeze else model(xt)
    return np.swapaxes(y.numpy(), 0, 1).reshape(t, b, -1)


def _scaled(model, factor: float):
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(factor)
    return model


def _sinabs_mlp(kind: str, spike: str, reset: str, tau_syn: bool = False, norm: bool = True):
    import sinabs.activation as act
    import sinabs.layers as sl
    import torch

    torch.manual_seed(0)
    spike_fn = {"single": act.SingleSpike, "multi": act.MultiSpike}.get(spike) or act.MaxSpike(3)
    reset_fn = act.MembraneSubtract() if reset == "subtract" else act.MembraneReset()

    def layer(n: int):
        common = dict(spike_threshold=torch.full((n,), 1.0), spike_fn=spike_fn, reset_fn=reset_fn)
        if kind == "IF":
            return sl.IAF(**common)
        syn = torch.full((n,), 3.0) if tau_syn else None
        return sl.LIF(tau_mem=torch.full((n,), 6.0), tau_syn=syn, norm_input=norm, **common)

    gain = 2.0 if kind == "IF" else 25.0
    return _scaled(
        torch.nn.Sequential(torch.nn.Linear(20, 32), layer(32), torch.nn.Linear(32, 10), layer(10)),
        gain,
    )


def _sinabs_file_case(kind, spike, reset_fn, **opts):
    def run(tmp: Path):
        import sinabs
        import torch
        from nir import write

        model = _sinabs_mlp(kind, spike, reset_fn)
        x = bernoulli((40, 3, 20), 0.3, 1)
        ref = _sinabs_run(model, x)
        graph = sinabs.to_nir(model, torch.zeros(1, 1, 20))
        path = tmp / "sinabs.nir"
        write(str(path), graph)
        net = _quiet_load(path, framework="sinabs", **opts)
        return ref, nc.simulate(net, x), _plain(path, x, 1.0)

    return run


def _sinabs_torch_case(kind, spike, reset, **mlp):
    def run(tmp: Path):
        model = _sinabs_mlp(kind, spike, reset, **mlp)
        x = bernoulli((40, 3, 20), 0.3, 2)
        ref = _sinabs_run(model, x)
        net = _quiet_from_torch(model, np.zeros((1, 1, 20), np.float32), framework="sinabs")
        return ref, nc.simulate(net, x), None

    return run


def _sinabs_cnn(spike: str, reset: str, route: str):
    def run(tmp: Path):
        import sinabs.activation as act
        import sinabs.layers as sl
        import torch

        torch.manual_seed(1)
        b = 2
        spike_fn = act.SingleSpike if spike == "single" else act.MultiSpike
        reset_fn = act.MembraneSubtract() if reset == "subtract" else act.MembraneReset()
        kw = dict(batch_size=b, spike_fn=spike_fn, reset_fn=reset_fn)
        model = _scaled(
            torch.nn.Sequential(
                torch.nn.Conv2d(2, 4, 3, padding=1, bias=False),
                sl.IAFSqueeze(**kw),
                sl.SumPool2d(2),
                torch.nn.Conv2d(4, 8, 3),
                sl.IAFSqueeze(**kw),
                torch.nn.Flatten(),
                torch.nn.Linear(8 * 2 * 2, 10, bias=False),
                sl.IAFSqueeze(**kw),
            ),
            2.0,
        )
        x = bernoulli((30, b, 2, 8, 8), 0.2, 3)
        ref = _sinabs_run(model, x, squeeze=True)
        sample = np.zeros((b, 2, 8, 8), np.float32)
        if route == "file":
            # Sinabs' own graph cannot be written (Conv2d input_shape and Flatten input_type
            # are None): from_torch's path= writes the repaired graph, read here as a file.
            path = tmp / "cnn.nir"
            _quiet_from_torch(model, sample, framework="sinabs", path=path)
            opts = {} if spike == "multi" else {"max_spikes": 1}
            net = _quiet_load(path, framework="sinabs", reset=reset, **opts)
            plain = _plain(path, x, 1.0).reshape(ref.shape)
        else:
            net = _quiet_from_torch(model, sample, framework="sinabs")
            plain = None
        return ref, nc.simulate(net, x).reshape(ref.shape), plain

    return run


def _conv_inputs(model, sample: np.ndarray) -> dict[str, tuple[int, int]]:
    """(H, W) of each Conv2d module's input, by module name."""
    import sinabs
    import torch

    seen: dict[str, tuple[int, int]] = {}

    def record(name: str):
        def hook(mod, args, out) -> None:
            seen[name] = (int(args[0].shape[-2]), int(args[0].shape[-1]))

        return hook

    hooks = [
        m.register_forward_hook(record(n))
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        model(torch.as_tensor(sample))
    for h in hooks:
        h.remove()
    for m in model.modules():
        if isinstance(m, sinabs.layers.StatefulLayer):
            m.reset_states()
    return seen


# ------------------------------------------------------------------------------------------------
# Rockpool
# ------------------------------------------------------------------------------------------------


def _rockpool_run(model, x: np.ndarray) -> np.ndarray:
    import torch

    model.reset_state()
    with torch.no_grad():
        y, _, _ = model(torch.as_tensor(np.swapaxes(x, 0, 1).copy()))
    return np.swapaxes(y.numpy(), 0, 1)


def _rockpool_net(kind: str, cap: int | None = None, rec: bool = False, bias: bool = False):
    import torch
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch

    torch.manual_seed(0)
    extra = {} if cap is None else {"max_spikes_per_dt": cap}

    def layer(n: int, recurrent: bool = False):
        b = {"bias": torch.full((n,), 0.05)} if bias else {}
        if kind == "LIF":
            return LIFNeuronTorch(n, tau_mem=0.02, dt=1e-3, **extra, **b)
        return LIFTorch(n, tau_mem=0.02, tau_syn=0.01, dt=1e-3, has_rec=recurrent, **extra, **b)

    model = Sequential(LinearTorch((16, 24)), layer(24, rec), LinearTorch((24, 8)), layer(8))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LinearTorch):
                m.weight.mul_(3.0 if kind == "LIF" else 1.0)
    return model


def _rockpool_case(kind: str, route: str, cap: int | None = None, **net_opts):
    def run(tmp: Path):
        import torch
        from nir import write
        from rockpool.nn.modules.torch.nir import to_nir

        model = _rockpool_net(kind, cap, **net_opts)
        x = bernoulli((50, 2, 16), 0.3, 4)
        ref = _rockpool_run(model, x)
        if route == "file":
            path = tmp / "rockpool.nir"
            write(str(path), to_nir(model, torch.zeros(1, 16)))
            opts = {} if cap is None else {"max_spikes": cap}
            net = _quiet_load(path, framework="rockpool", **opts)
        else:
            net = _quiet_from_torch(model, np.zeros((1, 16), np.float32), framework="rockpool")
        return ref, nc.simulate(net, x), _plain(path, x, 1e-3) if route == "file" else None

    return run


# ------------------------------------------------------------------------------------------------
# Spyx (golden data)
# ------------------------------------------------------------------------------------------------


def spyx_models() -> list[str]:
    index = SPYX_DIR / "index.json"
    if not index.exists():
        return []
    return list(json.loads(index.read_text()))


def _spyx_case(name: str):
    def run(tmp: Path):
        meta = json.loads((SPYX_DIR / "index.json").read_text())[name]
        data = np.load(SPYX_DIR / f"{name}.npz")
        net = _quiet_load(SPYX_DIR / f"{name}.nir", framework="spyx", dt=meta.get("dt"))
        shape = data["spikes"].shape
        plain = _plain(SPYX_DIR / f"{name}.nir", data["x"], meta.get("dt"))
        return data["spikes"], nc.simulate(net, data["x"]).reshape(shape), plain.reshape(shape)

    return run


def cases() -> list[Case]:
    S, R = "sinabs", "rockpool"
    out = [
        Case(
            S,
            "mlp_lif_multi",
            "LIF",
            "subtract",
            "MultiSpike (default)",
            False,
            False,
            "file",
            _sinabs_file_case("LIF", "multi", "subtract"),
        ),
        Case(
            S,
            "mlp_lif_single_zero",
            "LIF",
            "zero",
            "SingleSpike",
            False,
            False,
            "file",
            _sinabs_file_case("LIF", "single", "zero", reset="zero", max_spikes=1),
        ),
        Case(
            S,
            "mlp_lif_single_zero",
            "LIF",
            "zero",
            "SingleSpike",
            False,
            False,
            "from_torch",
            _sinabs_torch_case("LIF", "single", "zero"),
        ),
        Case(
            S,
            "mlp_lif_maxspike3",
            "LIF",
            "subtract",
            "MaxSpike(3)",
            False,
            False,
            "from_torch",
            _sinabs_torch_case("LIF", "max3", "subtract"),
        ),
        Case(
            S,
            "mlp_lif_tau_syn",
            "CubaLIF (LIF + tau_syn)",
            "subtract",
            "MultiSpike",
            False,
            False,
            "from_torch",
            _sinabs_torch_case("LIF", "multi", "subtract", tau_syn=True),
        ),
        Case(
            S,
            "mlp_lif_norm_input_off",
            "LIF",
            "subtract",
            "MultiSpike",
            False,
            False,
            "from_torch",
            _sinabs_torch_case("LIF", "multi", "subtract", norm=False),
        ),
        Case(
            S,
            "mlp_iaf_multi",
            "IF",
            "subtract",
            "MultiSpike",
            False,
            False,
            "file",
            _sinabs_file_case("IF", "multi", "subtract"),
        ),
        Case(
            S,
            "mlp_iaf_single_zero",
            "IF",
            "zero",
            "SingleSpike",
            False,
            False,
            "file",
            _sinabs_file_case("IF", "single", "zero", reset="zero", max_spikes=1),
        ),
        Case(
            S,
            "cnn_iaf_multi",
            "IF",
            "subtract",
            "MultiSpike",
            False,
            True,
            "file",
            _sinabs_cnn("multi", "subtract", "file"),
        ),
        Case(
            S,
            "cnn_iaf_multi",
            "IF",
            "subtract",
            "MultiSpike",
            False,
            True,
            "from_torch",
            _sinabs_cnn("multi", "subtract", "from_torch"),
        ),
        Case(
            S,
            "cnn_iaf_single_zero",
            "IF",
            "zero",
            "SingleSpike",
            False,
            True,
            "file",
            _sinabs_cnn("single", "zero", "file"),
        ),
        Case(
            R,
            "mlp_lifneuron",
            "LIF",
            "subtract",
            "65536 (default)",
            False,
            False,
            "file",
            _rockpool_case("LIF", "file"),
        ),
        Case(
            R,
            "mlp_lif_cuba",
            "CubaLIF",
            "subtract",
            "65536 (default)",
            False,
            False,
            "file",
            _rockpool_case("CubaLIF", "file"),
        ),
        Case(
            R,
            "mlp_lif_cuba_single",
            "CubaLIF",
            "subtract",
            "1",
            False,
            False,
            "file",
            _rockpool_case("CubaLIF", "file", cap=1),
        ),
        Case(
            R,
            "mlp_lif_cuba_bias",
            "CubaLIF",
            "subtract",
            "65536 (default)",
            False,
            False,
            "from_torch",
            _rockpool_case("CubaLIF", "from_torch", bias=True),
        ),
        Case(
            R,
            "rnn_lif_cuba",
            "CubaLIF",
            "subtract",
            "4",
            True,
            False,
            "from_torch",
            _rockpool_case("CubaLIF", "from_torch", cap=4, rec=True),
        ),
    ]
    for name in spyx_models():
        meta = json.loads((SPYX_DIR / "index.json").read_text())[name]
        out.append(
            Case(
                "spyx",
                name,
                meta["neuron"],
                "subtract",
                "1",
                meta["recurrent"],
                meta["conv"],
                "file (golden)",
                _spyx_case(name),
            )
        )
    return out


_RESULTS: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}


def result(case: Case, tmp: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """case.run(tmp), once per process: the test of each case and the docs table share it."""
    key = (case.framework, case.model, case.route)
    if key not in _RESULTS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _RESULTS[key] = case.run(tmp)
    return _RESULTS[key]


def mismatches(ref: np.ndarray, ours: np.ndarray) -> int:
    """Spikes in different places: sum over entries of |ours - framework's| (counts)."""
    return int(np.abs(np.asarray(ours, np.float64) - np.asarray(ref, np.float64)).sum())
