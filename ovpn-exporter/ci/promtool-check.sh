#!/usr/bin/env bash
# Checks every exposition the exporter can produce with promtool (Debian's
# `prometheus` package): each corpus and peer status file, alone and all
# together, with the default, --no-client-metrics and --kumina-names
# families (per connection and per common name), with --labels.redact drop and hash, and the process metrics a
# running exporter serves on /prom. Parse errors fail; lint warnings are
# allowed only for the two legacy names kept for compatibility with the
# seed exporter. A missing or empty corpus fails: a check of nothing must
# not pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
exporter=${EXPORTER:-target/release/ovpn-exporter}
peers=../shared/corpus/peers
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The status files of a corpus directory, one a line; fails loudly if the
# directory is missing, cannot be listed or holds none (a process
# substitution would hide find's failure and leave the list silently
# short, and `set -e` does not reach into a command substitution).
corpus_files() {
    local dir=$1 list
    if [ ! -d "$dir" ]; then
        echo "promtool: 0 passed, 1 failed (corpus directory $dir is missing)" >&2
        exit 1
    fi
    if ! list=$(find "$dir" -type f ! -name '*.jsonl' ! -name '*.sh' ! -name '*.md' | sort); then
        echo "promtool: 0 passed, 1 failed (corpus directory $dir cannot be listed)" >&2
        exit 1
    fi
    if [ -z "$list" ]; then
        echo "promtool: 0 passed, 1 failed (corpus directory $dir holds no status files)" >&2
        exit 1
    fi
    printf '%s\n' "$list"
}
own=$(corpus_files corpus)
peer=$(corpus_files "$peers")
mapfile -t files < <(printf '%s\n%s\n' "$own" "$peer" | sort)

checked=0
failed=0
# Lints an exposition on stdin; $* names it in a failure.
lint() {
    local out
    if ! out=$(promtool check metrics 2>&1); then
        # promtool exits 1 on lint findings too: keep only unexpected ones.
        out=$(grep -vE '^(ovpn_sessions_total|ovpn_info) ' <<<"$out" || true)
        if [ -n "$out" ]; then
            echo "promtool: $*"
            echo "$out"
            failed=$((failed + 1))
        fi
    fi
    checked=$((checked + 1))
}
check() {
    local out
    if ! out=$("$exporter" --once --log.level warn "$@"); then
        echo "promtool: the exporter failed: $*"
        failed=$((failed + 1))
        checked=$((checked + 1))
        return
    fi
    lint "$@" <<<"$out"
}
all=()
for f in "${files[@]}"; do
    check --status-file "$f"
    all+=(--status-file "s$checked=$f")
done
for flags in "" --no-client-metrics --kumina-names \
    "--kumina-names --kumina-names.ignore-individuals"; do
    # shellcheck disable=SC2086
    check $flags "${all[@]}"
done
# Redacted labels: dropped fields merge series, pseudonyms replace values.
head -c 32 /dev/urandom >"$work/hash.key"
for redact in drop hash; do
    opts=(--labels.redact "$redact")
    if [ "$redact" = hash ]; then
        opts+=(--labels.hash-key-file "$work/hash.key")
    fi
    for flags in "" --kumina-names "--kumina-names --kumina-names.ignore-individuals"; do
        # shellcheck disable=SC2086
        check "${opts[@]}" $flags "${all[@]}"
    done
done

# /prom: the process metrics, from a running server on an ephemeral
# loopback port (read back from its "listening" log line).
"$exporter" --status-file "${files[0]}" --web.listen-address 127.0.0.1:0 \
    --log.level info >"$work/exporter.log" 2>&1 &
server=$!
port=""
for _ in $(seq 100); do
    port=$(sed -nE 's/.*listening address=127\.0\.0\.1:([0-9]+).*/\1/p' "$work/exporter.log")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "promtool: /prom: the exporter did not start listening within 10 s"
    cat "$work/exporter.log"
    failed=$((failed + 1))
    checked=$((checked + 1))
elif ! prom=$(curl -fsS --max-time 10 "http://127.0.0.1:$port/prom"); then
    echo "promtool: /prom: the request failed"
    failed=$((failed + 1))
    checked=$((checked + 1))
elif ! grep -q '^process_start_time_seconds ' <<<"$prom"; then
    echo "promtool: /prom: no process_start_time_seconds in the reply"
    failed=$((failed + 1))
    checked=$((checked + 1))
else
    lint /prom <<<"$prom"
fi

echo "promtool: $((checked - failed)) passed, $failed failed"
[ "$failed" = 0 ]
