#!/usr/bin/env bash
# `npm ci` as a new user meets it: it must print its summary ("added N packages in 12s") and nothing
# else, so an install script that package.json's allowScripts does not cover, a deprecation or a peer
# conflict fails here instead of greeting the next person who clones the repository. npm gives the
# time as ms does: "850ms", "32s", and "1m" past a minute (a slow or busy machine).
set -euo pipefail
cd "$(dirname "$0")/.."
output=$(npm ci --no-audit --no-fund 2>&1)
printf '%s\n' "$output"
extra=$(grep -vE '^(added [0-9]+ packages? in [0-9.]+(ms|s|m|h|d))?$' <<<"$output" || true)
if [ -n "$extra" ]; then
  printf 'npm ci printed more than its summary:\n%s\n' "$extra" >&2
  exit 1
fi
