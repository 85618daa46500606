"""Related tables (customers, products, orders, order_lines) and a seeded random workload over
them for the dataflow tests: key updates on both sides of joins (foreign keys moved, set to NULL
or to ids that do not exist, primary keys changed), deletes that empty groups and remove
outer-join partners, multi-statement transactions and rollbacks. No foreign-key constraints,
so dangling references exist (outer joins see them)."""
import random
import time

import psycopg2

from common import kill_engine_under_load, log

DDL = [
    "CREATE TABLE customers (id int PRIMARY KEY, name text, region text, tier int)",
    "CREATE TABLE products (id int PRIMARY KEY, name text, price numeric(10,2), category text, weight float8)",
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, status text, total numeric(12,2), created date, "
    "shipped_at timestamptz)",
    "CREATE TABLE order_lines (order_id int, line int, product_id int, qty int, PRIMARY KEY (order_id, line))",
]
REGIONS = ["eu", "us", "apac", None]
STATUSES = ["new", "paid", "shipped", "cancelled", None]
CATEGORIES = ["book", "toy", "food", None]


class RelatedWorkload:
    def __init__(self, dsn: str, seed: int, customers: int = 30, products: int = 15, orders: int = 80):
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.sizes = {"customers": customers, "products": products, "orders": orders}
        self.conn = psycopg2.connect(dsn)

    def close(self):
        self.conn.close()

    def create(self):
        with self.conn.cursor() as cur:
            for d in DDL:
                cur.execute(d)
        self.conn.commit()

    # ---- values
    def _maybe(self, v, p=0.1):
        return None if self.rng.random() < p else v

    def _customer(self, i):
        r = self.rng
        name = r.choice([f"cust{r.randrange(50)}", f"cust{r.randrange(50)}", " Ünï cust ", "a_b%c", "", "z",
                         "Éclair", "Zeta", "éa"])
        return (i, self._maybe(name), self._maybe(r.choice(REGIONS[:3]), 0.15),
                self._maybe(r.randrange(1, 4)))

    def _product(self, i):
        r = self.rng
        weight = r.choice([r.random() * 100, r.randrange(0, 5) * 2.5, -0.0, 0.1, 1e300, float("nan")])
        return (i, f"prod{i}", self._maybe(r.randrange(100, 20000) / 100), self._maybe(r.choice(CATEGORIES[:3])),
                self._maybe(weight))

    def _order(self, i):
        r = self.rng
        n = self.sizes["customers"]
        return (i, self._maybe(r.randrange(1, n + 5), 0.1), self._maybe(r.choice(STATUSES[:4])),
                self._maybe(r.randrange(0, 50000) / 100), f"2024-0{r.randrange(1, 10)}-1{r.randrange(0, 10)}",
                self._shipped())

    def _shipped(self):
        """A timestamptz (NULL, infinite, month ends, leap days, fractions, other offsets)."""
        r = self.rng
        return self._maybe(r.choice([
            f"2024-0{r.randrange(1, 10)}-{r.randrange(10, 29)} {r.randrange(24)}:{r.randrange(60)}:0{r.randrange(10)}+00",
            f"2024-01-31 23:{r.randrange(60)}:00.5+00", "2024-02-29 12:00:00-05", "2023-12-31 23:59:59.999999+00",
            "infinity", "-infinity", f"2024-03-31 0{r.randrange(10)}:00:00+02"]), 0.15)

    def _line(self, o, line):
        r = self.rng
        return (o, line, self._maybe(r.randrange(1, self.sizes["products"] + 3), 0.1), self._maybe(r.randrange(1, 10)))

    def load(self):
        with self.conn.cursor() as cur:
            for i in range(1, self.sizes["customers"] + 1):
                cur.execute("INSERT INTO customers VALUES (%s,%s,%s,%s)", self._customer(i))
            for i in range(1, self.sizes["products"] + 1):
                cur.execute("INSERT INTO products VALUES (%s,%s,%s,%s,%s)", self._product(i))
            for i in range(1, self.sizes["orders"] + 1):
                cur.execute("INSERT INTO orders VALUES (%s,%s,%s,%s,%s,%s)", self._order(i))
                for line in range(1, self.rng.randrange(1, 4) + 1):
                    cur.execute("INSERT INTO order_lines VALUES (%s,%s,%s,%s)", self._line(i, line))
        self.conn.commit()

    # ---- statements
    def _ids(self, cur, table, col="id"):
        cur.execute(f"SELECT {col} FROM {table}")
        return [r[0] for r in cur.fetchall()]

    def _statement(self, cur):
        r = self.rng
        k = r.randrange(16)
        if k == 0:
            cur.execute("INSERT INTO customers VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                        self._customer(r.randrange(1, 200)))
        elif k == 1:   # region/tier change: the customer moves between join/aggregate groups
            cur.execute("UPDATE customers SET region = %s, tier = %s WHERE id = %s",
                        (r.choice(REGIONS), self._maybe(r.randrange(1, 4)), r.randrange(1, 60)))
        elif k == 2:   # primary key change on the "one" side of joins
            new_id = r.randrange(1, 200)
            cur.execute("UPDATE customers SET id = %s WHERE id = %s AND NOT EXISTS "
                        "(SELECT 1 FROM customers WHERE id = %s)",
                        (new_id, r.randrange(1, 60), new_id))
        elif k == 3:   # delete a customer: its orders lose their outer-join partner
            cur.execute("DELETE FROM customers WHERE id = %s", (r.randrange(1, 60),))
        elif k == 4:
            cur.execute("UPDATE products SET price = %s, category = %s, weight = %s WHERE id = %s",
                        (self._maybe(r.randrange(100, 20000) / 100), r.choice(CATEGORIES),
                         self._product(0)[4], r.randrange(1, 20)))
        elif k == 5:
            cur.execute("INSERT INTO products VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                        self._product(r.randrange(1, 30)))
        elif k in (6, 7):   # orders: new ones with lines
            i = r.randrange(1, 400)
            cur.execute("INSERT INTO orders VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING", self._order(i))
            for line in range(1, r.randrange(0, 4) + 1):
                cur.execute("INSERT INTO order_lines VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING", self._line(i, line))
        elif k == 8:   # foreign key moves, to NULL or to a missing customer too
            cur.execute("UPDATE orders SET customer_id = %s WHERE id = %s",
                        (self._maybe(r.randrange(1, 70), 0.2), r.randrange(1, 400)))
        elif k == 9:
            cur.execute("UPDATE orders SET status = %s, total = %s, shipped_at = %s WHERE id = %s",
                        (r.choice(STATUSES), self._maybe(r.randrange(0, 50000) / 100), self._shipped(),
                         r.randrange(1, 400)))
        elif k == 10:  # delete an order and its lines: groups empty
            o = r.randrange(1, 400)
            cur.execute("DELETE FROM order_lines WHERE order_id = %s", (o,))
            cur.execute("DELETE FROM orders WHERE id = %s", (o,))
        elif k == 11:
            cur.execute("UPDATE order_lines SET product_id = %s, qty = %s WHERE order_id = %s",
                        (self._maybe(r.randrange(1, 20)), self._maybe(r.randrange(1, 10)), r.randrange(1, 400)))
        elif k == 12:  # a line moves to another order (primary key change on the "many" side)
            to = r.randrange(1, 400)
            cur.execute("UPDATE order_lines SET order_id = %s, line = 11 WHERE order_id = %s AND line = 1 "
                        "AND NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = %s AND line = 11)",
                        (to, r.randrange(1, 400), to))
        elif k == 13:
            cur.execute("DELETE FROM order_lines WHERE order_id = %s AND line = %s", (r.randrange(1, 400), r.randrange(1, 4)))
        elif k == 14:  # many rows at once
            cur.execute("UPDATE orders SET total = total + 1 WHERE customer_id = %s", (r.randrange(1, 60),))
        else:
            cur.execute("UPDATE customers SET name = %s WHERE region = %s",
                        (f"cust{r.randrange(50)}", r.choice(REGIONS[:3])))

    def transaction(self):
        with self.conn.cursor() as cur:
            for _ in range(self.rng.randrange(1, 6)):
                self._statement(cur)
        if self.rng.random() < 0.1:
            self.conn.rollback()
        else:
            self.conn.commit()

    def run(self, n: int):
        for _ in range(n):
            self.transaction()


def make_dsn_workload(dsn, seed, **kw):
    return RelatedWorkload(dsn, seed, **kw)


def kill_under_load(h, rng, kills: int):
    """SIGKILL the engine `kills` times at random points while a throttled workload runs (the
    point is crashing mid-stream, not load), restarting it each time."""
    w = RelatedWorkload(h.cluster.primary_dsn, seed=h.seed + 7)

    def step():
        w.run(3)
        time.sleep(0.2)

    try:
        kill_engine_under_load(h, rng, step, kills)
    finally:
        w.close()
