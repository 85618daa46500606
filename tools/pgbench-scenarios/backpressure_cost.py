#!/usr/bin/python3
"""Write-path cost of backpressure (issue 12), measured in one run on one machine.

pgbench (single-row INSERT transactions, 2 clients) into a table that is the source of a stream
table, in three configurations, interleaved over several rounds, median TPS of each:

  none  PostgreSQL without pg_trickle (not preloaded, no extension)
  off   pg_trickle preloaded, backpressure_enabled = off
  on    pg_trickle preloaded, backpressure_enabled = on, the engine keeping up (its decoded LSN is
        reported every 100 ms, as the engine's heartbeat does; lag stays under the limit, so the
        hook's flag is clear and writes are never delayed)

Prints the TPS and the ratios off/none and on/none. Usage:
  PGT_PG_BIN=... tools/pgbench-scenarios/backpressure_cost.py [--seconds 8] [--rounds 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "harness"))
from cluster import PG_BIN, Cluster  # noqa: E402

SCRIPT = "INSERT INTO src (v, note) VALUES (:client_id, 'x');\n"


def setup(c, with_extension):
    c.primary_sql("CREATE TABLE src (id bigserial PRIMARY KEY, v int, note text)")
    if with_extension:
        c.primary_sql("CREATE EXTENSION pg_trickle")
        c.primary_sql("SELECT pgtrickle.create_stream_table('st', 'SELECT v, count(*) AS n FROM src GROUP BY v')")


def pgbench(c, seconds, script_path):
    p = subprocess.run([os.path.join(PG_BIN, "pgbench"), "-n", "-c", "2", "-j", "2", "-T", str(seconds),
                        "-f", script_path, "-h", "127.0.0.1", "-p", str(c.primary_port), "-U", "postgres",
                        "postgres"], capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(p.stdout + p.stderr)


def set_bp(c, on):
    c.primary_sql(f"ALTER SYSTEM SET pg_trickle.backpressure_enabled = {'on' if on else 'off'}")
    c.primary_sql("SELECT pg_reload_conf()")
    time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tps = {"none": [], "off": [], "on": []}
    plain = Cluster(with_standby=False, preload=False)
    ext = Cluster(with_standby=False, preload=True,
                  extra_conf={"pg_trickle.backpressure_max_lag_mb": "64"})
    stop = threading.Event()
    try:
        plain.start()
        ext.start()
        setup(plain, False)
        setup(ext, True)
        script = os.path.join(ext.data_root, "insert.pgbench")
        with open(script, "w") as f:
            f.write(SCRIPT)
        os.chmod(script, 0o644)

        def heartbeat():   # what the engine's heartbeat does while it keeps up
            while not stop.is_set():
                ext.primary_sql("SELECT pgtrickle._report_engine_lsn(pg_current_wal_insert_lsn())")
                time.sleep(0.1)

        threading.Thread(target=heartbeat, daemon=True).start()
        for r in range(a.rounds):
            tps["none"].append(pgbench(plain, a.seconds, script))
            set_bp(ext, False)
            tps["off"].append(pgbench(ext, a.seconds, script))
            set_bp(ext, True)
            tps["on"].append(pgbench(ext, a.seconds, script))
            print(f"round {r + 1}: none {tps['none'][-1]:.0f}  off {tps['off'][-1]:.0f}  on {tps['on'][-1]:.0f} tps",
                  flush=True)
        delayed = ext.primary_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Extension'")[0][0]
    finally:
        stop.set()
        time.sleep(0.2)
        plain.stop()
        ext.stop()
    med = {k: statistics.median(v) for k, v in tps.items()}
    print(f"median tps: none {med['none']:.0f}, backpressure off {med['off']:.0f} "
          f"({med['off'] / med['none']:.3f} of none), backpressure on {med['on']:.0f} "
          f"({med['on'] / med['none']:.3f} of none, {med['on'] / med['off']:.3f} of off); "
          f"writers seen waiting: {delayed}")


if __name__ == "__main__":
    main()
