"""The stream tables the integration tests maintain over the workload's `src` table, with the
queries they must equal (the oracle re-runs exactly these)."""

FILTER_PROJECT = ("public.st_filter",
                  "SELECT id, grp, amount, qty::bigint * 2 AS q2, amount * qty AS amount_x_qty, grp - 1 AS g1, cat, d, ts FROM src "
                  "WHERE amount > 100 AND (flag OR qty IS NULL) AND NOT (cat IS NULL)")

GROUP_BY = ("public.st_groups",
            "SELECT grp, count(*) AS n, count(qty) AS nq, sum(amount) AS total, avg(qty) AS avg_qty, "
            "min(amount) AS min_amount, max(cat) AS max_cat, sum(qty) AS sum_qty, "
            "avg(amount) AS avg_amount, min(d) AS min_d, max(ts) AS max_ts FROM src GROUP BY grp")

GLOBAL = ("public.st_global",
          "SELECT count(*) AS n, sum(amount) AS total, avg(amount) AS avg_amount, "
          "min(qty) AS min_qty, max(qty) AS max_qty, count(cat) AS n_cat FROM src")

OTHER_SOURCE = ("public.st_other",
                "SELECT grp, count(*) AS n, sum(amount) AS total, max(ts) AS max_ts FROM src_b GROUP BY grp")

ALL = [FILTER_PROJECT, GROUP_BY, GLOBAL]


def create(h, name, query, schedule="200 milliseconds"):
    h.primary_sql("SELECT pgtrickle.create_stream_table(%s, %s, %s::interval)", (name, query, schedule))


def check_all(h, tables=ALL, timeout=120):
    """Wait until every stream table's frontier passes the primary's current LSN, then compare
    each with its query re-run (two-way EXCEPT ALL)."""
    lsn = h.cluster.primary_lsn()
    for name, query in tables:
        h.wait_for_frontier(name, lsn, timeout)
    for name, query in tables:
        h.assert_stream_table_matches_query(name, query)
