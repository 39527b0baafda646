#!/usr/bin/env bash
# compare-redis.sh: redis-server (Debian package) and a single-node
# gridkv-server on the same machine, measured by the same redis-benchmark
# command, several rounds in rotating order. Prints every round, the
# medians and the ratios gridkv/redis (higher is better for gridkv).
#
# gridkv-server is measured twice, as two processes started side by side:
#   - "1 core" (GOMAXPROCS=1): one core, as redis-server uses. On a 2-core
#     machine this leaves the other core to redis-benchmark, which is
#     single-threaded and needs all of one; this is the like-for-like
#     comparison.
#   - "all cores" (Go's default, GOMAXPROCS = number of cores): the server
#     competes with redis-benchmark for the client's core, so the figure
#     also measures that contention.
#
# Measurements are isolated from each other:
#   - On a machine with 2 or more cores, redis-benchmark is pinned to CPU 0
#     and the two single-core servers to the last CPU (taskset), so the
#     client and a server never share a core (PIN=0 turns this off). The
#     all-cores server is not pinned: using every core is what it measures.
#   - The servers not being measured are stopped (SIGSTOP) for the length
#     of a measurement and resumed after, so their background work (Go's
#     scavenger and GC, timers) never lands on a measured server's or the
#     client's core.
#   - One unmeasured pass per server (WARMUP=1) fills the key space first,
#     so that round 1's SETs insert no more keys than later rounds'.
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
WARMUP=${WARMUP:-1}
cores=$(nproc)
PIN=${PIN:-$((cores >= 2))}

tools=(redis-server redis-benchmark redis-cli go)
[ "$PIN" = 1 ] && tools+=(taskset)
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || { echo "compare-redis.sh: $tool not found (apt-get install -y redis-server redis-tools)" >&2; exit 2; }
done

here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# Command prefixes that pin the client and the single-core servers.
pin_client=() pin_server=()
if [ "$PIN" = 1 ]; then
	pin_client=(taskset -c 0)
	pin_server=(taskset -c "$((cores - 1))")
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

(cd "$here" && go build -o "$work/gridkv-server" ./cmd/gridkv-server)

redis_port=$(free_port)
gridkv_port=$(free_port)
cluster_port=$(free_port)
gridkv_all_port=$(free_port)
cluster_all_port=$(free_port)

"${pin_server[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize no \
	--dir "$work" --logfile "$work/redis.log" &
pids+=($!)
# shellcheck disable=SC2086
GOMAXPROCS=1 "${pin_server[@]}" "$work/gridkv-server" --addr "127.0.0.1:$gridkv_port" --admin-addr "" \
	--cluster-addr "127.0.0.1:$cluster_port" --log-level warn $GRIDKV_FLAGS 2>"$work/gridkv.log" &
pids+=($!)
# shellcheck disable=SC2086
env -u GOMAXPROCS "$work/gridkv-server" --addr "127.0.0.1:$gridkv_all_port" --admin-addr "" \
	--cluster-addr "127.0.0.1:$cluster_all_port" --log-level warn $GRIDKV_FLAGS 2>"$work/gridkv-all.log" &
pids+=($!)

for port in "$redis_port" "$gridkv_port" "$gridkv_all_port"; do
	for _ in $(seq 1 100); do
		redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null || { echo "server on port $port did not start" >&2; cat "$work"/*.log >&2; exit 1; }
done

# bench PORT -> prints "SET_RPS GET_RPS"
bench() {
	"${pin_client[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -P "$PIPELINE" -c "$CLIENTS" -d "$DATASIZE" \
		-r "$KEYSPACE" -n "$REQUESTS" --csv 2>/dev/null |
		awk -F'","' '/^"SET"/{s=$2} /^"GET"/{g=$2} END{gsub(/"/,"",s); gsub(/"/,"",g); print s, g}'
}

# cpu_ns PID -> CPU time the process's threads have used, in nanoseconds
# (0 where /proc/PID/task/*/schedstat is missing).
cpu_ns() {
	local f a rest sum=0
	for f in /proc/"$1"/task/*/schedstat; do
		read -r a rest <"$f" 2>/dev/null && sum=$((sum + a))
	done
	echo "$sum"
}

# measure I -> "SET_RPS GET_RPS CPU_NS_PER_REQUEST" for server I (0 redis,
# 1 gridkv 1 core, 2 gridkv all cores), with the other two stopped
# meanwhile. CPU per request is the server's CPU time over the SET and GET
# runs divided by their requests. It moves less than requests per second
# when the single-threaded client is the bottleneck, but it is not immune:
# a server that waits for its client sleeps and wakes more per request.
measure() {
	local j c0 c1 rps
	for j in 0 1 2; do [ "$j" = "$1" ] || kill -STOP "${pids[$j]}"; done
	c0=$(cpu_ns "${pids[$1]}")
	rps=$(bench "${ports[$1]}")
	c1=$(cpu_ns "${pids[$1]}")
	for j in 0 1 2; do [ "$j" = "$1" ] || kill -CONT "${pids[$j]}"; done
	echo "$rps $(((c1 - c0) / (2 * REQUESTS)))"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

echo "redis-benchmark -t set,get -P $PIPELINE -c $CLIENTS -d $DATASIZE -r $KEYSPACE -n $REQUESTS; $ROUNDS rounds, rotating order; cores=$cores"
echo "$(redis-server --version | awk '{print $1, $2, $3}'); gridkv-server $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "gridkv 1 core: GOMAXPROCS=1; gridkv all cores: GOMAXPROCS=$cores (Go's default)"
if [ "$PIN" = 1 ]; then
	echo "pinned: redis-benchmark on CPU 0, redis-server and gridkv 1 core on CPU $((cores - 1)); idle servers stopped while one is measured"
else
	echo "not pinned; idle servers stopped while one is measured"
fi
echo
printf '| round | first | redis SET/s | gridkv 1 core SET/s | gridkv all cores SET/s | redis GET/s | gridkv 1 core GET/s | gridkv all cores GET/s | server CPU ns/request: redis | gridkv 1 core | gridkv all cores |\n|---|---|---|---|---|---|---|---|---|---|---|\n'
names=(redis gridkv gridkv_all)
ports=("$redis_port" "$gridkv_port" "$gridkv_all_port")
for n in "${names[@]}"; do : >"$work/$n.set"; : >"$work/$n.get"; : >"$work/$n.cpu"; done
if [ "$WARMUP" = 1 ]; then
	for i in 0 1 2; do measure "$i" >/dev/null; done
fi
for round in $(seq 1 "$ROUNDS"); do
	first=$(( (round - 1) % 3 ))
	declare -A set_rps get_rps cpu
	for k in 0 1 2; do
		i=$(( (first + k) % 3 ))
		read -r set_rps[$i] get_rps[$i] cpu[$i] < <(measure "$i")
		echo "${set_rps[$i]}" >>"$work/${names[$i]}.set"
		echo "${get_rps[$i]}" >>"$work/${names[$i]}.get"
		echo "${cpu[$i]}" >>"$work/${names[$i]}.cpu"
	done
	printf '| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$round" "${names[$first]}" \
		"${set_rps[0]}" "${set_rps[1]}" "${set_rps[2]}" "${get_rps[0]}" "${get_rps[1]}" "${get_rps[2]}" \
		"${cpu[0]}" "${cpu[1]}" "${cpu[2]}"
done
echo
printf '| median | redis-server ops/s | gridkv 1 core ops/s | ratio | gridkv all cores ops/s | ratio |\n|---|---|---|---|---|---|\n'
for op in set get; do
	r=$(median <"$work/redis.$op"); g=$(median <"$work/gridkv.$op"); a=$(median <"$work/gridkv_all.$op")
	awk -v op="${op^^}" -v r="$r" -v g="$g" -v a="$a" 'BEGIN{ printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f |\n", op, r, g, g/r, a, a/r }'
done
r=$(median <"$work/redis.cpu"); g=$(median <"$work/gridkv.cpu"); a=$(median <"$work/gridkv_all.cpu")
if [ "$r" -gt 0 ] 2>/dev/null; then
	echo
	echo "Server CPU per request (SET and GET runs together, all threads; lower is better; ratio = redis ÷ gridkv, higher is better for gridkv):"
	echo
	printf '| median | redis-server ns | gridkv 1 core ns | ratio | gridkv all cores ns | ratio |\n|---|---|---|---|---|---|\n'
	awk -v r="$r" -v g="$g" -v a="$a" 'BEGIN{ printf "| CPU/request | %.0f | %.0f | %.2f | %.0f | %.2f |\n", r, g, r/g, a, r/a }'
fi
