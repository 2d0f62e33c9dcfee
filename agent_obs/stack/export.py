"""Writing the stack into a folder without clobbering a user's edits.

Every file is compared with what is already there: new files are written, identical ones are
left alone, and a file that differs is overwritten only with ``force``. Without it the export
writes nothing at all and names the files that differ, so a half-updated stack never results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .customize import StackError, StackOptions, customize
from .source import StackSource, find_source

NEW, UNCHANGED, OVERWRITTEN = "new", "unchanged", "overwritten"


class StackConflict(StackError):
    """Files in the target folder differ from the stack and ``force`` was not given."""

    def __init__(self, target: Path, paths: list[str]) -> None:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        super().__init__(f"{len(paths)} file(s) in {target} differ from the stack ({shown}); "
                         "nothing was written: pass --force to overwrite them")
        self.paths = paths


@dataclass
class ExportResult:
    """What an export did: each file's relative path and its state (new/unchanged/overwritten)."""

    target: Path
    source: StackSource
    files: list[tuple[str, str]] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for _, s in self.files if s == state)


def render_stack(options: StackOptions | None = None, source: StackSource | None = None) -> dict[str, bytes]:
    """Relative path -> exported bytes, for every file of the stack."""
    source = source or find_source()
    options = options or StackOptions()
    return {rel: customize(rel, source.read(rel), options) for rel in source.files()}


def export_stack(target: Path | str, options: StackOptions | None = None, *, force: bool = False,
                 source: StackSource | None = None) -> ExportResult:
    """Write the stack into ``target`` (created if missing); see the module docstring."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise StackError(f"{target} exists and is not a folder")
    source = source or find_source()
    rendered = render_stack(options, source)
    result = ExportResult(target=target, source=source)
    conflicts = []
    for rel, data in rendered.items():
        path = target / rel
        if not path.exists():
            result.files.append((rel, NEW))
        elif path.is_file() and path.read_bytes() == data:
            result.files.append((rel, UNCHANGED))
        else:
            result.files.append((rel, OVERWRITTEN))
            conflicts.append(rel)
    if conflicts and not force:
        raise StackConflict(target, conflicts)
    for rel, state in result.files:
        if state != UNCHANGED:
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rendered[rel])
    return result
