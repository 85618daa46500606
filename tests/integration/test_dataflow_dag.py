"""A DAG of stream tables (issue 9): stream tables reading stream tables, maintained under the
related-tables random workload.

- upstreams: a join (df_up_orders) and an aggregate (df_up_spend) over the base tables;
- downstreams: an aggregate over df_up_orders, a join of df_up_spend with customers (a stream
  table and a base table), and a chain: an aggregate over the first downstream.

Oracle:
- while the workload runs, each downstream is sampled with its upstream in ONE snapshot on the
  primary: its frontier never passes its upstream's, and whenever both frontiers are equal (the
  downstream has applied the upstream's latest merge) the downstream equals its query re-run
  over the upstream's storage table, in that snapshot — i.e. after every merge it shows;
- after each round (workload stopped, every frontier past the current LSN) every stream table
  equals its query, and every downstream also equals the composed query over the base tables;
- kill -9 of the engine at random points under load, then the same checks;
- an upstream that fails (division by zero) puts only its dependants in ERROR, naming it; the
  other tables go on merging;
- a cycle (alter_stream_table making an upstream read its dependant) is refused, and so is
  dropping an upstream that has dependants unless cascade => true (which drops them too)."""
import random
import threading
import time

import psycopg2

from common import Harness, TestFailure, log
from dataflow_workload import RelatedWorkload, kill_under_load
import streams

UP_ORDERS = ("public.df_up_orders",
             "SELECT o.id, o.customer_id, o.total, o.status, c.region FROM orders o "
             "JOIN customers c ON c.id = o.customer_id")
UP_SPEND = ("public.df_up_spend",
            "SELECT customer_id, count(*) AS n, sum(total) AS spent FROM orders GROUP BY customer_id")
UPSTREAMS = [UP_ORDERS, UP_SPEND]


def composed(query, upstream):
    """`query` with the upstream's storage table replaced by the upstream's own query."""
    name, up_query = upstream
    short = name.split(".")[1]
    return query.replace(f" {short} ", f" ({up_query}) ")


# (name, query over storage tables, upstream it reads, the composed query over base tables)
DOWN_REGION = ("public.df_dn_region",
               "SELECT region, count(*) AS n, sum(total) AS total, count(DISTINCT status) AS statuses "
               "FROM df_up_orders u GROUP BY region")
DOWN_TIER = ("public.df_dn_tier",
             "SELECT c.tier, sum(s.n) AS orders, max(s.spent) AS top FROM df_up_spend s "
             "JOIN customers c ON c.id = s.customer_id GROUP BY c.tier")
DOWN_CHAIN = ("public.df_dn_chain",
              "SELECT count(*) AS regions, sum(n) AS orders FROM df_dn_region r WHERE region IS NOT NULL")
# (downstream, its upstream, reads only stream tables: then, at its upstream's frontier, it equals
# its query over the upstream's storage in any snapshot; a base table it also reads may be newer)
DOWNSTREAMS = [(DOWN_REGION, UP_ORDERS, True), (DOWN_TIER, UP_SPEND, False), (DOWN_CHAIN, DOWN_REGION, True)]


def all_tables():
    return UPSTREAMS + [d for d, _, _ in DOWNSTREAMS]


def check_round(h):
    streams.check_all(h, all_tables(), timeout=180)
    # Composed over the base tables (the chain twice: through df_dn_region, then df_up_orders).
    region_base = composed(DOWN_REGION[1], UP_ORDERS)
    h.assert_stream_table_matches_query(DOWN_REGION[0], region_base)
    h.assert_stream_table_matches_query(DOWN_TIER[0], composed(DOWN_TIER[1], UP_SPEND))
    h.assert_stream_table_matches_query(DOWN_CHAIN[0], composed(DOWN_CHAIN[1], (DOWN_REGION[0], region_base)))


def diff_count(cur, name, query):
    cur.execute("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attname <> '__pgt_row_id'",
                (name,))
    cols = cur.fetchone()[0]
    cur.execute(f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {name} EXCEPT ALL ({query})) a) + "
                f"(SELECT count(*) FROM (({query}) EXCEPT ALL SELECT {cols} FROM {name}) b)")
    return cur.fetchone()[0]


class Sampler:
    """Samples each downstream with its upstream in one REPEATABLE READ snapshot."""

    def __init__(self, dsn):
        self.conn = psycopg2.connect(dsn)
        self.conn.set_session(isolation_level="REPEATABLE READ")
        self.exact = 0

    def sample(self):
        for (down, down_query), (up, _), pure in DOWNSTREAMS:
            with self.conn.cursor() as cur:
                cur.execute("SELECT name, frontier FROM pgtrickle.pgt_stream_tables WHERE name IN (%s, %s)",
                            (down, up))
                fr = dict(cur.fetchall())
                fd, fu = fr.get(down), fr.get(up)
                if fd is not None and fu is not None:
                    cur.execute("SELECT %s::pg_lsn > %s::pg_lsn", (fd, fu))
                    if cur.fetchone()[0]:
                        raise TestFailure(f"{down}'s frontier {fd} passed its upstream {up}'s {fu}")
                    if fd == fu and pure:
                        n = diff_count(cur, down, down_query)
                        if n:
                            raise TestFailure(f"{down} at frontier {fd} differs from its query over {up} "
                                              f"(same frontier) in {n} row(s)")
                        self.exact += 1
            self.conn.rollback()

    def close(self):
        self.conn.close()


def run_with_sampling(h, wl, n_txns, sampler):
    done = threading.Event()
    errors = []

    def sample_loop():
        try:
            while not done.is_set():
                sampler.sample()
                time.sleep(0.05)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=sample_loop)
    t.start()
    try:
        for _ in range(n_txns // 5):
            wl.run(5)
            time.sleep(0.1)
            if errors:
                break
    finally:
        done.set()
        t.join()
    if errors:
        raise errors[0]


def expect_error(h, sql, params, code, needle):
    try:
        h.primary_sql(sql, params)
    except psycopg2.Error as e:
        if e.pgcode != code or needle not in str(e):
            raise TestFailure(f"expected {code} mentioning {needle!r}, got {e.pgcode}: {e}")
        log(f"refused as expected: {str(e).splitlines()[0]}")
        return
    raise TestFailure(f"not refused: {sql} {params}")


def main():
    with Harness.from_argv() as h:
        rng = random.Random(h.seed)
        wl = RelatedWorkload(h.cluster.primary_dsn, seed=h.seed)
        wl.create()
        wl.load()
        for name, query in UPSTREAMS:
            streams.create(h, name, query, schedule="300 milliseconds")
        for (name, query), _, _ in DOWNSTREAMS:
            streams.create(h, name, query, schedule="200 milliseconds")
        h.start_engine()
        check_round(h)
        sampler = Sampler(h.cluster.primary_dsn)
        for rnd in range(3):
            run_with_sampling(h, wl, 60, sampler)
            check_round(h)
            log(f"round {rnd}: every stream table of the DAG equals its query and the composed query "
                f"({sampler.exact} exact samples at equal frontiers so far)")

        # refresh_stream_table of the end of a chain returns once its frontier passed the call's
        # WAL position: its upstreams merged past it first.
        before = h.cluster.primary_lsn()
        wl.run(5)
        h.primary_sql("SELECT pgtrickle.refresh_stream_table(%s, timeout => '120 seconds')", (DOWN_CHAIN[0],))
        reached = h.primary_sql("SELECT frontier >= %s::pg_lsn FROM pgtrickle.pgt_stream_tables WHERE name = %s",
                                (before, DOWN_CHAIN[0]))[0][0]
        if not reached:
            raise TestFailure("refresh_stream_table of the chain returned before its frontier passed the call")
        log("refresh_stream_table of a downstream chain waited for its upstreams")

        # Structure rules.
        expect_error(h, "SELECT pgtrickle.alter_stream_table(%s, query => %s)",
                     (UP_ORDERS[0], "SELECT region AS id, n AS customer_id, total, region AS status, region "
                                    "FROM df_dn_region"), "42P17", "cycle")
        expect_error(h, "SELECT pgtrickle.drop_stream_table(%s)", (UP_ORDERS[0],), "2BP01", "df_dn_region")

        # kill -9 at random points under load.
        kill_under_load(h, rng, kills=3)
        check_round(h)
        run_with_sampling(h, wl, 30, sampler)
        check_round(h)
        if sampler.exact == 0:
            raise TestFailure("no sample caught a downstream at its upstream's frontier")

        # A failing upstream stops its dependants only.
        h.primary_sql("CREATE TABLE dag_fail (id int PRIMARY KEY, v int)")
        h.primary_sql("INSERT INTO dag_fail SELECT g, g FROM generate_series(1, 10) g")
        streams.create(h, "public.df_fail_up", "SELECT id, 100 / v AS x FROM dag_fail", schedule="200 milliseconds")
        streams.create(h, "public.df_fail_dn", "SELECT count(*) AS n, sum(x) AS s FROM df_fail_up",
                       schedule="200 milliseconds")
        streams.check_all(h, [("public.df_fail_up", "SELECT id, 100 / v AS x FROM dag_fail"),
                              ("public.df_fail_dn", "SELECT count(*) AS n, sum(x) AS s FROM df_fail_up")])
        h.primary_sql("INSERT INTO dag_fail VALUES (11, 0)")
        deadline = time.time() + 120
        while True:
            st = dict((n, (s, e)) for n, s, e in h.primary_sql(
                "SELECT name, status, last_error FROM pgtrickle.pgt_stream_tables"))
            if st["public.df_fail_up"][0] == "ERROR" and st["public.df_fail_dn"][0] == "ERROR":
                break
            if time.time() > deadline:
                raise TestFailure(f"upstream failure did not stop its dependant: {st}")
            time.sleep(0.2)
        if "df_fail_up" not in (st["public.df_fail_dn"][1] or ""):
            raise TestFailure(f"the dependant's error does not name its upstream: {st['public.df_fail_dn']}")
        for name, _ in all_tables():
            if st[name][0] != "ACTIVE":
                raise TestFailure(f"{name} is {st[name]} after an unrelated upstream failed")
        wl.run(20)
        check_round(h)   # the rest of the DAG goes on
        h.primary_sql("SELECT pgtrickle.drop_stream_table('public.df_fail_up', cascade => true)")
        left = h.primary_sql("SELECT count(*) FROM pgtrickle.pgt_stream_tables WHERE name LIKE 'public.df_fail%%'")
        if left[0][0] != 0:
            raise TestFailure("drop with cascade left the dependant behind")
        h.engine.check_alive()
        sampler.close()
        wl.close()
        log(f"PASS test_dataflow_dag ({sampler.exact} exact samples)")


if __name__ == "__main__":
    main()
