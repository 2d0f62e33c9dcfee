"""A real server process group for a test: started with its log in a file, always stopped.

``ServerProcess`` starts the command in its own session; ``terminate()`` sends SIGTERM to the
leader and waits (with a deadline) until every process of the group is gone; ``kill()`` (run
when the ``with`` block ends) SIGKILLs whatever is left, so no worker outlives its test.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from polling import wait_for


class ServerProcess:
    def __init__(self, cmd: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout: float = 40.0) -> int:
        """SIGTERM to the supervisor/master, then wait for the whole group to exit."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        wait_for(lambda: not _group_alive(self.proc.pid), timeout=timeout, interval=0.05,
                 what="every worker process exited")
        return code

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        finally:
            self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies of the group count as gone
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
