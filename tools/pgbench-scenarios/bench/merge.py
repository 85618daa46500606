"""Merge of a 1,000-row delta vs REFRESH MATERIALIZED VIEW at two source sizes (fresh load,
stream tables bootstrapped, then a transaction changing exactly 1,000 rows of each source), with
the engine's bootstrap rate, peak RSS and RocksDB size at each size; for a scenario with
`large_txn_rows`, one large transaction at the small size (time to apply, RSS while applying)."""
from __future__ import annotations

import statistics
import time

import scenarios as S
from bench.common import RssSampler, du_bytes, log, lsn_int, proc_hwm_kb, r3


def measure_delta(sr, size, rep, per):
    """Commit one delta; poll the catalog every few ms until every stream table's frontier
    covers it. Each merge adds exactly one sample to the moving average
    avg_refresh_ms = 0.9 * old + 0.1 * ms, so observing consecutive refresh_count values
    gives that merge's own duration (the engine's timing, inside the merge transaction).
    If a merge was not observed alone, fall back to the engine log's integer ms."""
    q = ("SELECT name, coalesce(frontier >= %s::pg_lsn, false), refresh_count, avg_refresh_ms, "
         "rows_changed_last_cycle FROM pgtrickle.pgt_stream_tables")
    conn = sr.c.connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(q, ("0/0",))
    last = {r[0]: (r[2], r[3]) for r in cur.fetchall()}
    wconn = sr.c.connect()
    with wconn.cursor() as wcur:
        sr.scen.delta(wcur, size, rep)
    wconn.commit()
    t_commit = time.time()
    with wconn.cursor() as wcur:
        wcur.execute("SELECT pg_current_wal_lsn()::text")
        lsn = wcur.fetchone()[0]
    wconn.close()
    pending = set(per)
    while pending:
        cur.execute(q, (lsn,))
        now = time.time()
        for name, reached, n1, a1, rows in cur.fetchall():
            n0, a0 = last[name]
            # the delta's merge = the first merge after the commit that changed rows
            # (nothing else writes the sources meanwhile; frontier >= lsn as a backstop)
            if name in pending and n1 != n0 and (rows > 0 or reached):
                pending.discard(name)
                per[name]["commit_to_visible_ms"].append(r3((now - t_commit) * 1000))
                per[name]["rows_changed"].append(rows)
                if n1 - n0 == 1:
                    ms = a1 if a0 is None else (a1 - 0.9 * a0) / 0.1
                    per[name]["merge_ms"].append(r3(ms))
                else:
                    per[name]["merge_ms"].append(merge_ms_from_log(sr, name, lsn))
                    per[name].setdefault("from_log", 0)
                    per[name]["from_log"] += 1
            last[name] = (n1, a1)
        if now - t_commit > 600:
            raise RuntimeError(f"delta not merged within 600 s: {pending}")
        sr.h.engine.check_alive()
        time.sleep(0.003)
    conn.close()

def merge_ms_from_log(sr, name, lsn):
    parse = lsn_int
    target = parse(lsn)
    with open(sr.h.engine.log_path, errors="replace") as f:
        for line in f:
            i = line.find(f"merged {name}: ")
            if i < 0 or " frontier " not in line:
                continue
            parts = line[i:].split()
            try:
                fr = parts[parts.index("frontier") + 1].rstrip(",")
                ms = float(parts[parts.index("in") + 1])
            except (ValueError, IndexError):
                continue
            if parse(fr) >= target:
                return ms
    raise RuntimeError(f"{name}: merge of the delta not found in the engine log")

# ---- 3: merge of a 1,000-row delta vs REFRESH MATERIALIZED VIEW, two sizes
def run(sr):
    scen = sr.scen
    reps = sr.cfg["merge_reps"]
    res = {"delta_rows_per_source": S.DELTA_ROWS, "reps": reps, "sizes": {},
           "method": "merge_ms = the engine's own timing of the primary merge transaction "
                     "(pgt_stream_tables.avg_refresh_ms unrolled for exactly one merge), "
                     "median of reps; commit_to_visible_ms = client commit of the delta to "
                     "frontier covering it (includes up to one schedule period of waiting); "
                     "refresh_matview_ms = REFRESH MATERIALIZED VIEW of the same query, "
                     "client-timed, median of reps"}
    sr.out["merge"] = res
    for size in sr.sz["merge_sizes"]:
        sr.drop_stream_tables()
        sr.stop_engine()
        log(f"{scen.name}: merge at size {size}: loading")
        t0 = time.time()
        scen.load(sr.c, size)
        load_s = time.time() - t0
        mvs = []
        for name, q in scen.stream_tables:
            mv = name.replace("public.", "public.mv_")
            sr.sql(f"DROP MATERIALIZED VIEW IF EXISTS {mv}")
            sr.sql(f"CREATE MATERIALIZED VIEW {mv} AS {q}")
            mvs.append(mv)
        sr.settle()
        sr.create_stream_tables()
        sr.start_engine_fresh()
        log(f"{scen.name}: merge at size {size}: engine bootstrap")
        boot = sr.wait_frontiers(timeout=3600)
        rows = scen.source_rows(size)
        log(f"{scen.name}: bootstrap of {rows:,} source rows took {boot:.1f} s")
        per = {name: {"merge_ms": [], "commit_to_visible_ms": [], "rows_changed": []}
               for name, _ in scen.stream_tables}
        for rep in range(reps):
            time.sleep(1.2)
            measure_delta(sr, size, rep, per)
        refresh = {}
        for mv in mvs:
            ts = []
            for _ in range(reps):
                t0 = time.time()
                sr.sql(f"REFRESH MATERIALIZED VIEW {mv}")
                ts.append((time.time() - t0) * 1000)
            refresh[mv] = ts
        entry = {"load_s": r3(load_s), "bootstrap_s": r3(boot), "source_rows": rows,
                 "bootstrap_rows_per_s": round(rows / boot) if boot > 0 else None,
                 "engine_peak_rss_mb": r3(proc_hwm_kb(sr.engine_pid) / 1024),
                 "rocksdb_mb": r3(du_bytes(sr.h.engine.state_dir) / 1048576),
                 "stream_tables": {}}
        for (name, _), mv in zip(scen.stream_tables, mvs):
            m = statistics.median(per[name]["merge_ms"])
            rf = statistics.median(refresh[mv])
            entry["stream_tables"][name] = {
                "merge_ms": r3(m), "merge_ms_runs": per[name]["merge_ms"],
                "rows_changed_in_stream_table": per[name]["rows_changed"],
                "merge_ms_runs_from_engine_log": per[name].get("from_log", 0),
                "commit_to_visible_ms": r3(statistics.median(
                    per[name]["commit_to_visible_ms"])),
                "refresh_matview_ms": r3(rf),
                "refresh_matview_ms_runs": [r3(x) for x in refresh[mv]],
                "merge_vs_refresh_speedup": r3(rf / m) if m > 0 else None,
            }
        res["sizes"][str(size)] = entry
        if scen.large_txn_rows and size == sr.sz["merge_sizes"][0]:
            large_transaction(sr, size)
        sr.stop_engine()
        sr.drop_stream_tables()
        for mv in mvs:
            sr.sql(f"DROP MATERIALIZED VIEW {mv}")
    small, large = (str(x) for x in sr.sz["merge_sizes"])
    growth = {}
    for name, _ in scen.stream_tables:
        a = res["sizes"][small]["stream_tables"][name]["merge_ms"]
        b = res["sizes"][large]["stream_tables"][name]["merge_ms"]
        growth[name] = r3(b / a) if a else None
        ra = res["sizes"][small]["stream_tables"][name]["rows_changed_in_stream_table"]
        rb = res["sizes"][large]["stream_tables"][name]["rows_changed_in_stream_table"]
        ma, mb = (statistics.median(x) if isinstance(x, list) else x for x in (ra, rb))
        if ma and mb and max(ma, mb) > 1.2 * min(ma, mb):
            # the delta reached more groups at one size: the growth is not like for like
            res.setdefault("merge_growth_notes", {})[name] = (
                f"rows merged differ: {ra} at size {small}, {rb} at size {large}")
    res["merge_growth_small_to_large"] = growth



def large_transaction(sr, size):
    """One transaction of scen.large_txn_rows[mode] rows with the engine running and caught
    up: commit -> every frontier covers it (engine time to apply it), engine CPU, peak VmRSS
    sampled every 100 ms while it applies, and VmHWM (process lifetime) after."""
    scen, n = sr.scen, sr.scen.large_txn_rows[sr.mode]
    sr.wait_frontiers(timeout=3600)
    time.sleep(1.2)
    pid = sr.engine_pid
    rss_before = proc_hwm_kb(pid)
    log(f"{scen.name}: one transaction of {n:,} rows")
    conn = sr.c.connect()
    with conn.cursor() as cur:
        t0 = time.time()
        scen.large_txn(cur, size, n)
    conn.commit()
    commit_s = time.time() - t0
    conn.close()
    lsn = sr.c.primary_lsn()
    cpu0, t1 = sr.engine_cpu_s(), time.time()
    with RssSampler(pid) as rs:
        sr.wait_frontiers(timeout=7200, lsn=lsn)
    apply_s = time.time() - t1
    cpu = sr.engine_cpu_s() - cpu0
    sr.out["large_transaction"] = {
        "rows": n, "statement": scen.large_txn_sql, "source_rows_before": scen.source_rows(size),
        "primary_commit_s": r3(commit_s),
        "engine_apply_s": r3(apply_s),
        "engine_cpu_s": r3(cpu),
        "engine_rows_per_s": round(n / apply_s) if apply_s > 0 else None,
        "engine_rows_per_cpu_s": round(n / cpu) if cpu > 0 else None,
        "engine_peak_rss_mb_while_applying": r3(rs.peak_kb / 1024),
        "engine_peak_rss_mb_before": r3(rss_before / 1024),
        "engine_peak_rss_mb_after": r3(proc_hwm_kb(pid) / 1024),
        "method": "the primary's WAL position after the commit; engine_apply_s = from then "
                  "until every stream table's frontier reaches it (includes waiting for the "
                  "schedule, up to 1 s); VmRSS sampled every 100 ms meanwhile",
    }
