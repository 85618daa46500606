"""Liveness under load: while other tables take a continuous write load (WAL the engine must
read but never emits as transactions), the engine still reaches a consistent point, bootstraps a
new stream table, and advances frontiers within seconds — it never stalls inside the decoder."""
import threading
import time

import psycopg2

from common import Harness, TestFailure, Workload, log
import streams


def noise(dsn, stop, errors):
    try:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO noise (v) SELECT repeat('x', 100) FROM generate_series(1, 200)")
        conn.close()
    except Exception as e:  # noqa: BLE001
        errors.append(e)


def main():
    with Harness.from_argv() as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(30)
        h.primary_sql("CREATE TABLE noise (id bigserial PRIMARY KEY, v text)")
        stop, errors = threading.Event(), []
        threads = [threading.Thread(target=noise, args=(h.cluster.primary_dsn, stop, errors)) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            h.start_engine()                       # starts under load
            streams.create(h, *streams.GROUP_BY, schedule="200 milliseconds")
            start = time.time()
            # Consistency needs three XLOG_RUNNING_XACTS records; the engine asks for one every 2 s
            # with CHECKPOINT (the server's own come every 15 s), so this takes ~5 s, not 30+.
            h.wait_for_frontier(streams.GROUP_BY[0], "0/0", timeout=15)
            log(f"bootstrapped under load in {time.time() - start:.1f}s")
            for rnd in range(3):
                Workload(h.cluster.primary_dsn, seed=h.seed + rnd).load_ids().run(20)
                lsn = h.cluster.primary_lsn()
                start = time.time()
                h.wait_for_frontier(streams.GROUP_BY[0], lsn, timeout=10)
                log(f"frontier passed {lsn} {time.time() - start:.1f}s later, noise still running")
                h.assert_stream_table_matches_query(*streams.GROUP_BY)
        finally:
            stop.set()
            for t in threads:
                t.join()
        if errors:
            raise TestFailure(f"noise load failed: {errors[0]}")
        log("PASS test_liveness")


if __name__ == "__main__":
    main()
