"""Dataflow oracle test (issue 9): stream tables with joins (inner over four tables, LEFT,
RIGHT, FULL, self, comma and CROSS joins), [NOT] EXISTS and [NOT] IN subqueries (NOT IN with
NULLs; correlated IN), ILIKE, DISTINCT, UNION [ALL], HAVING, subqueries in FROM and WITH over four related tables, maintained under a randomized workload with key updates on both
sides of joins, NULL and dangling foreign keys, deletes that empty groups and outer-join
partners. After every catch-up each stream table must equal its query re-run (two-way EXCEPT
ALL). Then the engine is killed with SIGKILL at random points under load and restarted; nothing
may be lost or applied twice. A stream table created over sources that are already mirrored is
bootstrapped from the shared mirrors (no new snapshot), checked the same way."""
import random

from common import Harness, log
from dataflow_workload import RelatedWorkload, kill_under_load
import streams

DATAFLOW = [
    ("public.df_inner", "SELECT o.id, c.name, c.region, o.total FROM orders o JOIN customers c "
                        "ON o.customer_id = c.id AND o.status <> 'cancelled'"),
    ("public.df_four", "SELECT c.region, p.category, count(*) AS n, sum(l.qty) AS qty, "
                       "sum(l.qty * p.price) AS revenue, max(o.created) AS last_order "
                       "FROM order_lines l JOIN orders o ON o.id = l.order_id "
                       "JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = l.product_id "
                       "GROUP BY c.region, p.category"),
    ("public.df_left", "SELECT c.id, c.name, o.id AS order_id, o.total FROM customers c "
                       "LEFT JOIN orders o ON o.customer_id = c.id"),
    ("public.df_full", "SELECT c.id AS cid, o.id AS oid, c.tier, o.status FROM customers c "
                       "FULL JOIN orders o ON o.customer_id = c.id AND o.total > 100"),
    ("public.df_right_agg", "SELECT c.region, count(*) AS n, count(c.id) AS matched, sum(o.total) AS total "
                            "FROM customers c RIGHT JOIN orders o ON o.customer_id = c.id GROUP BY c.region"),
    ("public.df_self", "SELECT a.id, b.id AS other FROM customers a JOIN customers b "
                       "ON a.region = b.region AND a.id < b.id"),
    ("public.df_distinct", "SELECT DISTINCT c.region, o.status FROM orders o JOIN customers c ON c.id = o.customer_id"),
    ("public.df_union_all", "SELECT id, region AS label FROM customers UNION ALL SELECT id, status FROM orders"),
    ("public.df_union", "SELECT customer_id AS id FROM orders UNION SELECT id FROM customers"),
    ("public.df_cte", "WITH t AS (SELECT customer_id, count(*) AS n, sum(total) AS s FROM orders GROUP BY customer_id) "
                      "SELECT c.name, t.n, t.s FROM t JOIN customers c ON c.id = t.customer_id WHERE t.n > 1"),
    ("public.df_having", "SELECT customer_id, count(*) AS n, max(total) AS mx FROM orders "
                         "GROUP BY customer_id HAVING count(*) >= 2 AND min(total) IS NOT NULL"),
    ("public.df_comma", "SELECT l.order_id, l.line, p.name FROM order_lines l, products p "
                        "WHERE l.product_id = p.id AND p.price > 50"),
    ("public.df_cross", "SELECT p.id, t.tier FROM products p CROSS JOIN (SELECT DISTINCT tier FROM customers) t"),
    ("public.df_exists", "SELECT c.id, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o "
                         "WHERE o.customer_id = c.id AND o.total > 100) AND NOT EXISTS (SELECT 1 FROM orders o2 "
                         "WHERE o2.customer_id = c.id AND o2.status = 'cancelled')"),
    ("public.df_in", "SELECT o.id, o.status FROM orders o WHERE o.customer_id IN "
                     "(SELECT id FROM customers WHERE tier = 1) AND o.id NOT IN (SELECT order_id FROM order_lines WHERE qty > 5)"),
    # NOT IN over a nullable column: empty whenever a NULL is in the subquery, as in PostgreSQL
    ("public.df_not_in_nulls", "SELECT p.id, p.name FROM products p WHERE p.id NOT IN "
                               "(SELECT product_id FROM order_lines WHERE qty > 7)"),
    ("public.df_setops", "(SELECT customer_id AS id FROM orders INTERSECT ALL SELECT id FROM customers) "
                         "UNION ALL (SELECT tier FROM customers EXCEPT ALL SELECT customer_id FROM orders)"),
    ("public.df_scalar", "SELECT o.id, o.total, (SELECT max(total) FROM orders) AS max_total FROM orders o "
                         "WHERE o.total > (SELECT avg(total) FROM orders) AND o.customer_id IS NOT NULL"),
    ("public.df_aggdistinct", "SELECT c.region, count(DISTINCT o.customer_id) AS buyers, sum(DISTINCT o.total) AS s, "
                              "avg(DISTINCT l.qty) AS q, count(*) AS n FROM orders o JOIN order_lines l ON l.order_id = o.id "
                              "LEFT JOIN customers c ON c.id = o.customer_id GROUP BY c.region"),
    ("public.df_text", "SELECT c.id, lower(c.name) AS ln, upper(c.region) AS ur, length(c.name) AS len, "
                       "substr(c.name, 2, 3) AS s, c.name || '/' || coalesce(c.region, '?') AS label, btrim(c.name) AS bt "
                       "FROM customers c WHERE c.name LIKE 'cust1%' OR c.name NOT LIKE '%5' OR c.name LIKE 'a\\_b%'"),
    ("public.df_float", "SELECT p.id, p.weight * 2 AS w2, p.weight + l.qty AS wq, -p.weight AS neg FROM products p "
                        "JOIN order_lines l ON l.product_id = p.id WHERE p.weight > 10.5"),
    ("public.df_float_agg", "SELECT p.category, max(p.weight) AS mx, min(p.weight) AS mn, count(p.weight) AS n "
                            "FROM products p GROUP BY p.category"),
    ("public.df_float_key", "SELECT a.id, b.id AS other, a.weight FROM products a JOIN products b "
                            "ON a.weight = b.weight AND a.id < b.id"),
    ("public.df_dates", "SELECT o.id, extract(year from o.created) AS y, extract(dow from o.created) AS dow, "
                        "extract(quarter from o.created) AS q, o.created + 7 AS next_week, o.created - 1 AS prev, "
                        "date_trunc('month', o.created::timestamp) AS m, date_trunc('week', o.created::timestamp) AS w "
                        "FROM orders o WHERE extract(month from o.created) IN (1, 2, 3, 5)"),
    ("public.df_except", "SELECT region FROM customers EXCEPT SELECT status FROM orders"),
    ("public.df_not_in_nullable_x", "SELECT o.id FROM orders o WHERE o.customer_id NOT IN "
                                    "(SELECT id FROM customers WHERE region = 'apac')"),
    # correlated IN: a semi join keyed by the IN column and the correlation (NULL tier / qty: no match)
    ("public.df_in_corr", "SELECT c.id, c.tier FROM customers c WHERE c.tier IN (SELECT l.qty FROM order_lines l "
                          "JOIN orders o ON o.id = l.order_id WHERE o.customer_id = c.id AND o.status <> 'new')"),
    # correlated NOT IN / <> ALL: NULL x, NULL y and empty correlated sets exactly as PostgreSQL
    ("public.df_not_in_corr", "SELECT c.id, c.tier FROM customers c WHERE c.tier NOT IN (SELECT l.qty FROM order_lines l "
                              "JOIN orders o ON o.id = l.order_id WHERE o.customer_id = c.id)"),
    ("public.df_all_corr", "SELECT o.id FROM orders o WHERE o.customer_id % 4 <> ALL "
                           "(SELECT c.tier FROM customers c WHERE c.id % 7 = o.id % 7)"),
    # correlated IN whose correlation is not an equality (the join's residual)
    ("public.df_in_corr_residual", "SELECT o.id FROM orders o WHERE o.customer_id IN "
                                   "(SELECT c.id FROM customers c WHERE c.tier > o.id % 3)"),
    # timestamp/date ± constant interval; timestamptz (TimeZone UTC) in projections, comparisons,
    # EXTRACT, date_trunc, ± interval, MIN/MAX and GROUP BY
    ("public.df_interval", "SELECT o.id, o.created + interval '1 month' AS next_month, "
                           "o.created - interval '1 day 2 hours' AS before, o.created::timestamp + interval '-13 mons 36:00' AS t2, "
                           "o.shipped_at, o.shipped_at + interval '1 mon 1 day 00:00:00.5' AS ship_later, "
                           "o.shipped_at - interval '31 days' AS ship_before, date_trunc('day', o.shipped_at) AS ship_day, "
                           "extract(hour from o.shipped_at) AS ship_hour, extract(dow from o.shipped_at) AS ship_dow "
                           "FROM orders o WHERE o.shipped_at > timestamptz '2024-03-01 00:00+01' OR o.shipped_at IS NULL"),
    ("public.df_tstz_agg", "SELECT date_trunc('month', o.shipped_at) AS m, min(o.shipped_at) AS first_ship, "
                           "max(o.shipped_at) AS last_ship, count(*) AS n FROM orders o GROUP BY 1"),
    # correlated scalar subqueries (one aggregate, equality correlation): LEFT JOIN to the grouped
    # aggregate; count of no rows = 0, sum/max of no rows = NULL; NULL keys match nothing
    ("public.df_scalar_corr", "SELECT c.id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id "
                              "AND o.status <> 'cancelled') AS n, (SELECT sum(o.total) FROM orders o "
                              "WHERE o.customer_id = c.id) AS spent, (SELECT max(l.qty) FROM order_lines l "
                              "JOIN orders o ON o.id = l.order_id WHERE o.customer_id = c.id) AS max_qty "
                              "FROM customers c WHERE (SELECT count(DISTINCT o.status) FROM orders o "
                              "WHERE o.customer_id = c.tier) < 3"),
    # EXISTS under OR and in the select list (count per correlation key > 0), uncorrelated too
    ("public.df_exists_or", "SELECT c.id, EXISTS (SELECT 1 FROM order_lines l WHERE l.qty > 8) AS big_line, "
                            "NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) AS idle FROM customers c "
                            "WHERE c.region = 'eu' OR EXISTS (SELECT 1 FROM orders o JOIN order_lines l "
                            "ON l.order_id = o.id WHERE o.customer_id = c.id AND l.qty > 5) "
                            "OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.tier AND o.status = 'paid')"),
    # IN under OR (positive position): "some correlated row has y = x"; NULL x / y never match
    ("public.df_in_or", "SELECT o.id, o.status FROM orders o WHERE o.status = 'paid' OR o.customer_id IN "
                        "(SELECT c.id FROM customers c WHERE c.tier = 1) OR (o.total > 300 AND o.id IN "
                        "(SELECT l.order_id FROM order_lines l WHERE l.qty = o.customer_id % 10))"),
    # x <> ALL (subquery) = NOT IN (NULL product ids in the subquery empty the result)
    ("public.df_all", "SELECT p.id FROM products p WHERE p.id <> ALL (SELECT product_id FROM order_lines WHERE qty < 3)"),
    ("public.df_all_nonnull", "SELECT p.id, p.name FROM products p WHERE p.id <> ALL "
                              "(SELECT product_id FROM order_lines WHERE qty < 4 AND product_id IS NOT NULL)"),
    # text ordering under glibc's C.utf8 collation (code point order = byte order), non-ASCII names
    ("public.df_cutf8", "SELECT c.region, max(c.name COLLATE \"C.utf8\") AS last_name, "
                        "min(c.name COLLATE \"C.utf8\") AS first_name, count(*) AS n FROM customers c "
                        "WHERE c.name COLLATE \"C.utf8\" > 'b' OR greatest(c.name, c.region) COLLATE \"C.utf8\" < 'd' "
                        "GROUP BY c.region"),
    # ILIKE under LC_CTYPE C: ASCII case folding only ('Ï' does not match 'ï')
    ("public.df_ilike", "SELECT c.id, c.name FROM customers c WHERE c.name ILIKE 'CUST1%' "
                        "OR c.name NOT ILIKE '%Ï%' OR c.region ILIKE 'E_'"),
]
LATE = ("public.df_late", "SELECT p.category, count(*) AS n, sum(l.qty) AS qty FROM order_lines l "
                          "LEFT JOIN products p ON p.id = l.product_id GROUP BY p.category")


def check(h, tables):
    streams.check_all(h, tables, timeout=180)


def main():
    with Harness.from_argv() as h:
        rng = random.Random(h.seed)
        # timestamptz functions are maintained under TimeZone UTC only (the oracle runs under it too)
        h.primary_sql("ALTER DATABASE postgres SET TimeZone = 'UTC'")
        wl = RelatedWorkload(h.cluster.primary_dsn, seed=h.seed)
        wl.create()
        wl.load()
        for name, query in DATAFLOW:
            streams.create(h, name, query, schedule="1 second")
        h.start_engine()
        check(h, DATAFLOW)
        for rnd in range(3):
            wl.run(60)
            check(h, DATAFLOW)
            log(f"round {rnd}: every dataflow stream table equals its query")

        # Over sources that are all mirrored: bootstrapped from the mirrors at the applied position.
        streams.create(h, *LATE, schedule="1 second")
        wl.run(30)
        check(h, DATAFLOW + [LATE])
        with open(h.engine.log_path) as f:
            if "from the shared source mirrors" not in f.read():
                raise AssertionError("df_late was not bootstrapped from the shared source mirrors")

        # kill -9 at random points under load.
        kill_under_load(h, rng, kills=4)
        check(h, DATAFLOW + [LATE])
        wl.run(30)
        check(h, DATAFLOW + [LATE])
        h.engine.check_alive()
        wl.close()
        log("PASS test_dataflow")


if __name__ == "__main__":
    main()
