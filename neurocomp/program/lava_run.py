"""Rebuild a saved program's Lava processes and run them; what a folder's run_lava.py calls.

    python -m neurocomp.program.lava_run PROGRAM_DIR spikes.npz            # Lava's CPU simulation
    python -m neurocomp.program.lava_run PROGRAM_DIR spikes.npz --loihi2   # on a Loihi 2 system

spikes.npz holds `x` (or one array per input name): input spikes (T, batch, *input_shape),
binary, or graded values within the target's spike payload. The spikes (graded: counts) of
every population go to PROGRAM_DIR/lava_outputs.npz.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..backends.lava import network_for
from ..backends.lava_compat import import_lava
from ..errors import InputError, NeurocompError
from .artifact import load_program
from .npz import write_npz


def run(folder: Path, spikes: Path, loihi2: bool = False) -> Path:
    """Run the program in `folder` on `spikes`; returns the written lava_outputs.npz."""
    prog = load_program(folder)
    with np.load(spikes, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    names = list(prog.net.inputs)
    if not all(n in data for n in names) and "x" not in data:
        raise InputError(f"{spikes}: needs an array 'x' or arrays {names}")
    x = {n: data[n] for n in names} if all(n in data for n in names) else data["x"]
    lava_net, xs = network_for(prog.net, x, prog.target.format)
    if loihi2:
        run_configs = import_lava("lava.magma.core.run_configs")
        lava_net.run_cfg = run_configs.Loihi2HwCfg()
    res = lava_net.run(xs)
    out = folder / "lava_outputs.npz"
    write_npz(out, dict(res["spikes"].items()))
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: PROGRAM_DIR spikes.npz [--loihi2]; errors as one line, exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    loihi2 = "--loihi2" in args
    paths = [a for a in args if a != "--loihi2"]
    if len(paths) != 2:
        print("usage: python -m neurocomp.program.lava_run PROGRAM_DIR spikes.npz [--loihi2]")
        return 2
    try:
        out = run(Path(paths[0]), Path(paths[1]), loihi2)
    except (NeurocompError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
