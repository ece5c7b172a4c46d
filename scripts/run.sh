#!/usr/bin/env bash
# Command (1) of the README: install what is missing, build, start `gridhub standalone`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" --target gridhub
exec "${GRIDHUB_BUILD_DIR:-$root/build}/app/gridhub" standalone "$@"
