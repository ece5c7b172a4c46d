#!/bin/sh
# Installs what bench/peer/run.sh needs and does not build: Debian's Java, nginx, wrk, Chromium
# and chromedriver (only those absent; apt is asked nothing when all are there), and the pinned
# npm packages of package-lock.json (Selenium Grid's jar and selenium-webdriver) into
# ./node_modules, reinstalled only when the lock changed (a copy of it there marks what was
# installed). Debian 12, as root or with sudo.
set -eu
cd "$(dirname "$0")"
missing=""
for p in default-jre-headless nginx wrk chromium chromium-driver nodejs npm; do
  [ "$p" = nodejs ] && command -v node >/dev/null 2>&1 && continue
  [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bench/peer/install.sh: installing$missing"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi
stamp=node_modules/.gridhub-package-lock.json
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
fi
