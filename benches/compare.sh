#!/usr/bin/env bash
# ovpn-status beside the other parsers of OpenVPN status output, on the same
# generated files, in one table:
#   openvpn-mgmt-codec      Rust (crates.io), through criterion: the `peers`
#                           bench, which also times ovpn-status on the same
#                           bytes (benches/benches/peers.rs says what each
#                           measurement covers);
#   openvpn-status          Python (PyPI), status-version 1 only;
#   openvpn-status-reader   Python (PyPI), status-version 1 only;
# timed by benches/compare.py, each in its own venv (both install the import
# package `openvpn_status`). Peak RSS of one parse of the largest files comes
# from `examples/peers.rs rss` (Rust) and the Python workers.
#
# Inputs (ovpn-testgen, seed 42, in a temporary directory, deleted at exit):
#   v1-2.4         status-version 1 as OpenVPN 2.4 writes it (ctime dates):
#                  the one document all four parsers read
#   v1, v2, v3     status-version 1, 2, 3 as OpenVPN 2.6 writes them
#   v3-management  a `status 3` reply from the management interface (CRLF,
#                  `>INFO` banner, `>BYTECOUNT_CLI` notifications between rows)
#
# Run from anywhere: bash benches/compare.sh
# Needs Rust and python3 (with venv; python3-venv is installed with apt-get
# only if `python3 -m venv` fails) and network access for pip.
# Environment:
#   COMPARE_CLIENTS  sizes, default "1000 10000 100000"
#   COMPARE_RUNS     runs per file of each Python parser (median), default 5
#   COMPARE_VENVS    where the venvs are made, default $TMPDIR/ovpn-status-compare-venvs
#                    (kept, so a second run skips pip)
#   CARGO_TARGET_DIR as for cargo; criterion writes to $CARGO_TARGET_DIR/criterion
# Takes about 8 minutes here at the default sizes once built (2 busy cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
clients=${COMPARE_CLIENTS:-1000 10000 100000}
runs=${COMPARE_RUNS:-5}
venvs=${COMPARE_VENVS:-${TMPDIR:-/tmp}/ovpn-status-compare-venvs}
target=${CARGO_TARGET_DIR:-$root/target}
inputs="v1-2.4 v1 v2 v3 v3-management"
largest=${clients##* }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*" >&2; }

step "building ovpn-testgen and the peers example"
cargo build -q --release -p ovpn-testgen
cargo build -q --release -p benches --example peers

step "generating inputs ($clients clients) in $work"
gen() { # name clients testgen-args...
    "$target/release/ovpn-testgen" --seed 42 --clients "$2" "${@:3}" > "$work/$1-$2.status"
}
for n in $clients; do
    gen v1-2.4 "$n" --version v1 --release 2.4
    gen v1 "$n" --version v1 --release 2.6
    gen v2 "$n" --version v2 --release 2.6
    gen v3 "$n" --version v3 --release 2.6
    gen v3-management "$n" --version v3 --release 2.6 --management
done
ls -l "$work" >&2

step "criterion: ovpn-status and openvpn-mgmt-codec (cargo bench -p benches --bench peers)"
OVPN_PEERS_DIR=$work OVPN_PEERS_CLIENTS=$clients cargo bench -q -p benches --bench peers >&2

step "peak RSS of one parse of the $largest-client files (Rust)"
for name in $inputs; do
    for parser in ovpn-status openvpn-mgmt-codec; do
        "$target/release/examples/peers" rss "$parser" "$work/$name-$largest.status" >> "$work/rss.jsonl"
    done
done

step "Python venvs in $venvs"
mkvenv() { # dir requirements
    if [ ! -x "$1/bin/python" ]; then
        if ! python3 -m venv "$1"; then
            rm -rf "$1"
            sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
            $sudo apt-get update -q
            $sudo apt-get install -y python3-venv
            python3 -m venv "$1"
        fi
    fi
    "$1/bin/pip" install -q --disable-pip-version-check -r "$2"
}
for lib in openvpn-status openvpn-status-reader; do
    mkvenv "$venvs/$lib" "benches/requirements-$lib.txt"
done

step "Python parsers, median of $runs runs per file"
for lib in openvpn-status openvpn-status-reader; do
    python3 benches/compare.py time --lib "$lib" --python "$venvs/$lib/bin/python" \
        --dir "$work" --inputs "$inputs" --clients "$clients" --runs "$runs" > "$work/$lib.jsonl"
done

step "result"
printf '%s, commit %s%s; %s; %s; %s cores (%s), load average %s\n\n' \
    "$(date -u +%Y-%m-%d)" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')" \
    "$(rustc --version)" "$(python3 --version)" "$(nproc)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 benches/compare.py table --dir "$work" --inputs "$inputs" --clients "$clients" \
    --criterion "$target/criterion" --rust-rss "$work/rss.jsonl" \
    --python-results "$work/openvpn-status.jsonl" "$work/openvpn-status-reader.jsonl"
