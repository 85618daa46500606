"""The 0.2.0 SQL API and GUCs with the engine running (issue 12), each checked so that it fails
if the setting or function were ignored:

- pg_trickle.enabled = off: the engine keeps decoding (engine_status().decoded_lsn passes the
  workload) but merges nothing (frontier and contents frozen); on again: the backlog is merged,
  the oracle holds.
- alter_stream_table(status => 'paused'): that table only stops; 'active' resumes it exactly.
- refresh_stream_table(wait => true) on a table with a one-hour schedule returns only once
  everything committed before the call is merged (oracle right after the call); wait => false
  gets it merged too.
- alter_stream_table(query => ...): same shape (storage kept, stale rows replaced) and a new
  shape (storage re-created); only that table is bootstrapped again; the other one keeps its
  frontier.
- explain_stream_table, engine_status (attached, version, timeline, lag), drop_stream_table
  with cascade (the engine drops the table's state).
"""
import threading
import time

from common import Harness, TestFailure, Workload, log
import streams

FP_NAME, FP_QUERY = streams.FILTER_PROJECT
G_NAME, G_QUERY = streams.GROUP_BY


def frontier(h, name):
    return h.primary_sql("SELECT frontier::text, refresh_count FROM pgtrickle.pgt_stream_tables "
                         "WHERE name = %s", (name,))[0]


def contents(h, name):
    return h.primary_sql(f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                         f"FROM {name} t")[0]


def wait_log(h, text, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in open(h.engine.log_path, errors="replace").read():
            return
        h.engine.check_alive()
        time.sleep(0.1)
    raise TestFailure(f"the engine did not log {text!r} within {timeout}s")


def set_system(h, setting, value):
    conn = h.cluster.connect("primary")
    conn.autocommit = True
    with conn.cursor() as cur:
        if value is None:
            cur.execute(f"ALTER SYSTEM RESET {setting}")
        else:
            cur.execute(f"ALTER SYSTEM SET {setting} = %s", (value,))
        cur.execute("SELECT pg_reload_conf()")
    conn.close()


def check_enabled(h, wl):
    set_system(h, "pg_trickle.enabled", "off")
    wait_log(h, "pg_trickle.enabled = off")
    before_f, before_c = frontier(h, FP_NAME), contents(h, FP_NAME)
    wl.run(60)
    lsn = h.cluster.primary_lsn()
    deadline = time.time() + 30
    while not h.primary_sql("SELECT decoded_lsn >= %s::pg_lsn FROM pgtrickle.engine_status()", (lsn,))[0][0]:
        if time.time() > deadline:
            raise TestFailure("the engine stopped decoding while pg_trickle.enabled = off")
        time.sleep(0.2)
    time.sleep(1.5)   # several schedules (200 ms) pass
    if frontier(h, FP_NAME) != before_f or contents(h, FP_NAME) != before_c:
        raise TestFailure("a merge happened while pg_trickle.enabled = off")
    log("enabled = off: decoded past the workload, nothing merged")
    set_system(h, "pg_trickle.enabled", None)
    streams.check_all(h, [streams.FILTER_PROJECT, streams.GROUP_BY])


def check_paused(h, wl):
    h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, status => 'paused')", (G_NAME,))
    if h.primary_sql("SELECT status FROM pgtrickle.stream_table_status() WHERE name = %s",
                     (G_NAME,))[0][0] != "PAUSED":
        raise TestFailure("stream_table_status() does not report PAUSED")
    time.sleep(0.5)   # the engine polls the primary every 100 ms
    before_f, before_c = frontier(h, G_NAME), contents(h, G_NAME)
    wl.run(60)
    lsn = h.cluster.primary_lsn()
    h.wait_for_frontier(FP_NAME, lsn)          # the other table goes on
    time.sleep(1.0)
    if frontier(h, G_NAME) != before_f or contents(h, G_NAME) != before_c:
        raise TestFailure("a paused stream table was merged")
    log("paused: no merges while the other table advanced")
    h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, status => 'active')", (G_NAME,))
    streams.check_all(h, [streams.FILTER_PROJECT, streams.GROUP_BY])


def check_refresh(h, wl):
    h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, schedule => '1 hour')", (FP_NAME,))
    time.sleep(1.0)   # the new schedule reaches the engine through the standby
    wl.run(40)
    t0 = time.time()
    h.primary_sql("SELECT pgtrickle.refresh_stream_table(%s)", (FP_NAME,))
    log(f"refresh_stream_table(wait => true) returned in {time.time() - t0:.2f}s")
    h.assert_stream_table_matches_query(FP_NAME, FP_QUERY)   # no waiting: it has landed
    wl.run(30)
    before = frontier(h, FP_NAME)[0]
    h.primary_sql("SELECT pgtrickle.refresh_stream_table(%s, wait => false)", (FP_NAME,))
    # served = merged once (frontier moved) and the request cleared; the 1-hour schedule would
    # not have merged it. No writes since the workload: the table must equal its query.
    deadline = time.time() + 30
    while h.primary_sql("SELECT refresh_requested_at IS NOT NULL OR frontier = %s::pg_lsn "
                        "FROM pgtrickle.pgt_stream_tables WHERE name = %s", (before, FP_NAME))[0][0]:
        if time.time() > deadline:
            raise TestFailure("a refresh_stream_table(wait => false) request was not served")
        h.engine.check_alive()
        time.sleep(0.1)
    h.assert_stream_table_matches_query(FP_NAME, FP_QUERY)
    h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, schedule => '200 milliseconds')", (FP_NAME,))


def check_alter_query(h, wl):
    fp_before = frontier(h, FP_NAME)[0]
    same_shape = G_QUERY.replace("FROM src GROUP BY grp", "FROM src WHERE qty > 0 GROUP BY grp")
    relid = h.primary_sql("SELECT relid FROM pgtrickle.pgt_stream_tables WHERE name = %s", (G_NAME,))[0][0]
    h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, query => %s)", (G_NAME, same_shape))
    if h.primary_sql("SELECT relid FROM pgtrickle.pgt_stream_tables WHERE name = %s", (G_NAME,))[0][0] != relid:
        raise TestFailure("a same-shape query change re-created the storage table")
    wl.run(30)
    streams.check_all(h, [(G_NAME, same_shape), streams.FILTER_PROJECT])
    new_shape = "SELECT cat, count(*) AS n, sum(qty) AS q FROM src WHERE flag GROUP BY cat"
    h.primary_sql("SELECT pgtrickle.alter_stream_table(%s, query => %s)", (G_NAME, new_shape))
    wl.run(30)
    streams.check_all(h, [(G_NAME, new_shape), streams.FILTER_PROJECT])
    gen = h.primary_sql("SELECT value FROM pgtrickle.explain_stream_table(%s) WHERE property = 'generation'",
                        (G_NAME,))[0][0]
    if gen != "3":
        raise TestFailure(f"explain_stream_table reports generation {gen}, expected 3")
    text = open(h.engine.log_path, errors="replace").read()
    if text.count(f"bootstrap of {FP_NAME} (id") != 1:
        raise TestFailure("re-planning one stream table bootstrapped another one again")
    if h.primary_sql("SELECT frontier >= %s::pg_lsn FROM pgtrickle.pgt_stream_tables WHERE name = %s",
                     (fp_before, FP_NAME))[0][0] is not True:
        raise TestFailure("the other stream table's frontier went back")
    log("alter query: same shape and new shape re-planned, the other table untouched")
    return new_shape


def check_status_and_drop(h):
    rows = h.primary_sql("SELECT attached, engine_version, timeline, lag_bytes IS NOT NULL, epoch "
                         "FROM pgtrickle.engine_status()")
    attached, version, tli, has_lag, epoch = rows[0]
    if not (attached and version == "0.2.0" and tli == 1 and has_lag and epoch >= 1):
        raise TestFailure(f"engine_status() is wrong: {rows}")
    h.primary_sql(f"CREATE VIEW st_view AS SELECT * FROM {FP_NAME}")
    try:
        h.primary_sql("SELECT pgtrickle.drop_stream_table(%s)", (FP_NAME,))
        raise TestFailure("drop_stream_table without cascade dropped a table a view depends on")
    except Exception as e:  # noqa: BLE001
        if "depend" not in str(e):
            raise
    h.primary_sql("SELECT pgtrickle.drop_stream_table(%s, cascade => true)", (FP_NAME,))
    if h.primary_sql("SELECT to_regclass('st_view')")[0][0] is not None:
        raise TestFailure("drop_stream_table(cascade => true) left the view")
    wait_log(h, f"stream table {FP_NAME} was dropped; removing its state")


def main():
    with Harness.from_argv() as h:
        wl = Workload(h.cluster.primary_dsn, seed=h.seed)
        wl.create_table()
        wl.run(40)
        streams.create(h, *streams.FILTER_PROJECT)
        streams.create(h, *streams.GROUP_BY)
        h.start_engine()
        streams.check_all(h, [streams.FILTER_PROJECT, streams.GROUP_BY])
        check_enabled(h, wl)
        check_paused(h, wl)
        check_refresh(h, wl)
        new_shape = check_alter_query(h, wl)
        check_status_and_drop(h)
        wl.run(20)
        streams.check_all(h, [(G_NAME, new_shape)])
        log("PASS test_api")


if __name__ == "__main__":
    main()
