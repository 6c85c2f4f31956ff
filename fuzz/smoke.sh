#!/usr/bin/env bash
# Short, bounded fuzz run of every target, for CI. Run from the repository
# root: `bash fuzz/smoke.sh` (FUZZ_SECONDS per target, default 60;
# FUZZ_TARGETS to run a subset). The committed corpora are read, never grown:
# new inputs go to a temporary directory. Fails on any crash, assertion,
# timeout or out-of-memory; the input is left in fuzz/artifacts/TARGET/.
set -euo pipefail
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-parse chunked management structured exposition deflate}

if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
cargo +nightly fuzz build

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in $targets; do
    mkdir -p "$work/$t" "fuzz/corpus/$t"
    log=$work/$t.log
    # The encoder's blocks, stored blocks and window need inputs larger
    # than libFuzzer's default cap (the largest seed, at least 4 KiB), at
    # once rather than after its slow growth of the length limit.
    max_len=()
    [ "$t" = deflate ] && max_len=(-max_len=1048576 -len_control=0)
    if cargo +nightly fuzz run "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${max_len[@]}" \
        -dict=fuzz/ovpn.dict -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        failed=1
        echo "---- $t: last lines of the libFuzzer log ----"
        tail -n 60 "$log"
    fi
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    field() { sed -nE "s/.*$1 *([0-9A-Za-z/]+).*/\1/p" <<<"$last"; }
    final_stat() { sed -nE "s/^stat::$1: *([0-9]+).*/\1/p" "$log" | tail -n 1; }
    printf 'fuzz %-10s %-6s execs=%s execs/s=%s cov=%s ft=%s corpus=%s (%ss)\n' \
        "$t" "$result" "$(final_stat number_of_executed_units)" "$(final_stat average_exec_per_sec)" \
        "$(field cov:)" "$(field ft:)" "$(field corp:)" "$seconds"
done
exit "$failed"
