"""Benchmark scenarios: schema, data load, pgbench workload, stream tables, freshness probe and
the 1,000-row delta of each. Used by ./run (see README.md)."""
from __future__ import annotations

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PG_BIN = os.environ.get("PGT_PG_BIN", "/usr/lib/postgresql/15/bin")
DELTA_ROWS = 1000


def _pgbench_env(port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST="127.0.0.1", PGPORT=str(port), PGUSER="postgres", PGDATABASE="postgres")
    return env


class Scenario:
    name = ""
    summary = ""
    needs = None            # e.g. "joins": checked by trying create_stream_table
    # sizes: {"quick": {...}, "full": {...}} with keys tps_size, merge_sizes, decoder_txns
    sizes: dict = {}
    size_unit = ""
    sources: list[str] = []
    stream_tables: list[tuple[str, str]] = []   # (name, query)
    schedule = "1 second"

    def load(self, cluster, size) -> None:
        raise NotImplementedError

    def pgbench_args(self, size) -> list[str]:
        raise NotImplementedError

    def probe_insert(self, cur, k: int) -> None:
        """One committed source change that makes marker k appear in a stream table."""
        raise NotImplementedError

    probe_seen_sql = ""     # returns the marker ids visible in the stream table

    def delta(self, cur, size, rep: int) -> None:
        """Change exactly DELTA_ROWS rows of each source table of the stream tables (one txn)."""
        raise NotImplementedError

    def source_rows(self, size) -> int:
        raise NotImplementedError


class TpcbLike(Scenario):
    name = "tpcb_like"
    summary = ("pgbench's built-in tpcb-like transaction (UPDATE accounts/tellers/branches, "
               "INSERT history) under three stream tables: per-branch sum/count/avg of balances "
               "(aggregate), accounts over a balance threshold (filter/projection), history count "
               "per teller (aggregate over an insert-only table)")
    size_unit = "pgbench scale"
    sizes = {"quick": {"tps_size": 1, "merge_sizes": [1, 4], "decoder_txns": 1000},
             "full": {"tps_size": 10, "merge_sizes": [10, 100], "decoder_txns": 8000}}
    sources = ["public.pgbench_accounts", "public.pgbench_history"]
    stream_tables = [
        ("public.tpcb_branch_balances",
         "SELECT bid, count(*) AS accounts, sum(abalance) AS total, avg(abalance) AS avg_balance "
         "FROM pgbench_accounts GROUP BY bid"),
        ("public.tpcb_rich_accounts",
         "SELECT aid, bid, abalance FROM pgbench_accounts WHERE abalance > 2500"),
        ("public.tpcb_history_per_teller",
         "SELECT tid, count(*) AS n, sum(delta) AS total_delta FROM pgbench_history GROUP BY tid"),
    ]

    def load(self, cluster, size):
        subprocess.run([os.path.join(PG_BIN, "pgbench"), "-i", "-q", "-s", str(size)],
                       env=_pgbench_env(cluster.primary_port), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Stream table sources need a primary key: pgbench_history gets one (bigserial), for
        # every configuration alike (baseline included), and a history of 10,000 rows per scale.
        cluster.primary_sql("ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY")
        cluster.primary_sql(
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
            "SELECT 1 + g %% (10 * %s), 1 + g %% %s, 1 + g %% (100000 * %s), g %% 10001 - 5000, "
            "now() FROM generate_series(0, 10000 * %s - 1) g", (size, size, size, size))
        cluster.primary_sql("VACUUM ANALYZE")

    def pgbench_args(self, size):
        return ["-b", "tpcb-like"]

    def probe_insert(self, cur, k):
        cur.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                    "VALUES (%s, 0, 0, 0, now())", (-k,))

    probe_seen_sql = "SELECT -tid FROM public.tpcb_history_per_teller WHERE tid < 0"

    def delta(self, cur, size, rep):
        n = 100000 * size
        # 1,000 distinct accounts (7919 is prime, n is not a multiple of it); +3000 moves them
        # across the threshold of tpcb_rich_accounts. Plus 1,000 new history rows.
        cur.execute("UPDATE pgbench_accounts SET abalance = abalance + 3000 WHERE aid IN "
                    "(SELECT 1 + (g::bigint * 7919 + %s) %% %s FROM generate_series(0, %s) g)",
                    (rep * 104729, n, DELTA_ROWS - 1))
        assert cur.rowcount == DELTA_ROWS, cur.rowcount
        cur.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                    "SELECT 1 + g %% (10 * %s), 1 + g %% %s, 1 + g, 1, now() "
                    "FROM generate_series(0, %s) g", (size, size, DELTA_ROWS - 1))

    def source_rows(self, size):
        return 100000 * size + 10000 * size


class Events(Scenario):
    name = "append_only_events"
    summary = ("inserts only (one event per transaction, events.pgbench) under a stream table "
               "counting events and summing amounts per minute bucket and type")
    size_unit = "rows in events"
    sizes = {"quick": {"tps_size": 20000, "merge_sizes": [20000, 100000], "decoder_txns": 3000},
             "full": {"tps_size": 1000000, "merge_sizes": [1000000, 5000000],
                      "decoder_txns": 15000}}
    sources = ["public.events"]
    stream_tables = [
        ("public.events_per_minute",
         "SELECT ts / 60 AS minute, type, count(*) AS n, sum(amount) AS total "
         "FROM events GROUP BY ts / 60, type"),
    ]

    def load(self, cluster, size):
        cluster.primary_sql("DROP TABLE IF EXISTS events")
        cluster.primary_sql("CREATE TABLE events (id bigserial PRIMARY KEY, ts bigint NOT NULL, "
                            "type int NOT NULL, user_id int NOT NULL, amount int NOT NULL)")
        cluster.primary_sql(
            "INSERT INTO events (ts, type, user_id, amount) SELECT 1700000000 + g %% 86400, "
            "1 + g %% 16, 1 + g %% 100000, 1 + g %% 1000 FROM generate_series(0, %s - 1) g",
            (size,))
        cluster.primary_sql("VACUUM ANALYZE events")

    def pgbench_args(self, size):
        return ["-f", os.path.join(HERE, "events.pgbench")]

    def probe_insert(self, cur, k):
        cur.execute("INSERT INTO events (ts, type, user_id, amount) VALUES (0, %s, 0, 0)", (-k,))

    probe_seen_sql = "SELECT -type FROM public.events_per_minute WHERE minute = 0 AND type < 0"

    def delta(self, cur, size, rep):
        cur.execute("INSERT INTO events (ts, type, user_id, amount) SELECT 1700000000 + g * 60, "
                    "1 + g %% 16, 1 + g, 1 + g %% 1000 FROM generate_series(0, %s) g",
                    (DELTA_ROWS - 1,))

    def source_rows(self, size):
        return size


class OrdersCustomers(Scenario):
    name = "orders_customers_join"
    summary = ("orders JOIN customers with per-region count/sum/avg (orders.pgbench: new orders, "
               "customers occasionally changing region); runs once the engine supports joins")
    needs = "joins"
    size_unit = "customers (orders = 10x)"
    sizes = {"quick": {"tps_size": 10000, "merge_sizes": [10000, 50000], "decoder_txns": 1000},
             "full": {"tps_size": 100000, "merge_sizes": [100000, 1000000],
                      "decoder_txns": 8000}}
    sources = ["public.orders", "public.customers"]
    stream_tables = [
        ("public.orders_by_region",
         "SELECT c.region, count(*) AS orders, sum(o.amount) AS revenue, "
         "avg(o.amount) AS avg_amount FROM orders o JOIN customers c ON c.id = o.customer_id "
         "GROUP BY c.region"),
    ]

    def load(self, cluster, size):
        cluster.primary_sql("DROP TABLE IF EXISTS orders, customers")
        cluster.primary_sql("CREATE TABLE customers (id int PRIMARY KEY, region int NOT NULL, "
                            "name text NOT NULL)")
        cluster.primary_sql("CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT "
                            "NULL, amount numeric(12,2) NOT NULL, status int NOT NULL)")
        cluster.primary_sql("INSERT INTO customers SELECT g, 1 + g %% 50, 'customer ' || g "
                            "FROM generate_series(1, %s) g", (size,))
        cluster.primary_sql("INSERT INTO orders (customer_id, amount, status) SELECT "
                            "1 + g %% %s, (g %% 50000) / 100.0, 1 + g %% 4 "
                            "FROM generate_series(0, 10 * %s - 1) g", (size, size))
        cluster.primary_sql("VACUUM ANALYZE")

    def pgbench_args(self, size):
        return ["-f", os.path.join(HERE, "orders.pgbench"), "-D", f"ncustomers={size}"]

    def probe_insert(self, cur, k):
        cur.execute("INSERT INTO customers VALUES (%s, %s, 'probe')", (-k, -k))
        cur.execute("INSERT INTO orders (customer_id, amount, status) VALUES (%s, 0, 0)", (-k,))

    probe_seen_sql = "SELECT -region FROM public.orders_by_region WHERE region < 0"

    def delta(self, cur, size, rep):
        cur.execute("INSERT INTO orders (customer_id, amount, status) SELECT 1 + g %% %s, 1, 1 "
                    "FROM generate_series(0, %s) g", (size, DELTA_ROWS - 1))
        cur.execute("UPDATE customers SET region = 1 + (region + 1) %% 50 WHERE id IN "
                    "(SELECT 1 + (g::bigint * 7919 + %s) %% %s FROM generate_series(0, %s) g)",
                    (rep * 104729, size, DELTA_ROWS - 1))

    def source_rows(self, size):
        return 11 * size


ALL = [TpcbLike(), Events(), OrdersCustomers()]
