# shellcheck shell=bash disable=SC2154
# Functions of bench/peer/run.sh (sourced after bench/cluster/lib.sh; uses run.sh's variables:
# build, peer, tmp, pids, round, seconds, fast_node, fast_node_pid, jar, queue_waiters,
# held_waiters, chrome_sessions, results).

record() {  # FIGURE SYSTEM VALUE: one measurement of this round
  echo "$1 $2 $round $3" >>"$results"
}

ticks() {  # PID...: utime+stime in clock ticks of each process and its children
  local pid child total=0 children
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    read -ra children <"/proc/$pid/task/$pid/children" || true
    for child in "${children[@]}"; do
      total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}

per_event_us() {  # TICKS_BEFORE TICKS_AFTER EVENTS: CPU microseconds per event
  awk -v b="$1" -v a="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.0f", (a - b) * 1e6 / hz / n; else print "nan" }'
}

mib() {  # FIELD PID: VmRSS or VmHWM of PID in MiB
  awk -v f="$1:" '$1 == f { printf "%.0f", $2 / 1024 }' "/proc/$2/status"
}

stop_pid() {  # PID: TERM (KILL after 10 s), wait, forget (so cleanup signals no reused pid)
  local pid=$1 kept=() p _
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do  # a zombie (exited, not yet waited for) counts as gone
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z) == Z ]] && break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  pids=("${kept[@]}")
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

status_ready() { curl -sf --max-time 2 "$1/status" | grep -q '"ready": *true'; }

await_ready() {  # URL BEGIN_MS [NODE_JSON]: polls /status every 10 ms (60 s at most); with
  # NODE_JSON, registers that node as soon as the server answers. Prints the ms since BEGIN_MS.
  local _
  for _ in $(seq 6000); do
    if [[ -n ${3:-} ]] && curl -s -o /dev/null --max-time 2 "$1/status"; then
      curl -sf -X POST "$1/nodes" -H 'Content-Type: application/json' -d "$3" >/dev/null
      set -- "$1" "$2"
    fi
    if status_ready "$1"; then
      echo $(($(now_ms) - $2))
      return
    fi
    sleep 0.01
  done
  echo "gave up waiting for $1 to be ready" >&2
  exit 1
}

# The fake node as gridhub knows it: 64 "chrome" sessions and 8 "qbrowser" ones (the queue steps).
node_json() {
  echo "{\"id\":\"fake\",\"uri\":\"$fast_node\",\"healthCheck\":\"status\",\"slots\":[
    {\"id\":\"c\",\"maxSessions\":64,\"stereotype\":{\"browserName\":\"chrome\"}},
    {\"id\":\"q\",\"maxSessions\":8,\"stereotype\":{\"browserName\":\"qbrowser\"}}]}"
}

start_gridhub() {  # sets $url and $sys_pid; records start-up
  local port begin
  port=$(free_port)
  begin=$(now_ms)
  "$build/app/gridhub" hub --server.port "$port" --server.host 127.0.0.1 \
    --queue.registration-grace 0s --server.max-connections 16000 \
    --queue.max-per-label 20000 >"$tmp/gridhub-$round.out" 2>&1 &
  sys_pid=$!
  pids+=("$sys_pid")
  url="http://127.0.0.1:$port"
  record startup_ms gridhub "$(await_ready "$url" "$begin" "$(node_json)")"
}

start_selenium() {  # TEMPLATE NAME: Selenium Grid standalone; sets $url and $sys_pid; records
  # start-up for the fake-node grid (NAME selenium)
  local port begin
  port=$(free_port)
  sed -e "s|@PORT@|$port|" -e "s|@NODE@|$fast_node|" "$peer/$1" >"$tmp/$2.toml"
  begin=$(now_ms)
  java -jar "$jar" standalone --config "$tmp/$2.toml" >"$tmp/$2-$round.out" 2>&1 &
  sys_pid=$!
  pids+=("$sys_pid")
  url="http://127.0.0.1:$port"
  local startup
  startup=$(await_ready "$url" "$begin")
  [[ $2 != selenium ]] || record startup_ms selenium "$startup"
}

new_session() {  # URL BROWSER: prints the new session's id
  curl -sf -X POST "$1/session" -H 'Content-Type: application/json; charset=utf-8' \
    -d "{\"capabilities\":{\"alwaysMatch\":{\"browserName\":\"$2\"}}}" |
    sed -n 's/.*"sessionId" *: *"\([^"]*\)".*/\1/p' | head -1
}

measure_cycles() {  # SYSTEM URL [PID...]: create+delete cycles/s at 1, 8 and 32 clients
  # The hub's CPU per cycle (of PID..., when given), and the CPU the rest spends on each cycle:
  # the client (hub_load, from /usr/bin/time) and the fake node (it also serves the other
  # systems, so only its delta over this step counts). Those two are what a cycle costs with no
  # hub at all: on 2 cores they bound how far a hub in front of them can keep up.
  local system=$1 target=$2 c before after out cycles rate node_before node_after client
  shift 2
  for c in 1 8 32; do
    (($#)) && before=$(ticks "$@")
    node_before=$(ticks "$fast_node_pid")
    out=$(/usr/bin/time -f 'client_cpu %U %S' -o "$tmp/client-time" \
      "$build/bench/hub/hub_load" sessions "$target" "$c" "$seconds" || true)
    node_after=$(ticks "$fast_node_pid")
    echo "  $system $out"
    cycles=$(sed -n 's/.*cycles=\([0-9]*\).*/\1/p' <<<"$out")
    rate=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
    [[ $out == *" failures=0"* ]] || { cycles=0 rate=nan; }
    record "cycles_c$c" "$system" "$rate"
    client=$(awk '$1 == "client_cpu" { printf "%.0f", ($2 + $3) * 1e6 }' "$tmp/client-time")
    record "cycle_rest_cpu_c$c" "$system" "$(awk -v c="$client" -v b="$node_before" \
      -v a="$node_after" -v n="$cycles" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { if (n > 0 && c != "") printf "%.0f", (c + (a - b) * 1e6 / hz) / n; else print "nan" }')"
    (($#)) || continue
    after=$(ticks "$@")
    record "cycle_cpu_c$c" "$system" "$(per_event_us "$before" "$after" "$cycles")"
  done
}

wrk_figures() {  # WRK_OUTPUT: "REQUESTS RATE P50_US", or nothing when a request failed
  awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /Non-2xx|Socket errors/ { bad = 1 }
       $1 == "50%" { v = $2 + 0; if ($2 ~ /ms$/) v *= 1000; else if ($2 ~ /[0-9]s$/) v *= 1e6
                     p = v }
       END { if (!bad && n > 0) printf "%d %.0f %.0f\n", n, r, p }' <<<"$1"
}

measure_commands() {  # SYSTEM URL SESSION [PID...]: proxied GET .../url at 1 and 16 connections
  local system=$1 target="$2/session/$3/url" c before after out figures
  shift 3
  for c in 1 16; do
    (($#)) && before=$(ticks "$@")
    out=$(wrk -t "$((c > 1 ? 2 : 1))" -c "$c" -d "${seconds}s" --latency "$target" 2>&1 || true)
    figures=$(wrk_figures "$out")
    echo "  $system commands c=$c requests, req/s, p50 µs: ${figures:-FAILED}"
    read -r requests rate p50 <<<"${figures:-0 nan nan}"
    record "cmd_rate_c$c" "$system" "$rate"
    record "cmd_p50_c$c" "$system" "$p50"
    (($#)) || continue
    after=$(ticks "$@")
    record "cmd_cpu_c$c" "$system" "$(per_event_us "$before" "$after" "$requests")"
  done
}

measure_queue() {  # SYSTEM URL: $queue_waiters waiters on the 8 qbrowser slots, 50 ms sessions
  local out name
  out=$(node "$peer/waiters.js" queue "$2" qbrowser "$queue_waiters" 50 || true)
  echo "  $1 $out"
  [[ $out == *" failures=0"* ]] || return 0
  for name in drain_s p99_wait_ms inversions; do
    record "queue_$name" "$1" "$(sed -n "s/.* $name=\([0-9.]*\).*/\1/p" <<<"$out")"
  done
}

measure_held() {  # SYSTEM URL PID: RSS and /status time with $held_waiters waiting. Held: every
  # request written and none answered (waiters.js says so), plus 1 s for the grid to read them;
  # how long the writing took is a figure too (120 s at most).
  local system=$1 target=$2 pid=$3 _ client begin_ms held=0
  for _ in $(seq 8); do [[ -n $(new_session "$target" qbrowser) ]] || return 0; done
  begin_ms=$(now_ms)
  node "$peer/waiters.js" hold "$target" qbrowser "$held_waiters" >"$tmp/hold.out" 2>&1 &
  client=$!
  pids+=("$client")
  for _ in $(seq 1200); do
    grep -q '^held' "$tmp/hold.out" && break
    sleep 0.1
  done
  if grep -q '^held' "$tmp/hold.out"; then
    record held_s "$system" "$(awk -v ms=$(($(now_ms) - begin_ms)) 'BEGIN { print ms / 1000 }')"
    sleep 1
    record rss_held_mib "$system" "$(mib VmRSS "$pid")"
    record status_held_ms "$system" "$(curl -s -o /dev/null --max-time 10 \
      -w '%{http_code} %{time_total}' "$target/status" |
      awk '{ printf "%s%.1f", $1 == "200" ? "" : ">", $2 * 1000 }')"  # ">" marks no answer
    held=$((held_waiters - $(grep -c '^answered' "$tmp/hold.out" || true)))
  fi
  echo "  $system $held of $held_waiters waiters held"
  record held_count "$system" "$held"
  stop_pid "$client"
}

measure_grid() {  # SYSTEM: every fake-node step on the grid at $url (process $sys_pid)
  local session
  record rss_idle_mib "$1" "$(mib VmRSS "$sys_pid")"
  measure_cycles "$1" "$url" "$sys_pid"
  session=$(new_session "$url" chrome)
  measure_commands "$1" "$url" "${session:-none}" "$sys_pid"
  record rss_load_mib "$1" "$(mib VmHWM "$sys_pid")"
  measure_queue "$1" "$url"
  measure_held "$1" "$url" "$sys_pid"
}

measure_chrome() {  # SYSTEM URL|direct
  local out value
  mkdir -p "$tmp/chrome"
  out=$(node "$peer/chrome_start.js" "$2" "$chrome_sessions" "$tmp/chrome" \
    2>"$tmp/chrome.err" || true)
  echo "  $1 ${out:-FAILED $(tail -1 "$tmp/chrome.err")}"
  for value in $(sed -n 's/.*start_ms=//p' <<<"$out" | tr ',' ' '); do
    record chrome_start_ms "$1" "$value"
  done
}
