#!/usr/bin/env bash
# Regenerates corpus/generated/ with the project's deterministic generator.
# Then refresh the golden dumps: UPDATE_GOLDEN=1 cargo test -p ovpn-status --test corpus
set -euo pipefail
cd "$(dirname "$0")/.."
out=corpus/generated
mkdir -p "$out"
gen() { local name=$1; shift; cargo run -q --release -p ovpn-testgen -- "$@" > "$out/$name.status"; }
gen v1-2.4               --version v1 --release 2.4 --clients 8
gen v1-2.6-hostile       --version v1 --release 2.6 --clients 12 --hostile --seed 2
gen v1-2.6-management    --version v1 --release 2.6 --clients 5 --management --seed 3
gen v2-2.3               --version v2 --release 2.3 --clients 8
gen v2-2.4-ipv6          --version v2 --release 2.4 --clients 8 --ipv6
gen v2-2.6-hostile       --version v2 --release 2.6 --clients 12 --hostile --seed 4
gen v2-2.7-ipv6-crlf     --version v2 --release 2.7 --clients 8 --ipv6 --crlf
gen v3-2.5               --version v3 --release 2.5 --clients 8
gen v3-2.6-hostile-ipv6  --version v3 --release 2.6 --clients 12 --hostile --ipv6 --seed 5
gen v3-2.7-management    --version v3 --release 2.7 --clients 6 --ipv6 --management --seed 6
gen client-2.3-hostile   --version client --release 2.3 --hostile
gen client-2.6           --version client --release 2.6
# The exporter quick start in README.md serves this one.
gen demo-v3-2.6-200-clients --version v3 --release 2.6 --clients 200 --ipv6 --seed 7
