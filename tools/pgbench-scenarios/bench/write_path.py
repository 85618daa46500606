"""Primary write throughput, interleaved: baseline (no IVM), engine, trigger change buffer and
pg_ivm (when installed) alternate A/B/A/B… for `rounds` rounds and end with a baseline, on shared
cores and again pinned (primary + pgbench vs standby + engine on disjoint cores, the baseline
pinned alike). Each run's ratio is its TPS over the mean of the baselines just before and after
it; per configuration the median ratio and its spread are reported, and a placement whose
baselines differ by more than 10 % is flagged.

Every engine run starts by restarting the engine, which first applies the backlog the runs
since it stopped left (the baseline's and anchors' writes): that catch-up is the engine's apply
throughput (source changes per wall second and per engine CPU second)."""
from __future__ import annotations

import time

import psycopg2
import psycopg2.errors

from bench.common import Placement, log, median_spread, pgbench, r3

BASELINE_FLAG = 0.10    # baselines of one placement more than 10 % apart: flagged


def run(sr):
    scen, size, cl, secs = sr.scen, sr.sz["tps_size"], sr.cfg["clients"], sr.cfg["tps_seconds"]
    wt = {"seconds": secs, "clients": cl, "size": size, "rounds": sr.cfg["rounds"],
          "method": "interleaved runs (baseline, engine, anchors, baseline, …); ratio of a run "
                    "= its TPS / mean of the baselines just before and after it; median and "
                    "spread (max-min)/median over the rounds",
          "placements": {}, "apply": {"drains": []}}
    sr.out["write_throughput"] = wt
    # stream tables exist in every configuration (the baseline has the engine stopped: nothing
    # but the standby reads the WAL, as without IVM); bootstrap once
    sr.create_stream_tables()
    sr.start_engine(fresh=True)
    wt["bootstrap_s"] = r3(sr.wait_frontiers(timeout=1800))
    sr.stop_engine(keep_state=True)
    sr.changes_at_engine_stop = sr.source_changes()
    configs = ["engine", "trigger_change_buffer"]
    ivm = sr.sql("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_ivm'")
    if ivm:
        configs.append("pg_ivm")
    else:
        wt["pg_ivm"] = {"skipped": "pg_ivm is not installed on this machine (not in "
                                   "pg_available_extensions); the project never downloads or "
                                   "builds it"}
    placements = ["shared"] + (["pinned"] if Placement.available() else [])
    if "pinned" not in placements:
        wt["pinned_skipped"] = "one CPU only: nothing to pin apart"
    for pname in placements:
        pl = Placement(pname)
        pl.apply(sr.c)
        try:
            wt["placements"][pname] = _placement(sr, pl, configs, ivm[0][0] if ivm else None,
                                                 wt["apply"]["drains"])
        finally:
            Placement("shared").apply(sr.c)
    drains = [d for d in wt["apply"]["drains"] if d["changes"] > 0 and d["engine_cpu_s"] > 0]
    if drains:
        wt["apply"]["engine_startup_cpu_s"] = r3(sum(d["engine_startup_cpu_s"] for d in drains))
        ch = sum(d["changes"] for d in drains)
        cpu = sum(d["engine_cpu_s"] for d in drains)
        wall = sum(d["wall_s"] for d in drains)
        wt["apply"].update(changes=ch, engine_cpu_s=r3(cpu), wall_s=r3(wall),
                           changes_per_cpu_s=round(ch / cpu), changes_per_wall_s=round(ch / wall))
    shared = wt["placements"].get("shared", {}).get("configs", {})
    if shared.get("baseline", {}).get("tps"):
        sr.base_tps = shared["baseline"]["tps"]["median"]


def _placement(sr, pl, configs, ivm_version, drains):
    scen, rounds = sr.scen, sr.cfg["rounds"]
    seq = []
    for _ in range(rounds):
        seq += ["baseline"] + configs
    seq.append("baseline")
    runs = []
    log(f"{scen.name}: write path on {pl.name} cores ({pl.describe()}): {' '.join(seq)}")
    for i, cfg in enumerate(seq):
        res = {"config": cfg}
        try:
            if cfg == "baseline":
                sr.settle()
                res.update(_bench(sr, pl, "baseline"))
            elif cfg == "engine":
                res.update(_engine_run(sr, pl, drains, profile=(pl.name == "shared" and i == 1)))
            elif cfg == "trigger_change_buffer":
                res.update(_trigger_run(sr, pl))
            else:
                res.update(_pg_ivm_run(sr, pl, ivm_version))
        except Exception as e:  # noqa: BLE001 - recorded per run; the figure will be missing
            res["error"] = f"{type(e).__name__}: {e}"[:2000]
            log(f"{scen.name}: {cfg} run failed: {res['error'].splitlines()[0]}")
            sr.stop_engine(keep_state=True)
        runs.append(res)
    # ratios to the neighbouring baselines
    base_idx = [i for i, r in enumerate(runs) if r["config"] == "baseline"]
    for i, r in enumerate(runs):
        if r["config"] == "baseline" or "tps" not in r:
            continue
        before = max(b for b in base_idx if b < i)
        after = min(b for b in base_idx if b > i)
        pair = [runs[b].get("tps") for b in (before, after) if runs[b].get("tps")]
        if pair:
            r["write_tps_ratio"] = r3(r["tps"] / (sum(pair) / len(pair)))
    out = {"describe": pl.describe(), "sequence": seq, "runs": runs, "configs": {}}
    bases = [r["tps"] for r in runs if r["config"] == "baseline" and "tps" in r]
    if bases:
        diff = (max(bases) - min(bases)) / min(bases)
        out["baseline_max_diff"] = r3(diff)
        out["baselines_flagged"] = diff > BASELINE_FLAG
        out["configs"]["baseline"] = {"tps": median_spread(bases)}
    for cfg in configs:
        rs = [r for r in runs if r["config"] == cfg]
        ok = [r for r in rs if "write_tps_ratio" in r]
        c = {"errors": [r["error"] for r in rs if "error" in r]}
        if ok:
            c["tps"] = median_spread([r["tps"] for r in ok])
            c["write_tps_ratio"] = median_spread([r["write_tps_ratio"] for r in ok])
            c["lat_p99_ms"] = median_spread([r["lat_p99_ms"] for r in ok if "lat_p99_ms" in r])
        out["configs"][cfg] = c
    return out


def _bench(sr, pl, tag, rate=None):
    log(f"{sr.scen.name}: pgbench {tag} ({pl.name}) for {sr.cfg['tps_seconds']} s")
    return pgbench(sr.c, sr.scen, sr.sz["tps_size"], sr.cfg["clients"],
                   seconds=sr.cfg["tps_seconds"], rate=rate, tmp=sr.b.tmp, tag=tag, placement=pl)


def _engine_run(sr, pl, drains, profile):
    """Restart the engine (pinned like the standby), let it apply the backlog of the runs since
    it stopped (measured: apply throughput), then the pgbench run with it running."""
    sr.start_engine(placement=pl)
    prof = sr.perf_start("write-path") if profile else None
    try:
        # the catch-up counts from the end of the engine's start-up (RocksDB recovery of its
        # own WAL is a cost of the restart, not of applying changes): reported apart
        cpu0 = sr.wait_engine_started()
        t0 = time.time()
        sr.wait_frontiers(timeout=3600)
        wall, cpu = time.time() - t0, sr.engine_cpu_s() - cpu0
        ch = sr.source_changes() - sr.changes_at_engine_stop
        drains.append({"placement": pl.name, "changes": ch, "wall_s": r3(wall),
                       "engine_cpu_s": r3(cpu), "engine_startup_cpu_s": r3(cpu0)})
        d = drains[-1]
        if d["engine_cpu_s"] > 0:
            d["changes_per_cpu_s"] = round(ch / d["engine_cpu_s"])
        sr.settle()
        cpu1, ch1 = sr.engine_cpu_s(), sr.source_changes(settle_stats=False)
        res = _bench(sr, pl, "engine")
        lsn = sr.c.primary_lsn()
        t1 = time.time()
        sr.wait_frontiers(timeout=3600, lsn=lsn)
        res["catch_up_after_run_s"] = r3(time.time() - t1)
        sr.changes_at_engine_stop = sr.source_changes()
        res["engine_cpu_s_run_and_catch_up"] = r3(sr.engine_cpu_s() - cpu1)
        res["source_changes"] = sr.changes_at_engine_stop - ch1
        sr.h.engine.check_alive()
    finally:
        sr.perf_stop(prof)
    sr.stop_engine(keep_state=True)
    return res


def _trigger_run(sr, pl):
    install_change_buffer(sr)
    try:
        sr.settle()
        res = _bench(sr, pl, "triggers")
        res["buffered_rows"] = sum(
            sr.sql(f"SELECT count(*) FROM pgt_bench_cb.{s.split('.')[-1]}")[0][0]
            for s in sr.scen.sources)
        return res
    finally:
        sr.sql("DROP SCHEMA pgt_bench_cb CASCADE")


def install_change_buffer(sr):
    """Statement-level AFTER triggers with transition tables appending each change to a buffer
    table per source (what trigger-based IVM does to capture changes)."""
    sr.sql("CREATE SCHEMA pgt_bench_cb")
    for src in sr.scen.sources:
        t = src.split(".")[-1]
        # typed columns: the source's columns, then action, change id, xid
        sr.sql(f"CREATE TABLE pgt_bench_cb.{t} AS SELECT * FROM {src} WITH NO DATA")
        sr.sql(f"ALTER TABLE pgt_bench_cb.{t} ADD COLUMN action \"char\" NOT NULL, "
               f"ADD COLUMN change_id bigserial PRIMARY KEY, "
               f"ADD COLUMN xid bigint NOT NULL DEFAULT txid_current()")
        for op, body in (
                ("INSERT", f"INSERT INTO pgt_bench_cb.{t} SELECT n.*, 'I' FROM new_rows n"),
                ("UPDATE", f"INSERT INTO pgt_bench_cb.{t} SELECT o.*, 'D' FROM old_rows o; "
                           f"INSERT INTO pgt_bench_cb.{t} SELECT n.*, 'I' FROM new_rows n"),
                ("DELETE", f"INSERT INTO pgt_bench_cb.{t} SELECT o.*, 'D' FROM old_rows o")):
            fn = f"pgt_bench_cb.capture_{t}_{op.lower()}"
            sr.sql(f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN {body}; RETURN NULL; END $$")
            ref = {"INSERT": "NEW TABLE AS new_rows",
                   "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "DELETE": "OLD TABLE AS old_rows"}[op]
            sr.sql(f"CREATE TRIGGER pgt_bench_cb_{op.lower()} AFTER {op} ON {src} "
                   f"REFERENCING {ref} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()")
    # the DROP SCHEMA ... CASCADE afterwards removes the functions and thus the triggers


def _pg_ivm_run(sr, pl, version):
    """Never exercised on a machine without pg_ivm; kept small and defensive."""
    sr.sql("CREATE EXTENSION IF NOT EXISTS pg_ivm")
    made = []
    try:
        for name, q in sr.scen.stream_tables:
            iname = "ivm_" + name.split(".")[-1]
            for fn in ("pgivm.create_immv", "create_immv"):
                try:
                    sr.sql(f"SELECT {fn}(%s, %s)", (iname, q))
                    made.append(iname)
                    break
                except psycopg2.errors.UndefinedFunction:
                    continue
        sr.settle()
        res = _bench(sr, pl, "pg_ivm")
        res["version"] = version
        res["immvs"] = made
        return res
    finally:
        for iname in made:
            sr.sql(f"DROP TABLE IF EXISTS {iname}")
        sr.sql("DROP EXTENSION IF EXISTS pg_ivm CASCADE")
