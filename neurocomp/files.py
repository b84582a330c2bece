"""Writing outputs safely: a failure, ^C or a kill leaves the old file (or folder) or the new one,
never half of one, and every `OSError` becomes one `OutputError` line.

Outputs are written in a hidden temporary folder beside the target (`.NAME.xxxxxxxx/`: the
program folder itself, or a folder holding the file) and renamed into place. A writer holds an
advisory lock (`flock`) on its temporary folder for as long as it lives, so temporaries that
nobody holds are leftovers of a killed run: the next write to the same name removes them. The
final renames happen under a lock on the parent folder, so two writers of one target do not
interleave: each writes a complete output, the last one to finish stays. A target that is a
symbolic link is followed: what it points to is written (or replaced), the link itself stays.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from .errors import NeurocompError

try:  # advisory locks: POSIX only; elsewhere writes are atomic but not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_NAME_MAX = 255
_PREFIX_MAX = 200  # room for ".xxxxxxxx.tmp" after the target's name in a temporary's name


class OutputError(NeurocompError):
    """An output that cannot be written: a read-only or full file system, a folder without
    write permission, a name too long, a parent that is a file, a folder where a file is
    wanted, an `-o` folder that holds other files."""


def _prefix(name: str) -> str:
    return f".{name[:_PREFIX_MAX]}."


def _is_temporary(entry: str, name: str) -> bool:
    """A temporary of `name` made by this module or by an earlier neurocomp (mkdtemp names,
    `.old-PID` folders of an interrupted swap)."""
    pre = _prefix(name)
    if not entry.startswith(pre):
        return False
    rest = entry[len(pre) :]
    return re.fullmatch(r"[a-z0-9_]{8}(\.tmp|\.old)?|old-\d+", rest) is not None


def output_target(path: str | os.PathLike[str]) -> Path:
    """Where an output given as `path` goes: a symbolic link is followed (also a dangling one,
    whose target is created)."""
    return Path(os.path.realpath(os.fspath(path)))


def _fail(shown: str | os.PathLike[str], exc: OSError) -> OutputError:
    return OutputError(f"{shown}: cannot write ({exc.strerror or exc})")


def check_output(path: str | os.PathLike[str], folder: bool, owned: Collection[str] = ()) -> None:
    """Refuse, before any work, an output that cannot be written: a name too long, a parent
    that is a file, a read-only or unwritable folder, a folder where a file is wanted, or (for
    a folder output) an existing folder holding files other than `owned` ones."""
    try:
        _check_output(path, output_target(path), folder, owned)
    except OSError as exc:
        raise _fail(path, exc) from None


def _check_output(
    path: str | os.PathLike[str], target: Path, folder: bool, owned: Collection[str]
) -> None:
    if len(target.name.encode()) > _NAME_MAX:
        raise OutputError(f"{path}: cannot write (file name longer than {_NAME_MAX} bytes)")
    if target.is_dir() and not folder:
        raise OutputError(f"{path}: is a folder; give a file name (such as out.npz)")
    if target.exists() and folder:
        _check_replaceable(path, target, owned)
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    shown = _display(parent)
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write ({shown} is a file, not a folder)")
    if os.statvfs(parent).f_flag & os.ST_RDONLY:
        raise OutputError(f"{path}: cannot write ({shown} is on a read-only file system)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write (no write permission in {shown})")


def _display(path: Path) -> str:
    """A path as the user likely gave it: relative to the working folder when inside it."""
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else rel


def _check_replaceable(shown: str | os.PathLike[str], target: Path, owned: Collection[str]) -> None:
    if not target.is_dir() or any(p.name not in owned for p in target.iterdir()):
        raise OutputError(
            f"{shown}: exists and is not a neurocomp program folder; choose another -o"
        )


@contextlib.contextmanager
def _locked(path: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an flock on `path` (a file or folder); yields False if it is held elsewhere
    (only when not blocking)."""
    if fcntl is None:
        yield True
        return
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags | (0 if blocking else getattr(os, "O_NOFOLLOW", 0)))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError:  # a file system without locks: proceed unserialised
            pass
        yield True
    finally:
        os.close(fd)


def remove_leftovers(target: Path) -> list[str]:
    """Remove the temporaries of `target` that no living writer holds (call with the parent
    locked); returns their names."""
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.listdir(target.parent):
            if not _is_temporary(entry, target.name):
                continue
            path = target.parent / entry
            try:
                with _locked(path, blocking=False) as free:
                    if not free:
                        continue
            except OSError:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p; returns the folders it created, outermost last."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for f in folders:
        with contextlib.suppress(OSError):
            f.rmdir()


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary file (of the same name, in a temporary folder beside
    `path`, creating its parents), then rename it onto `path`; nothing is left if anything
    fails. Returns where the file went."""
    target = output_target(path)
    check_output(path, folder=False)
    return _write_into_place(path, target, write, folder=False)


def replace_folder(
    path: str | os.PathLike[str], write: Callable[[Path], None], owned: Collection[str]
) -> Path:
    """Call `write(tmp)` on an empty temporary folder beside `path`, then swap it into place.
    An existing folder there is replaced only if it holds nothing but `owned` files (a
    program folder); otherwise `OutputError`. Returns where the folder went."""
    target = output_target(path)
    check_output(path, folder=True, owned=owned)
    return _write_into_place(path, target, write, folder=True, owned=owned)


def _write_into_place(
    shown: str | os.PathLike[str],
    target: Path,
    write: Callable[[Path], None],
    folder: bool,
    owned: Collection[str] = (),
) -> Path:
    created: list[Path] = []
    try:
        created = _make_parents(target.parent)
        with contextlib.ExitStack() as alive:
            with _locked(target.parent):
                remove_leftovers(target)
                tmp = Path(tempfile.mkdtemp(prefix=_prefix(target.name), dir=target.parent))
                # held until the end: marks tmp as alive for other writers' remove_leftovers
                alive.enter_context(_locked(tmp))
            try:
                # A file is written inside the temporary folder, under its own name (its
                # writer may lock the file itself, as HDF5 does, and may look at the suffix).
                write(tmp if folder else tmp / target.name)
                with _locked(target.parent):
                    _swap(shown, tmp, target, folder, owned)
            finally:
                _remove(tmp)
    except OSError as exc:
        _remove_empty(created)
        raise _fail(shown, exc) from None
    except BaseException:
        _remove_empty(created)
        raise
    return target


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _swap(
    shown: str | os.PathLike[str], tmp: Path, target: Path, folder: bool, owned: Collection[str]
) -> None:
    """Rename tmp (or, for a file, the file in it) onto target, with the parent locked. A
    folder target is moved aside first and put back if the second rename fails."""
    if not folder:
        if target.is_dir():
            raise OutputError(f"{shown}: is a folder; give a file name (such as out.npz)")
        os.replace(tmp / target.name, target)
        return
    if not target.exists():
        tmp.rename(target)
        return
    _check_replaceable(shown, target, owned)
    old = tmp.with_name(tmp.name + ".old")
    try:
        target.rename(old)
        tmp.rename(target)
    except BaseException:
        if old.exists() and not target.exists():
            old.rename(target)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)
