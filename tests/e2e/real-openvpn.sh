#!/usr/bin/env bash
# End to end against real OpenVPN (issue 8): real servers and clients in
# network namespaces, their status files and management replies parsed by
# the `dump` example, the exporter and a real Prometheus reading them, and
# a churn phase with clients coming and going while the files are read.
#
# Run as root from anywhere (CI: from the repository root) on Debian 12:
#   bash tests/e2e/real-openvpn.sh
# It installs what it lacks (openvpn, iproute2, openssl, iputils-ping,
# python3; `prometheus` comes from CI's own install step) and builds the
# exporter and the dump example (honouring CARGO_TARGET_DIR). It changes
# nothing in the repository unless E2E_CAPTURE=DIR is set (relative to the
# repository root), which writes fresh captures for corpus/real/ into DIR.
# About 50 s once installed and built; the helper beside it,
# real_openvpn.py, does the reading and checking.
#
# The world it builds (all names and addresses private to its namespaces):
#
#   ns ovpne2e-PID-srv  10.200.0.1 fd00:99::1 ──veth── 10.200.0.2 fd00:99::2  ns ovpne2e-PID-cli
#     server "udp"    udp6 (dual stack) :1194  status-version 2  10.8.1.0/24 + fd00:8:1::/64
#                     8 clients, one over IPv6, one with iroute 192.168.77.0/24 + fd00:77::/64
#     server "tcp"    tcp4 :1195               status-version 3  10.8.2.0/24, duplicate-cn
#                     9 clients, two of them with the same common name
#     server "udpv1"  udp4 :1196               status-version 1  10.8.3.0/24
#                     9 clients, one with iroute 192.168.78.0/24
#   Each server: `status FILE 1`, a management unix socket, client-config-dir.
#   Each steady client binds a fixed port (lport), so its Real Address is
#   known in advance; one client also writes a client-mode status file.
#   Then: the exporter and a real Prometheus on loopback (root namespace);
#   a TCP connection held before TLS (OpenVPN lists it as UNDEF); churn:
#   two more clients per server connect and disconnect in a loop for 30 s
#   while the status files are read as fast as possible; meanwhile
#   Prometheus scrapes every second, and the exporter refreshes ahead of
#   its scrapes.
#
# Every check prints `ok ...` or `FAIL ... : reason`; the last line is
# `real openvpn e2e: N/M checks passed`; the exit status is non-zero if any
# check failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

started=$SECONDS
helper=$PWD/tests/e2e/real_openvpn.py
target=${CARGO_TARGET_DIR:-$PWD/target}
ns_srv=ovpne2e-$$-srv
ns_cli=ovpne2e-$$-cli
srv_ip=10.200.0.1
cli_ip=10.200.0.2
srv_ip6=fd00:99::1
cli_ip6=fd00:99::2
churn_seconds=30
# Per server: its port, and N of its address pool 10.8.N.0/24 (the server
# itself is 10.8.N.1). The udp server also has fd00:8:1::/64.
declare -A port=([udp]=1194 [tcp]=1195 [udpv1]=1196)
declare -A pool=([udp]=1 [tcp]=2 [udpv1]=3)
work=""
summarized=""
pids=()
passed=0
total=0

step() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - started)); }
ok() { echo "ok   $*"; passed=$((passed + 1)); total=$((total + 1)); }
fail() { echo "FAIL $*"; total=$((total + 1)); }

# Runs a helper subcommand; each `ok`/`FAIL` line it prints is one check,
# and a crash of the helper is one failed check. In the background, because
# `wait` (unlike a foreground command) lets INT/TERM through at once.
py() {
    local line rc=0
    python3 -u "$helper" --work "$work" --dump "$target/release/examples/dump" \
        --exporter "$target/release/ovpn-exporter" "$@" >"$work/helper.out" &
    pids+=($!)
    wait $! || rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) ok "${line#ok }" ;;
            "FAIL "*) fail "${line#FAIL }" ;;
            *) echo "$line" ;;
        esac
    done <"$work/helper.out"
    [ $rc = 0 ] || fail "helper \`$1\` crashed (exit $rc)"
}

# ------------------------------------------------------------ setup

install_packages() {
    local need=()
    command -v openvpn >/dev/null || need+=(openvpn)
    command -v ip >/dev/null || need+=(iproute2)
    command -v openssl >/dev/null || need+=(openssl)
    command -v ping >/dev/null || need+=(iputils-ping)
    command -v python3 >/dev/null || need+=(python3)
    command -v prometheus >/dev/null || need+=(prometheus)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # A bare container may lack the tun device node.
    if [ ! -c /dev/net/tun ]; then
        mkdir -p /dev/net
        mknod /dev/net/tun c 10 200
    fi
    openvpn --version | head -n 1
}

build() {
    cargo build -q --release -p ovpn-exporter
    cargo build -q --release -p ovpn-status --example dump --features std
}

# A throwaway CA; ECDSA P-256 keeps the few dozen certificates fast. The
# extended key usages are what `remote-cert-tls server|client` demand.
make_ca() {
    local d=$work/pki
    mkdir -p "$d"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj "/CN=ovpn-e2e CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    issue server "ovpn-e2e server" serverAuth
}

# issue FILE COMMON_NAME EKU: a key and a certificate signed by the CA.
issue() {
    local d=$work/pki
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 \
        -keyout "$d/$1.key" -subj "/CN=$2" 2>/dev/null |
        openssl x509 -req -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -CAserial "$d/ca.srl" \
            -days 2 -out "$d/$1.crt" 2>/dev/null \
            -extfile <(printf 'keyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=%s\n' "$3")
}

make_netns() {
    ip netns add "$ns_srv"
    ip netns add "$ns_cli"
    ip link add "oe$$s" netns "$ns_srv" type veth peer name "oe$$c" netns "$ns_cli"
    ip -n "$ns_srv" addr add "$srv_ip/24" dev "oe$$s"
    ip -n "$ns_cli" addr add "$cli_ip/24" dev "oe$$c"
    # nodad: the addresses are usable at once, not after duplicate detection.
    ip -n "$ns_srv" addr add "$srv_ip6/64" dev "oe$$s" nodad
    ip -n "$ns_cli" addr add "$cli_ip6/64" dev "oe$$c" nodad
    for ns in "$ns_srv" "$ns_cli"; do
        ip -n "$ns" link set lo up
    done
    ip -n "$ns_srv" link set "oe$$s" up
    ip -n "$ns_cli" link set "oe$$c" up
}

# server_conf NAME PROTO STATUS_VERSION [EXTRA_CONFIG_LINES]
# Writes a server's config (add_client appends its routes) and plan line.
server_conf() {
    local name=$1 proto=$2 version=$3 extra=${4:-} d=$work/server-$1
    mkdir -p "$d/ccd"
    cat >"$d/server.conf" <<EOF
port ${port[$name]}
proto $proto
dev ts$name
dev-type tun
topology subnet
server 10.8.${pool[$name]}.0 255.255.255.0
ca $work/pki/ca.crt
cert $work/pki/server.crt
key $work/pki/server.key
dh none
remote-cert-tls client
keepalive 10 60
client-config-dir $d/ccd
status $d/status 1
status-version $version
management $d/mgmt.sock unix$([ "$name" = tcp ] && echo " $work/mgmt-password")
# Kernel data-channel offload would need the ovpn-dco module; the test is
# about the userspace status output, the same with or without it.
disable-dco
verb 3
log $d/openvpn.log
$extra
EOF
    local ipv6=0
    case $extra in *server-ipv6*) ipv6=1 ;; esac
    printf 'server\t%s\t%s\t%s\t%s\t%s\n' "$name" "$version" "$d/status" "$d/mgmt.sock" "$ipv6" \
        >>"$work/plan.tsv"
}

# client_conf FILE DEV SERVER TRANSPORT CERT [EXTRA_CONFIG_LINES]
client_conf() {
    local remote=$srv_ip
    [ "$4" = udp6 ] && remote=$srv_ip6
    cat >"$1" <<EOF
client
dev $2
dev-type tun
proto $4
remote $remote ${port[$3]}
ca $work/pki/ca.crt
cert $work/pki/$5.crt
key $work/pki/$5.key
remote-cert-tls server
connect-retry 1 1
disable-dco
verb 3
${6:-}
EOF
    # UDP: tell the server at once when leaving (churn); TCP closes anyway.
    [ "$4" != tcp4 ] && echo "explicit-exit-notify 1" >>"$1"
    true
}

n_clients=0
n_churn=0
# add_client SERVER COMMON_NAME TRANSPORT [IROUTE4 [IROUTE6 [LEARNED]]] [status]
# A steady client: its own certificate, tun device tcNN and local port
# 410NN, so the server's Real Address for it is known before it connects.
add_client() {
    local server=$1 cn=$2 transport=$3 iroute4=${4:--} iroute6=${5:--} learned=${6:--} status=${7:-}
    n_clients=$((n_clients + 1))
    local id dev lport real routes="-" status_path="-" extra
    id=$(printf 'c%02d' $n_clients)
    dev=tc${id#c}
    lport=$((41000 + n_clients))
    issue "$id" "$cn" clientAuth
    # OpenVPN 2.6 prints an IPv4 peer as IPv4:port (also on a dual-stack
    # socket) and an IPv6 peer as the bare address, without its port.
    real=$cli_ip:$lport
    [ "$transport" = udp6 ] && real=$cli_ip6
    extra=$(printf 'lport %s\nbind' "$lport")
    if [ -n "$status" ]; then
        status_path=$work/client-$dev.status
        extra+=$'\n'"status $status_path 1"
    fi
    client_conf "$work/$id.conf" "$dev" "$server" "$transport" "$id" "$extra"
    if [ "$iroute4" != - ]; then
        routes=$iroute4
        iroute_line "$iroute4" >>"$work/server-$server/ccd/$cn"
        route_line "$iroute4" >>"$work/server-$server/server.conf"
    fi
    if [ "$iroute6" != - ]; then
        routes+=",$iroute6"
        echo "iroute-ipv6 $iroute6" >>"$work/server-$server/ccd/$cn"
        echo "route-ipv6 $iroute6" >>"$work/server-$server/server.conf"
    fi
    printf 'client\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$cn" "$dev" "$real" "$routes" \
        "$learned" "$status_path" >>"$work/plan.tsv"
}

# 192.168.77.0/24 -> "iroute 192.168.77.0 255.255.255.0" (only /24 here)
iroute_line() { echo "iroute ${1%/24} 255.255.255.0"; }
route_line() { echo "route ${1%/24} 255.255.255.0"; }

# add_churn SERVER COMMON_NAME TRANSPORT: a client that comes and goes.
# nobind: several of them share the namespace, and an unbound client
# would take port 1194.
add_churn() {
    n_churn=$((n_churn + 1))
    local id=ch$n_churn
    issue "$id" "$2" clientAuth
    client_conf "$work/$id.conf" "$id" "$1" "$3" "$id" nobind
    printf 'churn\t%s\t%s\n' "$1" "$2" >>"$work/plan.tsv"
}

# The steady clients. Names include a comma and space (v1/v2 rows get more
# fields than their header) and 2- and 4-byte UTF-8.
plan_clients() {
    add_client udp "Doe, John" udp4
    add_client udp gw-site1 udp4 192.168.77.0/24 fd00:77::/64 192.168.77.1C
    add_client udp alice udp4 - - - status
    for cn in bob carol dave erin; do add_client udp "$cn" udp4; done
    add_client udp v6peer udp6
    add_client tcp shared tcp4
    add_client tcp shared tcp4
    add_client tcp "Zoë 🚀" tcp4
    for cn in frank grace heidi ivan judy mallory; do add_client tcp "$cn" tcp4; done
    add_client udpv1 "Roe, Jane" udp4
    add_client udpv1 gw-site3 udp4 192.168.78.0/24
    for cn in niaj olivia peggy rupert sybil trent victor; do add_client udpv1 "$cn" udp4; done
    add_churn udp churn-u1 udp4
    add_churn udp churn-u2 udp4
    add_churn tcp churn-t1 tcp4
    add_churn tcp churn-t2 tcp4
    add_churn udpv1 churn-v1 udp4
    add_churn udpv1 churn-v2 udp4
    client_mode_dev=$(awk -F'\t' '$1 == "client" && $8 != "-" { print $4 }' "$work/plan.tsv")
}

start_servers() {
    local conf
    for conf in "$work"/server-*/server.conf; do
        ip netns exec "$ns_srv" openvpn --config "$conf" &
        pids+=($!)
    done
}

start_clients() {
    local conf
    for conf in "$work"/c[0-9][0-9].conf; do
        ip netns exec "$ns_cli" openvpn --config "$conf" --log "${conf%.conf}.log" &
        pids+=($!)
    done
}

# ------------------------------------------------------------ traffic

# Pings every steady client's server through its own tunnel (bound to its
# tun device: all clients share one namespace), IPv4 and, on the IPv6
# server, IPv6; then from inside gw-site1's iroute subnet, so the server
# learns a host route there (the `C` routes of the routing table).
traffic() {
    local server cn dev rest ping_pids=() failed=0 n=0 p
    while IFS=$'\t' read -r kind server cn dev rest; do
        [ "$kind" = client ] || continue
        ip netns exec "$ns_cli" ping -q -c 3 -i 0.2 -W 2 -I "$dev" "10.8.${pool[$server]}.1" >/dev/null &
        ping_pids+=($!)
        if [ "$server" = udp ]; then
            ip netns exec "$ns_cli" ping -6 -q -c 3 -i 0.2 -W 2 -I "$dev" fd00:8:1::1 >/dev/null &
            ping_pids+=($!)
        fi
    done <"$work/plan.tsv"
    for p in "${ping_pids[@]}"; do
        n=$((n + 1))
        wait "$p" || failed=$((failed + 1))
    done
    if [ $failed = 0 ]; then
        ok "traffic: all $n pings through the tunnels answered (IPv4 and IPv6)"
    else
        fail "traffic: $failed of $n pings through the tunnels unanswered"
    fi
    local gw
    gw=$(awk -F'\t' '$1 == "client" && $3 == "gw-site1" { print $4 }' "$work/plan.tsv")
    ip -n "$ns_cli" addr add 192.168.77.1/32 dev "$gw"
    # Source routing: packets from the subnet address leave through gw-site1's tunnel.
    ip -n "$ns_cli" rule add from 192.168.77.1 table 77
    ip -n "$ns_cli" route add "10.8.${pool[udp]}.0/24" dev "$gw" table 77
    if ip netns exec "$ns_cli" ping -q -c 2 -i 0.2 -W 2 -I 192.168.77.1 "10.8.${pool[udp]}.1" >/dev/null; then
        ok "traffic: ping from inside gw-site1's iroute subnet answered"
    else
        fail "traffic: ping from inside gw-site1's iroute subnet unanswered"
    fi
}

# ------------------------------------------------------------ exporter, Prometheus

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (at most 30 s).
wait_port() {
    local _
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

start_exporter() {
    exporter_port=$(free_port)
    local args=() name
    for name in udp tcp udpv1; do
        args+=(--status-file "$name=$work/server-$name/status")
    done
    args+=(--status-file "client-$client_mode_dev=$work/client-$client_mode_dev.status")
    "$target/release/ovpn-exporter" "${args[@]}" --web.listen-address "127.0.0.1:$exporter_port" \
        >"$work/exporter.log" 2>&1 &
    pids+=($!)
    wait_port "$exporter_port" || fail "exporter: not listening on 127.0.0.1:$exporter_port after 30 s"
}

# The same numbers from a second exporter reading the management interfaces
# live. Stopped afterwards: an interface serves one client at a time, and
# the later steps use the interfaces too.
management_exporter() {
    local port pid args=() name
    port=$(free_port)
    for name in udp tcp udpv1; do
        args+=(--management "$name=unix:$work/server-$name/mgmt.sock")
    done
    args+=(--management.password-file "$work/mgmt-password")
    "$target/release/ovpn-exporter" "${args[@]}" --web.listen-address "127.0.0.1:$port" \
        >"$work/exporter-management.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    if wait_port "$port"; then
        # The exporter read every interface at startup, and reuses a reply
        # younger than 1 s: wait that out, so that the scrape asks live and
        # its counters are at least those of the files read just before.
        sleep 1.2
        py exporter --management --url "http://127.0.0.1:$port/metrics"
    else
        fail "exporter (management): not listening on 127.0.0.1:$port after 30 s"
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # A wrong password: OpenVPN prompts again rather than answering with an
    # error; the exporter must count a refusal, not wait out its timeout.
    echo "not the secret" >"$work/wrong-password"
    local out
    out=$("$target/release/ovpn-exporter" --once --log.level error \
        --management "tcp=unix:$work/server-tcp/mgmt.sock" \
        --management.password-file "$work/wrong-password")
    if grep -qx 'ovpn_up{source="tcp"} 0' <<<"$out" &&
        grep -qx 'ovpn_exporter_read_errors_total{source="tcp",reason="unreachable"} 1' <<<"$out"; then
        ok "exporter (management): a wrong password is counted as refused (unreachable), not as a timeout"
    else
        fail "exporter (management): wrong password: $(grep -E '^ovpn_(up|exporter_read_errors_total)\{source="tcp"' <<<"$out" | tr '\n' ' ')"
    fi
}

start_prometheus() {
    prometheus_port=$(free_port)
    cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: openvpn
    static_configs:
      - targets: ["127.0.0.1:$exporter_port"]
EOF
    prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
        --web.listen-address="127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &
    pids+=($!)
}

# A TCP connection to the tcp server that never starts TLS, held for at most
# 20 s: OpenVPN lists such a connection (seen first during churn).
handshake() {
    ip netns exec "$ns_cli" python3 -c 'import socket, time
s = socket.create_connection(("'"$srv_ip"'", '"${port[tcp]}"'))
time.sleep(20)' &
    local pid=$!
    pids+=("$pid")
    py handshake --server tcp --url "http://127.0.0.1:$exporter_port/metrics" --out "$work/handshake"
    if ours "$pid"; then kill "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------ churn

# churn_loop CONF: run the client for 1-4 s (timeout stops it with TERM),
# pause, again, until the churn phase is over.
churn_loop() {
    while [ $SECONDS -lt "$churn_end" ]; do
        ip netns exec "$ns_cli" timeout "$((RANDOM % 3 + 1)).$((RANDOM % 10))" \
            openvpn --config "$1" >/dev/null 2>&1 || true
        sleep "0.$((RANDOM % 5))"
    done
}

churn() {
    local conf churn_pids=() p
    churn_end=$((SECONDS + churn_seconds))
    for conf in "$work"/ch[0-9].conf; do
        churn_loop "$conf" &
        churn_pids+=($!)
        pids+=($!)
    done
    py churn --seconds "$churn_seconds" --source udp --source tcp --source udpv1
    for p in "${churn_pids[@]}"; do wait "$p" || true; done
}

# ------------------------------------------------------------ captures, cleanup

# E2E_CAPTURE=DIR: small real captures for corpus/real/ (from the snapshot
# taken after traffic, so counters and the learned route are there).
capture() {
    local from=$work/after to=$E2E_CAPTURE
    mkdir -p "$to"
    cp "$from/udp.status" "$to/server-udp-v2.status"
    cp "$from/tcp.status" "$to/server-tcp-v3.status"
    cp "$from/udpv1.status" "$to/server-udp-v1.status"
    cp "$from/udp.mgmt-status-3.txt" "$to/management-udp-status-3.txt"
    cp "$from/tcp.mgmt-status-2.txt" "$to/management-tcp-status-2.txt"
    cp "$from/udpv1.mgmt-status.txt" "$to/management-udp-v1-status.txt"
    cp "$from/client-$client_mode_dev.status" "$to/client-mode.status"
    cp "$work/handshake/tcp.status" "$to/server-tcp-v3-handshake.status"
    echo "captures written to $to"
}

# ours PID: PID is still a child of this shell. The pid of a child that
# has ended may belong to another process by now: never signal that.
ours() {
    local stat ppid
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) } # after "pid (command name) "
    read -r _ ppid _ <<<"$stat"
    [ "$ppid" = $$ ]
}

# Ends every process this script started (and anything still inside its
# namespaces: the churn loops' clients), then removes the namespaces and
# the temporary directory. Safe to run twice.
cleanup() {
    local p ns left _
    trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
    for p in "${pids[@]}"; do
        if ours "$p"; then kill "$p" 2>/dev/null || true; fi
    done
    for _ in $(seq 50); do
        left=$(for ns in "$ns_srv" "$ns_cli"; do ip netns pids "$ns" 2>/dev/null || true; done)
        for p in "${pids[@]}"; do
            if ours "$p"; then left+=" $p"; fi
        done
        [ -z "${left// /}" ] && break
        # shellcheck disable=SC2086 # a list of pids
        kill $left 2>/dev/null || true
        sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -z "${left// /}" ] || kill -9 $left 2>/dev/null || true
    wait 2>/dev/null || true
    pids=()
    for ns in "$ns_srv" "$ns_cli"; do ip netns del "$ns" 2>/dev/null || true; done
    [ -n "$work" ] && rm -rf "$work"
    work=""
}
summary() {
    summarized=1
    echo "run took $((SECONDS - started)) s"
    echo "real openvpn e2e: $passed/$total checks passed"
}

# A run that stops early (a failed build or setup command, Ctrl-C) still
# cleans up and ends with the summary line, one failed check more.
on_exit() {
    local rc=$?
    cleanup
    if [ -z "$summarized" ]; then
        fail "the harness stopped early (exit status $rc, see above)"
        summary
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Shown when a check failed, before the temporary directory goes.
show_logs() {
    local f
    for f in "$work"/server-*/openvpn.log "$work"/exporter*.log "$work/prometheus.log"; do
        [ -f "$f" ] && { echo "--- tail of $f"; tail -n 15 "$f"; }
    done
}

# ------------------------------------------------------------ main

step "packages and builds"
install_packages
build
work=$(mktemp -d /tmp/ovpne2e.XXXXXX)

step "PKI, namespaces, servers"
# The tcp server's management interface asks for a password; the others
# do not (the exporter is given it for all three: only tcp must use it).
echo "e2e management secret" >"$work/mgmt-password"
export MGMT_PASSWORD_FILE=$work/mgmt-password
make_ca
make_netns
printf 'netns\t%s\n' "$ns_cli" >"$work/plan.tsv"
server_conf udp udp6 2 "server-ipv6 fd00:8:1::/64"
server_conf tcp tcp4 3 "duplicate-cn"
server_conf udpv1 udp4 1
plan_clients
start_servers

step "clients"
start_clients
py wait --timeout 60

step "status files and management replies, before and after traffic"
py snapshot --out "$work/before" --label "before traffic"
traffic
# The next snapshot waits for files OpenVPN rewrote after the traffic.
py snapshot --out "$work/after" --label "after traffic" --learned --newer-than "$(date +%s.%N)"
py counters --before "$work/before" --after "$work/after"

step "exporter and Prometheus"
start_exporter
start_prometheus
py exporter --url "http://127.0.0.1:$exporter_port/metrics"
py prometheus --url "http://127.0.0.1:$prometheus_port" --timeout 60

step "exporter on the management interfaces"
management_exporter

step "a TCP connection in its TLS handshake"
handshake

[ -n "${E2E_CAPTURE:-}" ] && capture

step "churn: clients come and go for ${churn_seconds} s"
churn

step "Prometheus's scrapes, prepared ahead"
py prepared --url "http://127.0.0.1:$exporter_port/prom"

step "cleanup"
[ $passed != "$total" ] && show_logs
workdir=$work
cleanup
# Every process started here has the temporary directory in its arguments;
# "[.]" keeps grep from finding its own.
netns_left=$(ip netns list | grep -c "^ovpne2e-$$-") || true
procs_left=$(grep -l -- "${workdir//./[.]}/" /proc/[0-9]*/cmdline 2>/dev/null | wc -l) || true
left=$((netns_left + procs_left))
if [ "$left" = 0 ] && [ ! -e "$workdir" ]; then
    ok "cleanup: no namespace, process or temporary file left"
else
    fail "cleanup: $left namespaces or processes left, or $workdir"
fi

summary
[ "$passed" = "$total" ]
