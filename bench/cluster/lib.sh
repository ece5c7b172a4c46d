# shellcheck shell=bash disable=SC2154
# Functions of bench/cluster/run.sh (sourced; uses its variables: build, here, tmp, pids,
# hub_pids, seconds, grants, churn_seconds, labels, nginx_bin, redis_bin).

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url_from() {  # waits (bounded, 10 s) for the "... listening on URL" line in $1
  local _
  for _ in $(seq 200); do
    if grep -q "listening on" "$1" 2>/dev/null; then
      sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$1" | head -1
      return
    fi
    sleep 0.05
  done
  echo "no listening line in $1" >&2
  cat "${1%.out}.err" >&2 2>/dev/null || true
  exit 1
}

wait_until() {  # DESCRIPTION COMMAND...: retries COMMAND for up to 15 s
  local what=$1 _
  shift
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "gave up waiting for $what" >&2
  exit 1
}

rcli() { redis-cli -p "$redis_port" "$@"; }

# A scratch redis-server and the two fake nodes, for the whole run.
start_fixtures() {
  redis_port=$(free_port)
  mkdir -p "$tmp/redis"
  "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$tmp/redis" >"$tmp/redis/out" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  wait_until "redis-server to answer PING" rcli ping
  "$build/bench/hub/gridhub_fake_node" 1 >"$tmp/fast-node.out" &
  pids+=($!)
  "$build/bench/hub/gridhub_fake_node" 1 >"$tmp/queue-node.out" &
  pids+=($!)
  fast_node=$(url_from "$tmp/fast-node.out")
  queue_node=$(url_from "$tmp/queue-node.out")
}

start_hub() {  # NAME EXTRA_FLAGS...: starts one hub, sets $hub_url
  local name=$1
  shift
  "$build/app/gridhub" hub --server.port 0 --server.host 127.0.0.1 \
    --queue.registration-grace 0s --server.max-connections 16000 "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  hub_pids+=($!)
  hub_url=$(url_from "$tmp/$name.out")
}

dispatcher_known() {  # URL: a hub that knows a dispatcher answers /status with the grid's nodes
  curl -sf "$1/status" | grep -q '"nodes"'
}

register_nodes() {  # URL
  local slots="" i
  for ((i = 0; i < labels; i++)); do
    slots+="${slots:+,}{\"id\":\"q$i\",\"label\":\"q$i\",\"maxSessions\":1,\"stereotype\":{\"browserName\":\"qbrowser\"}}"
  done
  curl -sf -X POST "$1/nodes" -H 'Content-Type: application/json' -d "{\"id\":\"fast\",
    \"uri\":\"$fast_node\",\"healthCheck\":\"status\",
    \"slots\":[{\"id\":\"s\",\"maxSessions\":64,\"stereotype\":{\"browserName\":\"chrome\"}}]}" >/dev/null
  curl -sf -X POST "$1/nodes" -H 'Content-Type: application/json' \
    -d "{\"id\":\"queue\",\"uri\":\"$queue_node\",\"healthCheck\":\"status\",\"slots\":[$slots]}" >/dev/null
}

start_grid() {  # memory | redisN | nginx3; sets $urls (comma-separated) and $grid_pids
  local kind=$1 n=1 i first
  hub_pids=()
  nginx_pids=()
  if [[ $kind == memory ]]; then
    start_hub memory
    urls=$hub_url
  else
    n=${kind: -1}
    rcli flushall >/dev/null
    urls=""
    for ((i = 1; i <= n; i++)); do
      start_hub "$kind-$i" --hub.state "redis://127.0.0.1:$redis_port"
      urls+="${urls:+,}$hub_url"
      # The first hub takes the lease before the others start, so it is the dispatcher.
      [[ $i == 1 ]] && wait_until "hub 1 to be the dispatcher" dispatcher_known "$hub_url"
    done
  fi
  first=${urls%%,*}
  register_nodes "$first"
  for u in ${urls//,/ }; do wait_until "$u to know the dispatcher" dispatcher_known "$u"; done
  if [[ $kind == nginx* ]]; then
    start_nginx "$urls"
    urls=$nginx_url
  fi
  wait_until "the fast node to be up" sh -c "curl -sf $first/status | grep -q '\"UP\"'"
}

stop_grid() {  # [SIGNAL]: KILL after a deep queue, which hubs would otherwise fail one by one
  local pid
  for pid in "${nginx_pids[@]}" "${hub_pids[@]}"; do
    kill "-${1:-TERM}" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  hub_pids=()
  nginx_pids=()
}

start_nginx() {  # comma-separated hub URLs; sets $nginx_url and $nginx_pids
  local port servers="" u
  port=$(free_port)
  mkdir -p "$tmp/nginx"
  for u in ${1//,/ }; do servers+="    server ${u#http://};"$'\n'; done
  sed -e "s|@DIR@|$tmp/nginx|g" -e "s|@PORT@|$port|g" "$here/nginx.conf.in" |
    awk -v servers="$servers" '{ if ($0 ~ /@SERVERS@/) printf "%s", servers; else print }' \
      >"$tmp/nginx/nginx.conf"
  "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
  nginx_pids+=($!)
  pids+=($!)
  nginx_url="http://127.0.0.1:$port"
  wait_until "nginx to proxy /status" curl -sf "$nginx_url/status"
}

snapshot() {  # PHASE DIR
  SNAP_HUB_PIDS="${hub_pids[*]}" SNAP_NGINX_PIDS="${nginx_pids[*]}" SNAP_REDIS_PID=$redis_pid \
    SNAP_REDIS_PORT=$redis_port "$here/snapshot.sh" "$2" "$1"
}

measure_sessions() {  # GRID CONCURRENCY ROUND
  local dir="$tmp/s-$1-$2-$3" out
  snapshot begin "$dir"
  out=$("$build/bench/hub/hub_load" sessions "$urls" "$2" "$seconds" || true)
  snapshot end "$dir"
  echo "$1 $out"
  echo "sessions grid=$1 c=$2 round=$3 $out $(/usr/bin/python3 "$here/stats.py" step "$dir" \
    "$(sed -n 's/.*cycles=\([0-9]*\).*/\1/p' <<<"$out")")" >>"$tmp/results"
}

measure_churn() {  # GRID WAITERS ROUNDS: one queue, ROUNDS timed rounds of grants
  local dir="$tmp/c-$1-$2" line round count
  SNAP_HUB_PIDS="${hub_pids[*]}" SNAP_NGINX_PIDS="" SNAP_REDIS_PID=$redis_pid \
    SNAP_REDIS_PORT=$redis_port CHURN_HOOK="$here/snapshot.sh $dir" \
    "$build/bench/cluster/queue_churn" "$urls" "$2" "$labels" "$grants" "$3" \
    "$churn_seconds" >"$dir.out" || true
  while read -r line; do
    echo "$1 $line"
    [[ $line == churn* ]] || continue
    round=$(sed -n 's/.*round=\([0-9]*\).*/\1/p' <<<"$line")
    count=$(sed -n 's/.*grants=\([0-9]*\).*/\1/p' <<<"$line")
    echo "churn grid=$1 $line $(/usr/bin/python3 "$here/stats.py" step "$dir" "$count" "$round")" \
      >>"$tmp/results"
  done <"$dir.out"
  grep -q "round=$3 " "$dir.out" || echo "churn grid=$1 waiters=$2 incomplete=1" >>"$tmp/results"
}

summarise() {  # RESULTS
  echo "# medians over rounds"
  /usr/bin/python3 "$here/stats.py" summary "$1"
}
