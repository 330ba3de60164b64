#!/usr/bin/env python3
"""bench/report.py WORK OUT: turn what bench/session recorded in WORK into one JSON file (OUT)
with the machine, the PostgreSQL settings and the git revision, and print the table.

The targets are docs/benchmarks.md's (from the performance brief); the table shows them next to
what was measured and never decides anything: a benchmark is not a test."""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from datetime import datetime, timezone

# figure -> (text shown, check on the measured value); None: no target for that figure.
TARGETS = {
    "enqueue_p50": ("<= 0.4 ms", lambda v: v <= 0.4),
    "enqueue_p99": ("<= 2 ms", lambda v: v <= 2.0),
    "round_trip_p50": ("<= 1 ms", lambda v: v <= 1.0),
    "round_trip_p99": ("<= 3 ms", lambda v: v <= 3.0),
    "throughput": (">= 25,000/s", lambda v: v >= 25000),
    "rss_idle": ("<= 5 MB", lambda v: v <= 5 * 1024),
    "rss_inflight": ("<= 32 MB", lambda v: v <= 32 * 1024),
}


def sh(*cmd):
    """The first line a command prints, or None."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine():
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total_kb": mem_kb,
        "kernel": platform.release(),
        "os": sh("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "cc": sh("cc", "--version"),
        "node": sh("node", "--version"),
        "hostname": platform.node(),
    }


def git_info(root):
    rev = sh("git", "-C", root, "rev-parse", "HEAD")
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.splitlines()
    return {"revision": rev, "dirty_files": [l[3:] for l in dirty]}


def fsync_cost(work):
    """pg_test_fsync's fdatasync figure for one 8 kB write: (ops/s, µs/op), or None."""
    try:
        text = open(os.path.join(work, "pg_test_fsync.txt")).read()
    except OSError:
        return None
    m = re.search(r"one 8kB write.*?fdatasync\s+([\d.]+) ops/sec\s+([\d.]+) usecs/op", text, re.S)
    return {"fdatasync_ops_per_s": float(m.group(1)), "fdatasync_us": float(m.group(2))} if m else None


def cost_figures(rec):
    """Per-job costs from a cost record's counters."""
    b, a, jobs = rec["before"], rec["after"], rec["jobs"]
    out = {
        "statements_per_job": rec["calls"] / jobs,
        "write_xacts_per_job": (a["xid"] - b["xid"]) / jobs,
        "commits_per_job": (a["xact_commit"] - b["xact_commit"]) / jobs,
        "wal_flushes_per_job": (a["wal_sync"] - b["wal_sync"]) / jobs,
        "wal_writes_per_job": (a["wal_write"] - b["wal_write"]) / jobs,
    }
    hi, lo = (int(x, 16) for x in a["lsn"].split("/")), (int(x, 16) for x in b["lsn"].split("/"))
    hi, lo = list(hi), list(lo)
    out["wal_bytes_per_job"] = (((hi[0] << 32) + hi[1]) - ((lo[0] << 32) + lo[1])) / jobs
    return out


def main():
    work, out_path = sys.argv[1], sys.argv[2]
    root = os.environ.get("RSB_ROOT", os.getcwd())
    recs = []
    with open(os.path.join(work, "lines.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    for r in recs:
        if r.get("bench") == "cost":
            r.update(cost_figures(r))
    try:
        pg = json.load(open(os.path.join(work, "pg.json")))
    except (OSError, ValueError):
        pg = None

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": os.environ.get("RSB_MODE", "full"),
        "git": git_info(root),
        "machine": machine(),
        "postgresql": pg,
        "wal_flush": fsync_cost(work),
        "results": recs,
    }
    for name in ("profile.txt", "daemon-warnings.txt", "daemon-smaps.txt", "pg_test_fsync.txt"):
        p = os.path.join(work, name)
        if os.path.exists(p) and os.path.getsize(p) > 0:
            side = out_path[: -len(".json")] + "." + name
            shutil.copyfile(p, side)
            report[name.split(".")[0].replace("-", "_")] = os.path.relpath(side, root)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print_table(report, os.path.relpath(out_path, root))


def fmt_ms(x):
    return "-" if x is None else f"{x:.3f}"


def mark(key, value):
    if key not in TARGETS or value is None:
        return ""
    text, ok = TARGETS[key]
    return f"{text} {'met' if ok(value) else 'MISSED'}"


def print_table(rep, out_rel):
    m, pg = rep["machine"], rep["postgresql"] or {}
    recs = rep["results"]
    rev = (rep["git"]["revision"] or "unknown")[:12]
    dirty = " (+uncommitted changes)" if rep["git"]["dirty_files"] else ""
    print()
    print(f"Reseolio benchmark, {rep['mode']} mode, {rep['date']}, revision {rev}{dirty}")
    print(f"{m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total_kb'] / 1048576:.1f} GiB, "
          f"Linux {m['kernel']}, PostgreSQL {pg.get('server_version', '?')} "
          f"(fsync, synchronous_commit, full_page_writes on)")
    loads = {r["label"]: r["loadavg"] for r in rep["results"] if r.get("bench") == "load"}
    if loads:
        print(f"load average at start {loads.get('start', '?')}, at end {loads.get('end', '?')} "
              f"(a shared machine: 'machine busy' below counts every process, ours included)")
    flushes = {r["label"]: r["flush"] for r in rep["results"] if r.get("bench") == "fsync" and r.get("ok")}
    if flushes:
        print("one 8 kB write + fdatasync on the cluster's disk: " + ", ".join(
            f"{k} p50 {v['p50_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms" for k, v in flushes.items()))
    if rep.get("wal_flush"):
        print(f"one WAL flush (pg_test_fsync, fdatasync 8 kB): {rep['wal_flush']['fdatasync_us']:.0f} µs")
    print()

    rows = []

    def lat_rows(r, where):
        c = r.get("client", "?")
        if r.get("ok") is False:
            return
        for fig, key, name in (("enqueue", "enqueue", "enqueue"),
                               ("lag", None, "scheduling lag"),
                               ("round_trip", "round_trip", "round trip")):
            s = r.get(fig) or {}
            t50 = mark(key + "_p50", s.get("p50_ms")) if key else ""
            t99 = mark(key + "_p99", s.get("p99_ms")) if key else ""
            rows.append((f"{name}{where}", c,
                         f"p50 {fmt_ms(s.get('p50_ms'))}  p95 {fmt_ms(s.get('p95_ms'))}  "
                         f"p99 {fmt_ms(s.get('p99_ms'))} ms  (n={s.get('n', 0)})",
                         "; ".join(x for x in (t50, t99) if x)))
        if r.get("machine_busy_cpus") is not None:
            rows.append(("  machine busy meanwhile", c, f"{r['machine_busy_cpus']:.2f} CPUs", ""))

    for r in recs:
        if r.get("bench") == "latency" and r.get("label") == "empty":
            lat_rows(r, "")
    for r in recs:
        if r.get("bench") == "cost" and r.get("label") == "latency":
            # A lone job's statements: where its milliseconds go inside PostgreSQL.
            for x in r["statements"][:5]:
                if x["calls"] < r["jobs"] / 2:
                    continue
                plans = x.get("plans")
                rows.append(("  a lone job: " + x["query"][:34] + "…", "c",
                             f"{x['calls'] / r['jobs']:.2f}/job, exec {float(x['mean_ms']):.3f} ms, "
                             f"planned {plans if plans is not None else '?'} times "
                             f"({float(x.get('mean_plan_ms') or 0):.3f} ms each)", ""))
    for client in ("c", "node"):
        tps = [r for r in recs if r.get("bench") == "throughput" and r.get("client") == client
               and r.get("label") == "empty"]
        if not tps:
            continue
        vals = [r["jobs_per_s"] for r in tps if r.get("ok")]
        med = statistics.median(vals) if vals else None
        fails = sum(r.get("failed", 0) + r.get("warmup_failed", 0) for r in tps)
        retries = sum(r.get("retries", 0) + r.get("warmup_retries", 0) for r in tps)
        rt = tps[0].get("round_trip") or {}
        runs = ", ".join(f"{v:,.0f}" for v in vals)
        rows.append((f"throughput, results awaited (window {tps[0].get('window')})", client,
                     f"{med:,.0f} jobs/s (median of {len(vals)}: {runs})" if med else "failed",
                     mark("throughput", med)))
        rows.append(("  round trip under that load", client,
                     f"p50 {fmt_ms(rt.get('p50_ms'))}  p99 {fmt_ms(rt.get('p99_ms'))} ms", ""))
        if fails or retries:
            rows.append(("  trouble (incl. warm-up)", client,
                         f"{fails} jobs failed, {retries} requests refused as retryable", ""))
        cpu = tps[0].get("cpu_s")
        if cpu:
            per = 1e6 / tps[0]["jobs"]
            rows.append(("  CPU µs per job", client,
                         "  ".join(f"{k} {v * per:.0f}" for k, v in cpu.items()
                                   if k not in ("machine", "others")), ""))
            rows.append(("  machine busy meanwhile", client,
                         f"{cpu['machine'] / tps[0]['seconds']:.2f} CPUs, of which others "
                         f"{cpu['others'] / tps[0]['seconds']:.2f}", ""))
        elif tps[0].get("machine_busy_cpus") is not None:
            rows.append(("  machine busy meanwhile", client,
                         f"{tps[0]['machine_busy_cpus']:.2f} CPUs", ""))
        costs = [r for r in recs if r.get("bench") == "cost" and r.get("client") == client
                 and r.get("label") == "empty"]
        if costs:
            c0 = costs[0]
            rows.append(("  per job: statements / write xacts / commits / WAL flushes", client,
                         f"{c0['statements_per_job']:.2f} / {c0['write_xacts_per_job']:.2f} / "
                         f"{c0['commits_per_job']:.2f} / {c0['wal_flushes_per_job']:.3f}  "
                         f"({c0['wal_bytes_per_job']:.0f} WAL bytes)", ""))

    slots = [r for r in recs if r.get("bench") == "throughput"
             and str(r.get("label", "")).startswith("slots-") and r.get("ok")]
    if slots:
        rows.append(("throughput by worker slots (processes x threads)", "c", "  ".join(
            f"{r['label'][6:]}: {r['jobs_per_s']:,.0f}" for r in slots) + " jobs/s", ""))
    for r in recs:
        if r.get("bench") == "pg-alone" and r.get("ok"):
            rows.append((f"PostgreSQL alone: job life in batches of {r['batch']}, "
                         f"{r['connections']} conn", "sql", f"{r['jobs_per_s']:,.0f} jobs/s", ""))
    for r in recs:
        if r.get("bench") == "throughput" and r.get("label") == "noawait" and r.get("ok"):
            cpu = r.get("cpu_s") or {}
            per = 1e6 / r["jobs"]
            rows.append(("diagnostic: throughput without AWAIT", "c",
                         f"{r['jobs_per_s']:,.0f} jobs/s; CPU µs per job: " +
                         "  ".join(f"{k} {v * per:.0f}" for k, v in cpu.items()
                                   if k not in ("machine", "others")), ""))
        if r.get("bench") == "cost" and r.get("label") == "noawait":
            rows.append(("  per job: statements / write xacts / commits / WAL flushes", "c",
                         f"{r['statements_per_job']:.2f} / {r['write_xacts_per_job']:.2f} / "
                         f"{r['commits_per_job']:.2f} / {r['wal_flushes_per_job']:.3f}", ""))

    mem = {r["label"]: r for r in recs if r.get("bench") == "memory"}
    mb = lambda kb: f"{kb / 1024:.1f} MB" if kb is not None and kb >= 0 else "-"
    if "idle" in mem:
        i = mem["idle"]
        rows.append(("daemon RSS idle", "", f"{mb(i.get('VmRSS_kb'))} (anonymous "
                     f"{mb(i.get('RssAnon_kb'))}, file-backed {mb(i.get('RssFile_kb'))}; "
                     f"PSS {mb(i.get('Pss_kb'))})",
                     mark("rss_idle", i.get("VmRSS_kb"))))

    def trouble(r):
        f, t = r.get("failed", 0), r.get("retries", 0)
        return f"{f} failed, {t} requests refused as retryable and resent" if f or t else "none failed"

    for r in recs:
        if r.get("bench") != "throughput":
            continue
        if r.get("label") == "hold10k":
            v = r.get("daemon_rss_held_kb")
            rows.append(("daemon RSS, 10,000 jobs enqueued + awaited, none running", "c",
                         mb(v), mark("rss_inflight", v)))
            rows.append(("  peak while one worker drains them", "c",
                         f"{mb(r.get('daemon_rss_peak_kb'))} (HWM {mb(r.get('daemon_hwm_kb'))})", ""))
            rows.append(("  drain of that backlog", "c",
                         f"{r.get('jobs_per_s', 0):,.0f} jobs/s; {trouble(r)}", ""))
        elif r.get("label") == "inflight10k":
            v = r.get("daemon_rss_peak_kb")
            rows.append(("daemon RSS, window of 10,000 in flight (peak)", "c",
                         f"{mb(v)} (window held {r.get('inflight_at_peak')} then)",
                         mark("rss_inflight", v)))
            rows.append(("  throughput with that window", "c",
                         f"{r.get('jobs_per_s', 0):,.0f} jobs/s; {trouble(r)}", ""))
    for label in ("after-load", "end"):
        if label in mem:
            rows.append((f"daemon RSS idle, {label}", "", mb(mem[label].get("VmRSS_kb")), ""))

    size = {r["label"]: r for r in recs if r.get("bench") == "sizes"}
    for prefix, title in (("naptime60", "throughput, autovacuum_naptime 60 s (default)"),
                          ("xmin-held", "throughput while a transaction holds back vacuum")):
        runs = [r for r in recs if r.get("bench") == "throughput" and r.get("ok")
                and str(r.get("label", "")).startswith(prefix + "-")]
        if not runs:
            continue
        rows.append((title, "c", "  ".join(f"{r['jobs_per_s']:,.0f}" for r in runs)
                     + " jobs/s (slices in order)", ""))
        claims, pgcpu = [], []
        for r in runs:
            c = next((x for x in recs if x.get("bench") == "cost" and x.get("label") == r["label"]), None)
            m = [x["mean_ms"] for x in (c or {}).get("statements", []) if x["query"].startswith(("WITH picked", "WITH names"))]
            claims.append(f"{float(m[0]):.2f}" if m else "-")
            pgcpu.append(f"{r['cpu_s']['postgres'] * 1e6 / r['jobs']:.0f}")
        rows.append(("  claim statement, mean ms", "", "  ".join(claims), ""))
        rows.append(("  PostgreSQL CPU µs per job", "", "  ".join(pgcpu), ""))
        a0, b0 = size.get(prefix + "-start"), size.get(runs[-1]["label"])
        if a0 and b0:
            rows.append(("  jobs / jobs_pending sizes", "",
                         f"{a0['jobs_bytes'] / 2**20:.0f} -> {b0['jobs_bytes'] / 2**20:.0f} MB / "
                         f"{a0['jobs_pending_bytes'] / 2**20:.1f} -> "
                         f"{b0['jobs_pending_bytes'] / 2**20:.1f} MB", ""))
    rel = [r for r in recs if r.get("bench") == "throughput" and r.get("ok")
           and str(r.get("label", "")).startswith("xmin-released")]
    if rel:
        rows.append(("  once the transaction ended", "c", f"{rel[0]['jobs_per_s']:,.0f} jobs/s", ""))

    for g in (r for r in recs if r.get("bench") == "growth"):
        lbl = g["label"]
        rows.append((f"jobs table with {g['rows']:,} finished rows", "",
                     f"{g['table_bytes'] / 2**30:.2f} GiB, built in {g['seconds']:.0f} s", ""))
        for r in recs:
            if r.get("label") != lbl:
                continue
            if r.get("bench") == "latency":
                for fig, name in (("enqueue", "enqueue"), ("round_trip", "round trip")):
                    s = r.get(fig) or {}
                    rows.append((f"  {name}", r["client"],
                                 f"p50 {fmt_ms(s.get('p50_ms'))}  p95 {fmt_ms(s.get('p95_ms'))}  "
                                 f"p99 {fmt_ms(s.get('p99_ms'))} ms", ""))
            elif r.get("bench") == "throughput":
                rows.append(("  throughput", r["client"], f"{r.get('jobs_per_s', 0):,.0f} jobs/s", ""))
            elif r.get("bench") == "cost":
                rows.append(("  per job: statements / write xacts / WAL flushes", r["client"],
                             f"{r['statements_per_job']:.2f} / {r['write_xacts_per_job']:.2f} / "
                             f"{r['wal_flushes_per_job']:.3f}", ""))

    errors = [r for r in recs if r.get("ok") is False]
    w = [max(len(r[i]) for r in rows) if rows else 0 for i in range(4)]
    head = ("figure", "client", "measured", "target")
    w = [max(w[i], len(head[i])) for i in range(4)]
    line = lambda r: "  ".join(r[i].ljust(w[i]) for i in range(4)).rstrip()
    print(line(head))
    print(line(tuple("-" * x for x in w)))
    for r in rows:
        print(line(r))
    for r in errors:
        print(f"ERROR in {r.get('bench')} {r.get('label', '')}: {r.get('error', 'see stderr')}")
    print()
    print(f"written: {out_rel}")




if __name__ == "__main__":
    main()
