#!/usr/bin/env bash
# Command (2) of the README: install what is missing, build everything, run the whole suite
# (unit, integration, end-to-end with real Chromium and Selenium clients, fuzz) with CTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
if [[ -f "$root/tests/clients/js/package.json" ]]; then
  (cd "$root/tests/clients/js" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; })
fi
"$root/scripts/build.sh"
cd "${GRIDHUB_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 600 -j2 "$@"
