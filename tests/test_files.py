"""neurocomp.files: atomic, locked writes; leftovers of dead writers removed, live ones kept."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

import neurocomp as nc
from neurocomp.files import check_output, remove_leftovers, replace_folder, write_atomic

OWNED = ("a.txt", "b.txt")


def write_two(tmp: Path) -> None:
    (tmp / "a.txt").write_text("a")
    (tmp / "b.txt").write_text("b")


def test_failed_write_leaves_nothing(tmp_path):
    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(nc.OutputError, match=r"out.npz: cannot write \(No space left on device\)"):
        write_atomic(tmp_path / "new" / "deeper" / "out.npz", fail)
    assert os.listdir(tmp_path) == []  # neither the file, its temporary nor the new folders


def test_neurocomp_errors_pass_through(tmp_path):
    def fail(tmp: Path) -> None:
        raise nc.InputError("bad")

    with pytest.raises(nc.InputError):
        replace_folder(tmp_path / "build", fail, OWNED)
    assert os.listdir(tmp_path) == []


def test_leftovers_of_dead_writers_go_live_ones_stay(tmp_path):
    target = tmp_path / "build"
    dead = [
        tmp_path / ".build.abcd1234",
        tmp_path / ".build.old-4242",
        tmp_path / ".build.zz_9zz9z.old",
    ]
    for d in dead:
        d.mkdir()
        (d / "program.json").write_text("{}")
    (tmp_path / ".build.k3y8s0a1.tmp").write_text("half")  # a file temporary
    live = tmp_path / ".build.live0000"
    live.mkdir()
    unrelated = [tmp_path / ".build.notes", tmp_path / ".buildx.abcd1234", tmp_path / "build2"]
    for u in unrelated:
        u.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer that is still running holds its temporary
    try:
        removed = remove_leftovers(target)
    finally:
        os.close(fd)
    assert sorted(removed) == sorted([d.name for d in dead] + [".build.k3y8s0a1.tmp"])
    assert sorted(os.listdir(tmp_path)) == sorted([live.name] + [u.name for u in unrelated])


def test_replace_keeps_or_refuses(tmp_path):
    target = tmp_path / "build"
    replace_folder(target, write_two, OWNED)
    assert sorted(os.listdir(target)) == ["a.txt", "b.txt"]
    replace_folder(target, lambda tmp: (tmp / "a.txt").write_text("new"), OWNED)
    assert os.listdir(target) == ["a.txt"] and (target / "a.txt").read_text() == "new"
    (target / "mine.doc").write_text("user data")
    with pytest.raises(nc.OutputError, match="not a neurocomp program folder"):
        replace_folder(target, write_two, OWNED)
    assert (target / "mine.doc").read_text() == "user data"


def test_writers_in_parallel_never_interleave(tmp_path):
    """Eight threads replace one folder at once: every call ends cleanly, the result is one
    writer's complete output, and no temporary is left."""
    target = tmp_path / "build"
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        def write(tmp: Path) -> None:
            (tmp / "a.txt").write_text(str(k))
            time.sleep(0.01)
            (tmp / "b.txt").write_text(str(k))

        try:
            replace_folder(target, write, OWNED)
        except BaseException as exc:  # collected and failed below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["build"]
    assert (target / "a.txt").read_text() == (target / "b.txt").read_text()


def _file(path: Path) -> Path:
    path.write_text("x")
    return path


@pytest.mark.parametrize(
    "make, folder, needle",
    [
        (lambda p: _file(p / "f") / "out", True, "is a file, not a folder"),
        (lambda p: (p / "d").mkdir() or p / "d", False, "is a folder"),
        (lambda p: p / ("n" * 256), False, "longer than 255 bytes"),
    ],
)
def test_check_output_before_any_work(tmp_path, make, folder, needle):
    with pytest.raises(nc.OutputError, match=needle):
        check_output(make(tmp_path), folder=folder)


def test_symlinked_file_output_is_followed(tmp_path):
    real = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    assert write_atomic(link, lambda tmp: tmp.write_bytes(b"one")) == real
    assert link.is_symlink() and real.read_bytes() == b"one"
