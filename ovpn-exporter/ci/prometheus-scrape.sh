#!/usr/bin/env bash
# A real Prometheus server (Debian's package) scrapes the exporter on
# loopback; a PromQL query must return the session count of the status
# file. Bounded: gives up after 60 s; cleans up its processes.
set -euo pipefail
cd "$(dirname "$0")/../.."
exporter=${EXPORTER:-target/release/ovpn-exporter}
status=corpus/generated/demo-v3-2.6-200-clients.status
expected=200
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$exporter" --status-file "$status" --web.listen-address 127.0.0.1:19234 >"$work/exporter.log" 2>&1 &
pids+=($!)
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: openvpn
    static_configs:
      - targets: ["127.0.0.1:19234"]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address=127.0.0.1:19090 >"$work/prometheus.log" 2>&1 &
pids+=($!)

value=""
for _ in $(seq 60); do
    sleep 1
    reply=$(curl -fsS 'http://127.0.0.1:19090/api/v1/query?query=sum(ovpn_sessions_total)' 2>/dev/null || true)
    value=$(sed -nE 's/.*"value":\[[0-9.]+,"([0-9.]+)"\].*/\1/p' <<<"$reply")
    [ -n "$value" ] && break
done
up=$(curl -fsS 'http://127.0.0.1:19090/api/v1/query?query=min(ovpn_up)' | sed -nE 's/.*"value":\[[0-9.]+,"([0-9.]+)"\].*/\1/p')
if [ "$value" = "$expected" ] && [ "$up" = 1 ]; then
    echo "prometheus scrape: 1 passed, 0 failed (sum(ovpn_sessions_total) = $value, min(ovpn_up) = $up)"
else
    echo "prometheus scrape: 0 passed, 1 failed (sum(ovpn_sessions_total) = '${value}', expected $expected; min(ovpn_up) = '${up}')"
    tail -n 20 "$work/prometheus.log" "$work/exporter.log"
    exit 1
fi
