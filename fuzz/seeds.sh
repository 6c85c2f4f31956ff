#!/usr/bin/env bash
# Regenerates the seed corpora from ovpn-testgen and the inputs in corpus/
# (run from the repository root), REPLACING fuzz/corpus/{parse,chunked,management,exposition}.
# The committed corpora are these seeds plus what fuzzing found, after
# a short run and `cargo +nightly fuzz cmin`; see fuzz/README.md.
set -euo pipefail
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
gen() { name=$1; shift; cargo run -q -p ovpn-testgen -- "$@" > "$seeds/gen-$name"; }
gen v1 --version v1 --clients 2
gen v1-24-hostile --version v1 --release 2.4 --clients 3 --hostile --seed 3
gen v2 --version v2 --clients 2
gen v2-23-hostile --version v2 --release 2.3 --clients 3 --hostile --seed 5
gen v2-27-ipv6-hostile --version v2 --release 2.7 --clients 3 --ipv6 --hostile
gen v3-25-hostile-crlf --version v3 --release 2.5 --clients 3 --hostile --crlf --seed 7
gen client-hostile --version client --hostile
gen v2-management --version v2 --clients 3 --management --seed 2
hand() { printf "$2" > "$seeds/hand-$1"; }
hand v2-commas 'TIME,now\nHEADER,CLIENT_LIST,Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\nCLIENT_LIST,a,,b,1.2.3.4:1,0,0,x\nEND\n'
hand client-tap-crlf 'OpenVPN STATISTICS\r\nUpdated,x\r\nTAP-WIN32 driver status,"a,b"\r\nEND'
hand v3-errors 'TITLE\tx\nHEADER\tERRORS\tx\nERRORS\t1\nEND\nHEADER,ERRORS,x\n'
hand notification-first '>INFO:x\n\nEND\n'
find corpus -type f -size -4097c ! -name '*.jsonl' ! -name '*.sh' -print0 |
    while IFS= read -r -d '' f; do cp "$f" "$seeds/$(basename "$f")"; done
for t in parse chunked management exposition; do
    rm -rf "fuzz/corpus/$t"
    mkdir -p "fuzz/corpus/$t"
done
for f in "$seeds"/*; do
    name=$(basename "$f")
    cp "$f" "fuzz/corpus/parse/$name"
    # chunked: 3 chunk sizes (7, 1, 64), then the document.
    { printf '\003\007\001\100'; cat "$f"; } > "fuzz/corpus/chunked/$name"
    # management: 2 notifications (before lines 1 and 4), then the document.
    { printf '\002\000\000\003\001'; cat "$f"; } > "fuzz/corpus/management/$name"
    # exposition: 3 sources, the second one down, every collector.
    { printf '\102'; cat "$f"; } > "fuzz/corpus/exposition/$name"
done
# exposition, generator mode (flags bit 7): version, release, clients,
# ipv6/crlf/management bits, then the seed.
for v in 0 1 2 3; do
    printf "\\20$v\\00$v\\003\\04$v\\00$v\\021\\042\\063\\104\\125\\146\\167\\010" > "fuzz/corpus/exposition/gen-v$v"
done
