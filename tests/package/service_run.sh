#!/usr/bin/env bash
# Runs the extracted package's standalone with the shipped standalone.yaml the way
# gridhub-standalone.service would, as far as that can be done without systemd as PID 1:
#   - an unprivileged user (nobody; the gridhub user exists only where the package is
#     installed), no new privileges, an empty capability bounding set;
#   - in a private mount namespace: every read-write mount read-only except /dev, /proc, /sys
#     and the state folder (ProtectSystem=strict + StateDirectory), a fresh /tmp and /var/tmp
#     (PrivateTmp), empty unreadable /home and /root (ProtectHome);
#   - HOME is the state folder, the config folder is readable by the service's group only
#     (postinst's root:gridhub 0750).
# Then a WebDriver client creates a real Chromium session, loads a page and reads its title;
# the process's own status must show the uid, NoNewPrivs and the empty bounding set, and the
# renderers must run in a user namespace of their own (Chromium's sandbox is on: the shipped
# file has no --no-sandbox and the node adds it only for root). SIGTERM must end it with exit 0.
# Not covered: RestrictNamespaces, RestrictAddressFamilies, PrivateDevices and the Protect*
# kernel settings, which only systemd applies.
# Usage: service_run.sh WORK_DIR EXTRACTED_ROOT (called by test_package.sh). Skips (exit 0 and
# a SKIP line) when not root or when chromium, chromedriver or the tools are missing.
set -uo pipefail
work=$1
root=$2
skip() {
  echo "SKIP service run: $*"
  exit 0
}
[[ $(id -u) -eq 0 ]] || skip "needs root (a mount namespace, then setpriv to nobody)"
for tool in unshare setpriv curl python3 /usr/bin/chromium /usr/bin/chromedriver; do
  command -v "$tool" >/dev/null || skip "$tool missing"
done
case $work/ in
  /tmp/* | /var/tmp/* | /home/* | /root/*) skip "$work would be hidden by PrivateTmp/ProtectHome" ;;
esac
id nobody >/dev/null 2>&1 || skip "no user nobody"
unshare --mount true 2>/dev/null || skip "no mount namespaces here (a container without CAP_SYS_ADMIN?)"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups unshare --user true 2>/dev/null ||
  skip "unprivileged user namespaces are off: Chromium's sandbox cannot start (docs/install.md)"

user=nobody
group=$(id -gn nobody)
state="$work/state"
mkdir -p "$state"
chown "$user:$group" "$state"
chmod 0750 "$state"
chmod 0755 "$work"
chown "root:$group" "$root/etc/gridhub"
chmod 0750 "$root/etc/gridhub"
config="$root/etc/gridhub/standalone.yaml"
if ! setpriv --reuid="$user" --regid="$group" --clear-groups test -r "$config"; then
  skip "$user cannot reach $config (a parent folder is not searchable)"
fi

# Inside the new mount namespace (as root), then exec'd into gridhub as $user: one pid.
sandbox='
set -e
state=$1 work=$2
shift 2
mount --bind "$state" "$state"
while read -r _ mp _ opts _; do
  case $mp in /dev | /dev/* | /proc | /proc/* | /sys | /sys/* | "$state") continue ;; esac
  case $opts in rw,* | rw) mount -o remount,bind,ro "$mp" ;; esac
done </proc/self/mounts
if touch "$work/rw-probe" 2>/dev/null; then echo "the root file system stayed writable"; exit 1; fi
for dir in /tmp /var/tmp; do mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$dir"; done
for dir in /home /root /run/user; do
  if [ -d "$dir" ]; then mount -t tmpfs -o ro,mode=000 tmpfs "$dir"; fi
done
exec "$@"
'
log="$work/standalone.log"
unshare --mount --propagation private bash -c "$sandbox" sandbox "$state" "$work" \
  setpriv --reuid="$user" --regid="$group" --clear-groups --no-new-privs --bounding-set=-all \
  --inh-caps=-all env -i HOME="$state" PATH=/usr/bin:/bin LANG=C.UTF-8 \
  "$root/usr/bin/gridhub" standalone --config "$config" --server.host 127.0.0.1 \
  --server.port 0 >"$log" 2>&1 &
pid=$!
failures=0
alive() {  # a zombie still answers kill -0
  local state
  state=$(ps -o stat= -p "$1") && [[ $state != Z* ]]
}
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
finish() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    wait "$pid"
  fi
  ((failures == 0)) || { echo "--- standalone output"; cat "$log"; }
  exit $((failures > 0))
}

port=""
for _ in $(seq 200); do  # up to 20 s for the listening line
  port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
  [[ -n $port ]] && break
  alive "$pid" || break
  sleep 0.1
done
[[ -n $port ]] || { fail "no listening line from the standalone"; finish; }
url="http://127.0.0.1:$port"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

created=$(curl -sS --max-time 90 -X POST "$url/session" -H 'Content-Type: application/json' \
  -d '{"capabilities":{"alwaysMatch":{"browserName":"chrome"}}}')
session=$(json "['value']['sessionId']" <<<"$created" 2>/dev/null)
[[ -n $session ]] || { fail "no session: $created"; finish; }
curl -sS --max-time 30 -X POST "$url/session/$session/url" -H 'Content-Type: application/json' \
  -d '{"url":"data:text/html,<title>gridhub-package</title><p>ok</p>"}' >/dev/null
title=$(curl -sS --max-time 30 "$url/session/$session/title" | json "['value']" 2>/dev/null)
[[ $title == gridhub-package ]] || fail "page title '$title', want gridhub-package"

status=/proc/$pid/status
[[ $(awk '/^Uid:/ {print $2}' "$status") == $(id -u "$user") ]] || fail "not running as $user"
[[ $(awk '/^NoNewPrivs:/ {print $2}' "$status") == 1 ]] || fail "NoNewPrivs is not set"
[[ $(awk '/^CapBnd:/ {print $2}' "$status") == 0000000000000000 ]] || fail "capabilities left"
# The browser's renderers: descendants of gridhub with --type=renderer.
descendants() {
  local todo=("$1") p
  while ((${#todo[@]})); do
    p=${todo[0]}
    todo=("${todo[@]:1}")
    for child in $(ps -o pid= --ppid "$p"); do
      echo "$child"
      todo+=("$child")
    done
  done
}
own_ns=$(readlink "/proc/$pid/ns/user")
renderers=0
for p in $(descendants "$pid"); do
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '--type=renderer' || continue
  renderers=$((renderers + 1))
  [[ $(readlink "/proc/$p/ns/user") != "$own_ns" ]] ||
    fail "renderer $p shares gridhub's user namespace: Chromium's sandbox is off"
done
((renderers > 0)) || fail "no Chromium renderer found under gridhub (pid $pid)"

ended=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE "$url/session/$session")
[[ $ended == 200 ]] || fail "DELETE /session answered $ended"
kill -TERM "$pid"
for _ in $(seq 300); do  # up to 30 s, within the unit's TimeoutStopSec
  alive "$pid" || break
  sleep 0.1
done
if alive "$pid"; then
  fail "still running 30 s after SIGTERM"
else
  wait "$pid"
  rc=$?
  [[ $rc -eq 0 ]] || fail "exit status $rc after SIGTERM, want 0"
fi
((failures)) || echo "service run: Chromium session as $user (NoNewPrivs, no capabilities," \
  "read-only system, private /tmp), $renderers sandboxed renderer(s), clean SIGTERM stop"
finish
