#!/usr/bin/env python3
"""Times the Python peers of ovpn-status on generated status files, and
prints the side-by-side table of `benches/compare.sh`.

Standard library only; the peers are imported by the worker processes.

    compare.py time --lib NAME --python PY --dir DIR --inputs "..." \\
        --clients "..." --runs N > results.jsonl
    compare.py worker FILE
    compare.py table --dir DIR --inputs "..." --clients "..." \\
        --criterion TARGET/criterion --rust-rss rss.jsonl \\
        --python-results a.jsonl b.jsonl

`time` runs `worker` under the library's interpreter (a venv's python) once
per run: a fresh process imports `openvpn_status`, reads the file, parses it
once untimed to warm up (files under 8 MB only: the one-time costs, such as
the first `strptime`, are far below 1% of a larger parse), then times one
`openvpn_status.parse_status(bytes)` call (UTF-8 decoding included) with
`time.perf_counter`, and reports the process's peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`, the whole interpreter) and
its peak RSS before the first parse (interpreter, library, file). The reported time is the median of the runs. A
document the library rejects is recorded once, with the error, and the
larger sizes of that input are skipped.

Both libraries install the import package `openvpn_status`
(openvpn-status-reader is a fork that keeps the name), so each needs its
own venv; the worker reports the version it imported.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

# The parsers' names and the versions `compare.sh` installs.
LIBS = {
    "openvpn-status": "0.2.2",
    "openvpn-status-reader": "0.3.1",
}
WARM_UP_BELOW = 8_000_000


def worker(path):
    import resource
    import time

    import openvpn_status

    version = getattr(openvpn_status, "__version__", "?")
    with open(path, "rb") as f:
        data = f.read()
    out = {"version": version}
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if len(data) < WARM_UP_BELOW:
            openvpn_status.parse_status(data)
        start = time.perf_counter()
        status = openvpn_status.parse_status(data)
        seconds = time.perf_counter() - start
    except Exception as e:  # the library's ParsingError, or worse
        out["error"] = "%s: %s" % (type(e).__name__, e)
        print(json.dumps(out))
        return
    clients = status.client_list.values()
    out.update(
        seconds=seconds,
        base_rss_kib=base,
        peak_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        clients=len(status.client_list),
        routes=len(status.routing_table),
        bytes_received=sum(int(c.bytes_received) for c in clients),
        bytes_sent=sum(int(c.bytes_sent) for c in clients),
    )
    print(json.dumps(out))


def time_lib(args):
    for name in args.inputs.split():
        for clients in [int(c) for c in args.clients.split()]:
            path = os.path.join(args.dir, "%s-%d.status" % (name, clients))
            runs = []
            for _ in range(args.runs):
                p = subprocess.run(
                    [args.python, os.path.abspath(__file__), "worker", path],
                    capture_output=True,
                    text=True,
                )
                if p.returncode != 0:
                    r = {"error": "worker failed: %s" % p.stderr.strip()[-300:]}
                else:
                    r = json.loads(p.stdout)
                runs.append(r)
                if "error" in r:
                    break
            row = {"lib": args.lib, "input": name, "clients": clients, "runs": runs}
            print(json.dumps(row), flush=True)
            print(
                "%s %s %d: %s"
                % (args.lib, name, clients, summary(runs)),
                file=sys.stderr,
                flush=True,
            )
            if "error" in runs[-1]:
                break


def summary(runs):
    if "error" in runs[-1]:
        return "rejected (%s)" % runs[-1]["error"]
    return "median %.4f s of %d, peak RSS %d MiB" % (
        statistics.median(r["seconds"] for r in runs),
        len(runs),
        max(r["peak_rss_kib"] for r in runs) // 1024,
    )


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def criterion_median(root, group, bench, clients):
    """Criterion's median estimate in seconds, or None."""
    path = os.path.join(
        root, group.replace("/", "_"), bench.replace("/", "_"), str(clients), "new",
        "estimates.json",
    )
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e9
    except OSError:
        return None


def fmt_time(s):
    if s >= 1:
        return "%.2f s" % s
    if s >= 1e-3:
        return "%.3g ms" % (s * 1e3)
    return "%.3g µs" % (s * 1e6)


def cell(seconds, ours):
    if seconds is None:
        return "–"
    return "%s (%.1f×)" % (fmt_time(seconds), seconds / ours)


def table(args):
    python = {}
    versions = {}
    for path in args.python_results:
        for row in read_jsonl(path):
            python[(row["lib"], row["input"], row["clients"])] = row["runs"]
            for r in row["runs"]:
                versions.setdefault(row["lib"], r.get("version", "?"))
    rss = {}
    for row in read_jsonl(args.rust_rss):
        stem = os.path.basename(row["file"])[: -len(".status")]
        rss[(row["parser"], stem)] = row
    sizes = [int(c) for c in args.clients.split()]
    inputs = args.inputs.split()
    libs = list(LIBS)
    notes = []

    def py_cell(lib, name, clients, ours):
        runs = python.get((lib, name, clients))
        if runs is None:
            first = python.get((lib, name, sizes[0]))
            return "rejects" if first and "error" in first[-1] else "–"
        if "error" in runs[-1]:
            notes.append("%s rejects `%s`: %s" % (lib, name, runs[-1]["error"]))
            return "rejects"
        return cell(statistics.median(r["seconds"] for r in runs), ours)

    print(
        "| input | clients | size | ovpn-status | ovpn-status MiB/s "
        "| openvpn-mgmt-codec | openvpn-mgmt-codec parse_status alone "
        "| openvpn-status (Python %s) | openvpn-status-reader (Python %s) |"
        % (versions.get(libs[0], "?"), versions.get(libs[1], "?"))
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in inputs:
        group = "peers/" + name
        for clients in sizes:
            path = os.path.join(args.dir, "%s-%d.status" % (name, clients))
            size = os.path.getsize(path)
            ours = criterion_median(args.criterion, group, "ovpn-status", clients)
            if ours is None:
                print("| %s | %d | no criterion estimate |" % (name, clients))
                continue
            codec = criterion_median(args.criterion, group, "openvpn-mgmt-codec", clients)
            only = criterion_median(
                args.criterion, group, "openvpn-mgmt-codec/parse_status", clients
            )
            print(
                "| %s | %s | %.2f MB | %s | %.0f | %s | %s | %s | %s |"
                % (
                    name,
                    "{:,}".format(clients),
                    size / 1e6,
                    fmt_time(ours),
                    size / ours / 2**20,
                    cell(codec, ours),
                    cell(only, ours),
                    py_cell(libs[0], name, clients, ours),
                    py_cell(libs[1], name, clients, ours),
                )
            )

    # Peak memory, and the parsed values checked against ovpn-status, at the
    # largest size.
    big = sizes[-1]
    print()
    print(
        "Peak RSS of one parse of the %s-client files (whole process: the "
        "input is read into memory first; RSS before parsing in brackets), "
        "and whether the counts and byte sums agree with ovpn-status:" % "{:,}".format(big)
    )
    print()
    print("| input | ovpn-status | openvpn-mgmt-codec | openvpn-status (Python) "
          "| openvpn-status-reader (Python) |")
    print("|---|---:|---:|---:|---:|")
    for name in inputs:
        stem = "%s-%d" % (name, big)
        ours = rss.get(("ovpn-status", stem))
        cells = []
        for parser in ["ovpn-status", "openvpn-mgmt-codec"]:
            r = rss.get((parser, stem))
            cells.append(
                "–" if r is None else "%d MiB (%d)%s" % (
                    r["peak_rss_kib"] // 1024, r["rss_before_kib"] // 1024,
                    agreement(r, ours, parser, name, notes),
                )
            )
        for lib in libs:
            runs = python.get((lib, name, big))
            if runs is None or "error" in runs[-1]:
                cells.append("rejects" if runs or python.get((lib, name, sizes[0])) else "–")
                continue
            r = runs[-1]
            cells.append("%d MiB (%d)%s" % (
                max(x["peak_rss_kib"] for x in runs) // 1024, r["base_rss_kib"] // 1024,
                agreement(r, ours, lib, name, notes),
            ))
        print("| %s | %s |" % (name, " | ".join(cells)))
    print()
    print("✓: clients, routes, bytes received and bytes sent equal ovpn-status's.")
    for n in dict.fromkeys(notes):
        print("- " + n)


def agreement(r, ours, who, name, notes):
    if ours is None:
        return ""
    diff = [
        "%s %s, ovpn-status %s" % (k, r[k], ours[k])
        for k in ["clients", "routes", "bytes_received", "bytes_sent"]
        if r[k] != ours[k]
    ]
    if not diff:
        return " ✓"
    notes.append("%s on `%s`: %s" % (who, name, "; ".join(diff)))
    return " ✗"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker")
    w.add_argument("file")
    t = sub.add_parser("time")
    t.add_argument("--lib", required=True, choices=list(LIBS))
    t.add_argument("--python", required=True)
    t.add_argument("--dir", required=True)
    t.add_argument("--inputs", required=True)
    t.add_argument("--clients", required=True)
    t.add_argument("--runs", type=int, default=5)
    s = sub.add_parser("table")
    s.add_argument("--dir", required=True)
    s.add_argument("--inputs", required=True)
    s.add_argument("--clients", required=True)
    s.add_argument("--criterion", required=True)
    s.add_argument("--rust-rss", required=True)
    s.add_argument("--python-results", nargs="+", required=True)
    a = p.parse_args()
    if a.cmd == "worker":
        worker(a.file)
    elif a.cmd == "time":
        time_lib(a)
    else:
        table(a)


if __name__ == "__main__":
    main()
