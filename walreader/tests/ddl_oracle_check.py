#!/usr/bin/env python3
"""Randomized oracle with schema and storage changes: pgtrickle-waldump vs. test_decoding.

Starts a throwaway PostgreSQL 15 (oracle_check.Server), installs walreader/sql/catalog_history.sql,
then runs a random workload from a seed that interleaves DML with DDL on the decoded tables:
ADD COLUMN without and with a DEFAULT (attmissingval), with a volatile DEFAULT (rewrite), DROP
COLUMN, ALTER COLUMN TYPE (rewrite, and binary-coercible without rewrite), RENAME COLUMN / TABLE,
TRUNCATE, VACUUM FULL, CLUSTER, a partitioned table whose leaves are created, attached and
detached during the range (and whose parent gets a column), tables created, filled and dropped in
the range, DDL and DML in the same transaction, DDL rolled back (whole transaction and ROLLBACK TO
SAVEPOINT). The CLI (pg_wal and archive with a 1 KB reorder buffer) must print exactly what
pg_logical_slot_peek_changes(.., 'include-xids', '0', 'skip-empty-xacts', '1') prints, minus the
rows the DDL transactions add to pgtrickle_catalog.relation_version (not decoded by the CLI).

A second phase checks the loud limit: with the event triggers disabled during the range, the CLI
must refuse (exit 1, message naming the triggers) instead of decoding with wrong descriptors.

usage: ddl_oracle_check.py WALDUMP [--seed=N] [--steps=N] [--keep]
Exit 77 (skip) when PostgreSQL 15, root or the postgres user are unavailable.
"""
import os
import pwd
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_check  # noqa: E402
from oracle_check import Server, first_diff, q  # noqa: E402

HISTORY_SQL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql", "catalog_history.sql")

SCHEMA = """
create table t_a(id int primary key, v text, n int);
create table t_b(id int primary key, x int, s text, d numeric);
create table t_c(id int primary key, v text, big text);
create table t_f(id int primary key, v text, n int);
alter table t_f replica identity full;
create table p(id int, k int not null, v text) partition by range (k);
create table p_1 partition of p for values from (0) to (100);
create table p_2 partition of p for values from (100) to (200);
"""


class Table:
    def __init__(self, name, cols):
        self.name = name
        self.base = name   # index names do not follow RENAME
        self.cols = dict(cols)   # name -> 'int' | 'bigint' | 'text' | 'numeric' | 'varchar'
        self.ids = set()


class Workload:
    def __init__(self, seed, steps):
        self.r = random.Random(seed)
        self.steps = steps
        self.tables = {
            "t_a": Table("t_a", [("v", "text"), ("n", "int")]),
            "t_b": Table("t_b", [("x", "int"), ("s", "text"), ("d", "numeric")]),
            "t_c": Table("t_c", [("v", "text"), ("big", "text")]),
            "t_f": Table("t_f", [("v", "text"), ("n", "int")]),
        }
        self.next_id = 1
        self.ncol = 0
        self.leaves = 2        # p_1, p_2: k in [0, 200)
        self.detached = []
        self.pcols = ["v"]
        self.tmp = 0
        self.out = []

    def value(self, typ):
        r = self.r
        if r.random() < 0.1:
            return "NULL"
        if typ in ("int", "bigint"):
            return str(r.randint(-1000, 100000))
        if typ == "numeric":
            return "%d.%02d" % (r.randint(-999, 999), r.randint(0, 99))
        s = "".join(r.choice("abcxyz '09é") for _ in range(r.randint(0, 10)))
        if typ == "text" and r.random() < 0.05:
            s = s * 500 + "".join(r.choice("abcdefgh") for _ in range(3000))   # TOAST
        return q(s)

    def dml(self, t):
        r = self.r
        c = r.random()
        if c < 0.5 or not t.ids:
            rid = self.next_id
            self.next_id += 1
            cols = list(t.cols)
            r.shuffle(cols)
            cols = cols[:r.randint(0, len(cols))]
            t.ids.add(rid)
            return "insert into %s(id%s) values (%d%s);" % (
                t.name, "".join(", " + x for x in cols), rid, "".join(", " + self.value(t.cols[x]) for x in cols))
        rid = r.choice(sorted(t.ids))
        if c < 0.8 and t.cols:
            col = r.choice(list(t.cols))
            return "update %s set %s = %s where id = %d;" % (t.name, col, self.value(t.cols[col]), rid)
        t.ids.discard(rid)
        return "delete from %s where id = %d;" % (t.name, rid)

    def pdml(self):
        r = self.r
        k = r.randint(0, self.leaves * 100 - 1)
        if any(lo <= k < lo + 100 for lo in self.detached):
            k = r.randint(0, 99)
        cols = "".join(", " + c for c in self.pcols)
        vals = "".join(", " + self.value("text") for _ in self.pcols)
        if r.random() < 0.2:
            return "update p set v = %s where k = %d;" % (self.value("text"), k)
        if r.random() < 0.1:   # moves rows to another leaf: DELETE there, INSERT here
            return "update p set k = %d where k < 100 and id %% 3 = %d;" % (100 + r.randint(0, 99), r.randint(0, 2))
        return "insert into p(id, k%s) values (%d, %d%s);" % (cols, self.next_id, k, vals)

    def ddl(self, t):
        """One DDL on table t (may be several statements); updates the model."""
        r = self.r
        self.ncol += 1
        c = "c%d" % self.ncol
        ops = ["add", "add_default", "add_text_default", "add_volatile", "drop", "type_rewrite",
               "type_coercible", "rename_col", "truncate", "identity", "persistence"]
        op = r.choice(ops)
        if op == "identity":
            return "alter table %s replica identity %s;" % (t.name, r.choice(["full", "default"]))
        if op == "persistence":   # rewritten twice; the unlogged table's rows are not in the WAL
            return "alter table %s set unlogged; alter table %s set logged;" % (t.name, t.name)
        if op == "add":
            t.cols[c] = "int"
            return "alter table %s add column %s int;" % (t.name, c)
        if op == "add_default":
            t.cols[c] = "int"
            return "alter table %s add column %s int default %d;" % (t.name, c, r.randint(-50, 50))
        if op == "add_text_default":
            t.cols[c] = "text"
            return "alter table %s add column %s text default %s;" % (t.name, c, q("d'ef " + str(self.ncol)))
        if op == "add_volatile":
            t.cols[c] = "int"
            return "alter table %s add column %s int default (random() * 1000)::int;" % (t.name, c)
        if op == "drop" and len(t.cols) > 1:
            col = r.choice(sorted(t.cols))
            del t.cols[col]
            return "alter table %s drop column %s;" % (t.name, col)
        if op == "type_rewrite":
            ints = [x for x, y in t.cols.items() if y == "int"]
            if ints:
                col = r.choice(ints)
                if r.random() < 0.5:
                    t.cols[col] = "bigint"
                    return "alter table %s alter column %s type bigint;" % (t.name, col)
                t.cols[col] = "text"
                return "alter table %s alter column %s type text using %s::text || 'x';" % (t.name, col, col)
        if op == "type_coercible":
            texts = [x for x, y in t.cols.items() if y == "text"]
            if texts:
                col = r.choice(texts)
                t.cols[col] = "varchar"
                return "alter table %s alter column %s type varchar;" % (t.name, col)
        if op == "rename_col" and t.cols:
            col = r.choice(sorted(t.cols))
            t.cols[c] = t.cols.pop(col)
            return "alter table %s rename column %s to %s;" % (t.name, col, c)
        t.ids.clear()
        return "truncate %s;" % t.name

    def partition_ddl(self):
        r = self.r
        c = r.random()
        lo = self.leaves * 100
        if c < 0.35:
            self.leaves += 1
            return "create table p_%d partition of p for values from (%d) to (%d);" % (self.leaves, lo, lo + 100)
        if c < 0.65:
            self.leaves += 1
            # a table with its own column order and a dropped column, attached as a leaf
            return ("create table p_%d(v text, junk int, k int not null, id int%s);"
                    " alter table p_%d drop column junk;"
                    " insert into p_%d(id, k, v%s) values (%d, %d, 'before attach'%s);"
                    " alter table p attach partition p_%d for values from (%d) to (%d);"
                    % (self.leaves, "".join(", %s text" % x for x in self.pcols if x != "v"), self.leaves,
                       self.leaves, "".join(", " + x for x in self.pcols if x != "v"), self.next_id, lo,
                       "".join(", 'x'" for x in self.pcols if x != "v"), self.leaves, lo, lo + 100))
        if c < 0.8 and self.leaves > 2:
            n = r.randint(3, self.leaves)
            if (n - 1) * 100 not in self.detached:
                self.detached.append((n - 1) * 100)
                return "alter table p detach partition p_%d; insert into p_%d(id, k) values (%d, %d);" % (
                    n, n, self.next_id, (n - 1) * 100)
        self.ncol += 1
        col = "pc%d" % self.ncol
        self.pcols.append(col)
        return "alter table p add column %s text default 'pd';" % col

    def copy(self, t):
        """COPY (heap multi-insert) of ids only: the other columns get NULL or their DEFAULT."""
        ids = []
        for _ in range(self.r.randint(1, 20)):
            ids.append(self.next_id)
            t.ids.add(self.next_id)
            self.next_id += 1
        return "copy %s(id) from stdin;\n%s\n\\." % (t.name, "\n".join(str(i) for i in ids))

    def temp_table(self):
        self.tmp += 1
        n = "t_tmp%d" % self.tmp
        if self.r.random() < 0.5:   # CREATE TABLE AS: its inserts come before the DDL's history row
            return ("create table %s as select g as id, g::text || 'ctas' as v from generate_series(1, 3) g;"
                    " alter table %s add column w int default 4; update %s set v = 'u' where id = 2;"
                    " drop table %s;" % (n, n, n, n))
        return ("create table %s(id int primary key, a text, b int); insert into %s values (1, 'x', 2), (2, NULL, 3);"
                " alter table %s drop column a; update %s set b = b + 1; drop table %s;" % (n, n, n, n, n))

    def step(self):
        r = self.r
        c = r.random()
        t = self.tables[r.choice(sorted(self.tables))]
        if c < 0.08:
            return ["vacuum full %s;" % t.name]
        if c < 0.13:
            return ["cluster %s using %s_pkey;" % (t.name, t.base)]
        if c < 0.18:
            saved, ids = dict(t.cols), set(t.ids)
            body = ["begin;", self.dml(t), self.ddl(t), self.dml(t), "rollback;"]
            t.cols, t.ids = saved, ids
            return body
        if c < 0.23:
            saved = dict(t.cols)
            ids = set(t.ids)
            body = ["begin;", self.dml(t), "savepoint s1;", self.ddl(t), self.dml(t), "rollback to savepoint s1;"]
            t.cols, t.ids = saved, ids
            return body + [self.dml(t), "commit;"]
        if c < 0.45:
            body = ["begin;"] + [self.dml(t) for _ in range(r.randint(0, 3))] + [self.ddl(t)]
            return body + [self.dml(t) for _ in range(r.randint(1, 3))] + ["commit;"]
        if c < 0.52:
            return ["begin;", self.pdml(), self.partition_ddl(), self.pdml(), "commit;"]
        if c < 0.55:
            return [self.temp_table()]
        if c < 0.58:
            old = t.name
            new = old + "_r"
            if new.count("_r") > 2:
                new = old.split("_r")[0]
            before = self.dml(t)
            self.tables[new] = self.tables.pop(old)
            t.name = new
            return ["begin;", before, "alter table %s rename to %s;" % (old, new), self.dml(t), "commit;"]
        if c < 0.62:
            return ["begin;", self.copy(t), self.ddl(t), self.copy(t), "commit;"]
        if c < 0.75:
            return ["begin;"] + [self.pdml() for _ in range(r.randint(1, 4))] + ["commit;"]
        return ["begin;"] + [self.dml(t) for _ in range(r.randint(1, 5))] + ["commit;"]

    def script(self):
        out = []
        for _ in range(self.steps):
            out.extend(self.step())
        # cover the named operations whatever the seed did
        t = self.tables[sorted(self.tables)[0]]
        # an UPDATE of a row formed before ADD COLUMN ... DEFAULT reads the missing value
        old_row = self.next_id
        self.next_id += 1
        t.ids.add(old_row)
        out += ["insert into %s(id) values (%d);" % (t.name, old_row),
                "begin;", self.dml(t), "alter table %s add column zz_m int default 7;" % t.name,
                "update %s set id = id where id = %d;" % (t.name, old_row), self.dml(t), "commit;"]
        t.cols["zz_m"] = "int"
        out += [self.dml(t), "vacuum full %s;" % t.name, self.dml(t), "cluster %s using %s_pkey;" % (t.name, t.base),
                self.dml(t), "alter table %s alter column zz_m type bigint;" % t.name]
        t.cols["zz_m"] = "bigint"
        out += [self.dml(t), "truncate %s;" % t.name]
        t.ids.clear()
        out += [self.dml(t), self.temp_table(),
                "alter table %s add column zz_v text default 'v';" % t.name,
                "alter table %s alter column zz_v type varchar;" % t.name]
        t.cols["zz_v"] = "varchar"
        out += [self.dml(t), self.dml(t),
                "create table p_new partition of p for values from (10000) to (10100);",
                "insert into p(id, k) values (%d, 10000);" % self.next_id,
                "create table p_att(k int not null, v text, id int%s);" % "".join(", %s text" % x for x in self.pcols if x != "v"),
                "insert into p_att(id, k) values (%d, 20000);" % (self.next_id + 1),
                "alter table p attach partition p_att for values from (20000) to (20100);",
                "insert into p(id, k) values (%d, 20001);" % (self.next_id + 2),
                "alter table p add column zz_p int default 3;",
                "insert into p(id, k) values (%d, 5); update p set k = 150 where id = %d;" % (self.next_id + 4, self.next_id + 4),
                "alter table %s set unlogged; alter table %s set logged;" % (t.name, t.name),
                # a missing value of a type the decoder cannot rebuild from attmissingval text
                # (timestamptz): only rows formed after the ADD COLUMN are decoded
                "create table t_ts(id int primary key);",
                "alter table t_ts add column at timestamptz default '2024-05-06 07:08:09+00';",
                "insert into t_ts values (1, default), (2, '1999-01-01 00:00:00+00');",
                "create table t_ctas as select g as id, g::text || 'ctas' as v from generate_series(1, 3) g;",
                "alter table t_ctas add column w int default 4;",
                "insert into t_ctas values (4, 'after');",
                self.copy(t), self.dml(t),
                "insert into p(id, k) values (%d, 20002);" % (self.next_id + 3)]
        return "\n".join(out) + "\n"


def strip_history(data):
    """test_decoding's output without the catalog history rows, and without the transactions
    that had nothing else (skip-empty-xacts as if those rows were not decoded)."""
    out, txn = [], []
    for line in data.split(b"\n"):
        if not line:
            continue
        if line == b"BEGIN":
            txn = [line]
        elif line == b"COMMIT":
            if len(txn) > 1:
                out.extend(txn + [line])
            txn = []
        elif not line.startswith(b"table pgtrickle_catalog."):
            txn.append(line)
    return b"".join(x + b"\n" for x in out)


def run_cli(waldump, args):
    return subprocess.run([waldump] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def main():
    waldump = sys.argv[1]
    seed = int(time.time() * 1000) % 1000000
    steps = 150
    keep = False
    for a in sys.argv[2:]:
        if a.startswith("--seed="): seed = int(a[7:])
        elif a.startswith("--steps="): steps = int(a[8:])
        elif a == "--keep": keep = True
        elif a.startswith("--pg-bin="):
            # a version run must run: missing binaries fail, never skip
            missing = oracle_check.use_pg_bin(a[len("--pg-bin="):])
            if missing:
                print("ddl oracle: FAIL: " + missing, flush=True)
                return 1
    if os.environ.get("ORACLE_SEED"):
        seed = int(os.environ["ORACLE_SEED"])
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return 77
    if os.getuid() != 0 or not os.access(oracle_check.BIN + "/initdb", os.X_OK):
        return 77
    print("ddl oracle: PostgreSQL %d (%s) seed=%d steps=%d"
          % (oracle_check.server_major(oracle_check.BIN), oracle_check.BIN, seed, steps), flush=True)
    srv = Server(keep)
    try:
        srv.start(1)
        srv.psql(SCHEMA)
        hist = os.path.join(srv.w, "catalog_history.sql")
        with open(HISTORY_SQL) as f, open(hist, "w") as g:
            g.write(f.read())
        os.chmod(hist, 0o644)
        srv.psql(file=hist)
        srv.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        start = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        path = os.path.join(srv.w, "workload.sql")
        with open(path, "w") as f:
            f.write(Workload(seed, steps).script())
        os.chmod(path, 0o644)
        t0 = time.time()
        srv.psql(file=path)
        end = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        srv.switch_and_archive()
        print("ddl oracle: workload %.1fs, range %s..%s" % (time.time() - t0, start, end), flush=True)
        raw = srv.psql("select data from pg_logical_slot_peek_changes('s', NULL, NULL, "
                       "'include-xids', '0', 'skip-empty-xacts', '1')")
        expected = strip_history(raw)
        for needle in [b"TRUNCATE:", b"table public.p_new: INSERT:", b"table public.p_att: INSERT: k[integer]:20001", b"zz_m[integer]:7", b"zz_m[bigint]:",
                       b"t_tmp1: UPDATE:", b"[character varying]:",
                       b"t_ctas: INSERT: id[integer]:4 v[text]:'after' w[integer]:4", b"t_ctas: INSERT: id[integer]:1 v[text]:'1ctas'", b"w[integer]:4",
                       b"table public.p_1: DELETE:", b"t_ts: INSERT: id[integer]:1 at[timestamp with time zone]:'2024-05-06 07:08:09+00'"]:
            if needle not in expected:
                raise RuntimeError("workload of seed %d did not produce %r" % (seed, needle))
        common = ["--start=" + start, "--end=" + end, "--catalog=" + srv.conninfo(), "--format=test_decoding"]
        spill = os.path.join(srv.w, "spill")
        runs = [("pg_wal", ["--wal-dir=" + os.path.join(srv.w, "data", "pg_wal")]),
                ("archive+spill", ["--archive=" + srv.arch, "--reorder-memory-limit=1024", "--spill-dir=" + spill])]
        ok = True
        for name, args in runs:
            t1 = time.time()
            p = run_cli(waldump, args + common)
            if p.returncode != 0:
                print("waldump (%s) failed (seed=%d, exit %d): %s"
                      % (name, seed, p.returncode, p.stderr.decode(errors="replace")))
                ok = False
                break
            if p.stdout != expected:
                first_diff(expected, p.stdout, seed, name)
                for ext, data in (("expected", expected), ("got", p.stdout), ("raw", raw)):
                    with open("/tmp/wr-ddl-oracle-%d.%s" % (seed, ext), "wb") as f:
                        f.write(data)
                print("full outputs: /tmp/wr-ddl-oracle-%d.{expected,got,raw}" % seed)
                ok = False
                break
            print("ddl oracle (%s): %d lines identical to test_decoding (%.1fs)"
                  % (name, expected.count(b"\n"), time.time() - t1), flush=True)
        if not ok:
            return 1
        # --tables with the history: only that leaf (never renamed), its versions included
        p = run_cli(waldump, ["--wal-dir=" + os.path.join(srv.w, "data", "pg_wal"), "--tables=p_1"] + common)
        only = strip_history(b"".join(x + b"\n" for x in expected.split(b"\n")
                                      if x in (b"BEGIN", b"COMMIT") or x.startswith(b"table public.p_1:")))
        if p.returncode != 0 or p.stdout != only or b"p_1: INSERT:" not in only:
            first_diff(only, p.stdout, seed, "--tables=p_1")
            print(p.stderr.decode(errors="replace"))
            return 1
        print("ddl oracle (--tables=p_1): %d lines identical" % only.count(b"\n"), flush=True)
        # Loud limit: DDL while the history's event triggers were disabled (enabled again before
        # the CLI runs) must stop the decoding at that transaction, not be decoded wrongly.
        srv.psql("create table t_late(id int primary key, a int, b text); insert into t_late values (1, 2, 'x')")
        s2 = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        srv.psql("insert into t_late values (2, 3, 'y')")
        srv.psql("alter event trigger pgtrickle_catalog_ddl_end disable")
        srv.psql("alter table t_late drop column a")
        srv.psql("insert into t_late values (3, 'z')")
        srv.psql("alter event trigger pgtrickle_catalog_ddl_end enable always")
        e2 = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        p = run_cli(waldump, ["--wal-dir=" + os.path.join(srv.w, "data", "pg_wal"), "--start=" + s2,
                              "--end=" + e2, "--catalog=" + srv.conninfo()])
        err = p.stderr.decode(errors="replace")
        if p.returncode != 1 or "event triggers changed" not in err or b"id[integer]:3" in p.stdout:
            print("disabled triggers: expected exit 1 naming the event triggers and no row after, got exit %d: %s\n%s"
                  % (p.returncode, err, p.stdout.decode(errors="replace")))
            return 1
        if b"id[integer]:2" not in p.stdout:
            print("disabled triggers: the transaction before the change is missing: %s" % p.stdout.decode())
            return 1
        # Disabled now: refused at once.
        srv.psql("alter event trigger pgtrickle_catalog_rewrite disable")
        p = run_cli(waldump, ["--wal-dir=" + os.path.join(srv.w, "data", "pg_wal"), "--start=" + s2,
                              "--end=" + e2, "--catalog=" + srv.conninfo()])
        if p.returncode != 1 or b"missing or disabled" not in p.stderr or p.stdout:
            print("disabled trigger at start: expected a refusal, got exit %d: %s" % (p.returncode, p.stderr.decode()))
            return 1
        # A transaction committed after the CLI read the history is refused, not decoded.
        srv.psql("alter event trigger pgtrickle_catalog_rewrite enable always")
        s3 = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        hi, lo = (int(x, 16) for x in s3.split("/"))
        e3 = "%X/%X" % (hi, lo + (8 << 20))
        cli = subprocess.Popen([waldump, "--wal-dir=" + os.path.join(srv.w, "data", "pg_wal"), "--start=" + s3,
                                "--end=" + e3, "--catalog=" + srv.conninfo()],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
        srv.psql("insert into t_late values (10, 'late')")
        out, err3 = cli.communicate(timeout=60)
        if cli.returncode != 1 or b"where the catalog history was read" not in err3 or out:
            print("commit after the history was read: expected a refusal, got exit %d: %s / %s"
                  % (cli.returncode, err3.decode(errors="replace"), out.decode(errors="replace")))
            return 1
        print("ddl oracle: commit after the history read refused: %s" % err3.decode().strip())
        print("ddl oracle: disabled event triggers refused: %s / %s" % (err.strip(), p.stderr.decode().strip()))
        return 0
    finally:
        srv.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
