#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine (Debian's prometheus and
# prometheus-alertmanager for the stack tests, the Python package with its dev extra), fetches
# Prometheus 3 and a current Alertmanager beside them (scripts/sid_servers.sh: Debian sid's
# packages, extracted into a cache, not installed), then runs the whole suite. Extra arguments
# go to pytest.
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
# Prometheus 3 / Alertmanager current for the tests that run both lines; a variable already
# set wins. Without them those tests skip, saying so.
if sid_env="$(bash scripts/sid_servers.sh)"; then
  while IFS='=' read -r name path; do
    [ -n "${!name:-}" ] || export "$name=$path"
  done <<<"$sid_env"
fi
exec .venv/bin/python -m pytest "$@"
