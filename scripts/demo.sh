#!/usr/bin/env bash
# The main job: installs the package, then runs the example optimizer agent on embedded
# defaults (scripted model, local Dremio stand-in, SQLite, trace file). No servers needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/agent-obs demo "$@"
