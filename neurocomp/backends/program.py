"""Old import path of the program artifact (now neurocomp.program): kept as an alias."""

from ..program.artifact import Program, load_program
from ..program.folder import FORMAT_VERSION, LAVA_LOADER, PROGRAM_FILES
from ..program.npz import write_npz
from ..program.schema import ProgramError

__all__ = [
    "FORMAT_VERSION",
    "LAVA_LOADER",
    "PROGRAM_FILES",
    "Program",
    "ProgramError",
    "load_program",
    "write_npz",
]
