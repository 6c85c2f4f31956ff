#!/usr/bin/env bash
# End-to-end scrapes of the release exporter over loopback with curl, the
# way Prometheus scrapes (Accept-Encoding: gzip), at 1k, 10k and 100k
# clients (status-version 3 from ovpn-testgen):
#   first   the first scrape after the status file changed (read, parse,
#           render, compress), median of ROUNDS changes: a new mtime on
#           the same file, or with SCRAPE_CHURN=N the file OpenVPN writes
#           10 s later (every counter grown, N clients gone and N new
#           ones; ovpn-testgen --interval), renamed into place;
#   cached  a scrape of an unchanged file, median of ROUNDS;
#           both timed with the body discarded, as a scraper keeps it in
#           memory (writing 8.8 MiB to a file took curl 10-20 ms more);
#   cpu     the exporter's CPU time (user and system) per change, over the
#           first-scrape rounds: steadier than their wall time on a
#           shared machine;
#   rss     the process's peak resident memory (VmHWM) at the end.
# SCRAPE_STEADY=S scrapes every S seconds instead, as Prometheus does, with
# the file changed halfway between two scrapes: after three scrapes the
# exporter prepares each next one (unless --web.disable-prepare-ahead), and
# "first" is the scrape that finds a rendering made ahead of it; the
# exporter's own count of scrapes served that way is printed after the row.
# Run from the repository root: bash benches/scrape.sh [ROUNDS]
# (SCRAPE_CLIENTS="1000 10000" for fewer sizes; CI runs one small round).
# SCRAPE_RATE=1gbit (as root, with iproute2) scrapes over a link of that
# rate instead of loopback, as from a Prometheus on another host: the
# exporter and curl in two network namespaces made for the run, joined by
# a veth pair shaped with tc's tbf on both ends.
set -euo pipefail
rounds=${1:-9}
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p ovpn-exporter -p ovpn-testgen
work=$(mktemp -d)
pid=
host=127.0.0.1
in_x=()
in_c=()
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if [ -n "${SCRAPE_RATE:-}" ]; then
        ip netns del "ovpnx-$$" 2>/dev/null || true
        ip netns del "ovpnc-$$" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${SCRAPE_RATE:-}" ]; then
    x=ovpnx-$$ c=ovpnc-$$
    ip netns add "$x"
    ip netns add "$c"
    ip link add "vx$$" netns "$x" type veth peer name "vc$$" netns "$c"
    ip -n "$x" addr add 10.231.0.1/24 dev "vx$$"
    ip -n "$c" addr add 10.231.0.2/24 dev "vc$$"
    ip -n "$x" link set "vx$$" up
    ip -n "$c" link set "vc$$" up
    tc -n "$x" qdisc add dev "vx$$" root tbf rate "$SCRAPE_RATE" burst 256kb latency 50ms
    tc -n "$c" qdisc add dev "vc$$" root tbf rate "$SCRAPE_RATE" burst 256kb latency 50ms
    host=10.231.0.1
    in_x=(ip netns exec "$x")
    in_c=(ip netns exec "$c")
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { awk '{ printf "%.1f", $1 * 1000 }'; }
scrape() { "${in_c[@]}" curl -s -o "${1:-/dev/null}" -H 'Accept-Encoding: gzip' -w '%{time_total}\n' "http://$host:$port/metrics"; }

# User plus system CPU time of process $1, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

printf '%-8s %10s %10s %10s %10s %8s %7s %9s\n' clients status_MiB expo_MiB gzip_MiB first_ms cached_ms cpu_ms rss_MiB
port=${SCRAPE_PORT:-29234}
for clients in ${SCRAPE_CLIENTS:-1000 10000 100000}; do
    status=$work/server.status
    "$target/release/ovpn-testgen" --version v3 --clients "$clients" > "$status"
    port=$((port + 1))
    "${in_x[@]}" "$target/release/ovpn-exporter" --status-file "udp=$status" \
        --web.listen-address "$host:$port" --log.level error &
    pid=$!
    for _ in $(seq 100); do "${in_c[@]}" curl -s -o /dev/null "http://$host:$port/" && break; sleep 0.1; done
    scrape > /dev/null
    changes=$rounds
    [ -n "${SCRAPE_STEADY:-}" ] && changes=$((rounds + 2))
    if [ -n "${SCRAPE_CHURN:-}" ]; then
        for i in $(seq "$changes"); do
            "$target/release/ovpn-testgen" --version v3 --clients "$clients" \
                --interval "$i" --churn "$SCRAPE_CHURN" > "$work/next-$i.status"
        done
    fi
    change() {
        if [ -n "${SCRAPE_CHURN:-}" ]; then
            mv "$work/next-$1.status" "$status"
        else
            touch -d "@$((1795360616 + $1))" "$status"
        fi
    }
    t0=$(ticks "$pid")
    if [ -n "${SCRAPE_STEADY:-}" ]; then
        start=$(date +%s.%N)
        # Sleeps until START + $1 intervals.
        tick() {
            sleep "$(awk -v s="$start" -v n="$1" -v p="$SCRAPE_STEADY" -v now="$(date +%s.%N)" \
                'BEGIN { d = s + n * p - now; printf "%.3f", d < 0 ? 0 : d }')"
        }
        first=$(for k in $(seq 0 "$changes"); do
            tick "$k"
            if [ "$k" -ge 3 ]; then scrape; else scrape > /dev/null; fi
            if [ "$k" -lt "$changes" ]; then tick "$k.5"; change $((k + 1)); fi
        done | median)
    else
        first=$(for i in $(seq "$rounds"); do
            change "$i"
            # Sleep past the exporter's 25 ms quiet rule.
            sleep 0.1
            scrape
        done | median)
    fi
    cpu=$(awk -v a="$t0" -v b="$(ticks "$pid")" -v n="$changes" -v hz="$hz" \
        'BEGIN { printf "%.0f", (b - a) * 1000 / hz / n }')
    cached=$(for _ in $(seq "$rounds"); do scrape; done | median)
    scrape "$work/out.gz" > /dev/null
    gz=$(stat -c %s "$work/out.gz")
    expo=$(gunzip -c "$work/out.gz" | wc -c)
    rss=$(awk '/VmHWM/ { print $2 / 1024 }' "/proc/$pid/status")
    prom=$("${in_c[@]}" curl -s "http://$host:$port/prom")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    mib() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1048576 }'; }
    printf '%-8s %10s %10s %10s %10s %8s %7s %9.0f\n' "$clients" \
        "$(mib "$(stat -c %s "$status")")" "$(mib "$expo")" "$(mib "$gz")" \
        "$(echo "$first" | ms)" "$(echo "$cached" | ms)" "$cpu" "$rss"
    if [ -n "${SCRAPE_STEADY:-}" ]; then
        echo "$prom" | awk '/^ovpn_exporter_(prepared_refreshes|scrapes_served_prepared)_total/ { printf "    %s %s\n", $1, $2 }'
    fi
done
