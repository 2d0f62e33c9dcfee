"""Build hook: the wheel carries the stack (grafana/, prometheus/, ... as listed in
agent_obs/stack/manifest.py), copied from the repository folders into agent_obs/stack/files/.

Everything else about the project is in pyproject.toml. An editable install copies nothing:
it reads the repository folders directly, so there is only ever one copy to edit.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _manifest():
    # Loaded by path: importing agent_obs would need its run-time dependencies at build time.
    spec = importlib.util.spec_from_file_location("_agent_obs_stack_manifest",
                                                  ROOT / "agent_obs" / "stack" / "manifest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithStack(build_py):
    """build_py, then the stack files into the build tree (not for editable installs)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "agent_obs" / "stack" / "files"
        if target.exists():
            shutil.rmtree(target)
        files = list(_manifest().iter_stack_files(ROOT))
        if not files:
            raise RuntimeError(f"no stack files under {ROOT}: is MANIFEST.in missing from the sdist?")
        for rel in files:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / rel, dest)


setup(cmdclass={"build_py": BuildPyWithStack})
