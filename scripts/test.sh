#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (Debian's prometheus and
# prometheus-alertmanager for the stack tests, the Python package with its dev extra), then
# runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Grafana's LogQL/TraceQL and Prometheus's PromQL grammars, pinned by the lock file.
npm ci --prefix tests/stack/parsers --no-audit --no-fund --loglevel=error >/dev/null
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
