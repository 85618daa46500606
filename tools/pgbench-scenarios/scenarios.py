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
    schedule_s = 1.0
    # phases of the runner this scenario runs (bench/scenario_run.py)
    phases = ("write_path", "freshness", "decoder", "merge")
    in_quick = True          # run by --quick without --only (CI budget)
    large_txn_rows: dict | None = None   # {"quick": n, "full": n}: one n-row transaction
    large_txn_sql = ""

    def large_txn(self, cur, size, n) -> None:
        raise NotImplementedError

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
    sizes = {"quick": {"tps_size": 1, "merge_sizes": [1, 2], "decoder_txns": 1000},
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
        # History rows of the first 10 tellers (every scale has them): the stream table merges
        # the same 10 groups at every size, so merge growth compares like with like (spread
        # over all tellers it merged 100 rows at scale 10 and 1,000 at scale 100).
        cur.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                    "SELECT 1 + g %% 10, 1 + g %% %s, 1 + g, 1, now() "
                    "FROM generate_series(0, %s) g", (size, DELTA_ROWS - 1))

    def source_rows(self, size):
        return 100000 * size + 10000 * size


class Events(Scenario):
    name = "append_only_events"
    summary = ("inserts only (one event per transaction, events.pgbench) under a stream table "
               "counting events and summing amounts per minute bucket and type")
    size_unit = "rows in events"
    in_quick = False
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
    in_quick = False
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


class WideFive(Scenario):
    name = "wide_five_tables"
    summary = ("apply throughput: five stream tables (filter/project/aggregate shapes) over one "
               "source of wide rows (16 columns, about 300 bytes); wide.pgbench: one INSERT and "
               "one UPDATE of a random existing row per transaction")
    size_unit = "rows in wide"
    in_quick = False
    sizes = {"quick": {"tps_size": 20000, "merge_sizes": [20000, 50000], "decoder_txns": 1000},
             "full": {"tps_size": 200000, "merge_sizes": [200000, 1000000],
                      "decoder_txns": 8000}}
    sources = ["public.wide"]
    stream_tables = [
        ("public.wide_active",
         "SELECT id, acct, qty, price FROM wide WHERE status = 1"),
        ("public.wide_codes",
         "SELECT id, region, kind, code FROM wide"),
        ("public.wide_by_region",
         "SELECT region, count(*) AS n, sum(qty) AS qty, sum(price) AS revenue "
         "FROM wide GROUP BY region"),
        ("public.wide_by_kind_status",
         "SELECT kind, status, count(*) AS n, avg(price) AS avg_price, max(score) AS max_score "
         "FROM wide GROUP BY kind, status"),
        ("public.wide_big_by_acct",
         "SELECT acct, count(*) AS n, sum(qty) AS qty FROM wide WHERE price > 100 "
         "GROUP BY acct"),
    ]
    ROW = ("1 + g %% 5000, 1 + g %% 40, 1 + g %% 3, 1 + g %% 12, 1 + g %% 100, "
           "(g %% 50000) / 100.0, (g %% 30) / 100.0, now(), now(), "
           "'C' || lpad((g %% 100000)::text, 8, '0'), 'name ' || g, "
           "repeat(md5(g::text), 4), g %% 7, (g %% 1000) / 10.0, g %% 2 = 0")
    COLS = ("acct, region, status, kind, qty, price, discount, created, updated, code, name, "
            "note, flags, score, paid")

    def load(self, cluster, size):
        cluster.primary_sql("DROP TABLE IF EXISTS wide")
        cluster.primary_sql(
            "CREATE TABLE wide (id bigserial PRIMARY KEY, acct int NOT NULL, region int NOT NULL, "
            "status int NOT NULL, kind int NOT NULL, qty int NOT NULL, price numeric(12,2) NOT "
            "NULL, discount numeric(5,2) NOT NULL, created timestamptz NOT NULL, updated "
            "timestamptz NOT NULL, code text NOT NULL, name text NOT NULL, note text NOT NULL, "
            "flags int NOT NULL, score double precision NOT NULL, paid boolean NOT NULL)")
        cluster.primary_sql(f"INSERT INTO wide ({self.COLS}) SELECT {self.ROW} "
                            f"FROM generate_series(0, %s - 1) g", (size,))
        cluster.primary_sql("VACUUM ANALYZE wide")

    def pgbench_args(self, size):
        return ["-f", os.path.join(HERE, "wide.pgbench"), "-D", f"nrows={size}"]

    def probe_insert(self, cur, k):
        cur.execute(f"INSERT INTO wide ({self.COLS}) VALUES (1, %s, 2, 1, 1, 1, 0, now(), now(), "
                    f"'probe', 'probe', 'probe', 0, 0, false)", (-k,))

    probe_seen_sql = "SELECT -region FROM public.wide_by_region WHERE region < 0"

    def delta(self, cur, size, rep):
        cur.execute("UPDATE wide SET qty = qty + 1, status = 1 + status %% 3, updated = now() "
                    "WHERE id IN (SELECT 1 + (g::bigint * 7919 + %s) %% %s "
                    "FROM generate_series(0, %s) g)", (rep * 104729, size, DELTA_ROWS - 1))
        assert cur.rowcount == DELTA_ROWS, cur.rowcount

    def source_rows(self, size):
        return size


class StateAtScale(Scenario):
    name = "state_at_scale"
    summary = ("state at scale: a narrow source (full: 10M rows) under three stream tables "
               "(aggregate per group, a 1 % filter/projection, aggregate per flag); bootstrap "
               "rate, engine peak RSS, RocksDB size, merge of a 1,000-row delta at 1M vs 10M "
               "rows; and one large transaction (full: 1M rows) applied by the engine")
    size_unit = "rows in big"
    sizes = {"quick": {"merge_sizes": [20000, 100000]},
             "full": {"merge_sizes": [1000000, 10000000]}}
    phases = ("merge",)
    sources = ["public.big"]
    stream_tables = [
        ("public.big_by_grp",
         "SELECT grp, count(*) AS n, sum(val) AS total FROM big GROUP BY grp"),
        ("public.big_high",
         "SELECT id, grp, val FROM big WHERE val > 990"),
        ("public.big_by_flag",
         "SELECT flag, count(*) AS n, avg(val) AS avg_val FROM big GROUP BY flag"),
    ]
    large_txn_rows = {"quick": 100000, "full": 1000000}
    large_txn_sql = ("INSERT INTO big SELECT size + g, g % 1000, g % 997, g % 8 "
                     "FROM generate_series(1, n) g")

    def load(self, cluster, size):
        cluster.primary_sql("DROP TABLE IF EXISTS big")
        cluster.primary_sql("CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, "
                            "val int NOT NULL, flag int NOT NULL)")
        cluster.primary_sql("INSERT INTO big SELECT g, g %% 1000, g %% 997, g %% 8 "
                            "FROM generate_series(1, %s) g", (size,))
        cluster.primary_sql("VACUUM ANALYZE big")

    def delta(self, cur, size, rep):
        cur.execute("UPDATE big SET val = (val + 500) %% 1000 WHERE id IN "
                    "(SELECT 1 + (g::bigint * 7919 + %s) %% %s FROM generate_series(0, %s) g)",
                    (rep * 104729, size, DELTA_ROWS - 1))
        assert cur.rowcount == DELTA_ROWS, cur.rowcount

    def large_txn(self, cur, size, n):
        cur.execute("INSERT INTO big SELECT %s + g, g %% 1000, g %% 997, g %% 8 "
                    "FROM generate_series(1, %s) g", (size, n))

    def source_rows(self, size):
        return size


ALL = [TpcbLike(), Events(), OrdersCustomers(), WideFive(), StateAtScale()]
