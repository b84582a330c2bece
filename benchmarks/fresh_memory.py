"""What fresh memory costs on this machine: 2 GB written as new numpy arrays of a given size
(each freed before the next), with and without numpy's transparent-huge-page advice, against
the same bytes rewritten in one reused array; then 2 GB in new 1 GB arrays with the advice,
right after other memory was freed and 5 s later.

    .venv/bin/python benchmarks/fresh_memory.py

Arrays above glibc's mmap threshold (32 MB at most) are new pages every time: the kernel zeroes
them. numpy asks for transparent huge pages on arrays of 4 MB and more (`madvise`); a huge page
needs a free 2 MB block, and on a virtual machine whose balloon reports free memory to its host
(virtio_balloon free page reporting, Linux's page_reporting) the free 2 MB blocks are the ones
handed back: the first write faults each one in from the host again, and a block freed a few
seconds ago has been handed back already. So the same array costs 0.1 s per GB or several s per
GB by when its memory was last freed. `neurocomp.compiler.small_pages` turns the advice off for
a compile (its large arrays are results written once, not reused).
"""

from __future__ import annotations

import time

import numpy as np
from numpy.core.multiarray import _set_madvise_hugepage  # type: ignore[attr-defined]

TOTAL_MB = 2048


def _fresh(mb: int) -> float:
    n = mb << 17  # float64 entries
    t = time.perf_counter()
    for _ in range(TOTAL_MB // mb):
        a = np.ones(n)
        del a
    return time.perf_counter() - t


def main() -> None:
    before = _set_madvise_hugepage(True)
    try:
        for advice in (True, False):
            _set_madvise_hugepage(advice)
            for mb in (8, 64, 256, 1024):
                fresh = _fresh(mb)
                b = np.empty(mb << 17)
                t = time.perf_counter()
                for _ in range(TOTAL_MB // mb):
                    b.fill(1.0)
                reused = time.perf_counter() - t
                del b
                print(
                    f"huge-page advice {'on ' if advice else 'off'} {mb:5d} MB arrays, "
                    f"{TOTAL_MB} MB in all: new arrays {fresh:.2f} s, one array reused "
                    f"{reused:.2f} s",
                    flush=True,
                )
        _set_madvise_hugepage(True)
        for wait in (0, 5):
            _fresh(1024)  # memory to free
            time.sleep(wait)
            print(f"advice on, 1024 MB arrays {wait} s after a free: {_fresh(1024):.2f} s")
    finally:
        _set_madvise_hugepage(before)


if __name__ == "__main__":
    main()
