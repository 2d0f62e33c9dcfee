#!/usr/bin/env bash
# Prometheus 3 (prometheus, promtool) and a current Alertmanager (alertmanager, amtool) for the
# tests, beside Debian stable's Prometheus 2.42 / Alertmanager 0.25 (the floor): Debian sid's
# packages, downloaded with apt-get into a private apt state and extracted with dpkg-deb, never
# installed (the system's packages and apt configuration stay as they are). Their binaries are
# linked only against libc, so they run on Debian stable as extracted.
#
# Prints one NAME=PATH line per binary (AGENT_OBS_PROMETHEUS3_BIN, AGENT_OBS_PROMTOOL3_BIN,
# AGENT_OBS_ALERTMANAGER_CURRENT_BIN, AGENT_OBS_AMTOOL_CURRENT_BIN) for scripts/test.sh to
# export; exits non-zero (with one line on stderr) when nothing usable could be had.
#
# Cached in $AGENT_OBS_CACHE_DIR (default ~/.cache/agent-obs): a run within a week of the last
# download reuses the extracted binaries without touching the network; an older cache is
# refreshed (sid moves: whatever 3.x it serves) and kept if the refresh fails.
set -euo pipefail
PACKAGES=(prometheus promtool prometheus-alertmanager)
CACHE="${AGENT_OBS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-obs}/debian-sid"
MAX_AGE_DAYS=7
mkdir -p "$CACHE"

emit() {
  local bin="$CACHE/current/usr/bin"
  local name
  for name in prometheus promtool prometheus-alertmanager amtool; do
    [ -x "$bin/$name" ] || return 1
  done
  echo "AGENT_OBS_PROMETHEUS3_BIN=$bin/prometheus"
  echo "AGENT_OBS_PROMTOOL3_BIN=$bin/promtool"
  echo "AGENT_OBS_ALERTMANAGER_CURRENT_BIN=$bin/prometheus-alertmanager"
  echo "AGENT_OBS_AMTOOL_CURRENT_BIN=$bin/amtool"
}

fresh() {
  [ -e "$CACHE/current/.fetched" ] && [ -z "$(find "$CACHE/current/.fetched" -mtime +"$MAX_AGE_DAYS")" ]
}

# Called as a condition, where `set -e` does not apply: every step says `|| return 1`, so a
# failed download never replaces a good cache.
fetch() {
  local apt="$CACHE/apt" debs tag target deb
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$CACHE/debs" || return 1
  echo "deb http://deb.debian.org/debian sid main" > "$apt/sources.list" || return 1
  local opts=(-q -o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Acquire::Languages=none
              -o "APT::Sandbox::User=$(id -un)")
  apt-get "${opts[@]}" update >/dev/null || return 1
  rm -f "$CACHE"/debs/*.deb
  (cd "$CACHE/debs" && apt-get "${opts[@]}" download "${PACKAGES[@]}" >/dev/null) || return 1
  shopt -s nullglob
  debs=("$CACHE"/debs/*.deb)
  [ "${#debs[@]}" -eq "${#PACKAGES[@]}" ] || return 1
  # One folder per set of package versions; `current` is switched atomically, so a test run
  # that already resolved the old paths keeps working.
  tag="$(basename -a "${debs[@]}" | sed 's/_amd64.deb$//; s/[^A-Za-z0-9.+-]/-/g' | paste -sd_)" || return 1
  target="$CACHE/x-$tag"
  if [ ! -x "$target/usr/bin/prometheus" ]; then
    rm -rf "$target.tmp"
    mkdir -p "$target.tmp" || return 1
    for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$target.tmp" || return 1; done
    "$target.tmp/usr/bin/prometheus" --version 2>&1 | grep -q '^prometheus, version 3\.' || return 1  # the 3.x line
    rm -rf "$target"
    mv "$target.tmp" "$target" || return 1
  fi
  touch "$target/.fetched" || return 1
  ln -sfn "$(basename "$target")" "$CACHE/current.tmp" || return 1
  mv -T "$CACHE/current.tmp" "$CACHE/current" || return 1
  # keep the folder in use and nothing older
  find "$CACHE" -maxdepth 1 -name 'x-*' ! -name "$(basename "$target")" -exec rm -rf {} +
  rm -f "$CACHE"/debs/*.deb
}

if ! fresh; then
  exec 9>"$CACHE/lock"
  flock 9  # concurrent test runs on one machine fetch once
  if ! fresh && ! fetch 2>"$CACHE/fetch.log"; then
    echo "Debian sid's prometheus/promtool/prometheus-alertmanager not fetched (see $CACHE/fetch.log)" >&2
  fi
fi
emit || { echo "no Prometheus 3 / current Alertmanager binaries in $CACHE" >&2; exit 1; }
