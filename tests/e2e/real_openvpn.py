#!/usr/bin/env python3
"""Observations and assertions for tests/e2e/real-openvpn.sh.

The shell script builds the world (PKI, namespaces, OpenVPN servers and
clients, exporter, Prometheus) and describes it in WORK/plan.tsv; this helper
looks at what OpenVPN wrote and checks it. Every check prints one line that
starts with "ok " or "FAIL " (the shell script counts them); other lines are
context. The exit status is non-zero only when the helper itself crashed.

Standard library only: it runs on a bare Debian 12 with its python3.
"""

import argparse
import collections
import difflib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

# The exporter's quiet rule: a file modified less than this long ago may be
# in the middle of a rewrite (OpenVPN rewrites in place, one write per line).
QUIET_NS = 25_000_000

# Paths of the `dump` example and of `ovpn-exporter`, from the command line.
DUMP = EXPORTER = None


def ok(msg):
    print(f"ok {msg}", flush=True)


def fail(msg):
    print(f"FAIL {msg}", flush=True)


def check(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        fail(f"{msg}: {why}" if why else msg)
    return cond


def brief(items, limit=4):
    """A short printable list for failure reasons."""
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(repr(i) for i in items[:limit]) + more


# ---------------------------------------------------------------- the plan


class Server:
    def __init__(self, name, version, status, mgmt, ipv6):
        self.name, self.version = name, int(version)
        self.status, self.mgmt, self.ipv6 = status, mgmt, ipv6 == "1"
        self.clients = []  # steady clients, connected for the whole run
        self.churn = []  # common names of the churn clients

    @property
    def format(self):
        return f"server-v{self.version}"


class Client:
    def __init__(self, server, cn, dev, real, iroutes, learned, status):
        self.server, self.cn, self.dev, self.real = server, cn, dev, real
        self.iroutes = [] if iroutes == "-" else iroutes.split(",")
        self.learned = None if learned == "-" else learned
        self.status = None if status == "-" else status
        self.vip4 = self.vip6 = None  # read from the client's tun device


class Plan:
    """WORK/plan.tsv, written by the shell script: one object per line."""

    def __init__(self, work):
        self.servers = {}
        self.clients = []
        self.netns = None
        with open(os.path.join(work, "plan.tsv"), encoding="utf-8") as f:
            for line in f:
                kind, *fields = line.rstrip("\n").split("\t")
                if kind == "netns":
                    self.netns = fields[0]
                elif kind == "server":
                    self.servers[fields[0]] = Server(*fields)
                elif kind == "client":
                    c = Client(*fields)
                    self.clients.append(c)
                    self.servers[c.server].clients.append(c)
                elif kind == "churn":
                    self.servers[fields[0]].churn.append(fields[1])

    def read_tun_addresses(self):
        """Each client's virtual addresses, as its own tun device has them."""
        for c in self.clients:
            c.vip4 = tun_address(self.netns, c.dev, "-4")
            if self.servers[c.server].ipv6:
                c.vip6 = tun_address(self.netns, c.dev, "-6")

    def client_mode_files(self):
        return [c for c in self.clients if c.status]


def tun_address(netns, dev, family):
    out = subprocess.run(
        ["ip", "-n", netns, "-o", family, "addr", "show", "dev", dev, "scope", "global"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    m = re.search(r"inet6? ([0-9a-f.:]+)/", out)
    return m.group(1) if m else None


# ---------------------------------------------------------------- parsing


class Doc:
    """One `dump` run: the records, and the error record if there was one."""

    def __init__(self, records):
        self.error = records[-1] if records and records[-1]["record"] == "error" else None
        by = collections.defaultdict(list)
        for r in records:
            by[r["record"]].append(r)
        self.format = by["format"][0]["format"] if by["format"] else None
        self.clients = by["client"]
        self.routes = by["route"]
        self.globals = {g["name"]: g["value"] for g in by["global"]}
        self.stats = {s["name"]: s["value"] for s in by["stat"]}
        self.titles = [t["text"] for t in by["title"]]
        self.times = by["time"]
        self.ended = bool(by["end"])

    @property
    def incomplete(self):
        return self.error is not None and self.error["message"].endswith("incomplete input: no END line")

    def client_keys(self):
        return [(c["common_name"], c["real_address"]) for c in self.clients]

    def client_rows(self):
        """(CN, real address, virtual address, virtual IPv6 address) per
        client; status-version 1 has only the first two."""
        if self.format == "server-v1":
            return self.client_keys()
        return [
            (c["common_name"], c["real_address"], c["virtual_address"], c["virtual_ipv6_address"])
            for c in self.clients
        ]

    def counters(self):
        return {
            (c["common_name"], c["real_address"]): (c["bytes_received"], c["bytes_sent"])
            for c in self.clients
        }


def dump(data):
    """Runs the `dump` example on DATA; a crash or broken contract raises."""
    p = subprocess.run([DUMP, "-"], input=data, capture_output=True, timeout=10)
    records = [json.loads(line) for line in p.stdout.splitlines()]
    doc = Doc(records)
    if p.returncode not in (0, 2) or (p.returncode == 2) != (doc.error is not None):
        raise RuntimeError(f"dump exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return doc


def quiet_read(path, timeout=5.0, newer_than=0, wake=None):
    """Reads a status file the way the exporter does: only a read during
    which the file did not change, at least 25 ms after its last write, is
    taken; with NEWER_THAN (unix ns), only a version written after it.
    Gives up after TIMEOUT and returns the last read anyway (the caller's
    parse then shows what was wrong).

    `status FILE 1` does not mean a rewrite every second: OpenVPN runs its
    per-second work (the status file among it) only when its event loop
    wakes up, and an idle server sleeps until its next keepalive (gaps of
    6 s were seen). WAKE, called every half second while the file is stale,
    gives the loop something to do."""
    deadline = time.monotonic() + timeout
    next_wake = time.monotonic() + 0.5
    while True:
        with open(path, "rb") as f:
            before = os.fstat(f.fileno())
            data = f.read()
            after = os.fstat(f.fileno())
        fresh = after.st_mtime_ns > newer_than
        if (fresh and is_quiet(before, after, len(data))) or time.monotonic() > deadline:
            return data
        if wake and not fresh and time.monotonic() > next_wake:
            wake()
            next_wake = time.monotonic() + 0.5
        time.sleep(0.02)


def is_quiet(before, after, length):
    return (
        (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
        and length == after.st_size
        and time.time_ns() - after.st_mtime_ns >= QUIET_NS
    )


def management(sock_path, command, timeout=5.0, done=lambda data: data.endswith(b"\nEND\r\n")):
    """One command over a management socket: the raw bytes received, from
    the >INFO banner to the end of the reply (by default its END line),
    CRLF as sent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        data = b""
        while b"\n" not in data:  # the >INFO: banner comes first
            if data.startswith(b"ENTER PASSWORD:"):
                # The shell script's password-protected interface.
                with open(os.environ["MGMT_PASSWORD_FILE"], "rb") as f:
                    s.sendall(f.readline().rstrip(b"\r\n") + b"\n")
                data = data[len(b"ENTER PASSWORD:"):]
                while b"SUCCESS:" not in data or not data.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        raise RuntimeError(f"{sock_path}: closed after the password")
                    data += chunk
                data = data[data.index(b"\n", data.index(b"SUCCESS:")) + 1 :]
                continue
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"{sock_path}: closed before the banner")
            data += chunk
        s.sendall(command.encode() + b"\n")
        while not done(data):
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"{sock_path}: closed before the end: {data[-200:]!r}")
            data += chunk
        return data


def waker(server):
    """Wakes SERVER's event loop with a cheap management command."""
    return lambda: management(
        server.mgmt, "load-stats", done=lambda data: b"\nSUCCESS:" in data and data.endswith(b"\n")
    )


# ---------------------------------------------------------------- expectations


def expected_rows(server, learned):
    """(common name, real address, virtual address, virtual IPv6 address)
    per client, and the routing table as (virtual address, CN, real address)."""
    rows, routes = [], []
    for c in server.clients:
        rows.append((c.cn, c.real, c.vip4, c.vip6 if server.ipv6 else ""))
        routes.append((c.vip4, c.cn, c.real))
        if server.ipv6:
            routes.append((c.vip6, c.cn, c.real))
        routes += [(r, c.cn, c.real) for r in c.iroutes]
        if learned and c.learned:
            routes.append((c.learned, c.cn, c.real))
    return rows, routes


def multiset_diff(expected, actual):
    e, a = collections.Counter(expected), collections.Counter(actual)
    return list((e - a).elements()), list((a - e).elements())


def content_problems(doc, server, fmt, learned):
    """What in a complete server document differs from what was started."""
    problems = []
    if doc.format != fmt:
        problems.append(f"format {doc.format}, expected {fmt}")
    rows, routes = expected_rows(server, learned)
    if doc.format == "server-v1":
        # v1 has no virtual address columns: they are in the routing table.
        actual = [(c["common_name"], c["real_address"]) for c in doc.clients]
        rows = [r[:2] for r in rows]
    else:
        actual = [
            (c["common_name"], c["real_address"], c["virtual_address"], c["virtual_ipv6_address"])
            for c in doc.clients
        ]
        for c in doc.clients:
            missing = [k for k in ("connected_since_unix", "client_id", "peer_id") if c[k] is None]
            if missing or not c["data_channel_cipher"]:
                problems.append(f"client {c['common_name']!r} lacks {missing or 'a cipher'}")
        if not (doc.titles and doc.titles[0].startswith("OpenVPN 2.")):
            problems.append(f"TITLE {doc.titles!r}")
        if not (doc.times and doc.times[0]["unix"] and abs(doc.times[0]["unix"] - time.time()) < 120):
            problems.append(f"TIME {doc.times!r} is not now")
    missing, extra = multiset_diff(rows, actual)
    if missing or extra:
        problems.append(f"clients missing {brief(missing)}; unexpected {brief(extra)}")
    actual_routes = [(r["virtual_address"], r["common_name"], r["real_address"]) for r in doc.routes]
    missing, extra = multiset_diff(routes, actual_routes)
    if missing or extra:
        problems.append(f"routes missing {brief(missing)}; unexpected {brief(extra)}")
    if "Max bcast/mcast queue length" not in doc.globals:
        problems.append(f"global stats {doc.globals!r}")
    return problems


def parse_check(label, doc):
    why = f"line {doc.error['line']}: {doc.error['message']}" if doc.error else "no END record"
    return check(doc.error is None and doc.ended, f"{label} parses with zero errors", why)


# ---------------------------------------------------------------- subcommands


def cmd_wait(plan, args):
    """Polls status files and tun devices until every client is connected
    and configured, or the timeout passes."""
    start = time.monotonic()
    while True:
        plan.read_tun_addresses()
        pending = [c.cn for c in plan.clients if not c.vip4 or (plan.servers[c.server].ipv6 and not c.vip6)]
        for server in plan.servers.values():
            waker(server)()  # so that the file shows the latest handshakes
            doc = dump(quiet_read(server.status))
            rows, _ = expected_rows(server, False)
            # A row can be written before its client's address is set (seen
            # with a duplicate common name over TCP): wait for the address.
            if server.format == "server-v1":
                rows = [r[:2] for r in rows]
            missing, _ = multiset_diff(rows, doc.client_rows())
            pending += [r[0] for r in missing]
        elapsed = time.monotonic() - start
        if not pending:
            return ok(f"all {len(plan.clients)} clients connected and configured in {elapsed:.1f} s")
        if elapsed > args.timeout:
            return fail(f"after {args.timeout} s, not connected or configured: {brief(pending, 8)}")
        time.sleep(0.5)


def cmd_snapshot(plan, args):
    """Captures every status file, the management replies to `status`,
    `status 1`, `status 2` and `status 3`, and the client-mode status file,
    into OUT; checks that each parses and describes what was started."""
    plan.read_tun_addresses()
    os.makedirs(args.out, exist_ok=True)
    newer = int(args.newer_than * 1e9)
    for server in plan.servers.values():
        data = quiet_read(server.status, timeout=15, newer_than=newer, wake=waker(server))
        save(args.out, f"{server.name}.status", data)
        doc = dump(data)
        label = f"{args.label}: {server.name} status file ({server.format})"
        if parse_check(label, doc):
            problems = content_problems(doc, server, server.format, args.learned)
            check(not problems, f"{label} matches the clients started", "; ".join(problems))
        for command in ("status", "status 1", "status 2", "status 3"):
            version = command[-1] if command != "status" else str(server.version)
            data = management(server.mgmt, command)
            save(args.out, f"{server.name}.mgmt-{command.replace(' ', '-')}.txt", data)
            doc = dump(data)
            label = f"{args.label}: {server.name} management `{command}`"
            if not parse_check(label, doc):
                continue
            problems = [] if data.startswith(b">INFO:") else ["no >INFO: banner"]
            if not all(line.endswith(b"\r") for line in data.split(b"\n")[:-1]):
                problems.append("a line without CRLF")
            problems += content_problems(doc, server, f"server-v{version}", args.learned)
            check(not problems, f"{label} matches the clients started", "; ".join(problems))
    for c in plan.client_mode_files():
        # No management on the client: its keepalive (10 s) wakes it.
        data = quiet_read(c.status, timeout=15, newer_than=newer)
        save(args.out, f"client-{c.dev}.status", data)
        doc = dump(data)
        label = f"{args.label}: client-mode status file of {c.cn!r}"
        if parse_check(label, doc):
            want = {"TUN/TAP read bytes", "TUN/TAP write bytes", "TCP/UDP read bytes", "TCP/UDP write bytes"}
            check(
                doc.format == "client" and want <= doc.stats.keys(),
                f"{label} has the client-mode statistics",
                f"format {doc.format}, stats {sorted(doc.stats)}",
            )


def save(directory, name, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def cmd_counters(plan, args):
    """Every client's byte counters grew between two snapshots with traffic
    in between, in every status file and in the client-mode file."""
    for server in plan.servers.values():
        a, b = (dump(read(d, f"{server.name}.status")).counters() for d in (args.before, args.after))
        stuck = [k for k in a if not (k in b and b[k][0] > a[k][0] and b[k][1] > a[k][1])]
        check(
            bool(a) and not stuck,
            f"{server.name}: Bytes Received and Bytes Sent grew for all {len(a)} clients",
            f"not grown for {brief(stuck)}",
        )
    for c in plan.client_mode_files():
        a, b = (dump(read(d, f"client-{c.dev}.status")).stats for d in (args.before, args.after))
        names = ("TUN/TAP read bytes", "TUN/TAP write bytes", "TCP/UDP read bytes", "TCP/UDP write bytes")
        stuck = [n for n in names if not b.get(n, 0) > a.get(n, 0)]
        check(not stuck, f"client-mode {c.cn!r}: statistics grew", f"not grown: {stuck}")


def read(directory, name):
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- exposition


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_exposition(text):
    """Prometheus text format → list of (name, labels, value); raises on a
    line it cannot read."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"exposition line {line!r}")
        name, labels_text, value = m.groups()
        labels, pos = {}, 0
        while labels_text and pos < len(labels_text):
            lm = LABEL.match(labels_text, pos)
            if not lm:
                raise ValueError(f"labels of {line!r}")
            raw = lm.group(2)
            labels[lm.group(1)] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), raw)
            pos = lm.end()
        samples.append((name, labels, float(value)))
    return samples


class Exposition:
    def __init__(self, text):
        self.samples = parse_exposition(text)
        self.keys = [(n, tuple(sorted(lab.items()))) for n, lab, _ in self.samples]

    # Positional-only metric names: `name` is also a label name.
    def matching(self, metric, /, **labels):
        """(labels, value) of each sample of METRIC with these LABELS."""
        return [
            (lab, v)
            for n, lab, v in self.samples
            if n == metric and all(lab.get(k) == x for k, x in labels.items())
        ]

    def get(self, metric, /, **labels):
        return [v for _, v in self.matching(metric, **labels)]

    def one(self, metric, /, **labels):
        values = self.get(metric, **labels)
        return values[0] if len(values) == 1 else None

    def series(self, metric, /, **labels):
        return [lab for lab, _ in self.matching(metric, **labels)]

    def duplicates(self):
        return [k for k, n in collections.Counter(self.keys).items() if n > 1]


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def cmd_exporter(plan, args):
    """The exporter's numbers against the status files read just before and
    just after its scrape: sessions and rows exactly, counters in between.
    With --management the exporter read the management interfaces live,
    which can be ahead of the files (rewritten at most once a second), so
    counters need only be at least the earlier file's."""
    who = "exporter (management)" if args.management else "exporter"
    before = {s.name: dump(quiet_read(s.status)) for s in plan.servers.values()}
    expo = Exposition(http_get(args.url))
    after = {s.name: dump(quiet_read(s.status)) for s in plan.servers.values()}
    total = len(plan.clients)
    check(not expo.duplicates(), f"{who}: no duplicate series", brief(expo.duplicates()))
    check(
        expo.one("ovpn_sessions_total") == total,
        f"{who}: ovpn_sessions_total is {total}",
        f"got {expo.get('ovpn_sessions_total')}",
    )
    for s in plan.servers.values():
        a, b = before[s.name], after[s.name]
        problems = []
        if expo.one("ovpn_up", source=s.name) != 1:
            problems.append(f"ovpn_up {expo.get('ovpn_up', source=s.name)}")
        # The exporter asks every management interface for `status 3`.
        fmt = "server-v3" if args.management else s.format
        if not expo.series("ovpn_status_info", source=s.name, format=fmt):
            problems.append(f"ovpn_status_info {expo.series('ovpn_status_info', source=s.name)}")
        if expo.one("ovpn_server_connected_clients", source=s.name) != len(s.clients):
            problems.append(f"connected clients {expo.get('ovpn_server_connected_clients', source=s.name)}")
        if expo.one("ovpn_routes", source=s.name) not in (len(a.routes), len(b.routes)):
            problems.append(f"routes {expo.get('ovpn_routes', source=s.name)} vs {len(a.routes)}")
        # v1 has the virtual address only in the routing table: the seed
        # label takes the first plain IPv4 host route of the client.
        vip = {}
        for r in a.routes:
            if re.fullmatch(r"[0-9.]+", r["virtual_address"]):
                vip.setdefault((r["common_name"], r["real_address"]), r["virtual_address"])
        proto = "tcp" if s.name == "tcp" else "udp"  # the seed label's rule
        ca, cb = a.counters(), b.counters()
        for c in a.clients:
            key = (c["common_name"], c["real_address"])
            lo, hi = ca[key], cb.get(key, (None, None))
            labels = dict(source=s.name, common_name=key[0], real_address=key[1])
            seed = f"{key[0]}_{c['virtual_address'] or vip.get(key, '')}_{proto}"
            got = (
                expo.one("ovpn_client_received_bytes_total", **labels),
                expo.one("ovpn_client_sent_bytes_total", **labels),
                expo.one("ovpn_bytes_in_total", client=seed),
                expo.one("ovpn_bytes_out_total", client=seed),
            )
            if args.management:
                hi = (float("inf"), float("inf"))
            bounds = [(lo[i], hi[i]) for i in (0, 1, 0, 1)]  # received, sent, received, sent
            if not all(
                g is not None and high is not None and low <= g <= high
                for g, (low, high) in zip(got, bounds, strict=True)
            ):
                problems.append(f"{key}: {got} not within {lo}..{hi} (seed label {seed!r})")
            if not expo.series("ovpn_client_info", **labels):
                problems.append(f"{key}: no ovpn_client_info")
        check(
            not problems,
            f"{who}: source {s.name} has the same numbers as its status file",
            "; ".join(problems[:4]),
        )
    for c in [] if args.management else plan.client_mode_files():
        name = f"client-{c.dev}"  # the shell script's source name
        check(
            expo.one("ovpn_up", source=name) == 1
            and expo.series("ovpn_status_info", source=name, format="client")
            and expo.one("ovpn_client_mode_stat", source=name, name="TUN/TAP read bytes") is not None,
            f"exporter: client-mode source {name} is up with its statistics",
            f"{expo.series('ovpn_status_info', source=name)}",
        )


def cmd_prometheus(plan, args):
    """A real Prometheus server scraped the exporter: PromQL answers."""
    total = len(plan.clients)
    queries = [
        ("sum(ovpn_sessions_total)", total),
        ("count(ovpn_client_info)", total),
        ("min(ovpn_up)", 1),
    ]
    deadline = time.monotonic() + args.timeout
    for query, want in queries:
        got = None
        while True:
            try:
                url = f"{args.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
                result = json.loads(http_get(url, timeout=5))["data"]["result"]
                got = float(result[0]["value"][1]) if result else None
            except (OSError, ValueError, KeyError):
                got = None
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(1)
        check(got == want, f"prometheus: {query} = {want}", f"got {got}")


def cmd_prepared(plan, args):
    """Prometheus scraped the exporter every second: the exporter took it
    for a steady scraper and refreshed the sources ahead of its scrapes.
    (Whether a refresh found a change to render, and whether the scrape
    was then served it, depends on where OpenVPN's own one-second
    rewrites fall between the scrapes: printed, not checked.)"""
    expo = Exposition(http_get(args.url))
    rendered = expo.one("ovpn_exporter_prepared_refreshes_total", outcome="rendered") or 0
    other = expo.one("ovpn_exporter_prepared_refreshes_total", outcome="not_rendered") or 0
    served = expo.one("ovpn_exporter_scrapes_served_prepared_total")
    print(f"     refreshes ahead of a scrape: {rendered} rendered a change, {other} did not; "
          f"scrapes served a rendering made ahead: {served}")
    check(
        rendered + other > 0,
        "prometheus: its scrapes were recognised as steady and prepared for",
        "no refresh ahead of a scrape",
    )


# ---------------------------------------------------------------- handshake

# The Common Name OpenVPN lists for a connection whose TLS handshake has
# not finished (no certificate seen yet); such a row has no virtual address.
HANDSHAKING = "UNDEF"


def cmd_handshake(plan, args):
    """A TCP connection that has not begun TLS (the shell script holds one
    open): OpenVPN already lists it, as UNDEF. The parser and the exporter
    must take that row as it is, next to the steady clients."""
    server = plan.servers[args.server]
    plan.read_tun_addresses()
    deadline = time.monotonic() + args.timeout
    while True:
        waker(server)()
        data = quiet_read(server.status)
        doc = dump(data)
        rows = [c for c in doc.clients if c["common_name"] == HANDSHAKING]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    label = f"handshake: {server.name} status file listing a connection in its TLS handshake"
    if not parse_check(label, doc):
        return
    os.makedirs(args.out, exist_ok=True)
    save(args.out, f"{server.name}.status", data)
    for row in rows:
        print(f"     {json.dumps(row, ensure_ascii=False)}")
    problems = [] if len(rows) == 1 else [f"{len(rows)} {HANDSHAKING} rows"]
    if rows and (rows[0]["virtual_address"] or rows[0]["virtual_ipv6_address"]):
        problems.append("it has a virtual address")
    if any(r["common_name"] == HANDSHAKING for r in doc.routes):
        problems.append("it has a route")
    doc.clients = [c for c in doc.clients if c["common_name"] != HANDSHAKING]
    problems += content_problems(doc, server, server.format, learned=False)
    check(not problems, f"{label}: one row, without an address; the others unchanged", "; ".join(problems))
    expo = Exposition(http_get(args.url))
    check(
        expo.one("ovpn_server_connected_clients", source=server.name) == len(server.clients) + 1
        and expo.series("ovpn_client_info", source=server.name, common_name=HANDSHAKING, virtual_address=""),
        f"{label}: the exporter counts it and labels it {HANDSHAKING}",
        f"connected clients {expo.get('ovpn_server_connected_clients', source=server.name)}, {HANDSHAKING} "
        f"series {expo.series('ovpn_client_info', source=server.name, common_name=HANDSHAKING)}",
    )


# ---------------------------------------------------------------- churn


class ChurnSource:
    """What a plausible document of one churned server looks like."""

    def __init__(self, server):
        self.server = server
        self.steady = {c.cn for c in server.clients}
        self.allowed = self.steady | set(server.churn) | {HANDSHAKING}
        # A churn client that reconnects can be listed twice for a moment:
        # its old session (until the server drops it) and its new handshake.
        self.most = len(server.clients) + 2 * len(server.churn)
        self.tally = collections.Counter()
        self.bad_examples = []
        self.churn_seen = set()

    def implausible(self, rows, route_keys=None):
        """Why client ROWS (common name, real address, virtual address) and
        the (common name, real address) of each route cannot be a state of
        this server."""
        keys = [(cn, real) for cn, real, _ in rows]
        names = {cn for cn, _ in keys}
        why = []
        if len(keys) != len(set(keys)):
            why.append("duplicate common name + real address")
        if not names <= self.allowed:
            why.append(f"unknown names {brief(names - self.allowed)}")
        if any(cn == HANDSHAKING and vip for cn, _, vip in rows):
            why.append(f"an {HANDSHAKING} client with a virtual address")
        if not len(keys) <= self.most:
            why.append(f"{len(keys)} clients")
        if not self.steady <= names:
            why.append(f"steady clients missing {brief(self.steady - names)}")
        if route_keys is not None and not route_keys <= set(keys):
            why.append("a route of a client not in the list")
        return why


def cmd_churn(plan, args):
    """Reads the churned status files as fast as possible while clients come
    and go, and runs `ovpn-exporter --once` on them in a loop meanwhile."""
    sources = {name: ChurnSource(plan.servers[name]) for name in args.source}
    deadline = time.monotonic() + args.seconds
    exporter = threading.Thread(target=exporter_loop, args=(sources, deadline), daemon=True)
    exporter.start()
    reads = raw_reads(sources, deadline)
    exporter.join(timeout=30)
    for name, src in sources.items():
        # The document being written when reading stopped: the last reads
        # may be halfway to it.
        final = quiet_read(src.server.status)
        judge_raw_reads(name, src, reads[name], final)
    for name, src in sources.items():
        t = src.tally
        print(f"     {name}: `ovpn-exporter --once` runs: {t['runs']}, ovpn_up 1/0: {t['up']}/{t['down']}")
        check(
            t["runs"] >= 5 and not t["bad"],
            f"churn: {name}: every `ovpn-exporter --once` output is consistent ({t['runs']} runs)",
            "; ".join(src.bad_examples[:3]) if t["bad"] else "too few runs",
        )
        check(
            src.churn_seen == set(src.server.churn),
            f"churn: {name}: every churn client was seen connected",
            f"seen {sorted(src.churn_seen)} of {src.server.churn}",
        )


def raw_reads(sources, deadline):
    """Distinct contents read from each file, counted, and whether each was
    ever read quietly (unchanged, 25 ms after the last write)."""
    fds = {name: os.open(src.server.status, os.O_RDONLY) for name, src in sources.items()}
    reads = {name: collections.Counter() for name in sources}
    try:
        while time.monotonic() < deadline:
            for name, fd in fds.items():
                before = os.fstat(fd)
                data = os.pread(fd, 1 << 22, 0)
                after = os.fstat(fd)
                reads[name][(data, is_quiet(before, after, len(data)))] += 1
    finally:
        for fd in fds.values():
            os.close(fd)
    return reads


def judge_raw_reads(name, src, reads, final):
    """Every raw read must parse completely to a plausible document, be
    Incomplete, or be torn. OpenVPN rewrites the file in place (seek 0, one
    write per line, truncate), so a read during a rewrite can get the new
    document's first k bytes followed by the old document's bytes from k on
    (or a few such runs in turn: `is_torn`); such a mix may parse, or fail
    on any line. A read is counted as torn only when it is such a mix of two
    documents read quietly one after the other; any other error or
    implausible document fails the check."""
    documents = list(dict.fromkeys([data for data, quiet in reads if quiet] + [final]))
    n = collections.Counter()
    examples = {}
    for (data, _), count in reads.items():
        doc = dump(data)
        why = ""
        if doc.incomplete:
            outcome = "incomplete"
        elif doc.error:
            outcome = "error"
            line = data.split(b"\n")[doc.error["line"] - 1][:100]
            why = f"{doc.error['message']}: {line!r}"
        else:
            problems = src.implausible(
                [(c["common_name"], c["real_address"], c["virtual_address"]) for c in doc.clients],
                {(r["common_name"], r["real_address"]) for r in doc.routes},
            )
            outcome = "implausible" if problems else "complete"
            why = "; ".join(problems)
            handshaking = [c for c in doc.clients if c["common_name"] == HANDSHAKING]
            if not problems:
                src.churn_seen |= {c["common_name"] for c in doc.clients} - src.steady - {HANDSHAKING}
            if not problems and handshaking:
                n[f"complete, listing a connection in its TLS handshake ({HANDSHAKING})"] += count
                examples.setdefault("handshake", json.dumps(handshaking[0], ensure_ascii=False))
        if data not in documents and is_torn(data, documents):
            outcome = f"torn ({outcome})"
        elif outcome in ("error", "implausible"):
            outcome = f"UNEXPLAINED {outcome}"
            if outcome not in examples:
                show_against_nearest(name, data, documents)
        n[outcome] += count
        if why:
            examples.setdefault(outcome, why)
    total = sum(v for k, v in n.items() if not k.startswith("complete,"))
    print(
        f"     {name}: {total} raw reads, {len(reads)} distinct: "
        + ", ".join(f"{k} {v}" for k, v in sorted(n.items()))
    )
    for k, v in sorted(examples.items()):
        print(f"     {name}: {k}, e.g. {v}")
    unexplained = sum(v for k, v in n.items() if k.startswith("UNEXPLAINED"))
    check(
        total > 1000 and not unexplained,
        f"churn: {name}: each of {total} raw reads was complete and plausible, Incomplete, "
        "or a torn mix of two documents",
        f"{unexplained} unexplained" if unexplained else "too few reads",
    )


def show_against_nearest(name, data, documents):
    """Prints DATA as a diff against the document it shares the longest
    prefix with and the one it shares the longest suffix with, so a failure
    in CI shows what was read."""
    by_prefix = max(documents, key=lambda d: common_prefix(data, d))
    by_suffix = max(documents, key=lambda d: common_suffix(data, d))
    for label, doc in (("longest common prefix", by_prefix), ("longest common suffix", by_suffix)):
        print(f"     {name}: the unexplained read against the document with the {label}:")
        lines = difflib.unified_diff(
            doc.decode(errors="replace").splitlines(),
            data.decode(errors="replace").splitlines(),
            "document",
            "read",
            n=1,
            lineterm="",
        )
        for line in lines:
            print(f"       {line}")


# Most runs of alternating documents a torn read is taken to have: a read
# that the writer passed once has two, one it passed and that passed the
# writer back has three; four were seen (below).
TORN_RUNS = 6


def is_torn(data, documents):
    """True if DATA was read in the middle of OpenVPN's in-place rewrite
    of OLD into NEW, two documents one after the other in DOCUMENTS (in the
    order they were first read): as long as OLD at least (until the final
    truncate the file keeps OLD's length), and made of at most TORN_RUNS
    runs each taken from OLD or NEW at the same offsets. Usually such a
    read is NEW[:k] + OLD[k:], but a read is not atomic against the
    writes: on a busy machine a reader paused in the middle of its copy is
    passed by the writer and may pass it again, and gets runs of both in
    turn (seen once in 280,000 reads of a 2.4 KB file rewritten line by
    line with both cores busy: four runs)."""
    return any(
        len(data) >= len(old) and runs(data, old, new) <= TORN_RUNS
        for old, new in zip(documents, documents[1:])
    )


def runs(data, old, new):
    """How few runs, each equal to OLD's or NEW's bytes at the same offsets,
    make up DATA; TORN_RUNS + 1 if that takes more than TORN_RUNS, or no
    such runs make it up."""
    data, old, new = memoryview(data), memoryview(old), memoryview(new)
    at = n = 0
    while at < len(data) and n <= TORN_RUNS:
        step = max(common_prefix(data[at:], old[at:]), common_prefix(data[at:], new[at:]))
        if step == 0:
            return TORN_RUNS + 1
        at += step
        n += 1
    return n


def common_prefix(a, b):
    """How many leading bytes A and B share (binary search on slices)."""
    a, b = memoryview(a), memoryview(b)
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # a[:lo] == b[:lo]; a[:hi + 1] != b[:hi + 1] or the end
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if a[:mid] == b[:mid] else (lo, mid - 1)
    return lo


def common_suffix(a, b):
    """How many trailing bytes A and B share."""
    return common_prefix(a[::-1], b[::-1])


def exporter_loop(sources, deadline):
    """`ovpn-exporter --once` over the churned files until DEADLINE; each
    output must be a consistent snapshot of every source."""
    argv = [EXPORTER, "--once", "--log.level", "error"]
    for name, src in sources.items():
        argv += ["--status-file", f"{name}={src.server.status}"]
    while time.monotonic() < deadline:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        try:
            expo = Exposition(out.stdout)
            problems = {name: exposition_problems(expo, name, src) for name, src in sources.items()}
        except ValueError as e:
            problems = {name: [str(e)] for name in sources}
        if out.returncode != 0:
            problems = {name: [f"exit {out.returncode}"] for name in sources}
        for name, src in sources.items():
            src.tally["runs"] += 1
            if problems[name]:
                src.tally["bad"] += 1
                src.bad_examples.append("; ".join(problems[name]))
            elif expo.one("ovpn_up", source=name) == 1:
                src.tally["up"] += 1
            else:
                src.tally["down"] += 1


def exposition_problems(expo, name, src):
    """Why one `--once` output is not a consistent snapshot of source NAME."""
    why = [f"duplicate series {brief(expo.duplicates())}"] if expo.duplicates() else []
    up = expo.one("ovpn_up", source=name)
    if up not in (0, 1):
        return why + [f"ovpn_up {expo.get('ovpn_up', source=name)}"]
    info = expo.series("ovpn_client_info", source=name)
    if up == 0:
        return why + (["client series while down"] if info else [])
    clients = expo.one("ovpn_server_connected_clients", source=name)
    # Every row has its own real address, so one series per row.
    for metric in ("ovpn_client_info", "ovpn_client_received_bytes_total", "ovpn_client_sent_bytes_total"):
        count = len(expo.series(metric, source=name))
        if count != clients:
            why.append(f"{count} {metric} series for {clients} rows")
    why += src.implausible([(i["common_name"], i["real_address"], i["virtual_address"]) for i in info])
    if any(v < 0 for _, lab, v in expo.samples if lab.get("source") == name):
        why.append("a negative value")
    return why


# ---------------------------------------------------------------- main


def main():
    global DUMP, EXPORTER
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True)
    p.add_argument("--dump", required=True)
    p.add_argument("--exporter", required=True)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("wait")
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("snapshot")
    s.add_argument("--out", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--learned", action="store_true", help="expect the learned iroute host route")
    s.add_argument("--newer-than", type=float, default=0, help="unix time: wait for files written after it")
    s = sub.add_parser("counters")
    s.add_argument("--before", required=True)
    s.add_argument("--after", required=True)
    s = sub.add_parser("exporter")
    s.add_argument("--url", required=True)
    s.add_argument("--management", action="store_true")
    s = sub.add_parser("prometheus")
    s.add_argument("--url", required=True)
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("prepared")
    s.add_argument("--url", required=True)
    s = sub.add_parser("handshake")
    s.add_argument("--server", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--timeout", type=float, default=10)
    s = sub.add_parser("churn")
    s.add_argument("--seconds", type=float, default=30)
    s.add_argument("--source", action="append", required=True)
    args = p.parse_args()
    DUMP, EXPORTER = args.dump, args.exporter
    plan = Plan(args.work)
    globals()[f"cmd_{args.cmd}"](plan, args)


if __name__ == "__main__":
    sys.exit(main())
