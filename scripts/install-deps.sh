#!/usr/bin/env bash
# Installs what gridhub needs to build and test, asking apt only for packages that are absent,
# so a second run costs seconds. Debian 12, as root (or with sudo available).
set -euo pipefail

packages=(
  # build
  cmake ninja-build clang lld libclang-rt-14-dev g++ pkg-config clang-format
  # sanitizer reports with file:line (ASAN/TSAN find llvm-symbolizer on PATH)
  llvm
  # libraries
  libpistache-dev nlohmann-json3-dev prometheus-cpp-dev libyaml-cpp-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real browsers and clients for end-to-end tests
  chromium chromium-driver python3 python3-selenium curl
  # the console in Firefox too (e2e_console_firefox, driven over WebDriver BiDi by puppeteer-core)
  firefox-esr
  # remote-caller tests run a client in a network namespace (ip netns, veth)
  iproute2
  # issue 11's client tests: nginx as a reverse proxy in front of the hub, Ruby's Selenium
  ruby-selenium-webdriver nginx
  # the zip format of file upload and managed downloads (node-agent/upload_archive)
  libzip-dev
  # issue 12: the Grafana dashboard's queries run by a real Prometheus; promtool lints /metrics
  prometheus
  # the Debian package and its test (tests/package): dpkg-shlibdeps, systemd-analyze, strace
  dpkg-dev systemd strace
  # issue 13: several hubs share state on Redis (redis/ links hiredis; its tests start their own
  # redis-server on a free port)
  redis-server libhiredis-dev
  # issue 14: bench/peer (its quick variant is a test) runs Selenium Grid's jar and wrk
  default-jre-headless wrk
)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's prometheus and redis-server packages enable and start a service (on :9090 and
  # :6379). The tests run their own Prometheus and redis-server on free ports; keep the packaged
  # ones stopped and off so nothing else scrapes, listens or holds state (only when this script
  # installed the package: an operator's own service is left alone).
  for service in prometheus redis-server; do
    [[ " ${missing[*]} " == *" $service "* ]] || continue
    if [[ -d /run/systemd/system ]]; then
      $SUDO systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/$service ]]; then
      $SUDO "/etc/init.d/$service" stop >/dev/null 2>&1 || true
      $SUDO update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
else
  echo "install-deps: all packages present"
fi
