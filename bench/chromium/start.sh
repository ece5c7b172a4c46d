#!/usr/bin/env bash
# Real Chromium session start, direct and through gridhub, in one sitting: selenium-webdriver's
# `new Builder()...build()` until resolved (start.js), median of N starts per target, the
# targets taking turns. Prints the medians, each one's gap to chromedriver alone, the time
# each target adds outside chromedriver's own InitSession (from chromedriver's log: robust to
# the browser's spread), and the node agent's own breakdown (node.session_started lines).
#
#   bench/chromium/start.sh [--runs 15] [--gridhub build/app/gridhub] [--baseline OTHER_GRIDHUB]
#
# Targets: `direct` (selenium-webdriver starts /usr/bin/chromedriver itself, as a script with
# no grid does), `chromedriver` (one chromedriver started beforehand: the browser's start
# alone), `standalone` (`gridhub standalone`), `hub+node` (`gridhub hub` and `gridhub node`),
# and with --baseline a second standalone of another build (before/after in one sitting).
# Needs Debian's chromium and chromium-driver and Node 20; installs the pinned
# selenium-webdriver into bench/chromium/node_modules (gitignored) on first use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=15
gridhub="$root/build/app/gridhub"
baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --gridhub) gridhub=$(realpath "$2"); shift 2 ;;
    --baseline) baseline=$(realpath "$2"); shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
for tool in /usr/bin/chromium /usr/bin/chromedriver node "$gridhub" ${baseline:+"$baseline"}; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
if [ ! -d "$here/node_modules/selenium-webdriver" ]; then
  (cd "$here" && npm install --no-audit --no-fund --no-save >/dev/null)
fi

work=$(mktemp -d /tmp/gridhub-chromium-bench.XXXXXX)
export TMPDIR="$work"  # the nodes' work folders and chromedriver's profiles go in it too
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Waits (bounded) until `url` answers /status with 200.
wait_status() {
  for _ in $(seq 200); do
    curl -fs -o /dev/null "$1/status" && return 0
    sleep 0.05
  done
  echo "no /status from $1" >&2
  return 1
}
# chromedriver logs each command with a timestamp (--log-level=INFO): the time it took for
# InitSession is the browser's start, measured the same way behind every target.
slot_config() {  # one headless Chromium slot, the same arguments start.js sends
  cat <<EOF
{"node": {"hub": "$1", "slots": [{"driver": ["/usr/bin/chromedriver", "--log-level=INFO"],
  "stereotype":
  {"browserName": "chrome", "platformName": "linux", "goog:chromeOptions":
   {"binary": "/usr/bin/chromium", "args": ["--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run"]}}}]}}
EOF
}

cd_port=$(free_port)
mkdir -p "$work/chromedriver" "$work/standalone" "$work/hub+node" "$work/baseline"
/usr/bin/chromedriver --port="$cd_port" --log-level=INFO \
  --log-path="$work/chromedriver/session-all.log" >/dev/null 2>&1 &
pids+=($!)
sa_port=$(free_port)
slot_config "http://127.0.0.1:$sa_port" >"$work/standalone.yaml"
TMPDIR="$work/standalone" "$gridhub" standalone --config "$work/standalone.yaml" \
  --host 127.0.0.1 --port "$sa_port" >"$work/standalone.log" 2>&1 &
pids+=($!)
hub_port=$(free_port)
node_port=$(free_port)
"$gridhub" hub --host 127.0.0.1 --port "$hub_port" >"$work/hub.log" 2>&1 &
pids+=($!)
slot_config "http://127.0.0.1:$hub_port" >"$work/node.yaml"
TMPDIR="$work/hub+node" "$gridhub" node --config "$work/node.yaml" --host 127.0.0.1 \
  --port "$node_port" >"$work/node.log" 2>&1 &
pids+=($!)
targets=(--target direct=service:/usr/bin/chromedriver
         --target "chromedriver=http://127.0.0.1:$cd_port"
         --target "standalone=http://127.0.0.1:$sa_port"
         --target "hub+node=http://127.0.0.1:$hub_port")
if [ -n "$baseline" ]; then
  base_port=$(free_port)
  slot_config "http://127.0.0.1:$base_port" >"$work/baseline.yaml"
  TMPDIR="$work/baseline" "$baseline" standalone --config "$work/baseline.yaml" \
    --host 127.0.0.1 --port "$base_port" >"$work/baseline.log" 2>&1 &
  pids+=($!)
  targets+=(--target "baseline=http://127.0.0.1:$base_port")
fi
for port in "$cd_port" "$sa_port" "$hub_port" ${base_port:+"$base_port"}; do
  wait_status "http://127.0.0.1:$port"
done
# The hub's /status answers before the node has registered: wait for its slot.
for _ in $(seq 200); do
  curl -fs "http://127.0.0.1:$hub_port/status" | grep -q '"slots":\[{' && break
  sleep 0.05
done

echo "$(date -u '+%F %H:%M') UTC, load $(cut -d' ' -f1-3 /proc/loadavg), $runs starts per target"
node "$here/start.js" --runs "$runs" "${targets[@]}" >"$work/times.jsonl"
python3 "$here/summary.py" "$work/times.jsonl" "$work" \
  standalone="$work/standalone.log" hub+node="$work/node.log" \
  ${baseline:+baseline="$work/baseline.log"}
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
