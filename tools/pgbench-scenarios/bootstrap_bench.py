#!/usr/bin/python3
"""Bootstrap throughput of the engine (issue 10): rows/s of a standby-snapshot bootstrap.

One primary + hot standby (tests/harness), a narrow table (id bigint PRIMARY KEY, two int
columns, one numeric) of --rows rows and a wide one (20 columns: ints, numerics, text,
timestamps, float8, bool, date) of --wide-rows rows. For each engine binary given with
--engine LABEL=PATH (at least the build's own, label "new"), and each (table, stream table
shape) case, in turns (A/B/A/B when --reps > 1): a fresh engine state, the stream table
created, the engine started; the figure is the engine's own bootstrap timing (the
bootstrap_started and bootstrap_done events of its JSON log: rows / seconds between them).
The source mirror is built by the same bootstrap (no mirror exists before it).

    tools/pgbench-scenarios/bootstrap_bench.py --engine base=/tmp/old-engine --rows 10000000

A baseline can be given fewer rows (--baseline-rows) when it is slow: rows/s is per row.
With --merge the first merge (every row of the table) is measured too: wall time from
bootstrap_done to the new frontier on the primary and until the engine idles again (the pending
rows merged removed), its CPU seconds, and the highest RSS sampled (every 0.1 s) meanwhile —
the merge's memory, apart from the bootstrap's peak (issue 10: a merge in bounded memory).
Prints a table and writes JSON to --out (default ./bench-out/bootstrap.json). Ratios are
against the binary labelled by --baseline, measured in the same run on the same data.
Timings on a shared 2-core machine are noisy: the load average before each run is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

from common import Engine, Harness, TestFailure, log  # noqa: E402
from bench.common import du_bytes, proc_cpu_s, proc_hwm_kb, proc_status_kb  # noqa: E402

NARROW = ("CREATE TABLE {t} (id bigint PRIMARY KEY, a int, b int, c numeric(12,2))",
          "INSERT INTO {t} SELECT g, g % 1000, (g * 7) % 100000, (g % 100000) / 100.0 "
          "FROM generate_series({lo}, {hi}) g")
WIDE = ("CREATE TABLE {t} (id bigint PRIMARY KEY, i1 int, i2 int, i3 bigint, s1 smallint, "
        "n1 numeric, n2 numeric(18,4), t1 text, t2 text, v1 varchar(40), ts1 timestamp, "
        "ts2 timestamptz, d1 date, f1 float8, f2 float4, b1 bool, n3 numeric, t3 text, "
        "i4 int, u1 uuid)",
        "INSERT INTO {t} SELECT g, g % 1000, g * 3, g::bigint * 1000003, (g % 30000)::smallint, "
        "g * 1.5, (g % 9999) / 7.0, 'row ' || g, md5(g::text), 'v' || (g % 777), "
        "timestamp '2020-01-01' + g * interval '1 second', "
        "timestamptz '2021-06-01 12:00+00' + g * interval '1 minute', "
        "date '2000-01-01' + (g % 9000), g / 3.0, (g % 1000) / 8.0, g % 2 = 0, "
        "-(g % 123456)::numeric / 1000, repeat('x', g % 50), NULLIF(g % 10, 0), "
        "md5(g::text)::uuid FROM generate_series({lo}, {hi}) g")

# (case name, table, stream table query)
CASES = [
    ("narrow_project", "narrow", "SELECT id, a, c FROM narrow"),
    ("narrow_aggregate", "narrow", "SELECT a, count(*) AS n, sum(c) AS s FROM narrow GROUP BY a"),
    ("wide_project", "wide", "SELECT id, i1, i3, s1, n1, n2, t1, t2, v1, ts1, d1, f1, b1, n3, t3, i4 FROM wide"),
    # Issue 10 "state at scale": three stream tables over one source (like the runner's
    # state_at_scale: aggregate per group, a 1 % filter/projection, a global aggregate),
    # created together; the first builds the mirror from the snapshot, the others load from it.
    # The figure is source rows / (first bootstrap_started .. last bootstrap_done); peak RSS.
    ("narrow_three", "narrow", ("SELECT a, count(*) AS n, sum(b) AS s FROM narrow GROUP BY a",
                                "SELECT id, a, b FROM narrow WHERE b >= 99000",
                                "SELECT count(*) AS n, avg(c) AS avg_c FROM narrow")),
]


def load_table(h, ddl, table, rows):
    create, insert = ddl
    h.primary_sql(create.format(t=table))
    step = 1_000_000
    for lo in range(1, rows + 1, step):
        h.primary_sql(insert.format(t=table, lo=lo, hi=min(rows, lo + step - 1)))
    h.primary_sql(f"VACUUM ANALYZE {table}")


def events(path, names):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("{"):
                continue
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("event") in names:
                out.append(j)
    return out


def parse_time(s):
    # 2026-12-07T11:40:01.123Z
    t = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    return time.mktime(t) + int(s[20:23]) / 1000.0


def run_case(h, label, binary, case, rows_limit, timeout, merge, rep=0, log_copy_dir=None):
    name, table, query = case
    queries = query if isinstance(query, tuple) else (query,)
    sts = [f"public.st_{name}" + (f"_{i}" if len(queries) > 1 else "") for i in range(len(queries))]
    src = table if rows_limit is None else f"{table}_{rows_limit}"
    for st, q in zip(sts, queries):
        q = q.replace(f"FROM {table}", f"FROM {src}")
        h.primary_sql(f"SELECT pgtrickle.create_stream_table('{st}', $${q}$$, schedule => '1 second')")
    # Per repetition: the figure is read from this log's events (a reused log would give the
    # previous repetition's bootstrap_done at once).
    state = os.path.join(h.cluster.data_root, f"state-{label}-{name}-{rep}")
    logp = os.path.join(h.cluster.log_dir, f"engine-{label}-{name}-{rep}.log")
    shutil.rmtree(state, ignore_errors=True)
    e = Engine(binary, h.cluster, state, logp, ["--log-format", "json"])
    h.engines.append(e)
    load = os.getloadavg()[0]
    e.start()
    deadline = time.time() + timeout
    try:
        while True:
            done = events(logp, {"bootstrap_done"})
            if len(done) >= len(sts):
                break
            err = events(logp, {"table_error"})
            if err:
                raise TestFailure(f"{label}/{name}: {err[0].get('msg')}")
            e.check_alive()
            if time.time() > deadline:
                raise TestFailure(f"{label}/{name}: no bootstrap_done within {timeout}s")
            time.sleep(0.2)
        # Right after bootstrap_done (the engine idles then): its CPU time since start, peak
        # RSS and state size. Before the first merge, which is not part of the figure.
        cpu = proc_cpu_s(e.proc.pid)
        hwm = proc_hwm_kb(e.proc.pid)
        state_bytes = du_bytes(state)
        started = events(logp, {"bootstrap_started"})[0]
        secs = parse_time(done[-1]["time"]) - parse_time(started["time"])
        rows = int(done[0].get("rows", 0))   # the source's rows (the snapshot bootstrap)
        progress = len(events(logp, {"bootstrap_progress"}))
        merge_fig = {}
        if merge:   # the first merge writes every row to the primary: minutes for 10M rows
            merge_fig = measure_merge(h, e, sts, cpu, timeout)
    finally:
        e.kill()   # its state is thrown away
        h.engines.remove(e)
        for st in sts:
            h.primary_sql(f"SELECT pgtrickle.drop_stream_table('{st}')")
        shutil.rmtree(state, ignore_errors=True)
        if log_copy_dir and os.path.exists(logp):   # the cluster's log directory is removed
            shutil.copy(logp, os.path.join(log_copy_dir, os.path.basename(logp)))
    r = {"engine": label, "case": name, "rows": rows, "seconds": round(secs, 3),
         "rows_per_s": round(rows / secs) if secs > 0 else None, "loadavg_1m_before": load,
         "progress_events": progress, "engine_cpu_s": round(cpu, 2),
         "rows_per_cpu_s": round(rows / cpu) if cpu > 0 else None,
         "peak_rss_mb": round(hwm / 1024) if hwm else None,
         "state_mb": round(state_bytes / 2**20) if state_bytes else None, **merge_fig}
    log(f"{label:>8} {name:<18} {rows:>10,} rows in {secs:8.2f} s = "
        f"{r['rows_per_s'] or 0:>9,} rows/s, {cpu:6.1f} CPU s, peak RSS {r['peak_rss_mb']} MB, "
        f"state {r['state_mb']} MB (load {load:.1f})")
    if merge_fig:
        log(f"{label:>8} {name:<18} first merge: frontier after {merge_fig['merge_frontier_s']:.2f} s, "
            f"idle after {merge_fig['merge_idle_s']:.2f} s, {merge_fig['merge_cpu_s']:.1f} CPU s, RSS "
            f"{merge_fig['merge_rss_start_mb']} MB at its start, {merge_fig['merge_peak_rss_mb']} MB at most")
    return r


def measure_merge(h, e, sts, cpu_before, timeout):
    """The first merge after the bootstrap: RSS sampled every 0.1 s from bootstrap_done until the
    frontier reached the primary's position and the engine's CPU time stopped moving (the main
    thread's removal of the merged pending rows included)."""
    pid = e.proc.pid
    target = h.cluster.primary_lsn()
    t0 = time.time()
    rss0 = proc_status_kb(pid, "VmRSS") or 0
    peak = rss0
    pending = set(sts)
    frontier_s = None
    last_cpu, last_move = proc_cpu_s(pid), time.time()
    while True:
        peak = max(peak, proc_status_kb(pid, "VmRSS") or 0)
        now = time.time()
        if pending and now - t0 > timeout:
            raise TestFailure(f"no merge of {sorted(pending)} within {timeout}s")
        for st in list(pending):
            if h.primary_sql("SELECT frontier >= %s::pg_lsn FROM pgtrickle.pgt_stream_tables WHERE name = %s",
                             (target, st))[0][0]:
                pending.discard(st)
        if not pending and frontier_s is None:
            frontier_s = now - t0
        c = proc_cpu_s(pid)
        if c - last_cpu > 0.02:
            last_cpu, last_move = c, now
        if not pending and now - last_move > 1.0:
            break
        e.check_alive()
        time.sleep(0.1)
    return {"merge_frontier_s": round(frontier_s, 2), "merge_idle_s": round(last_move - t0, 2),
            "merge_cpu_s": round(last_cpu - cpu_before, 2), "merge_rss_start_mb": round(rss0 / 1024),
            "merge_peak_rss_mb": round(peak / 1024), "peak_rss_after_merge_mb": round(proc_hwm_kb(pid) / 1024)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    ap.add_argument("--engine", action="append", default=[],
                    help="LABEL=PATH of an engine binary (repeatable); the build's is 'new'")
    ap.add_argument("--baseline", default=None, help="label of the baseline binary")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--baseline-rows", type=int, default=None,
                    help="rows of the narrow/wide table for the baseline (a copy of the first N)")
    ap.add_argument("--wide-rows", type=int, default=1_000_000)
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES[:3]),
                    help="comma-separated; also narrow_three (not run by default)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--merge", action="store_true",
                    help="also wait for each stream table's first merge (not part of the figure)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--out", default=os.path.join("bench-out", "bootstrap.json"))
    a = ap.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)   # engine logs are copied there
    engines = [("new", os.path.join(os.path.abspath(a.build_dir), "engine", "pgtrickle-engine"))]
    for spec in a.engine:
        label, _, path = spec.partition("=")
        engines.insert(0, (label, os.path.abspath(path)))
    baseline = a.baseline or (engines[0][0] if len(engines) > 1 else None)
    cases = [c for c in CASES if c[0] in a.cases.split(",")]
    results = []
    with Harness(a.build_dir) as h:
        log(f"loading narrow ({a.rows:,} rows) and wide ({a.wide_rows:,} rows)")
        t0 = time.time()
        load_table(h, NARROW, "narrow", a.rows)
        if any(c[1] == "wide" for c in cases):
            load_table(h, WIDE, "wide", a.wide_rows)
        if a.baseline_rows:
            for t, ddl in (("narrow", NARROW), ("wide", WIDE)):
                n = min(a.baseline_rows, a.rows if t == "narrow" else a.wide_rows)
                h.primary_sql(f"CREATE TABLE {t}_{a.baseline_rows} (LIKE {t} INCLUDING ALL)")
                h.primary_sql(f"INSERT INTO {t}_{a.baseline_rows} SELECT * FROM {t} WHERE id <= {n}")
                h.primary_sql(f"VACUUM ANALYZE {t}_{a.baseline_rows}")
        h.cluster.wait_standby_caught_up(timeout=600)
        log(f"loaded in {time.time() - t0:.0f} s")
        for rep in range(a.reps):
            for label, binary in engines:
                lim = a.baseline_rows if label == baseline else None
                for case in cases:
                    r = run_case(h, label, binary, case, lim, a.timeout, a.merge, rep,
                                 os.path.dirname(os.path.abspath(a.out)))
                    r["rep"] = rep
                    results.append(r)
    summary = {}
    for case in cases:
        per, per_cpu = {}, {}
        for label, _ in engines:
            vals = [r["rows_per_s"] for r in results if r["engine"] == label and r["case"] == case[0]
                    and r["rows_per_s"]]
            if vals:
                per[label] = statistics.median(vals)
            cvals = [r["rows_per_cpu_s"] for r in results if r["engine"] == label and r["case"] == case[0]
                     and r["rows_per_cpu_s"]]
            if cvals:
                per_cpu[label] = statistics.median(cvals)
        entry = {"rows_per_s": per, "rows_per_cpu_s": per_cpu}
        if baseline and baseline in per and "new" in per:
            entry["ratio_new_vs_" + baseline] = round(per["new"] / per[baseline], 2)
        if baseline and baseline in per_cpu and "new" in per_cpu:
            entry["cpu_ratio_new_vs_" + baseline] = round(per_cpu["new"] / per_cpu[baseline], 2)
        summary[case[0]] = entry
    report = {"rows": a.rows, "wide_rows": a.wide_rows, "baseline_rows": a.baseline_rows,
              "engines": dict(engines), "results": results, "summary": summary,
              "goal": "narrow table >= 500000 rows/s (10M rows in < 20 s)"}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(summary, indent=2))
    log(f"report written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
