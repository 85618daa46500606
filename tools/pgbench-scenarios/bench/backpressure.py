"""Write-path cost of backpressure (issue 12), interleaved like the write path: pgbench single-row
INSERT transactions (2 clients) into a table that is the source of a stream table, in three
configurations per round —

  none  PostgreSQL without pg_trickle (not preloaded, no extension)
  off   pg_trickle preloaded, backpressure_enabled = off
  on    pg_trickle preloaded, backpressure_enabled = on, the engine keeping up (its decoded LSN
        reported every 100 ms, as the engine's heartbeat does; lag stays under the limit, so the
        hook's flag is clear and writes are never delayed)

— and a final `none`. A run's ratio is its TPS over the mean of the `none` runs just before and
after it; medians and spread (max-min)/median over the rounds; baselines more than 10 % apart are
flagged. Primary-only clusters (no standby, no engine process)."""
from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time

from cluster import PG_BIN, Cluster  # tests/harness
from bench.common import log, median_spread, r3

SCRIPT = "INSERT INTO src (v, note) VALUES (:client_id, 'x');\n"
BASELINE_FLAG = 0.10


def _setup(c, with_extension):
    c.primary_sql("CREATE TABLE src (id bigserial PRIMARY KEY, v int, note text)")
    if with_extension:
        c.primary_sql("CREATE EXTENSION pg_trickle")
        c.primary_sql("SELECT pgtrickle.create_stream_table('st', "
                      "'SELECT v, count(*) AS n FROM src GROUP BY v')")


def _pgbench(c, seconds, script_path):
    p = subprocess.run([os.path.join(PG_BIN, "pgbench"), "-n", "-c", "2", "-j", "2", "-T",
                        str(seconds), "-f", script_path, "-h", "127.0.0.1", "-p",
                        str(c.primary_port), "-U", "postgres", "postgres"],
                       capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(p.stdout + p.stderr)


def _set_bp(c, on):
    c.primary_sql(f"ALTER SYSTEM SET pg_trickle.backpressure_enabled = {'on' if on else 'off'}")
    c.primary_sql("SELECT pg_reload_conf()")
    time.sleep(0.5)


def measure(seconds, rounds, tmp="/tmp"):
    """The interleaved measurement; returns the report section."""
    runs = []
    plain = Cluster(with_standby=False, preload=False)
    ext = Cluster(with_standby=False, preload=True,
                  extra_conf={"pg_trickle.backpressure_max_lag_mb": "64"})
    stop = threading.Event()
    try:
        plain.start()
        ext.start()
        _setup(plain, False)
        _setup(ext, True)
        script = os.path.join(ext.data_root, "insert.pgbench")
        with open(script, "w") as f:
            f.write(SCRIPT)
        os.chmod(script, 0o644)

        def heartbeat():   # what the engine's heartbeat does while it keeps up
            while not stop.is_set():
                ext.primary_sql("SELECT pgtrickle._report_engine_lsn(pg_current_wal_insert_lsn())")
                time.sleep(0.1)

        threading.Thread(target=heartbeat, daemon=True).start()
        for r in range(rounds):
            runs.append({"config": "none", "tps": _pgbench(plain, seconds, script)})
            _set_bp(ext, False)
            runs.append({"config": "off", "tps": _pgbench(ext, seconds, script)})
            _set_bp(ext, True)
            runs.append({"config": "on", "tps": _pgbench(ext, seconds, script)})
            log(f"backpressure round {r + 1}: " + "  ".join(
                f"{x['config']} {x['tps']:.0f}" for x in runs[-3:]) + " tps")
        runs.append({"config": "none", "tps": _pgbench(plain, seconds, script)})
        delayed = ext.primary_sql("SELECT count(*) FROM pg_stat_activity "
                                  "WHERE wait_event_type = 'Extension'")[0][0]
    finally:
        stop.set()
        time.sleep(0.2)
        plain.stop()
        ext.stop()
    base_idx = [i for i, x in enumerate(runs) if x["config"] == "none"]
    for i, x in enumerate(runs):
        if x["config"] != "none":
            b = [runs[max(j for j in base_idx if j < i)]["tps"],
                 runs[min(j for j in base_idx if j > i)]["tps"]]
            x["ratio_to_none"] = r3(x["tps"] / statistics.fmean(b))
    bases = [x["tps"] for x in runs if x["config"] == "none"]
    diff = (max(bases) - min(bases)) / min(bases)
    out = {"seconds": seconds, "rounds": rounds, "clients": 2, "runs": runs,
           "writers_seen_waiting": delayed, "baseline_max_diff": r3(diff),
           "baselines_flagged": diff > BASELINE_FLAG,
           "method": "interleaved none/off/on per round, final none; ratio = TPS / mean of the "
                     "neighbouring none runs; primary-only clusters on shared cores",
           "tps": {k: median_spread([x["tps"] for x in runs if x["config"] == k])
                   for k in ("none", "off", "on")}}
    for k in ("off", "on"):
        out[f"{k}_ratio"] = median_spread([x["ratio_to_none"] for x in runs
                                           if x["config"] == k])
    offs = [x["tps"] for x in runs if x["config"] == "off"]
    ons = [x["tps"] for x in runs if x["config"] == "on"]
    out["on_vs_off"] = median_spread([b / a for a, b in zip(offs, ons)])
    return out
