"""Oracle test: three stream tables (filter/projection, GROUP BY with all five aggregates, a
global aggregate) maintained by the engine under a randomized workload — multi-statement
transactions, rollbacks, savepoints with ROLLBACK TO, COPY, NULLs, updates of group keys and
primary keys — must equal their queries re-run on the primary after every catch-up.

Also covers bootstrap (DESIGN §6 invariant 3): rows present before creation, a transaction
that is open while the stream tables are created and commits after the engine bootstrapped
them, and a stream table created while the engine runs under load; and DROP."""
import threading
import time

from common import Harness, Workload, log, run_concurrent, TestFailure
import streams


def main():
    with Harness.from_argv() as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(60)                                  # rows before any stream table exists

        # The engine starts with one stream table; once that is merged the decoder is consistent.
        streams.create(h, *streams.FILTER_PROJECT)
        h.start_engine()
        h.wait_for_frontier(streams.FILTER_PROJECT[0], "0/0", timeout=120)

        # Transactions open across creation + bootstrap of the next tables; they commit
        # afterwards and must be applied whole. src_b is not tracked by any stream table while
        # the first of them writes to it, so its early changes are only found by re-decoding
        # from the transaction's first record (DESIGN §6 invariant 3).
        wl_b = Workload(h.cluster.primary_dsn, seed=h.seed + 5, table="src_b")
        wl_b.create_table()
        wl_b.run(30)
        open_b = h.cluster.connect("primary")
        open_a = h.cluster.connect("primary")
        with open_b.cursor() as cur:
            cur.execute("INSERT INTO src_b (id, grp, cat, amount, qty, flag) VALUES "
                        "(1000001, 1, 'open', 500.00, 7, true), (1000002, 99, 'open', 1.00, NULL, false)")
            cur.execute("UPDATE src_b SET grp = 42 WHERE id = (SELECT min(id) FROM src_b WHERE id < 1000000)")
        with open_a.cursor() as cur:
            cur.execute("INSERT INTO src (id, grp, cat, amount, qty, flag) VALUES "
                        "(1000001, 1, 'open', 500.00, 7, true), (1000002, 99, 'open', 1.00, NULL, false)")
        streams.create(h, *streams.GROUP_BY)
        streams.create(h, *streams.OTHER_SOURCE)
        for name, _ in (streams.GROUP_BY, streams.OTHER_SOURCE):
            h.wait_for_frontier(name, "0/0", timeout=120)
        for conn, t in ((open_b, "src_b"), (open_a, "src")):
            with conn.cursor() as cur:
                cur.execute(f"INSERT INTO {t} (id, grp, cat, amount, qty, flag) VALUES (1000003, 99, 'late', 2.00, 1, true)")
            conn.commit()
            conn.close()
        streams.check_all(h, streams.ALL[:2] + [streams.OTHER_SOURCE])
        n = h.primary_sql("SELECT n FROM public.st_other WHERE grp = 99")
        if not n or n[0][0] < 2:
            raise TestFailure(f"the open transaction's rows are missing from st_other: {n}")

        # Concurrent load; the third stream table is created while it runs.
        errors = []

        def load():
            try:
                run_concurrent(h.cluster.primary_dsn, h.seed + 1, n_workers=2, n_transactions=150)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=load)
        t.start()
        time.sleep(1.0)
        streams.create(h, *streams.GLOBAL)
        t.join()
        if errors:
            raise errors[0]
        streams.check_all(h)

        for rnd in range(3):
            Workload(h.cluster.primary_dsn, seed=h.seed + 10 + rnd).load_ids().run(80)
            streams.check_all(h, streams.ALL + [streams.OTHER_SOURCE])
            log(f"round {rnd}: all stream tables equal their queries")

        # Status columns the seed's Prometheus query reads are filled in.
        rows = h.primary_sql("SELECT name, sla_tier, last_refresh_at IS NOT NULL, rows_changed_last_cycle, "
                             "avg_refresh_ms, pending_change_rows FROM pgtrickle.stream_table_status() ORDER BY name")
        if len(rows) != 4 or not all(r[2] and r[4] is not None for r in rows):
            raise TestFailure(f"stream_table_status() incomplete: {rows}")

        # TRUNCATE of a source, with rows inserted by the same transaction afterwards (they go to
        # the new relfilenode): the affected stream tables are bootstrapped again and replaced.
        conn = h.cluster.connect("primary")
        with conn.cursor() as cur:
            cur.execute("TRUNCATE src")
            cur.execute("INSERT INTO src (id, grp, cat, amount, qty, flag, d) VALUES "
                        "(1, 1, 'after', 150.00, 3, true, '2024-01-01'), (2, 2, 'after', 5.00, NULL, false, NULL), "
                        "(3, NULL, NULL, 200.00, NULL, true, '2024-02-02')")
        conn.commit()
        conn.close()
        streams.check_all(h, streams.ALL)
        Workload(h.cluster.primary_dsn, seed=h.seed + 30).load_ids().run(40)
        streams.check_all(h, streams.ALL + [streams.OTHER_SOURCE])
        log("after TRUNCATE: all stream tables equal their queries")

        # DROP: the engine forgets the table, the others keep going.
        h.primary_sql("SELECT pgtrickle.drop_stream_table('public.st_filter')")
        Workload(h.cluster.primary_dsn, seed=h.seed + 20).load_ids().run(40)
        streams.check_all(h, streams.ALL[1:])
        h.engine.check_alive()
        log("PASS test_oracle")


if __name__ == "__main__":
    main()
