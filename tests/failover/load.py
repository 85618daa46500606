"""A pgbench-like write load for the failover drills: several client threads, each running
multi-statement transactions of INSERT / UPDATE / DELETE over the drill's source tables
(deploy/drills/drills.sql), through a failover.

Clients connect with a conninfo obtained from `dsn_fn()` on every (re)connect — normally the
multi-host `target_session_attrs=read-write` conninfo, i.e. what CNPG's -rw service gives. Any
connection error rolls back, backs off and reconnects; a transaction whose COMMIT failed is
*ambiguous* (it may or may not have committed), which is fine: the new primary's data is the
truth and the oracle re-runs the queries there. Nothing is remembered about committed rows.
"""
from __future__ import annotations

import random
import threading
import time

import psycopg2
import psycopg2.extensions

ID_SPACE = 6000          # drill_orders / drill_items ids the load touches (probes are > 1e9)
CATS = ["a", "b", "c", "d", "x y", "", None]


class WriteLoad:
    def __init__(self, dsn_fn, seed: int, clients: int = 3, pause: float = 0.01,
                 log=print):
        self.dsn_fn = dsn_fn
        self.seed = seed
        self.clients = clients
        self.pause = pause
        self.log = log
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.stats = {"commits": 0, "rollbacks": 0, "errors": 0, "ambiguous": 0,
                      "reconnects": 0, "statements": 0}
        self.last_error: str | None = None

    def _count(self, key, n=1):
        with self._lock:
            self.stats[key] += n

    # ---- statements
    def _orders(self, cur, r: random.Random):
        x = r.random()
        i = r.randrange(1, ID_SPACE)
        if x < 0.35:
            n = r.choice([1, 1, 3, 8])
            rows = [(i + k, r.randrange(1, 21), None if r.random() < 0.05 else
                     round(r.uniform(-100, 1000), 2), None if r.random() < 0.05 else
                     r.randrange(0, 100), r.choice(CATS), r.random() < 0.5)
                    for k in range(n) if i + k < ID_SPACE]
            ph = ", ".join(["(%s, %s, %s, %s, %s, %s, now()::timestamp)"] * len(rows))
            cur.execute(f"INSERT INTO drill_orders VALUES {ph} ON CONFLICT (id) DO UPDATE SET "
                        f"amount = EXCLUDED.amount, qty = drill_orders.qty + 1, "
                        f"ts = EXCLUDED.ts", [v for row in rows for v in row])
        elif x < 0.65:
            cur.execute("UPDATE drill_orders SET amount = amount + %s, flag = NOT flag, "
                        "qty = CASE WHEN qty IS NULL THEN 1 ELSE qty + 1 END "
                        "WHERE id BETWEEN %s AND %s",
                        (round(r.uniform(-5, 5), 2), i, i + r.choice([0, 0, 3, 20])))
        elif x < 0.8:
            cur.execute("UPDATE drill_orders SET grp = %s, cat = %s WHERE id = %s",
                        (r.randrange(1, 21), r.choice(CATS), i))
        else:
            cur.execute("DELETE FROM drill_orders WHERE id BETWEEN %s AND %s",
                        (i, i + r.choice([0, 0, 2, 10])))

    def _items(self, cur, r: random.Random):
        x = r.random()
        i = r.randrange(1, ID_SPACE)
        if x < 0.4:
            cur.execute("INSERT INTO drill_items VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET price = EXCLUDED.price, "
                        "qty = EXCLUDED.qty, note = EXCLUDED.note",
                        (i, r.randrange(1, ID_SPACE), r.randrange(0, 10),
                         None if r.random() < 0.05 else round(r.uniform(0, 500), 2),
                         r.randrange(0, 10), f"note {r.randrange(50)}"))
        elif x < 0.75:
            cur.execute("UPDATE drill_items SET qty = qty + 1, kind = %s WHERE id BETWEEN %s "
                        "AND %s", (r.randrange(0, 10), i, i + r.choice([0, 5])))
        else:
            cur.execute("DELETE FROM drill_items WHERE id BETWEEN %s AND %s",
                        (i, i + r.choice([0, 3])))

    def _transaction(self, conn, r: random.Random):
        with conn.cursor() as cur:
            for _ in range(r.choice([1, 2, 3, 5])):
                (self._orders if r.random() < 0.65 else self._items)(cur, r)
                self._count("statements")
        if r.random() < 0.05:
            conn.rollback()
            self._count("rollbacks")
            return
        try:
            conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self._count("ambiguous")
            raise
        self._count("commits")

    # ---- clients
    def _client(self, k: int):
        r = random.Random(self.seed * 1000 + k)
        conn = None
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg2.connect(self.dsn_fn(), connect_timeout=3)
                    conn.autocommit = False
                    self._count("reconnects")
                self._transaction(conn, r)
                backoff = 0.1
                if self.pause:
                    time.sleep(r.uniform(0, 2 * self.pause))
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                self._count("errors")
                self.last_error = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                try:
                    if conn is not None:
                        conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                self._stop.wait(backoff)
                backoff = min(1.0, backoff * 2)
            except psycopg2.Error as e:
                # e.g. deadlock between clients, read-only transaction while roles move
                self._count("errors")
                self.last_error = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001
                    conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def start(self) -> "WriteLoad":
        self._stop.clear()
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True,
                                          name=f"load-{k}") for k in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        self._threads = []
        return dict(self.stats)

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait_commits(self, n: int, timeout: float = 60) -> None:
        """Wait until n more transactions committed (the load is really writing)."""
        target = self.stats["commits"] + n
        deadline = time.time() + timeout
        while self.stats["commits"] < target:
            if time.time() > deadline:
                raise AssertionError(f"write load committed {self.stats['commits']} < {target} "
                                     f"transactions in {timeout}s (last error: "
                                     f"{self.last_error})")
            time.sleep(0.05)
