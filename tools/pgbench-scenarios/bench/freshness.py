"""Freshness, with the engine running on shared cores:

1. staleness under pgbench -R = 50 % of the baseline's max TPS: a probe commits one source row
   every 0.1-0.3 s with a unique marker, a poller reads the stream table on the primary every
   10 ms; staleness = first poll showing the marker - the probe's commit returning.
2. the highest write rate the engine keeps up with: pgbench -R steps up (fractions of the
   baseline's max TPS); after each step the time the engine needs to reach the primary's position
   at the step's end is measured. The engine kept up when that lag is within its idle lag (one
   row committed on an idle primary until merged) + one schedule period: no backlog built up,
   its staleness did not grow. The steps stop at the first one it did not keep up with.
   Reported as source row changes per second (pg_stat_user_tables counters)."""
from __future__ import annotations

import random
import threading
import time

from bench.common import du_bytes, log, pctl, pgbench, proc_hwm_kb, r3

# after the load stops, probes not yet visible are waited for this long; one still unseen then
# counts with its wait so far as a lower bound of its staleness
WAIT_AFTER_LOAD_S = 300


def run(sr):
    if sr.base_tps is None:   # write path failed or not run: measure a baseline here
        sr.stop_engine(keep_state=True)
        sr.settle()
        sr.base_tps = pgbench(sr.c, sr.scen, sr.sz["tps_size"], sr.cfg["clients"],
                              seconds=sr.cfg["tps_seconds"], tmp=sr.b.tmp, tag="base")["tps"]
        sr.out["freshness_baseline_tps"] = sr.base_tps
    if not sr.h.engine.running():
        if not sr.sql("SELECT 1 FROM pgtrickle.pgt_stream_tables"):
            sr.create_stream_tables()
        sr.start_engine()
    sr.wait_frontiers(timeout=3600)
    pid = sr.engine_pid
    cpu0, ch0 = sr.engine_cpu_s(), sr.source_changes()
    probe(sr, sr.base_tps)
    sr.wait_frontiers(timeout=3600)
    ch1, cpu1 = sr.source_changes(), sr.engine_cpu_s()
    sr.out["freshness"]["engine_cpu_s"] = r3(cpu1 - cpu0)
    sr.out["freshness"]["source_changes"] = ch1 - ch0
    if cpu1 > cpu0:
        sr.out["freshness"]["engine_changes_per_cpu_s"] = round((ch1 - ch0) / (cpu1 - cpu0))
    sustained(sr, sr.base_tps)
    sr.out["engine_resources"] = {
        "window": "the freshness phase (engine process: bootstrap, write-path runs before it "
                  "are in another process; peak RSS is this process's lifetime peak)",
        "peak_rss_mb": r3(proc_hwm_kb(pid) / 1024),
        "rocksdb_mb": r3(du_bytes(sr.h.engine.state_dir) / 1048576),
    }
    sr.stop_engine(keep_state=True)


def probe(sr, base_tps):
    scen, size = sr.scen, sr.sz["tps_size"]
    rate = max(1, int(base_tps * 0.5))
    secs = sr.cfg["freshness_seconds"]
    sched_s = scen.schedule_s
    commits, seen, errors = {}, {}, []
    stop = threading.Event()
    stop_at = [0.0]

    def prober():
        try:
            conn = sr.c.connect()
            conn.autocommit = False
            k = 0
            rnd = random.Random(4)
            while not stop.is_set():
                k += 1
                with conn.cursor() as cur:
                    scen.probe_insert(cur, k)
                conn.commit()
                commits[k] = time.time()
                stop.wait(rnd.uniform(0.1, 0.3))
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def poller():
        try:
            conn = sr.c.connect()
            conn.autocommit = True
            while not stop.is_set() or len(seen) < len(commits):
                with conn.cursor() as cur:
                    cur.execute(scen.probe_seen_sql)
                    now = time.time()
                    for (k,) in cur.fetchall():
                        if k not in seen:
                            seen[k] = now
                if stop.is_set() and time.time() > stop_at[0] + WAIT_AFTER_LOAD_S:
                    break
                time.sleep(0.01)
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ths = [threading.Thread(target=prober), threading.Thread(target=poller)]
    for t in ths:
        t.start()
    log(f"{scen.name}: freshness probe under pgbench -R {rate} for {secs} s")
    try:
        load = pgbench(sr.c, scen, size, sr.cfg["clients"], seconds=secs, rate=rate,
                       tmp=sr.b.tmp, tag="freshness")
    finally:
        stop_at[0] = time.time()
        stop.set()
        for t in ths:
            t.join()
    if errors:
        raise errors[0]
    end = time.time()
    lags = [seen[k] - commits[k] if k in seen else end - commits[k] for k in commits]
    unseen = [k for k in commits if k not in seen]
    fr = {"rate_tps": rate, "achieved_tps": load["tps"], "seconds": secs,
          "schedule_s": sched_s, "probes": len(commits),
          f"probes_not_seen_{WAIT_AFTER_LOAD_S}s_after_load": len(unseen),
          "staleness_lower_bound": bool(unseen),
          "load_lat_p99_ms": load.get("lat_p99_ms"), "goal_s": sched_s + 1.0,
          "placement": "shared cores",
          "probe": "one committed source row per probe every 0.1-0.3 s; visible = first poll "
                   "(every 10 ms) of the stream table on the primary that shows it; a probe "
                   f"not visible {WAIT_AFTER_LOAD_S} s after the load stopped counts with its "
                   "wait so far (the figures are then lower bounds)"}
    if lags:
        fr.update(staleness_p50_s=r3(pctl(lags, 50)), staleness_p99_s=r3(pctl(lags, 99)),
                  staleness_max_s=r3(max(lags)))
    sr.out["freshness"] = fr


def idle_lag(sr, n=3):
    """Median time from committing one source row (the freshness probe's) on an otherwise idle
    primary until every frontier covers it: the schedule wait plus the merges."""
    lags = []
    for k in range(n):
        conn = sr.c.connect()
        with conn.cursor() as cur:
            sr.scen.probe_insert(cur, 1000000 + k)
        conn.commit()
        conn.close()
        lsn = sr.c.primary_lsn()
        t0 = time.time()
        sr.wait_frontiers(timeout=600, lsn=lsn)
        lags.append(time.time() - t0)
    return sorted(lags)[n // 2]


def sustained(sr, base_tps):
    scen, size = sr.scen, sr.sz["tps_size"]
    secs = sr.cfg["step_seconds"]
    idle = idle_lag(sr)
    limit = idle + scen.schedule_s
    steps = []
    res = {"step_seconds": secs, "idle_lag_s": r3(idle),
           "kept_up_if_lag_after_step_s_at_most": r3(limit),
           "method": "pgbench -R steps (fractions of the baseline's max TPS); after each step, "
                     "the time until every stream table's frontier reaches the primary's "
                     "position at the step's end; kept up = within the idle lag (one row "
                     "committed on an idle primary until merged, median of 3) + one schedule "
                     "period, i.e. no backlog built up during the step; changes/s = source row "
                     "changes (pg_stat_user_tables) per second of the step",
           "steps": steps}
    sr.out["sustained"] = res
    for frac in sr.cfg["rate_steps"]:
        rate = max(1, int(base_tps * frac))
        ch0 = sr.source_changes(settle_stats=False)
        log(f"{scen.name}: sustained-rate step -R {rate} ({frac:.0%} of baseline) for {secs} s")
        load = pgbench(sr.c, scen, size, sr.cfg["clients"], seconds=secs, rate=rate,
                       tmp=sr.b.tmp, tag="step")
        lsn = sr.c.primary_lsn()
        t0 = time.time()
        sr.wait_frontiers(timeout=3600, lsn=lsn)
        lag = time.time() - t0
        changes = sr.source_changes() - ch0
        st = {"fraction_of_baseline": frac, "rate_tps": rate, "achieved_tps": load["tps"],
              "changes_per_s": round(changes / secs), "lag_after_step_s": r3(lag),
              "kept_up": lag <= limit}
        if not st["kept_up"]:
            # the engine applied the step's changes in secs + (lag - idle lag) seconds
            st["engine_applied_changes_per_s"] = round(changes / (secs + max(0.0, lag - idle)))
        steps.append(st)
        if not st["kept_up"]:
            break
    kept = [s for s in steps if s["kept_up"]]
    res["max_kept_up_changes_per_s"] = max((s["changes_per_s"] for s in kept), default=0)
    res["kept_up_at_every_step"] = len(kept) == len(steps)
    if not res["kept_up_at_every_step"]:
        res["engine_applied_changes_per_s_when_behind"] = steps[-1][
            "engine_applied_changes_per_s"]
