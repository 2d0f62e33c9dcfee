"""Where the stack's files are read from: the wheel's copy, or the repository itself.

A wheel carries the stack under ``agent_obs/stack/files/`` (copied there from the repository
folders when the wheel is built, see ``setup.py``). A source or editable checkout has no such
copy and reads the repository folders directly, so there is never a second copy to edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_obs.errors import StackError

from .manifest import MARKER, iter_stack_files

PACKAGED = Path(__file__).resolve().parent / "files"
CHECKOUT = Path(__file__).resolve().parents[2]


class StackNotFound(StackError):
    """Neither the wheel's copy nor a repository checkout holds the stack."""


@dataclass(frozen=True)
class StackSource:
    """The folder the stack is read from, and which kind it is (``package`` or ``checkout``)."""

    root: Path
    kind: str

    def files(self) -> list[str]:
        """Relative POSIX paths of every file in the stack, sorted."""
        return list(iter_stack_files(self.root))

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()


def find_source() -> StackSource:
    """The wheel's copy when installed from a wheel, else the repository checkout."""
    if (PACKAGED / MARKER).is_file():
        return StackSource(PACKAGED, "package")
    if (CHECKOUT / MARKER).is_file():
        return StackSource(CHECKOUT, "checkout")
    raise StackNotFound(
        f"the stack files are missing: neither {PACKAGED} nor a repository checkout at {CHECKOUT} "
        "holds them (reinstall agent-obs from its wheel)")
