#!/usr/bin/env bash
# compare-redis.sh: redis-server (Debian package) and a single-node
# gridkv-server on the same machine, measured by the same redis-benchmark
# command, alternating which goes first, several rounds. Prints every round,
# the medians and the ratio gridkv/redis (higher is better for gridkv).
#
#   tools/scripts/compare-redis.sh            # 3 rounds, 500000 requests
#   ROUNDS=5 REQUESTS=200000 tools/scripts/compare-redis.sh
#
# Needs redis-server and redis-benchmark (apt-get install -y redis-server
# redis-tools) and Go. Loopback only; ports are picked free at start.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-500000}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
DATASIZE=${DATASIZE:-64}
KEYSPACE=${KEYSPACE:-100000}
GRIDKV_FLAGS=${GRIDKV_FLAGS:-}

for tool in redis-server redis-benchmark redis-cli go; do
	command -v "$tool" >/dev/null || { echo "compare-redis.sh: $tool not found (apt-get install -y redis-server redis-tools)" >&2; exit 2; }
done

here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

(cd "$here" && go build -o "$work/gridkv-server" ./cmd/gridkv-server)

redis_port=$(free_port)
gridkv_port=$(free_port)
cluster_port=$(free_port)

redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize no \
	--dir "$work" --logfile "$work/redis.log" &
pids+=($!)
# shellcheck disable=SC2086
"$work/gridkv-server" --addr "127.0.0.1:$gridkv_port" --admin-addr "" \
	--cluster-addr "127.0.0.1:$cluster_port" --log-level warn $GRIDKV_FLAGS 2>"$work/gridkv.log" &
pids+=($!)

for port in "$redis_port" "$gridkv_port"; do
	for _ in $(seq 1 100); do
		redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null || { echo "server on port $port did not start" >&2; cat "$work"/*.log >&2; exit 1; }
done

# bench PORT -> prints "SET_RPS GET_RPS"
bench() {
	redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -P "$PIPELINE" -c "$CLIENTS" -d "$DATASIZE" \
		-r "$KEYSPACE" -n "$REQUESTS" --csv 2>/dev/null |
		awk -F'","' '/^"SET"/{s=$2} /^"GET"/{g=$2} END{gsub(/"/,"",s); gsub(/"/,"",g); print s, g}'
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

cores=$(nproc)
echo "redis-benchmark -t set,get -P $PIPELINE -c $CLIENTS -d $DATASIZE -r $KEYSPACE -n $REQUESTS; $ROUNDS rounds, alternating; cores=$cores"
echo "$(redis-server --version | awk '{print $1, $2, $3}'); gridkv-server $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
printf '| round | first | redis SET/s | gridkv SET/s | redis GET/s | gridkv GET/s |\n|---|---|---|---|---|---|\n'
: >"$work/r_set"; : >"$work/g_set"; : >"$work/r_get"; : >"$work/g_get"
for round in $(seq 1 "$ROUNDS"); do
	if ((round % 2)); then
		read -r rs rg < <(bench "$redis_port"); read -r gs gg < <(bench "$gridkv_port"); first=redis
	else
		read -r gs gg < <(bench "$gridkv_port"); read -r rs rg < <(bench "$redis_port"); first=gridkv
	fi
	echo "$rs" >>"$work/r_set"; echo "$gs" >>"$work/g_set"; echo "$rg" >>"$work/r_get"; echo "$gg" >>"$work/g_get"
	printf '| %d | %s | %s | %s | %s | %s |\n' "$round" "$first" "$rs" "$gs" "$rg" "$gg"
done
rs=$(median <"$work/r_set"); gs=$(median <"$work/g_set"); rg=$(median <"$work/r_get"); gg=$(median <"$work/g_get")
echo
printf '| median | redis-server ops/s | gridkv-server ops/s | ratio gridkv/redis |\n|---|---|---|---|\n'
awk -v rs="$rs" -v gs="$gs" -v rg="$rg" -v gg="$gg" 'BEGIN{
	printf "| SET | %.0f | %.0f | %.2f |\n", rs, gs, gs/rs
	printf "| GET | %.0f | %.0f | %.2f |\n", rg, gg, gg/rg
}'
