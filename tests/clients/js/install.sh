#!/bin/sh
# Installs the pinned JS clients (`npm ci`) unless node_modules already holds exactly the
# versions of package-lock.json: a copy of the lock kept in node_modules marks what was
# installed, so a checkout whose lock changed (new clients, new pins) reinstalls by itself.
set -eu
cd "$(dirname "$0")"
stamp=node_modules/.gridhub-package-lock.json
if cmp -s package-lock.json "$stamp" 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund
cp package-lock.json "$stamp"
