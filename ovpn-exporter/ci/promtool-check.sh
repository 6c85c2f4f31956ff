#!/usr/bin/env bash
# Checks every exposition the exporter can produce with promtool (Debian's
# `prometheus` package): each corpus and peer status file, alone and all
# together, with the default, --no-client-metrics and --kumina-names
# families. Parse errors fail; lint warnings are allowed only for the two
# legacy names kept for compatibility with the seed exporter.
set -euo pipefail
cd "$(dirname "$0")/../.."
exporter=${EXPORTER:-target/release/ovpn-exporter}
peers=../shared/corpus/peers
mapfile -t files < <(find corpus "$peers" -type f ! -name '*.jsonl' ! -name '*.sh' ! -name '*.md' | sort)
checked=0
failed=0
check() {
    local out lint
    out=$("$exporter" --once --log.level warn "$@")
    if ! lint=$(promtool check metrics <<<"$out" 2>&1); then
        # promtool exits 1 on lint findings too: keep only unexpected ones.
        lint=$(grep -vE '^(ovpn_sessions_total|ovpn_info) ' <<<"$lint" || true)
        if [ -n "$lint" ]; then
            echo "promtool: $*"
            echo "$lint"
            failed=$((failed + 1))
        fi
    fi
    checked=$((checked + 1))
}
all=()
for f in "${files[@]}"; do
    check --status-file "$f"
    all+=(--status-file "s$checked=$f")
done
for flags in "" --no-client-metrics --kumina-names; do
    # shellcheck disable=SC2086
    check $flags "${all[@]}"
done
echo "promtool: $((checked - failed)) passed, $failed failed"
[ "$failed" = 0 ]
