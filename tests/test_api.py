"""The public API checks its arguments: a wrong type names the function, the argument, the type
given and the type wanted; an option out of range names the range."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurocomp as nc
from neurocomp.api import DT_MAX_S, DT_MIN_S
from neurocomp.passes.quantize import Quantize

from conftest import EXAMPLES

DIGITS = EXAMPLES / "digits" / "digits.nir"


@pytest.fixture(scope="module")
def net() -> nc.Network:
    return nc.load(DIGITS, dt=1e-4)


def x(T: int = 3, batch: int = 2) -> np.ndarray:
    return np.zeros((T, batch, 64))


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda n: nc.load_program(123), "load_program(): directory = 123 (int); expected a path"),
        (lambda n: nc.compile(n, target=5), "compile(): target = 5 (int)"),
        (lambda n: nc.compile(n, passes=["quantize"]), "passes[0] = 'quantize' (str)"),
        (lambda n: nc.transform(n, 5), "transform(): passes = 5 (int); expected a pipeline"),
        (lambda n: nc.transform("net", "fold"), "transform(): net = 'net' (str); expected a Net"),
        (lambda n: nc.transform(n, "fold", verify="no"), "verify = 'no' (str)"),
        (lambda n: nc.simulate(None, x()), "simulate(): net = None (NoneType)"),
        (lambda n: nc.simulate(n, "abc"), "simulate(): x = 'abc' (str); expected an array"),
        (lambda n: nc.simulate(n, {1: x()}), "x key = 1 (int); expected input names"),
        (lambda n: nc.simulate(n, x(), record=1), "record = 1 (int); expected True or False"),
        (lambda n: nc.simulate(n, x(), output=0), "output = 0 (int)"),
        (lambda n: nc.simulate(n, x(), dtype=int), "dtype = <class 'int'> (type)"),
        (lambda n: nc.load(DIGITS, dt="1e-4"), "load(): dt = '1e-4' (str); expected a number"),
        (lambda n: nc.load(DIGITS, reset=0), "load(): reset = 0 (int)"),
        (lambda n: nc.load(DIGITS, dt=1e-4, calibration="x"), "calibration = 'x' (str)"),
        # ignored before: the Network's own dt and reset were used without a word
        (lambda n: nc.compile(n, dt=1e-3), "compile(): dt = 0.001 (float); expected None for a"),
        (lambda n: nc.compile(n, reset="subtract"), "reset = 'subtract' (str); expected None"),
        # AttributeError from deep inside the export before
        (lambda n: nc.from_torch(None, x()[0]), "from_torch(): module = None (NoneType)"),
        (lambda n: nc.from_torch(n, x()[0]), "expected a torch.nn.Module"),
    ],
)
def test_wrong_types_name_argument_given_and_wanted(net, call, needle):
    with pytest.raises(nc.ArgumentError) as err:
        call(net)
    assert needle in str(err.value)


@pytest.mark.parametrize("dt", [1e-300, 0.0, -1e-4, float("nan"), float("inf"), 1e4])
def test_dt_out_of_range_names_the_range(dt):
    with pytest.raises(nc.DtError) as err:
        nc.load(DIGITS, dt=dt)
    assert f"[{DT_MIN_S}, {DT_MAX_S}]" in str(err.value)


@pytest.mark.parametrize(
    "chips, needle",
    [
        ("3", "--chips '3': must be an integer (got str)"),
        (2.5, "must be an integer (got float)"),
        (True, "must be an integer (got bool)"),
        (0, "at least one chip"),
        (10**6, "at most 8192 chips of 128 cores"),
    ],
)
def test_chips_checked_with_the_targets_bound(net, chips, needle):
    """chips is checked by target.spec.check_chips (TargetError), before any work."""
    with pytest.raises(nc.TargetError) as err:
        nc.compile(net, chips=chips)
    assert needle in str(err.value)


def test_dt_at_the_lower_bound_is_accepted():
    assert nc.load(DIGITS, dt=DT_MIN_S).dt == DT_MIN_S
    assert DT_MAX_S >= 1.0  # the Norse interop tests use dt = 1


@pytest.mark.parametrize(
    "passes, needle",
    [
        ("quantize{weight_bits=4.5}", "weight_bits = 4.5 (float); expected a whole number"),
        ([Quantize(weight_bits=4.5)], "weight_bits = 4.5 (float)"),  # type: ignore[arg-type]
        ("prune{sparsity=abc}", "pass 'prune'"),
        ("quantize{percentile=nan}", "percentile"),
        ("quantize{granularity=row}", "granularity"),
    ],
)
def test_pass_options_of_the_wrong_type(net, passes, needle):
    with pytest.raises(nc.PassError) as err:
        nc.transform(net, passes)
    assert needle in str(err.value)


@pytest.mark.parametrize(
    "arr, needle",
    [
        (x(T=0), "T = 0 time steps"),
        (x(batch=0), "batch = 0 samples"),
        (np.full((2, 1, 64), np.nan), "NaN"),
    ],
)
def test_simulate_refuses_empty_and_non_finite_input(net, arr, needle):
    with pytest.raises(nc.InputError, match=needle):
        nc.simulate(net, arr)


def test_simulate_takes_real_values(net):
    y = nc.simulate(net, np.full((2, 1, 64), 0.37))
    assert y.shape == (2, 1, 10)


@pytest.mark.parametrize(
    "labels, needle",
    [(np.zeros((2, 1), int), "must be 1-D"), (np.zeros(5, int), "5 labels for a batch of 2")],
)
def test_calibration_labels_checked(net, labels, needle):
    with pytest.raises(nc.InputError, match=needle):
        nc.transform(net, "prune{sparsity=0.5}", calibration=x(), labels=labels)
    with pytest.raises(nc.InputError, match=needle), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nc.compile(net, calibration=x(), labels=labels)


def test_labels_without_calibration(net):
    with pytest.raises(nc.InputError, match="labels given without calibration"):
        nc.transform(net, "fold", labels=np.zeros(2, int))


def test_good_arguments_still_work(net):
    result = nc.transform(net, [Quantize(weight_bits=6)], calibration=x(), labels=np.zeros(2, int))
    assert result.reports[0]["pass"] == "quantize{weight_bits=6}"
    prog = nc.compile(net, chips=np.int64(2), passes="quantize{weight_bits=8}")
    assert prog.summary["chips"] == 2


def test_lazy_package_exports_every_name():
    """neurocomp/__init__.py imports its names on first use: each one resolves, and `import
    neurocomp` itself loads none of the heavy modules (so the CLI can handle ^C from the start)."""
    import subprocess
    import sys

    from neurocomp import _EXPORTS

    assert sorted(nc.__all__) == sorted(_EXPORTS)
    for name in nc.__all__:
        assert getattr(nc, name) is not None
    heavy = "('numpy', 'scipy', 'neurocomp.api')"
    probe = f"import sys, neurocomp; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_an_array_for_an_input_the_network_lacks_is_refused(net):
    """A misspelt or extra input name was ignored (the right one given too) or reported as the
    right one missing; every entry point names it now."""
    prog = nc.compile(net)
    spikes = np.zeros((3, 2, 64), np.uint8)
    calls = [
        lambda x: nc.simulate(net, x),
        lambda x: prog.run(x),
        lambda x: prog.outputs(x),
        lambda x: prog.energy(x),
    ]
    for call in calls:
        with pytest.raises(nc.InputError, match=r"\['inptu'\]: the network has no such input"):
            call({"input": spikes, "inptu": spikes})
    assert prog.run({"input": spikes}).outputs["output"].shape == (3, 2, 10)
