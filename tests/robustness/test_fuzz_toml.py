"""Fuzz chip descriptions (and the compile, save and load behind them) with corrupted TOML.

Base files: the shipped chips (targets/*.toml) and the documented example (docs/examples/
mychip.toml). Each case damages one of them: truncation, random byte overwrites, a line deleted
or repeated, a value replaced by a hostile one (huge, negative, NaN, a date, a deep array, rich
markup, a string), or a hostile table appended. A description that loads is compiled onto (with
a random --chips), saved and loaded back. Every case must end in success or a NeurocompError,
within the per-case time and memory bounds.
"""

from __future__ import annotations

import shutil
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_util import DERANDOMIZE, DIGITS, ROOT, TARGETS, examples, run_case

import neurocomp as nc
from neurocomp.target import load_target

BASES = (TARGETS / "reference.toml", TARGETS / "loihi2.toml", ROOT / "docs/examples/mychip.toml")
SUITE = "fuzz toml (corrupted chip descriptions)"

HOSTILE_VALUES = (
    "0", "-1", "1", "2", "4096", "4097", "1048576", str(2**62), str(2**64), "-9223372036854775809",
    "nan", "inf", "-inf", "1e308", "1e-320", "-0.0", "2.5", "true", '""', '"x"', '"[bold red]x"',
    '"a\\nb"', "[]", '["LIF", 3]', "{a = 1}", "1979-05-27T07:32:00Z", "07:32:00", "1979-05-27",
    "[" * 2000 + "]" * 2000, "{a = " * 300 + "1" + "}" * 300, '"' + "x" * 5000 + '"',
)  # fmt: skip
APPENDED = (
    "[notes]\nwhen = 1979-05-27T07:32:00Z",
    "[notes]\nt = 07:32:00",
    "[notes]\nx = nan",
    "[notes]\ndeep = " + "[" * 5000 + "]" * 5000,
    "[notes]\ndeep = " + "{a = " * 5000 + "1" + "}" * 5000,
    "[notes.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r]\nx = 1",
    "[[many]]\n" * 200,
    "stray = 1",
    'name = "again"',
    "[mesh]\ntiles_x = 2",
    "[cross_check]\n[cross_check.nested]\nok = [1, 2.5, \"s\", true, {t = 1}]",
)  # fmt: skip


@pytest.fixture(scope="module")
def digits() -> nc.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nc.load(DIGITS / "digits.nir", dt=1e-4)


def _mutate(text: str, op: str, a: int, b: int) -> tuple[str, str]:
    lines = text.splitlines()
    valued = [
        i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")
    ]
    if op == "delete line":
        i = a % len(lines)
        return "\n".join(lines[:i] + lines[i + 1 :]), f"line {i + 1} deleted: {lines[i]!r}"
    if op == "repeat line":
        i = a % len(lines)
        return "\n".join(lines[: i + 1] + lines[i:]), f"line {i + 1} repeated: {lines[i]!r}"
    if op == "replace value":
        i = valued[a % len(valued)]
        key = lines[i].split("=", 1)[0].rstrip()
        value = HOSTILE_VALUES[b % len(HOSTILE_VALUES)]
        lines[i] = f"{key} = {value}"
        return "\n".join(lines), f"{key.strip()} := {value[:60]}"
    extra = APPENDED[b % len(APPENDED)]
    return text + "\n" + extra + "\n", f"appended {extra[:60]!r}"


TEXT_OPS = ("replace value", "replace value", "delete line", "repeat line", "append")
RECIPE = st.tuples(
    st.integers(0, 2**16),  # base file (mod the number of bases)
    st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.0, 1.0), st.integers(0, 0)),
        st.tuples(
            st.just("overwrite bytes"),
            st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), min_size=1, max_size=6),
            st.integers(0, 0),
        ),
        st.tuples(
            st.sampled_from(TEXT_OPS),
            st.integers(0, 2**16),
            st.integers(0, 2**16),
        ),
    ),
    st.sampled_from((None, None, 1, 2, 0, 10**6)),
)  # fmt: skip


@settings(
    max_examples=examples(300),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)
@given(RECIPE)
def test_corrupted_chip_descriptions_load_compile_save_or_fail_cleanly(
    tmp_path_factory, digits, recipe
):
    base_index, (op, a, b), chips = recipe
    base = BASES[base_index % len(BASES)]
    folder = tmp_path_factory.mktemp("chip", numbered=True)
    path = folder / "chip.toml"
    data = base.read_bytes()
    if op == "truncate":
        path.write_bytes(data[: int(a * len(data))])
        what = f"truncated to {int(a * len(data))} of {len(data)} bytes"
    elif op == "overwrite bytes":
        buf = bytearray(data)
        done = []
        for frac, value in a:
            pos = min(int(frac * len(buf)), len(buf) - 1)
            buf[pos] = value
            done.append((pos, value))
        path.write_bytes(bytes(buf))
        what = f"bytes overwritten (offset, value): {done}"
    else:
        text, what = _mutate(data.decode(), op, a, b)
        path.write_text(text)

    def work() -> None:
        spec = load_target(str(path), chips)
        prog = nc.compile(digits, target=spec)
        prog.save(folder / "prog")
        again = nc.load_program(folder / "prog")
        saved, made = again.target.to_dict(), spec.to_dict()
        assert {**saved, "source": ""} == {**made, "source": ""}, "the saved chip differs"

    try:
        run_case(SUITE, f"{base.name}: {what}; chips={chips}", work)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
