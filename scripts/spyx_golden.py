"""Make the Spyx golden data in tests/data/spyx/: models built and run in Spyx 1.0.0, exported
with Spyx's own `to_nir`, with their output spikes on fixed Bernoulli inputs.

Spyx needs JAX and numpy 2, which cannot share an environment with Lava (numpy < 2), so this
script makes its own virtual environment (default /tmp/spyx-golden-venv; needs PyPI) and re-runs
itself there:

    python scripts/spyx_golden.py            # writes tests/data/spyx/{index.json,*.nir,*.npz}

Each model gets <name>.nir (Spyx's export, unchanged), <name>.npz (x: input (T, B, *shape),
channels first as NIR; spikes: Spyx's output (T, B, n)) and an entry in index.json (neuron kind,
recurrence, conv, the export's dt). The tests (tests/interop/test_compatibility.py) compare
neurocomp's simulation of each .nir file with the stored spikes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VENV = Path(os.environ.get("SPYX_VENV", "/tmp/spyx-golden-venv"))
PINS = ["spyx==1.0.0", "jax==0.10.2", "jaxlib==0.10.2", "flax==0.12.8", "nir==1.0.8"]
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "spyx"


def _ensure_env() -> None:
    try:
        import spyx  # noqa: F401
    except ImportError:
        python = VENV / "bin" / "python"
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
        os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def _models():  # built inside the Spyx environment
    import jax.numpy as jnp
    from flax import nnx
    from spyx import nn as snn

    def mlp(neuron, gain, recurrent=False, seed=0):
        rngs = nnx.Rngs(seed)

        def cell(n, rec=False):
            if neuron == "PSU_LIF":
                return snn.PSU_LIF((n,), threshold=0.3, rngs=rngs)
            if neuron == "LIF":
                return (snn.RLIF if rec else snn.LIF)((n,), rngs=rngs)
            if neuron == "CubaLIF":
                return (snn.RCuBaLIF if rec else snn.CuBaLIF)((n,), rngs=rngs)
            return (snn.RIF if rec else snn.IF)((n,), rngs=rngs)

        model = snn.Sequential(
            nnx.Linear(20, 32, rngs=rngs),
            cell(32, recurrent),
            nnx.Linear(32, 10, rngs=rngs),
            cell(10),
        )
        for layer in model.layers:
            if isinstance(layer, nnx.Linear):
                layer.kernel[...] = layer.kernel[...] * gain
            if recurrent and hasattr(layer, "recurrent_w"):
                layer.recurrent_w[...] = layer.recurrent_w[...] * 0.5
        return model, (20,)

    def cnn(neuron, gain, seed=0):
        rngs = nnx.Rngs(seed)
        cell = snn.LIF if neuron == "LIF" else snn.IF
        kw = {"rngs": rngs}
        model = snn.Sequential(
            nnx.Conv(2, 4, (3, 3), padding="SAME", rngs=rngs),
            cell((8, 8, 4), **kw),
            snn.SumPool((2, 2), (2, 2), "VALID"),
            nnx.Conv(4, 8, (3, 3), padding="VALID", rngs=rngs),
            cell((2, 2, 8), **kw),
            snn.Flatten(),
            nnx.Linear(32, 10, rngs=rngs),
            cell((10,), **kw),
        )
        for layer in model.layers:
            if isinstance(layer, (nnx.Linear, nnx.Conv)):
                layer.kernel[...] = layer.kernel[...] * gain
        return model, (2, 8, 8)

    _ = jnp
    return {
        "mlp_lif": (*mlp("LIF", 2.0), "LIF", False, False, 1.0),
        "mlp_lif_dt1ms": (*mlp("LIF", 2.0, seed=3), "LIF", False, False, 1e-3),
        "mlp_cubalif": (*mlp("CubaLIF", 1.0, seed=1), "CubaLIF", False, False, 1.0),
        "mlp_if": (*mlp("IF", 1.0, seed=2), "IF", False, False, 1.0),
        "rnn_lif": (*mlp("LIF", 2.0, recurrent=True, seed=4), "LIF", True, False, 1.0),
        "rnn_cubalif": (*mlp("CubaLIF", 1.0, recurrent=True, seed=5), "CubaLIF", True, False, 1.0),
        "mlp_psu_lif": (
            *mlp("PSU_LIF", 1.0, seed=8),
            "PSU_LIF (LI + Threshold)",
            False,
            False,
            1.0,
        ),
        "cnn_lif": (*cnn("LIF", 2.0, seed=6), "LIF", False, True, 1.0),
        "cnn_if": (*cnn("IF", 1.5, seed=7), "IF", False, True, 1.0),
    }


def main() -> None:
    _ensure_env()
    import nir
    import numpy as np
    from spyx import nir as snir
    from spyx import nn as snn

    OUT.mkdir(parents=True, exist_ok=True)
    index = {}
    steps, batch = 40, 3
    for k, (name, (model, shape, neuron, rec, conv, dt)) in enumerate(_models().items()):
        rng = np.random.default_rng(100 + k)
        x = (rng.random((steps, batch, *shape)) < 0.3).astype(np.float32)
        xs = np.moveaxis(x, 2, -1) if conv else x  # Spyx runs channels last
        out, _ = snn.run(model, xs)
        spikes = np.asarray(out, dtype=np.float32).reshape(steps, batch, -1)
        graph = snir.to_nir(
            model, {"input": np.array(shape)}, {"output": np.array([spikes.shape[-1]])}, dt=dt
        )
        nir.write(str(OUT / f"{name}.nir"), graph)
        np.savez_compressed(OUT / f"{name}.npz", x=x, spikes=spikes)
        index[name] = {
            "neuron": neuron,
            "recurrent": rec,
            "conv": conv,
            "dt": dt,
            "spikes": int(spikes.sum()),
        }
        print(f"{name}: {int(spikes.sum())} spikes")
    versions = {m: __import__(m).__version__ for m in ("spyx", "jax", "nir", "numpy")}
    (OUT / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    (OUT / "README.md").write_text(
        "Golden data made by scripts/spyx_golden.py with "
        + ", ".join(f"{m} {v}" for m, v in versions.items())
        + ": Spyx's own NIR export of each model, its input x (T, B, *shape, channels first)"
        " and Spyx's output spikes (T, B, n). Regenerate with `python scripts/spyx_golden.py`.\n"
    )


if __name__ == "__main__":
    main()
