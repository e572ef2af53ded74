#!/usr/bin/env bash
# The API fuzzer (`npm run fuzz`): schemathesis, from PyPI at the versions pinned in
# scripts/schemathesis-requirements.txt, against the web tier's OpenAPI document on every engine (memory,
# mysql on the machine's MariaDB, mongodb on FerretDB), with all its checks, a fixed seed and a bounded
# number of examples. test/fuzz/ runs it and checks what it cannot: no answer was a 5xx, and the database
# holds exactly the writes that were accepted, nothing from a refused one.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=scripts/schemathesis-requirements.txt
# A venv per set of pins, outside the repository: a changed pin installs afresh, an unchanged one is reused.
venv=${XDG_CACHE_HOME:-$HOME/.cache}/two-tier-schemathesis/$(sha256sum "$requirements" | cut -c1-16)
if [ ! -x "$venv/bin/schemathesis" ]; then
  bash scripts/host-packages.sh venv
  echo "installing schemathesis from $requirements into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --requirement "$requirements"
fi

export SCHEMATHESIS="$venv/bin/schemathesis"
exec node --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=900000 test/fuzz/*.test.ts
