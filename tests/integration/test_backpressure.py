"""Backpressure (pg_trickle.backpressure_enabled / backpressure_max_lag_mb / backpressure_timeout,
issue 12): needs shared_preload_libraries = pg_trickle (the harness preloads it when installed).

engine stopped, WAL moved on by two segment switches (lag > 16 MB):
  - max_lag_mb = 1000: source writes are not delayed (the limit is honoured);
  - max_lag_mb = 1: writers to the source wait (pg_stat_activity wait_event_type Extension),
    a write to a non-source table does not; backpressure_timeout = 1s lets a statement proceed
    after ~1 s with a WARNING and no error; statement_timeout bounds the wait;
engine started -> the waiting writers proceed, no error, every row is there, the oracle holds;
a crash + restart of the primary with the engine stopped: INSERT and COPY FROM into the source wait at
once (the engine's last LSN is kept in the data directory), and proceed once the engine is back;
backpressure_enabled = off with the engine stopped again: no delay.
"""
import io
import threading
import time

from common import Harness, TestFailure, Workload, log
import streams

FP_NAME, FP_QUERY = streams.FILTER_PROJECT


def set_system(h, setting, value):
    conn = h.cluster.connect("primary")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"ALTER SYSTEM SET {setting} = %s", (value,))
        cur.execute("SELECT pg_reload_conf()")
    conn.close()
    time.sleep(0.5)   # the background worker reloads and recomputes every 100 ms


def timed_insert(h, row_id, settings=()):
    conn = h.cluster.connect("primary")
    conn.autocommit = True
    t0 = time.time()
    with conn.cursor() as cur:
        for s in settings:
            cur.execute(s)
        cur.execute("INSERT INTO src (id, grp, cat, amount, qty, flag) VALUES (%s, 1, 'bp', 500.00, 1, true)",
                    (row_id,))
    notices = list(conn.notices)
    conn.close()
    return time.time() - t0, notices


def lag_bytes(h):
    return h.primary_sql("SELECT pg_current_wal_insert_lsn() - decoded_lsn FROM pgtrickle.pgt_engine")[0][0]


def make_lag(h):
    for _ in range(2):
        h.primary_sql("INSERT INTO plain VALUES (0, 'switch')")
        h.primary_sql("SELECT pg_switch_wal()")
    lag = lag_bytes(h)
    if lag is None or lag < 2 * 1024 * 1024:
        raise TestFailure(f"could not build an engine lag (lag = {lag})")
    log(f"engine stopped, lag {lag} bytes")


def main():
    with Harness.from_argv(cluster_kwargs={"preload": True, "extra_conf": {
            "pg_trickle.backpressure_enabled": "on", "pg_trickle.backpressure_max_lag_mb": "1"}}) as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed, id_space=100000)
        wl.create_table()
        h.primary_sql("CREATE TABLE plain (id int, note text)")
        wl.run(30)
        streams.create(h, *streams.FILTER_PROJECT)
        h.start_engine()
        streams.check_all(h, [streams.FILTER_PROJECT])
        dt, _ = timed_insert(h, 900001)
        if dt > 2:
            raise TestFailure(f"a write was delayed {dt:.1f}s while the engine kept up")

        h.stop_engine()
        make_lag(h)
        set_system(h, "pg_trickle.backpressure_max_lag_mb", "1000")
        dt, _ = timed_insert(h, 900002)
        if dt > 2:
            raise TestFailure(f"a write was delayed {dt:.1f}s below backpressure_max_lag_mb")
        set_system(h, "pg_trickle.backpressure_max_lag_mb", "1")

        results, errors = {}, []

        def writer(i):
            try:
                results[i] = timed_insert(h, 910000 + i)[0]
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(3)
        if results or errors:
            raise TestFailure(f"source writers were not delayed (done: {results}, errors: {errors})")
        waiting = h.primary_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Extension' "
                                "AND query LIKE 'INSERT INTO src%%'")[0][0]
        if waiting != 3:
            raise TestFailure(f"{waiting} writers wait in the extension, expected 3")
        t0 = time.time()
        h.primary_sql("INSERT INTO plain VALUES (1, 'not a source')")
        if time.time() - t0 > 2:
            raise TestFailure("a write to a table no stream table reads was delayed")
        dt, notices = timed_insert(h, 920000, ["SET pg_trickle.backpressure_timeout = '1s'"])
        if not (0.9 <= dt < 10) or not any("proceeding after waiting" in n for n in notices):
            raise TestFailure(f"backpressure_timeout: took {dt:.1f}s, notices {notices}")
        try:
            timed_insert(h, 920001, ["SET statement_timeout = '500ms'"])
            raise TestFailure("statement_timeout did not bound the backpressure wait")
        except Exception as e:  # noqa: BLE001
            if "statement timeout" not in str(e):
                raise
        log("writers wait; non-source writes, backpressure_timeout and statement_timeout behave")

        t0 = time.time()
        h.start_engine()
        for t in threads:
            t.join(timeout=120)
        if any(t.is_alive() for t in threads) or errors or len(results) != 3:
            raise TestFailure(f"writers did not all proceed after the engine started: {results} {errors}")
        log(f"writers proceeded {time.time() - t0:.1f}s after the engine started")
        n = h.primary_sql("SELECT count(*) FROM src WHERE id IN (910000, 910001, 910002, 920000)")[0][0]
        if n != 4:
            raise TestFailure(f"{n} of 4 delayed rows are in the table")
        wl.load_ids().run(20)
        streams.check_all(h, [streams.FILTER_PROJECT])

        # A restart (here a crash: immediate stop) of the primary keeps the engine's last LSN
        # (pg_trickle.engine_lsn in the data directory): writers to the source wait at once,
        # INSERT and COPY FROM alike, before the engine has sent a heartbeat to the new server.
        h.stop_engine()
        make_lag(h)
        time.sleep(1.5)   # the worker writes the reported LSN at most once a second
        h.cluster.stop_server(h.cluster.primary_dir)
        h.cluster._pg_ctl_start(h.cluster.primary_dir, h.cluster.primary_log)
        time.sleep(1)     # the worker starts after recovery and computes the flag every 100 ms
        if h.primary_sql("SELECT decoded_lsn IS NULL FROM pgtrickle.pgt_engine")[0][0]:
            raise TestFailure("no engine LSN in the catalog to compare with")
        results.clear()

        def copier():
            try:
                conn = h.cluster.connect("primary")
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.copy_expert("COPY src (id, grp, cat, amount, qty, flag) FROM STDIN",
                                    io.StringIO("940000\t1\tbp\t500.00\t1\tt\n940001\t2\tbp\t7.00\t2\tf\n"))
                conn.close()
                results["copy"] = True
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=copier), threading.Thread(target=writer, args=(30,))]
        for t in threads:
            t.start()
        time.sleep(3)
        if results or errors:
            raise TestFailure(f"after a primary restart source writers were not delayed ({results}, {errors})")
        waiting = h.primary_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Extension' "
                                "AND (query LIKE 'INSERT INTO src%%' OR query LIKE 'COPY src%%')")[0][0]
        if waiting != 2:
            raise TestFailure(f"after a primary restart {waiting} writers (INSERT, COPY) wait, expected 2")
        h.start_engine()
        for t in threads:
            t.join(timeout=120)
        if any(t.is_alive() for t in threads) or errors or len(results) != 2:
            raise TestFailure(f"INSERT/COPY did not proceed after the engine started: {results} {errors}")
        n = h.primary_sql("SELECT count(*) FROM src WHERE id IN (940000, 940001, 910030)")[0][0]
        if n != 3:
            raise TestFailure(f"{n} of 3 rows written by the delayed INSERT/COPY are in the table")
        streams.check_all(h, [streams.FILTER_PROJECT])
        log("after a primary crash/restart: INSERT and COPY FROM wait at once, proceed after the engine")

        h.stop_engine()
        make_lag(h)
        set_system(h, "pg_trickle.backpressure_enabled", "off")
        dt, _ = timed_insert(h, 930000)
        if dt > 2:
            raise TestFailure(f"a write was delayed {dt:.1f}s with backpressure_enabled = off")
        h.start_engine()
        streams.check_all(h, [streams.FILTER_PROJECT])
        log("PASS test_backpressure")


if __name__ == "__main__":
    main()
