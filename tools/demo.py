#!/usr/bin/python3
"""Run part of tools/demo (see there). Starts the cluster, the extension, pgbench and the
engine; prints the stream table and its status every 2 seconds; stops everything cleanly on
Ctrl-C / SIGTERM / DEMO_SECONDS / failure."""
import argparse
import os
import signal
import subprocess
import sys
import time

import psycopg2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from common import Harness, TestFailure  # noqa: E402
from cluster import PG_BIN, add_signal_hook  # noqa: E402

QUERY = ("SELECT bid, count(*) AS accounts, sum(abalance) AS total_balance, "
         "avg(abalance) AS avg_balance FROM pgbench_accounts GROUP BY bid")
ST = "public.branch_balances"


def table(cur, sql, title):
    cur.execute(sql)
    cols = [d[0] for d in cur.description]
    rows = [["" if v is None else str(v) for v in r] for r in cur.fetchall()]
    w = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    out = [title, " " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cols)),
           "-" + "-+-".join("-" * x for x in w) + "-"]
    out += [" " + " | ".join(v.ljust(w[i]) for i, v in enumerate(r)) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    a = ap.parse_args()
    seconds = float(os.environ.get("DEMO_SECONDS", "0") or 0)
    demo_dir = os.environ.get("DEMO_DIR", "/tmp/pgtrickle-demo")
    clients = int(os.environ.get("DEMO_CLIENTS", "4"))
    print(f"demo: data under {demo_dir} (removed at the end); press Ctrl-C to stop", flush=True)

    stop = {"requested": False}
    pgbench = {"proc": None}

    def stop_pgbench():
        p = pgbench["proc"]
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    add_signal_hook(stop_pgbench)
    rc = 0
    with Harness(a.build_dir, cluster_kwargs={"data_root": demo_dir, "wipe": True}) as h:
        c = h.cluster
        # From here on, Ctrl-C / SIGTERM ask the loop to stop; shutdown is orderly.
        def on_signal(signum, frame):  # noqa: ARG001
            if stop["requested"]:
                raise KeyboardInterrupt
            stop["requested"] = True
            print("\ndemo: stopping (pgbench, engine, servers)...", flush=True)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        try:
            env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(c.primary_port), PGUSER="postgres",
                       PGDATABASE="postgres")
            print("demo: pgbench -i -s 4 (4 branches, 400,000 accounts)", flush=True)
            subprocess.run([os.path.join(PG_BIN, "pgbench"), "-i", "-s", "4", "-q"], env=env,
                           check=True, stdin=subprocess.DEVNULL)
            print(f"demo: creating stream table {ST}:\n  {QUERY}", flush=True)
            h.primary_sql("SELECT pgtrickle.create_stream_table(%s, %s, schedule => '1 second')",
                          (ST, QUERY))
            if not os.access(h.engine_binary, os.X_OK):
                raise TestFailure(f"the engine binary {h.engine_binary} does not exist yet: build it "
                                  f"(cmake --build build --target pgtrickle-engine)")
            h.start_engine()
            pgbench_log = os.path.join(c.log_dir, "pgbench.log")
            with open(pgbench_log, "w") as lf:
                pgbench["proc"] = subprocess.Popen(
                    [os.path.join(PG_BIN, "pgbench"), "-c", str(clients), "-j", "2",
                     "-T", str(int(seconds) + 60 if seconds else 86400), "-n"],
                    env=env, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            print(f"demo: pgbench running ({clients} clients, tpcb-like), log {pgbench_log}",
                  flush=True)

            cols = ", ".join(h.stream_table_columns(ST))
            t0 = time.time()
            conn = c.connect("primary")
            conn.autocommit = True
            cur = conn.cursor()
            while not stop["requested"]:
                if seconds and time.time() - t0 >= seconds:
                    break
                h.engine.check_alive()
                if pgbench["proc"].poll() not in (None, 0):
                    raise TestFailure(f"pgbench failed (exit {pgbench['proc'].returncode}), "
                                      f"see {pgbench_log}")
                print(f"\n===== {time.strftime('%H:%M:%S')}  (+{time.time() - t0:.0f}s) =====")
                print(table(cur, f"SELECT {cols} FROM {ST} ORDER BY bid", ST))
                print(table(cur, "SELECT * FROM pgtrickle.stream_table_status()",
                            "pgtrickle.stream_table_status()"), flush=True)
                time.sleep(2)
            conn.close()

            stop_pgbench()
            # Quiesced: the stream table must catch up and equal its query.
            try:
                lsn = c.primary_lsn()
                h.wait_for_frontier(ST, lsn, timeout=30)
                h.assert_stream_table_matches_query(ST, QUERY)
                print(f"demo: {ST} caught up to {lsn} and equals its query", flush=True)
            except TestFailure as e:
                print(f"demo: final check failed: {e}", flush=True)
                rc = 1
        finally:
            stop_pgbench()
        h.stop_engine(expect_rc=None)
    print("demo: stopped", flush=True)
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestFailure as e:
        print(f"demo: ERROR: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except psycopg2.Error as e:
        print(f"demo: ERROR: SQL failed: {str(e).strip()}", file=sys.stderr, flush=True)
        sys.exit(1)
    except subprocess.CalledProcessError as e:
        print(f"demo: ERROR: command failed: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
