"""The `neurocomp` command (`python -m neurocomp`): a light entry point, so that ^C during the
imports (a few hundred milliseconds) also prints one line and exits with status 130."""

from __future__ import annotations

import os
import signal


def _interrupted_while_starting(signum: int, frame: object) -> None:
    # Nothing has been written yet: leave at once, without a traceback.
    os.write(2, b"interrupted\n")
    os._exit(130)


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from .cli import main as cli_main  # the heavy imports

    cli_main()


if __name__ == "__main__":
    main()
