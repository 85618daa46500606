"""A bootstrap loads on its own thread (issue 10): while one stream table's standby snapshot is
being read, other stream tables keep merging; a crash mid-bootstrap recovers; changes of the
source committed after the snapshot reach the new table through its catch-up log.

Deterministic, no timing: the big source is held by an open primary transaction that took an
ACCESS EXCLUSIVE lock on it (replayed on the standby), so the bootstrap's COPY on the standby
waits for it. That transaction also changes the big table, so its changes end after the
snapshot and must be applied from the catch-up log. Meanwhile the other table's frontier must
pass positions written after the bootstrap started (an engine that loads on its main thread
never gets there), then the engine is killed with SIGKILL and restarted mid-bootstrap, and
after the lock is released both tables must equal their queries (the oracle)."""
import json
import os
import socket
import time
import urllib.request

from common import Harness, TestFailure, Workload, engine_events, log, wait_until
import streams

BIG = ("public.st_big", "SELECT id, a, c FROM big WHERE a % 3 <> 0")
BIG_AGG = ("public.st_big_agg", "SELECT a % 7 AS g, count(*) AS n, sum(c) AS s FROM big GROUP BY a % 7")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        return json.loads(r.read().decode())


def main():
    port = free_port()
    with Harness.from_argv(engine_args=["--log-format", "json", "--http-listen", f"127.0.0.1:{port}"]) as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        streams.create(h, *streams.GROUP_BY)
        h.primary_sql("CREATE TABLE big (id bigint PRIMARY KEY, a int, c numeric(10,2))")
        h.primary_sql("INSERT INTO big SELECT g, g % 1000, (g % 5000) / 10.0 FROM generate_series(1, 300000) g")
        h.start_engine()
        streams.check_all(h, [streams.GROUP_BY])
        h.stop_engine()

        # Both stream tables over `big` are created (the first bootstraps from a snapshot, the
        # second waits for it), then `big` is locked and changed by a transaction left open.
        streams.create(h, *BIG)
        streams.create(h, *BIG_AGG)
        locker = h.cluster.connect("primary")
        locker.autocommit = True
        cur = locker.cursor()
        cur.execute("BEGIN")
        cur.execute("LOCK TABLE big IN ACCESS EXCLUSIVE MODE")
        cur.execute("UPDATE big SET a = a + 1, c = c * 2 WHERE id % 10 = 0")
        cur.execute("DELETE FROM big WHERE id % 97 = 0")
        cur.execute("INSERT INTO big SELECT g, g % 1000, 1.25 FROM generate_series(300001, 301000) g")
        wait_until("the standby to hold the lock on big",
                   lambda: h.standby_sql("SELECT count(*) FROM pg_locks WHERE relation = 'big'::regclass "
                                         "AND mode = 'AccessExclusiveLock'")[0][0] > 0, h)

        for attempt in ("first start", "after kill -9"):
            before = len(engine_events(h.engine.log_path, "bootstrap_started"))
            h.start_engine()
            wait_until("bootstrap_started of st_big",
                       lambda: len(engine_events(h.engine.log_path, "bootstrap_started")) > before, h)
            # Other tables keep merging while the COPY waits on the lock.
            wl.run(30)
            h.wait_for_frontier(streams.GROUP_BY[0], h.cluster.primary_lsn(), timeout=120)
            h.assert_stream_table_matches_query(*streams.GROUP_BY)
            if [e for e in engine_events(h.engine.log_path, "bootstrap_done") if e.get("table") == "public.st_big"]:
                raise TestFailure("the bootstrap of st_big finished while its source was locked")
            wait_until("/status to show the bootstrap of st_big in progress",
                       lambda: status(port)["bootstrap"].get("table") == "public.st_big", h, timeout=30)
            boot = status(port)["bootstrap"]
            if boot["running"] != 1 or "rows_expected" not in boot:
                raise TestFailure(f"/status: unexpected bootstrap section {boot}")
            log(f"{attempt}: st_groups merged past the bootstrap's start while st_big was loading")
            if attempt == "first start":
                h.kill_engine()

        cur.execute("COMMIT")   # the COPY proceeds; the transaction's changes come after the snapshot
        locker.close()
        wl.run(20)
        streams.check_all(h, [streams.GROUP_BY, BIG, BIG_AGG], timeout=300)
        done = [e for e in engine_events(h.engine.log_path, "bootstrap_done") if e.get("table") == "public.st_big"]
        if not done or done[-1].get("caught_up", 0) <= 0 or done[-1].get("copy_format") != "binary":
            raise TestFailure(f"expected a binary-COPY bootstrap that applied the locker's changes "
                              f"from its catch-up log: {done}")
        # The changes after the bootstrap keep flowing, and a restart keeps the state.
        h.primary_sql("UPDATE big SET c = c + 1 WHERE id % 1000 = 1")
        h.primary_sql("DELETE FROM big WHERE id % 1000 = 2")
        h.stop_engine()
        h.start_engine()
        streams.check_all(h, [streams.GROUP_BY, BIG, BIG_AGG], timeout=300)
        log("PASS test_bootstrap_async")


if __name__ == "__main__":
    main()
