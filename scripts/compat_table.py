"""Write docs/compatibility.md from a run of every case in tests/interop/compat_cases.py.

    .venv/bin/python scripts/compat_table.py

tests/interop/test_compatibility.py::test_docs_table_is_current fails when the page differs
from what this script writes now.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

import compat_cases as cc  # noqa: E402

from neurocomp.frontend.conventions import CONVENTIONS  # noqa: E402

HEAD = """# Compatibility with NIR exporters

NIR files do not say which framework wrote them, with which time step, discretisation, reset
or number of spikes per step, and each exporter encodes its framework's update in NIR's fields
its own way. `nc.load(path, framework=...)` (`--framework` on the command line) applies one
exporter's conventions; `nc.from_torch(module, framework=...)` also puts back what an exporter
drops. Every convention applied is reported in a warning naming the layer. Without
`framework=`, a framework the file makes certain (Rockpool's node names) is applied with a
warning, and parameters that only look like an exporter's are warned about, naming the option.

## Conventions

| framework | reset default | spikes per step (`max_spikes`) | spike test | time constants in |
|---|---|---|---|---|
"""

MEASURED = """
## Measured against the frameworks

Each model below is built in its framework (Sinabs 3.1.3, Rockpool 3.1.0 running in the tests;
Spyx 1.0.0 from golden data made by `scripts/spyx_golden.py`), run there on Bernoulli input,
exported by the framework's own exporter and simulated by `neurocomp.simulate`. "mismatches"
counts spikes in other places (sum of |difference| over steps, batch and neurons); "NIR reading"
is the mismatch count of the same file read with NIR's own equations (`framework="nir"`, what
neurocomp did before these conventions, though with the batch dimension Sinabs and Rockpool
leave in their files repaired: before, those files did not load; "-" for `from_torch`, which had
no Sinabs or Rockpool route). This page is
written by `scripts/compat_table.py` from `tests/interop/compat_cases.py` and checked by
`tests/interop/test_compatibility.py`.

| framework | model | route | neuron | reset | multi-spike | recurrent | conv | framework's spikes | NIR reading | mismatches | result |
|---|---|---|---|---|---|---|---|---|---|---|---|
"""

LIMITS = """
## Not reproducible from the file alone, or refused

| framework | what | result | shown by |
|---|---|---|---|
| Sinabs | LIF with `tau_syn` | the export drops `tau_syn`: a file is read without it (warned); `from_torch` restores it | `test_sinabs_file_reports_every_repair_by_layer`, case `mlp_lif_tau_syn` |
| Sinabs | `norm_input=False`, spike function, reset | not in the file: `max_spikes=`, `reset=` options; `from_torch` reads them | cases `mlp_lif_norm_input_off`, `mlp_lif_maxspike3` |
| Sinabs | `min_v_mem` set, `MembraneSubtract(subtract_value=...)`, `MembraneReset(reset_value != 0)` | refused by `from_torch` (ParameterError naming the layer) | `test_sinabs_refusals` |
| Sinabs | `LIFRecurrent` | Sinabs' exporter raises NotImplementedError | - |
| Rockpool | `bias`, `has_rec=True` weights | the export drops them: a file is read without (warned); `from_torch` restores them | cases `mlp_lif_cuba_bias`, `rnn_lif_cuba` |
| Rockpool | `noise_std != 0` | refused by `from_torch` (NIR has no noise) | `test_rockpool_refusals` |
| Spyx | `ResonateFire`, quantized layers | Spyx's exporter refuses them | - |
| snnTorch | `reset_delay=True` (its default): the reset one step late | warned, naming the layer; spikes can differ | `test_snntorch_late_reset_is_a_departure` (strict xfail) |
| snnTorch | subtractive reset (its default) under input above one threshold per step: the next spike tested on the potential less one threshold | warned, naming the layer; spikes can differ (`reset_mechanism="zero"` is exact) | `test_snntorch_subtract_reset_under_strong_input_is_a_departure` (strict xfail) |
| any | multi-spike, `>=` threshold or spike-first neurons on a chip | multi-spike: graded spikes where the target declares `spike_payload_bits` (needed vs available otherwise), on `loihi2` through Lava too (graded `NcLIF`); `>=`: every chip, Lava included; spike-first refused. See [Targets](targets.md) | `tests/backends/test_departures.py`, `tests/backends/test_lava_graded.py` |
| ONNX | sigma-delta conversion (`neurons="sigma_delta"`) | Loihi 2's sigma-delta neurons with signed payloads where the target lists `SigmaDelta` and declares `spike_payload_bits` (needed vs available otherwise); on `loihi2` through Lava's own `SigmaDelta`. See [ONNX](onnx.md) | `tests/frontend/test_onnx_sigma_delta.py`, `tests/backends/test_lava_sigma_delta.py` |

snnTorch and Norse: exact against both frameworks, see `tests/interop/test_frameworks.py` and
`tests/frontend/test_torch_frontend.py`, except the two snnTorch departures above (warned).
"""


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render(tmp: Path) -> str:
    """The page's text, running every case in `tmp`."""
    lines = [HEAD]
    for c in CONVENTIONS.values():
        cap = "no cap" if c.max_spikes is None else str(c.max_spikes)
        test = ("spike decided before the update, " if c.spike_first else "") + (
            "v >= threshold" if c.inclusive else "v > threshold"
        )
        lines.append(f"| {c.name} | {c.reset} | {cap} | {test} | {c.time_unit} |\n")
    lines.append(MEASURED)
    for case in cc.cases():
        ref, ours, plain = cc.result(case, tmp)
        bad = cc.mismatches(ref, ours)
        spikes = int(round(float(ref.sum())))
        before = "-" if plain is None else str(cc.mismatches(ref, plain))
        result = "exact" if bad == 0 else f"{100 * bad / max(spikes, 1):.2f} % off"
        if bad == 0 and before not in ("-", "0"):
            result = "repaired, exact"
        lines.append(
            f"| {case.framework} | {case.model} | {case.route} | {case.neuron} | {case.reset} | "
            f"{case.multi_spike} | {_yes(case.recurrent)} | {_yes(case.conv)} | {spikes} | "
            f"{before} | {bad} | {result} |\n"
        )
    lines.append(LIMITS)
    return "".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (ROOT / "docs" / "compatibility.md").write_text(render(Path(tmp)))


if __name__ == "__main__":
    main()
