"""What fresh memory costs on this machine: 2 GB written as new numpy arrays of a given size
(each freed before the next), against the same bytes rewritten in one reused array.

    .venv/bin/python benchmarks/fresh_memory.py

Arrays above glibc's mmap threshold (32 MB at most) are new pages every time: the kernel zeroes
them, and numpy asks for transparent huge pages on large arrays, which a busy machine may have
to compact memory for. The compile keeps its temporaries below that size (docs/targets.md).
"""

from __future__ import annotations

import time

import numpy as np

TOTAL_MB = 2048


def main() -> None:
    for mb in (8, 64, 256, 1024):
        n = mb << 17  # float64 entries
        t = time.perf_counter()
        for _ in range(TOTAL_MB // mb):
            a = np.ones(n)
            del a
        fresh = time.perf_counter() - t
        b = np.empty(n)
        t = time.perf_counter()
        for _ in range(TOTAL_MB // mb):
            b.fill(1.0)
        reused = time.perf_counter() - t
        print(
            f"{mb:5d} MB arrays, {TOTAL_MB} MB in all: new arrays {fresh:.2f} s, one array "
            f"reused {reused:.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
