#!/usr/bin/env python3
"""Randomized oracle test: pgtrickle-waldump vs. the server's own test_decoding on the same WAL.

Starts a throwaway PostgreSQL 15 (as the unprivileged `postgres` user, Unix socket in a temp dir,
loopback port, always stopped), runs a random workload (multi-statement transactions, rollbacks,
savepoints with ROLLBACK TO, COPY, NULLs, INSERT ... ON CONFLICT, TRUNCATE, two-phase commit, TOAST
values inline/compressed/external with pglz and lz4 (COMPRESSION lz4 columns, SET COMPRESSION lz4),
unchanged TOAST) over tables with every type the decoder
supports, archives the WAL (flat, barman layout with zstd and gzip files, restore_command) and
compares, byte for byte,

  pgtrickle-waldump --format=test_decoding [--timezone=TZ] over pg_wal, the archive, the barman
  layout, a restore_command (these three with --reorder-memory-limit=1024, so the reorder
  buffer's spill-to-disk path runs) and physical streaming (--stream=)

with pg_logical_slot_peek_changes(slot, NULL, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')
(in a session with the same TimeZone). On a mismatch prints the first differing lines and the seed.

The range also holds the record types whose layout or name differs between versions: COMMIT
PREPARED / COMMIT of transactions that DROP a table (dropped-stats items: 12 bytes up to 17, 16 in
18, followed by the twophase xid the decoder needs), VACUUM and VACUUM FREEZE (HEAP2 PRUNE/VACUUM/
FREEZE_PAGE, in 17+ PRUNE_ON_ACCESS/PRUNE_VACUUM_SCAN/PRUNE_VACUUM_CLEANUP) and CHECKPOINT (17+:
XLOG CHECKPOINT_REDO). pg_walinspect counts the record types of the range (printed) and the test
fails if one of these is missing.

Versions: --pg-bin=DIR runs the server (initdb, pg_ctl, postgres, test_decoding, pg_walinspect)
from DIR, e.g. the PostgreSQL 16/17/18 binaries installed by tools/install-pg-versions.sh; default
Debian's PostgreSQL 15. psql is always Debian's (libpq 15 talks to 16-18). The workload is the same
for every version (every feature it uses exists in 15-18), plus infinite intervals from 17 on
and a virtual generated column (t_gen.v) from 18 on, where they were introduced. lz4 is not used
(the decoder does not decompress it; the npm 16-18 builds are also built without lz4, which the
test probes and prints).

usage: oracle_check.py WALDUMP [--seed=N] [--txns=N] [--keep] [--pg-bin=DIR]
Exit 77 (skip) when PostgreSQL 15, root or the postgres user are unavailable and --pg-bin was not
given. With --pg-bin a missing binary or a missing root/postgres user is a failure (exit 1) naming
tools/install-pg-versions.sh: the CTests of 16-18 must never be skipped.
"""
import difflib
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time

BIN = "/usr/lib/postgresql/15/bin"          # server binaries (--pg-bin)
CLIENT_BIN = "/usr/lib/postgresql/15/bin"   # psql (not in the npm server packages)


def server_major(bin_dir):
    """Major version of DIR/postgres ("postgres (PostgreSQL) 17.10" -> 17)."""
    out = subprocess.run([bin_dir + "/postgres", "--version"], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout.decode()
    return int(out.split(")")[1].strip().split(".")[0])

TYPES = [  # column name, SQL type
    ("b", "boolean"), ("i2", "smallint"), ("i4", "integer"), ("i8", "bigint"),
    ("f4", "real"), ("f8", "double precision"), ("n", "numeric"), ("n2", "numeric(12,3)"),
    ("t", "text"), ("vc", "varchar(20)"), ("bc", "char(5)"), ("by", "bytea"), ("d", "date"),
    ("tm", "time"), ("ts", "timestamp"), ("tz", "timestamptz"), ("u", "uuid"), ("j", "json"),
    ("jb", "jsonb"), ("o", "oid"), ("iv", "interval"), ("ttz", "timetz"),
    ("ai", "integer[]"), ("at", "text[]"), ("an", "numeric[]"), ("af", "float8[]"),
    ("atz", "timestamptz[]"), ("ab", "boolean[]"), ("aby", "bytea[]"), ("ajb", "jsonb[]"),
    ("ai2", "smallint[]"), ("ad", "date[]"), ("aiv", "interval[]"), ("au", "uuid[]"),
]
ARRAYS = {"ai": ("i4", "integer[]"), "at": ("t", "text[]"), "an": ("n", "numeric[]"),
          "af": ("f8", "float8[]"), "atz": ("tz", "timestamptz[]"), "ab": ("b", "boolean[]"),
          "aby": ("by", "bytea[]"), "ajb": ("jb", "jsonb[]"), "ai2": ("i2", "smallint[]"),
          "ad": ("d", "date[]"), "aiv": ("iv", "interval[]"), "au": ("u", "uuid[]")}
ZONES = ["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe",
         "America/Los_Angeles"]


def q(s):
    return "'" + s.replace("'", "''") + "'"


class Gen:
    def __init__(self, rnd, major=15):
        self.r = rnd
        self.major = major   # server version: 17+ has infinite intervals

    def text(self, maxlen=12):
        r = self.r
        alphabet = "abcXYZ 019'\"\\,:{}[]éß日本-_\t"
        if r.random() < 0.05:
            alphabet += "\n"
        return "".join(r.choice(alphabet) for _ in range(r.randint(0, maxlen)))

    def float8(self):
        r = self.r
        c = r.random()
        if c < 0.05:
            return r.choice(["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "0", "1e-310",
                             "1.7976931348623157e308", "5e-324"])
        if c < 0.5:
            return repr(r.uniform(-1e6, 1e6))
        return repr(r.choice([-1, 1]) * r.random() * 10 ** r.randint(-30, 30))

    def float4(self):
        r = self.r
        if r.random() < 0.05:
            return r.choice(["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "1e-40", "3.4e38", "1.17549435e-38"])
        return "%.9g" % (r.choice([-1, 1]) * r.random() * 10 ** r.randint(-20, 20))

    def numeric(self):
        r = self.r
        if r.random() < 0.05:
            return r.choice(["'NaN'", "'Infinity'", "'-Infinity'", "0", "-0.000", "0.0000000001"])
        ip = str(r.randint(0, 10 ** r.randint(0, 25)))
        s = ip
        if r.random() < 0.7:
            s += "." + "".join(r.choice("0123456789") for _ in range(r.randint(0, 20)))
        if r.random() < 0.1:
            s += "e" + str(r.randint(-30, 30))
        return ("-" if r.random() < 0.3 else "") + s

    def numeric123(self):
        r = self.r
        if r.random() < 0.03:
            return "'NaN'"
        return "%s%d.%03d" % ("-" if r.random() < 0.3 else "", r.randint(0, 10 ** r.randint(0, 8)), r.randint(0, 999))

    def date_days(self):
        return self.r.randint(-800000, 2900000)

    def ts(self, tz):
        r = self.r
        c = r.random()
        if c < 0.04:
            return r.choice(["'infinity'", "'-infinity'"])
        if c < 0.1:
            base = "'4713-01-01 00:00:00 BC'"
            return base
        secs = r.randint(-60000000000, 8000000000)
        us = r.choice([0, r.randint(0, 999999)])
        expr = "(timestamp '1970-01-01' + interval '%d seconds' + interval '%d microseconds')" % (secs, us)
        return expr + ("::timestamptz" if tz else "")

    def json(self, depth=0):
        r = self.r
        c = r.random()
        if depth > 2 or c < 0.3:
            return r.choice(["null", "true", "false", str(r.randint(-10 ** 12, 10 ** 12)),
                             repr(r.uniform(-1e3, 1e3)), "1.50", "-0", "1e5", '"' +
                             self.text(6).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"',
                             '"\\u00e9\\n"'])
        if c < 0.65:
            return "[" + ", ".join(self.json(depth + 1) for _ in range(r.randint(0, 4))) + "]"
        keys = ["a", "b", "key", "aa", "ä", "", "long key", "b"]
        return "{" + ",".join('"%s": %s' % (r.choice(keys), self.json(depth + 1))
                              for _ in range(r.randint(0, 4))) + "}"

    def big_text(self):
        r = self.r
        c = r.random()
        if c < 0.3:  # compressible: inline pglz
            return "repeat(%s, %d)" % (q(self.text(8) or "x"), r.randint(300, 3000))
        if c < 0.6:  # incompressible: external, uncompressed chunks
            return "(select string_agg(md5(random()::text), '') from generate_series(1, %d))" % r.randint(70, 400)
        # external and compressed: a 3200-char random block repeated (pglz window 4 KB)
        return ("(select repeat(string_agg(md5(random()::text), ''), %d) from generate_series(1, 100))"
                % r.randint(3, 8))

    def big_bytea(self):
        r = self.r
        if r.random() < 0.5:  # compressible: inline
            return "decode(repeat(%s, %d), 'hex')" % (q("%02x%02x" % (r.randint(0, 255), r.randint(0, 255))), r.randint(500, 4000))
        return "(select decode(string_agg(md5(random()::text), ''), 'hex') from generate_series(1, %d))" % r.randint(10, 300)

    def big_jsonb(self):
        return "(select jsonb_agg(jsonb_build_object('k', g %% 13, 'v', repeat('x', g %% 5))) from generate_series(1, %d) g)" % self.r.randint(1, 600)

    def interval(self):
        r = self.r
        if r.random() < 0.1:
            return "'0'::interval"
        if self.major >= 17 and r.random() < 0.06:
            return r.choice(["'infinity'::interval", "'-infinity'::interval"])
        parts = []
        for unit, lim in [("years", 300), ("mons", 30), ("days", 400), ("hours", 100), ("minutes", 100)]:
            if r.random() < 0.5:
                parts.append("%d %s" % (r.randint(-lim, lim), unit))
        if r.random() < 0.5:
            parts.append("%d.%06d seconds" % (r.randint(-100, 100), r.randint(0, 999999)))
        return "'%s'::interval" % (" ".join(parts) or "0")

    def array(self, col):
        r = self.r
        elem, typ = ARRAYS[col]
        c = r.random()
        if c < 0.1:
            return "'{}'::" + typ
        if c < 0.15 and col == "ai":
            return "'[0:2]={1,NULL,-3}'::integer[]"
        if c < 0.22 and col in ("ai", "at"):   # two dimensions
            n = r.randint(1, 3)
            rows = ["ARRAY[%s]" % ", ".join(self.elem(elem) for _ in range(n)) for _ in range(r.randint(1, 3))]
            return "ARRAY[%s]::%s" % (", ".join(rows), typ)
        return "ARRAY[%s]::%s" % (", ".join(self.elem(elem) for _ in range(r.randint(1, 5))), typ)

    def elem(self, col):
        if col == "t":
            if self.r.random() < 0.1:
                return self.r.choice(["'NULL'", "'null'", "''", "' '", "'a,b'", "'{x}'", "'\\'"])
            return q(self.text(10))
        return self.value(col)

    def value(self, col):
        r = self.r
        if r.random() < 0.12:
            return "NULL"
        if col in ARRAYS: return self.array(col)
        if col == "iv": return self.interval()
        if col == "ttz":
            off = r.randint(-15 * 60, 15 * 60)
            return "'%02d:%02d:%02d.%06d%s%02d:%02d'::timetz" % (
                r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.choice([0, r.randint(0, 999999)]),
                "-" if off < 0 else "+", abs(off) // 60, abs(off) % 60)
        if col == "b": return r.choice(["true", "false"])
        if col == "i2": return str(r.randint(-32768, 32767))
        if col == "i4": return str(r.randint(-2 ** 31, 2 ** 31 - 1))
        if col == "i8": return str(r.randint(-2 ** 63, 2 ** 63 - 1))
        if col == "f4": return self.float4() + "::real"
        if col == "f8": return self.float8() + "::float8"
        if col == "n": return self.numeric() + "::numeric"
        if col == "n2": return self.numeric123() + "::numeric"
        if col == "t": return self.big_text() if r.random() < 0.15 else q(self.text(30))
        if col == "vc": return q(self.text(20)[:20])
        if col == "bc": return q(self.text(5)[:5].rstrip(" ")[:5])
        if col == "by": return "'\\x" + "".join("%02x" % r.randint(0, 255) for _ in range(r.randint(0, 20))) + "'::bytea"
        if col == "d":
            if r.random() < 0.05: return r.choice(["'infinity'::date", "'-infinity'::date"])
            return "(date '2000-01-01' + %d)" % self.date_days()
        if col == "tm": return "'%02d:%02d:%02d.%06d'::time" % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.choice([0, r.randint(0, 999999)]))
        if col == "ts": return self.ts(False)
        if col == "tz": return self.ts(True)
        if col == "u": return "'%032x'::uuid" % r.getrandbits(128)
        if col == "j": return q(self.json()) + "::json"
        if col == "jb": return q(self.json()) + "::jsonb"
        if col == "o": return str(r.randint(0, 2 ** 32 - 1))
        raise ValueError(col)

    def copy_value(self, col):
        """COPY text format value (literal only)."""
        r = self.r
        if r.random() < 0.15:
            return "\\N"
        v = {"b": lambda: r.choice(["t", "f"]), "i4": lambda: str(r.randint(-2 ** 31, 2 ** 31 - 1)),
             "t": lambda: self.text(20), "n": lambda: self.numeric().strip("'"),
             "f8": lambda: self.float8().strip("'")}[col]()
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class Workload:
    def __init__(self, seed, ntx, major=15):
        self.r = random.Random(seed)
        self.g = Gen(self.r, major)
        self.tag = "s%d" % seed   # in the names of scratch tables and of the fixed GID: two
                                  # workloads on one cluster (timeline_check) must not collide
        self.ntx = ntx
        self.next_id = 1
        self.ids = {"t_all": [], "t_full": [], "t_nokey": [], "t_kv": [], "t_lz4": []}
        self.gid = 0
        self.prepared = []
        self.hold = False
        self.pending = []
        self.pending_of = {}
        self.scratch = 0

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def remember(self, table, rid):
        # Rows of a transaction that will be PREPAREd are touched by later statements only after
        # COMMIT PREPARED (a prepared transaction keeps its locks: waiting on it would hang).
        (self.pending if self.hold else self.ids[table]).append((table, rid) if self.hold else rid)

    def insert_all(self, table="t_all"):
        cols = [c for c, _ in TYPES]
        rid = self.new_id()
        self.remember(table, rid)
        vals = [self.g.value(c) for c in cols]
        return "insert into %s(id, %s) values (%d, %s);" % (table, ", ".join(cols), rid, ", ".join(vals))

    def statement(self, created):
        r = self.r
        c = r.random()
        if self.hold:   # prepared transaction: only fresh rows (no waiting on locks later)
            c = r.choice([0.1, 0.6, 0.7, 0.95])
        if c < 0.30:
            return self.insert_all(r.choice(["t_all", "t_all", "t_full"]))
        if c < 0.42 and self.ids["t_all"]:
            tbl = r.choice(["t_all", "t_full"]) if self.ids["t_full"] else "t_all"
            rid = r.choice(self.ids[tbl])
            cols = r.sample([c for c, _ in TYPES], r.randint(1, 3))
            sets = ", ".join("%s = %s" % (c, self.g.value(c)) for c in cols)
            if r.random() < 0.1:
                nid = self.new_id()
                self.remember(tbl, nid)
                sets += ", id = %d" % nid   # key change: old-key
            return "update %s set %s where id = %d;" % (tbl, sets, rid)
        if c < 0.48 and self.ids["t_all"]:
            tbl = r.choice(["t_all", "t_full", "t_nokey"])
            if not self.ids[tbl]:
                tbl = "t_all"
            rid = r.choice(self.ids[tbl])
            return "delete from %s where id = %d;" % (tbl, rid)
        if c < 0.58:
            k = r.randint(1, 40)
            self.ids["t_kv"].append(k)
            act = r.choice(["do nothing", "do update set v = excluded.v, n = t_kv.n + 1"])
            rows = ", ".join("(%d, %s, %d)" % (r.randint(1, 40), self.g.value("t"), r.randint(0, 9))
                             for _ in range(r.randint(1, 3))) if r.random() < 0.3 else \
                "(%d, %s, %d)" % (k, self.g.value("t"), r.randint(0, 9))
            if "update" in act and rows.count("(") > 1:   # one row per key with DO UPDATE
                rows = "(%d, %s, %d)" % (k, self.g.value("t"), r.randint(0, 9))
            return "insert into t_kv(k, v, n) values %s on conflict (k) %s;" % (rows, act)
        if c < 0.64:
            n = r.randint(1, 30)
            lines = []
            for _ in range(n):
                rid = self.new_id()
                self.remember("t_nokey", rid)
                lines.append("\t".join([str(rid)] + [self.g.copy_value(c) for c in ["b", "i4", "t", "n", "f8"]]))
            return "copy t_nokey(id, b, i4, t, n, f8) from stdin;\n" + "\n".join(lines) + "\n\\.\n"
        if c < 0.68 and self.ids["t_nokey"]:
            return "update t_nokey set t = %s where id = %d;" % (self.g.value("t"), r.choice(self.ids["t_nokey"]))
        if c < 0.72:
            return ("insert into t_all(id, i4, t) select g, g, md5(g::text) from generate_series(%d, %d) g;"
                    % self.bulk())
        if c < 0.76 and self.ids["t_all"]:   # unchanged TOAST: update another column
            return "update t_all set i4 = i4 + 1 where id in (select id from t_all where length(t) > 2100 limit 3);"
        if c < 0.80:
            return "update t_kv set n = n + 1 where k %% 7 = %d;" % r.randint(0, 6)
        if c < 0.88:
            return self.lz4_statement()
        return self.insert_all()

    def lz4_statement(self):
        """t_lz4: columns with COMPRESSION lz4 (and one pglz), REPLICA IDENTITY FULL, so inserts,
        updates and deletes carry lz4 values inline-compressed, external and external-compressed
        (and flattened into old tuples)."""
        r = self.r
        c = r.random()
        if c < 0.55 or not self.ids["t_lz4"] or self.hold:
            rid = self.new_id()
            self.remember("t_lz4", rid)
            return "insert into t_lz4 values (%d, %s, %s, %s, %s);" % (
                rid, self.g.big_text(), self.g.big_bytea(), self.g.big_jsonb(), self.g.big_text())
        rid = r.choice(self.ids["t_lz4"])
        if c < 0.7:
            return "update t_lz4 set t = %s where id = %d;" % (self.g.big_text(), rid)
        if c < 0.85:   # the lz4 columns unchanged (unchanged TOAST / flattened old tuple)
            return "update t_lz4 set p = %s where id = %d;" % (q(self.g.text(10)), rid)
        return "delete from t_lz4 where id = %d;" % rid

    def lz4_fixed(self):
        """Always present: an lz4 value inline-compressed, one external-compressed, one external
        uncompressed, and the delete of a row holding them (old tuple flattened)."""
        out = []
        fixed = []
        for t in ["repeat('lz4 inline ', 500)",
                  "(select repeat(string_agg(md5(g::text), ''), 6) from generate_series(1, 100) g)",
                  "(select string_agg(md5((g * 7)::text), '') from generate_series(1, 300) g)"]:
            rid = self.new_id()
            out.append("insert into t_lz4 values (%d, %s, decode(repeat('ab', 3000), 'hex'), "
                       "(select jsonb_agg(g) from generate_series(1, 400) g), 'p');" % (rid, t))
            fixed.append(rid)   # not in self.ids: random statements never change them
        out.append("delete from t_lz4 where id = %d;" % fixed[1])
        return out

    def bulk(self):
        a = self.next_id + 1
        self.next_id += self.r.randint(1, 200)
        for x in range(a, self.next_id + 1):
            self.remember("t_all", x)
        return a, self.next_id

    def subxact_tree(self):
        """More than 64 subtransactions (XLOG_XACT_ASSIGNMENT records), nested and rolled back."""
        r = self.r
        out = ["begin;"]
        depth = 0
        for i in range(r.randint(70, 110)):
            out.append("savepoint n%d;" % i)
            depth += 1
            rid = self.new_id()
            out.append("insert into t_nokey(id, i4, t) values (%d, %d, %s);" % (rid, i, q(self.g.text(5))))
            x = r.random()
            if x < 0.2:
                out.append("rollback to savepoint n%d;" % i)
            elif x < 0.4:
                out.append("release savepoint n%d;" % i)
        out.append(r.choice(["commit;", "commit;", "rollback;"]))
        return out

    def generated(self):
        """Generated columns: stored (15+) and virtual (18+, added by SCHEMA_18)."""
        r = self.r
        ids = self.ids.setdefault("t_gen", [])
        if ids and r.random() < 0.4:
            return "update t_gen set a = %s where id = %d;" % (self.g.value("i2"), r.choice(ids))
        rid = self.new_id()
        ids.append(rid)
        return "insert into t_gen(id, a, t) values (%d, %s, %s);" % (rid, self.g.value("i2"), q(self.g.text(8)))

    def maintenance(self):
        """Records whose layout or name differs between versions (see the module docstring).
        Tables are named: a bare VACUUM would wait on the scratch tables prepared DROPs hold."""
        r = self.r
        return [r.choice(["vacuum t_kv;", "vacuum t_all;", "vacuum (freeze) t_nokey;",
                          "vacuum (freeze) t_kv;", "checkpoint;"])]

    def transaction(self):
        r = self.r
        out = []
        c = r.random()
        if c < 0.02:
            return self.subxact_tree()
        if c < 0.04:
            return self.maintenance()
        if c < 0.06:
            return [self.generated()]
        if c < 0.25:   # autocommit statement
            return [self.statement(True)]
        e = r.random()
        self.hold = 0.12 <= e < 0.22
        # DROP TABLE of an untracked table created just before: the commit (or COMMIT PREPARED)
        # record carries dropped-stats items and relfilelocators; rolled back, a no-op.
        drop = None
        if r.random() < 0.15:
            self.scratch += 1
            drop = "scratch_%s_%d" % (self.tag, self.scratch)
            out.append("create table %s(x int);" % drop)
        out.append("begin;")
        sp = 0
        for _ in range(r.randint(1, 8)):
            x = r.random()
            if x < 0.12:
                sp += 1
                out.append("savepoint s%d;" % sp)
            elif x < 0.2 and sp:
                k = r.randint(1, sp)
                if r.random() < 0.6:
                    out.append("rollback to savepoint s%d;" % k)
                    sp = k
                else:
                    out.append("release savepoint s%d;" % k)
                    sp = k - 1
            else:
                out.append(self.statement(True))
        if drop:
            out.append("drop table %s;" % drop)
        if e < 0.12:
            out.append("rollback;")
        elif e < 0.22:
            self.gid += 1
            g = "g%d" % self.gid
            out.append("prepare transaction '%s';" % g)
            self.prepared.append(g)
            self.pending_of[g] = self.pending
        else:
            out.append("commit;")
        self.hold = False
        self.pending = []
        # finish some prepared transactions (possibly from earlier iterations)
        while self.prepared and r.random() < 0.5:
            g = self.prepared.pop(r.randrange(len(self.prepared)))
            out.append(r.choice(["commit prepared '%s';", "commit prepared '%s';", "rollback prepared '%s';"]) % g)
            for table, rid in self.pending_of.pop(g):
                self.ids[table].append(rid)
        return out

    def script(self, truncate=True):
        out = self.lz4_fixed()
        for _ in range(self.ntx):
            out.extend(self.transaction())
        for g in self.prepared:
            out.append("commit prepared '%s';" % g)
        self.prepared = []
        # Always in the range, whatever the seed: a COMMIT PREPARED with dropped stats, a plain
        # COMMIT with them, VACUUM (FREEZE) of updated tables and a CHECKPOINT.
        t = self.tag
        out.append("create table scratch_prep_%s(x int); create table scratch_plain_%s(x int);" % (t, t))
        out.append("begin; insert into t_nokey(id, t) values (%d, 'dropped-stats-prepared'); "
                   "drop table scratch_prep_%s; prepare transaction 'g_drop_%s';" % (self.new_id(), t, t))
        out.append("commit prepared 'g_drop_%s';" % t)
        out.append("begin; insert into t_nokey(id, t) values (%d, 'dropped-stats-plain'); "
                   "drop table scratch_plain_%s; commit;" % (self.new_id(), t))
        out.extend(["vacuum (freeze) t_nokey;", "vacuum t_all;", "checkpoint;"])
        if not truncate:
            return "\n".join(out) + "\n"
        # TRUNCATE phase (the SQL catalog is read after the workload, so only the current
        # relfilenode of a table is known: t_trunc gets no DML before its last TRUNCATE).
        out.append("begin; truncate t_trunc; rollback;")
        out.append(self.r.choice(["truncate t_trunc, t_trunc2;", "truncate t_trunc restart identity;",
                                  "truncate t_trunc cascade;", "truncate t_trunc, t_trunc2 restart identity cascade;"]))
        out.append("insert into t_trunc(v) values ('after'), (NULL);")
        out.append("insert into t_trunc2 values (1);")
        return "\n".join(out) + "\n"


class Server:
    def __init__(self, keep=False):
        self.w = tempfile.mkdtemp(prefix="wr-oracle.")
        self.keep = keep
        self.port = 56000 + random.randint(0, 999)
        self.pg = pwd.getpwnam("postgres")
        os.chown(self.w, self.pg.pw_uid, self.pg.pw_gid)
        self.arch = os.path.join(self.w, "archive")
        os.mkdir(self.arch)
        os.chown(self.arch, self.pg.pw_uid, self.pg.pw_gid)
        self.started = False

    def run(self, args, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + args, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def start(self, segsize_mb, extra_conf=""):
        """initdb + start; `extra_conf` lines come last in postgresql.conf (they override)."""
        data = os.path.join(self.w, "data")
        self.run([BIN + "/initdb", "-D", data, "-E", "UTF8", "--locale=C", "--no-sync",
                  "--wal-segsize=%d" % segsize_mb])
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("wal_level=logical\nport=%d\nlisten_addresses=''\nunix_socket_directories='%s'\n"
                    "fsync=off\ntimezone='UTC'\nmax_prepared_transactions=100\nlock_timeout='20s'\narchive_mode=on\n"
                    "archive_command='cp %%p %s/%%f'\nmax_wal_size=1GB\n" % (self.port, self.w, self.arch))
            f.write(extra_conf)
        self.run([BIN + "/pg_ctl", "-D", data, "-l", os.path.join(self.w, "log"), "-w", "start"])
        self.started = True

    def stop(self):
        if self.started:
            subprocess.run(["runuser", "-u", "postgres", "--", BIN + "/pg_ctl", "-D",
                            os.path.join(self.w, "data"), "-m", "immediate", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False
        if not self.keep:
            shutil.rmtree(self.w, ignore_errors=True)

    def switch_and_archive(self):
        """pg_switch_wal(), then wait until archive_command has *finished* copying the segment
        (the file appears in the archive before cp is done)."""
        seg = self.psql("select pg_walfile_name(pg_switch_wal())").decode().strip()
        for _ in range(400):
            done = self.psql("select last_archived_wal from pg_stat_archiver").decode().strip()
            if done and done >= seg:
                self.wait_archive_matches_pg_wal()
                return seg
            time.sleep(0.05)
        raise RuntimeError("segment %s was not archived" % seg)

    def wait_archive_matches_pg_wal(self):
        """Every archived segment still in pg_wal must have the same bytes there. (Seen: with
        16 MB segments the archived copy of the first segment sometimes still held that segment
        as of the workload's start after pg_stat_archiver reported it archived.)"""
        pg_wal = os.path.join(self.w, "data", "pg_wal")
        t0 = time.time()
        while True:
            stale = []
            for name in sorted(x for x in os.listdir(self.arch) if len(x) == 24):
                live = os.path.join(pg_wal, name)
                if not os.path.exists(live):
                    continue
                with open(live, "rb") as a, open(os.path.join(self.arch, name), "rb") as b:
                    if a.read() != b.read():
                        stale.append(name)
            if not stale:
                if time.time() - t0 > 0.01:
                    print("oracle: waited %.2fs for the archive to match pg_wal" % (time.time() - t0),
                          flush=True)
                return
            if time.time() - t0 > 20:
                raise RuntimeError("archived %s still differ from pg_wal after 20 s" % stale)
            time.sleep(0.05)

    def conninfo(self):
        return "host=%s port=%d dbname=postgres user=postgres" % (self.w, self.port)

    def psql(self, sql=None, file=None):
        args = [CLIENT_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.w, "-p", str(self.port),
                "-d", "postgres", "-At"]
        if file:
            args += ["-f", file]
        else:
            args += ["-c", sql]
        p = subprocess.run(["runuser", "-u", "postgres", "--"] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError("psql failed: %s" % p.stderr.decode(errors="replace")[-2000:])
        return p.stdout


SCHEMA = """
create table t_all(id bigint primary key, %s);
create table t_full(id bigint primary key, %s);
alter table t_full replica identity full;
create table t_nokey(id bigint, b boolean, i4 int, t text, n numeric, f8 float8);
create table t_kv(k int primary key, v text, n int);
create table t_trunc(id serial primary key, v text);
create table t_trunc2(x int);
create table t_gen(id bigint primary key, a int, s int generated always as (a + 1) stored, t text);
""" % (", ".join("%s %s" % c for c in TYPES), ", ".join("%s %s" % c for c in TYPES))
# t_lz4: lz4 columns (and one pglz) where the server build has lz4 (Debian 15; the npm 16-18
# builds lack it, so there the same table uses pglz and the lz4 checks are not made).
SCHEMA_LZ4 = """
create table t_lz4(id bigint primary key, t text compression {m}, by bytea compression {m},
                   jb jsonb compression {m}, p text compression pglz);
alter table t_lz4 replica identity full;
alter table t_nokey alter column t set compression {m};
"""
# PostgreSQL 18+: a virtual generated column (stored as NULL in the heap; test_decoding prints null).
SCHEMA_18 = "alter table t_gen add column v int generated always as (a * 2) virtual;"


def check_lz4(psql, expected, seed):
    """The server really stored lz4 values, inline and external (pg_column_compression), and the
    range holds t_lz4 inserts and a delete with its flattened old tuple."""
    kinds = psql("select count(*) filter (where pg_column_size(t) < 1000), "
                 "count(*) filter (where pg_column_size(t) > 2100 and pg_column_size(t) < octet_length(t)) "
                 "from t_lz4 where pg_column_compression(t) = 'lz4'").decode().strip().split("|")
    if int(kinds[0]) == 0 or int(kinds[1]) == 0:
        raise RuntimeError("seed %d: no lz4 value stored inline/external-compressed (%s)" % (seed, kinds))
    if b"table public.t_lz4: INSERT:" not in expected or b"table public.t_lz4: DELETE:" not in expected:
        raise RuntimeError("seed %d: no t_lz4 insert/delete in the range" % seed)


def seed_or_skip(argv, name):
    """The run's seed (--seed=N, ORACLE_SEED, else from the clock), printed; None when the live
    test cannot run here (not root or no server binaries: the caller exits 77)."""
    seed = int(time.time() * 1000) % 1000000
    for a in argv:
        if a.startswith("--seed="):
            seed = int(a[7:])
    if os.environ.get("ORACLE_SEED"):
        seed = int(os.environ["ORACLE_SEED"])
    if os.getuid() != 0 or not os.access(BIN + "/initdb", os.X_OK):
        return None
    print("%s: seed=%d" % (name, seed), flush=True)
    return seed


def compare_cli(waldump, args, expected, seed, label, what="to test_decoding"):
    """Runs the CLI; True if it exits 0 with exactly `expected` (else prints why / the diff)."""
    try:
        p = subprocess.run([waldump] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except subprocess.TimeoutExpired as e:   # a CLI that hangs is reported, not a traceback
        print("%s: waldump did not finish in 60 s (seed=%d); printed %d of %d lines"
              % (label, seed, (e.stdout or b"").count(b"\n"), expected.count(b"\n")))
        return False
    if p.returncode != 0:
        print("%s: waldump failed (seed=%d): %s" % (label, seed, p.stderr.decode()))
        return False
    if p.stdout != expected:
        first_diff(expected, p.stdout, seed, label)
        return False
    print("%s: %d lines identical %s" % (label, expected.count(b"\n"), what), flush=True)
    return True


def first_diff(expected, got, seed, what):
    e = expected.decode(errors="replace").splitlines()
    g = got.decode(errors="replace").splitlines()
    for i in range(max(len(e), len(g))):
        a = e[i] if i < len(e) else "<end>"
        b = g[i] if i < len(g) else "<end>"
        if a != b:
            print("MISMATCH (%s) seed=%d at line %d:" % (what, seed, i + 1))
            print("  test_decoding: %s" % a[:600])
            print("  waldump:       %s" % b[:600])
            ctx = list(difflib.unified_diff(e[max(0, i - 3):i + 6], g[max(0, i - 3):i + 6], lineterm="", n=2))
            print("\n".join(x[:300] for x in ctx[:30]))
            return
    print("MISMATCH (%s) seed=%d: no differing line (trailing newline?)" % (what, seed))


def check_barman_copy(arch, barman, pg_wal):
    """The barman copy must hold the archived bytes (a harness race must not pass for a decoder
    bug): decompresses every file with the CLI tools and compares."""
    for d, _, files in os.walk(os.path.join(barman, "wals")):
        for f in files:
            name = f[:24]
            with open(os.path.join(arch, name), "rb") as a:
                want = a.read()
            with open(os.path.join(d, f), "rb") as b:
                magic = b.read(4)
            tool = ["zstd", "-dc"] if magic == b"\x28\xb5\x2f\xfd" else ["gzip", "-dc"]
            got = subprocess.run(tool + [os.path.join(d, f)], check=True, stdout=subprocess.PIPE).stdout
            if got != want:
                live = os.path.join(pg_wal, name)
                same_live = None
                if os.path.exists(live):
                    with open(live, "rb") as w:
                        same_live = w.read() == want
                diff_at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
                raise RuntimeError("harness: barman file %s differs from the archived %s (sizes %d/%d, "
                                   "first difference at %s; archive == pg_wal now: %s)"
                                   % (f, name, len(got), len(want), diff_at, same_live))


def check_no_tables_run(waldump, archive, start, end, seed):
    """The whole range with no tracked table (empty catalog file): no output, exit 0. Every
    Decoder::Next call then ends at its time budget with WAL left; the CLI once took that for the
    end of the WAL (seen first with 16 MB zstd segments, whose decompression eats the budget)."""
    empty = tempfile.NamedTemporaryFile(prefix="wr-oracle-empty-catalog.", delete=False)
    empty.close()
    try:
        t1 = time.time()
        p = subprocess.run([waldump, "--archive=" + archive, "--start=" + start, "--end=" + end,
                            "--catalog-file=" + empty.name, "--db-oid=5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.unlink(empty.name)
    if p.returncode != 0 or p.stdout:
        print("waldump (no tracked tables) failed (seed=%d, exit %d, %d bytes of output): %s"
              % (seed, p.returncode, len(p.stdout), p.stderr.decode(errors="replace")))
        return False
    print("oracle (no tracked tables, barman): no output, exit 0 (%.1fs)" % (time.time() - t1), flush=True)
    return True


def record_census(srv, start, end):
    """{(resource manager, record type): count} of the WAL range, from pg_walinspect, and the
    number of COMMIT PREPARED / COMMIT records that carry dropped-stats items."""
    srv.psql("create extension if not exists pg_walinspect")
    rows = srv.psql("select resource_manager || '/' || record_type, count(*) from "
                    "pg_get_wal_records_info('%s', '%s') group by 1 order by 1" % (start, end))
    census = {}
    for line in rows.decode().splitlines():
        k, n = line.rsplit("|", 1)
        census[k] = int(n)
    dropped = srv.psql("select record_type, count(*) from pg_get_wal_records_info('%s', '%s') "
                       "where resource_manager = 'Transaction' and description like '%%dropped stats%%' "
                       "group by 1" % (start, end))
    with_stats = {}
    for line in dropped.decode().splitlines():
        k, n = line.rsplit("|", 1)
        with_stats[k] = int(n)
    return census, with_stats


def check_census(census, with_stats, major):
    """Fails unless the range holds the version-dependent records the test claims to cover."""
    need = ["XLOG/CHECKPOINT_ONLINE", "Transaction/COMMIT_PREPARED", "Heap2/MULTI_INSERT"]
    if major >= 17:   # renamed/added in 17
        need += ["XLOG/CHECKPOINT_REDO", "Heap2/PRUNE_VACUUM_SCAN"]
    else:
        need += ["Heap2/PRUNE", "Heap2/VACUUM"]
    missing = [k for k in need if k not in census]
    for k in ("COMMIT_PREPARED", "COMMIT"):
        if with_stats.get(k, 0) == 0:
            missing.append("Transaction/%s with dropped stats" % k)
    if missing:
        raise RuntimeError("WAL range lacks %s (census: %s)" % (", ".join(missing), census))


def server_has_lz4(srv):
    try:
        srv.psql("set default_toast_compression = 'lz4'")
        return True
    except RuntimeError:
        return False


def create_schema(srv, major=15):
    """The workload's tables (Workload needs all of them); returns whether t_lz4 really uses lz4."""
    has_lz4 = server_has_lz4(srv)
    srv.psql(SCHEMA)
    srv.psql(SCHEMA_LZ4.format(m="lz4" if has_lz4 else "pglz"))
    if major >= 18:
        srv.psql(SCHEMA_18)
    return has_lz4


def use_pg_bin(pg_bin):
    """Runs the servers from PG_BIN. A version test must run: returns what is missing (the caller
    fails, never skips), or None."""
    global BIN
    BIN = pg_bin
    for f in ("initdb", "pg_ctl", "postgres"):
        if not os.access(os.path.join(BIN, f), os.X_OK):
            return ("%s/%s missing: run tools/install-pg-versions.sh (as root) to install the "
                    "PostgreSQL 16-18 server binaries" % (BIN, f))
    if os.getuid() != 0:
        return "--pg-bin runs need root (servers run as the postgres user)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "user postgres missing (tools/install-deps.sh installs postgresql-15)"
    if not os.access(CLIENT_BIN + "/psql", os.X_OK):
        return "%s/psql missing: run tools/install-deps.sh" % CLIENT_BIN
    return None


def main():
    waldump = sys.argv[1]
    seed = int(time.time() * 1000) % 1000000
    ntx = 300
    keep = False
    pg_bin = None
    for a in sys.argv[2:]:
        if a.startswith("--seed="): seed = int(a[7:])
        elif a.startswith("--txns="): ntx = int(a[7:])
        elif a.startswith("--pg-bin="): pg_bin = a[len("--pg-bin="):]
        elif a == "--keep": keep = True
    if os.environ.get("ORACLE_SEED"):
        seed = int(os.environ["ORACLE_SEED"])
    if pg_bin is not None:
        problem = use_pg_bin(pg_bin)
        if problem:
            print("oracle: " + problem)
            return 1
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return 77
    if os.getuid() != 0 or not os.access(BIN + "/initdb", os.X_OK):
        return 77
    major = server_major(BIN)
    rnd = random.Random(seed)
    zone = rnd.choice(ZONES)
    segsize = rnd.choice([1, 1, 2, 16])
    # Half of the seeds compress every TOAST value with lz4 (columns without an explicit method)
    # when the server has lz4; t_lz4 keeps lz4 and pglz columns either way.
    toast_pick = rnd.choice(["pglz", "lz4"])
    print("oracle: PostgreSQL %d (%s) seed=%d txns=%d timezone=%s wal-segsize=%dMB"
          % (major, BIN, seed, ntx, zone, segsize), flush=True)
    srv = Server(keep)
    try:
        srv.start(segsize)
        has_lz4 = server_has_lz4(srv)
        toast = toast_pick if has_lz4 else "pglz"
        print("oracle: lz4 %s in this server build; default_toast_compression=%s"
              % ("available" if has_lz4 else "absent (lz4 is tested on PostgreSQL 15)", toast), flush=True)
        srv.psql("alter system set default_toast_compression = '%s'" % toast)
        srv.run([BIN + "/pg_ctl", "-D", os.path.join(srv.w, "data"), "reload"])
        create_schema(srv, major)
        srv.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        start = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        script = Workload(seed, ntx, major).script()
        path = os.path.join(srv.w, "workload.sql")
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o644)
        t0 = time.time()
        srv.psql(file=path)
        end = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        # archive everything up to END (switch, then wait for the archiver)
        srv.switch_and_archive()
        print("oracle: workload %.1fs, range %s..%s, %d segments archived"
              % (time.time() - t0, start, end, len([x for x in os.listdir(srv.arch) if len(x) == 24])), flush=True)
        census, with_stats = record_census(srv, start, end)
        print("oracle: records in range: %s; with dropped stats: %s"
              % (" ".join("%s=%d" % kv for kv in sorted(census.items())), with_stats), flush=True)
        check_census(census, with_stats, major)
        expected = srv.psql("set timezone = %s; select data from pg_logical_slot_peek_changes('s', NULL, NULL, "
                            "'include-xids', '0', 'skip-empty-xacts', '1')" % q(zone))
        if expected.count(b"\n") < ntx // 2:
            raise RuntimeError("test_decoding returned too little (%d lines)" % expected.count(b"\n"))
        # the range must exercise what the test claims to cover
        for needle in [b"TRUNCATE:", b"unchanged-toast-datum", b"old-key:", b"(no-tuple-data)",
                       b"t_kv: UPDATE:", b"t_full: DELETE:", b"[interval]:'", b"[time with time zone]:'",
                       b"[integer[]]:'{", b"[integer[]]:'{{", b"[text[]]:'{", b"[jsonb[]]:'{", b"[numeric[]]:'{",
                       b"[timestamp with time zone[]]:'{", b"[integer[]]:'[0:2]={1,NULL,-3}'", b"]:NaN", b"]:-Infinity", b"]:'infinity'", b"t_nokey: INSERT:",
                       b"'dropped-stats-prepared'", b"'dropped-stats-plain'"]:
            if needle not in expected:
                raise RuntimeError("workload of seed %d did not produce %r" % (seed, needle))
        if b"t_gen: INSERT:" not in expected or (major >= 18 and b" v[integer]:null" not in expected):
            raise RuntimeError("workload of seed %d has no generated-column row" % seed)
        if major >= 17 and b"[interval]:'infinity'" not in expected and b"[interval]:'-infinity'" not in expected:
            raise RuntimeError("workload of seed %d has no infinite interval (PostgreSQL 17+)" % seed)
        if max(len(x) for x in expected.split(b"\n")) < 9000:
            raise RuntimeError("workload of seed %d has no external TOAST value" % seed)
        if has_lz4:
            check_lz4(srv.psql, expected, seed)
        methods = srv.psql("select count(*) filter (where pg_column_compression(t) = '%s'), "
                           "count(*) filter (where pg_column_compression(t) <> '%s') from t_all"
                           % (toast, toast)).decode().strip().split("|")
        if int(methods[0]) == 0 or int(methods[1]) != 0:
            raise RuntimeError("seed %d: t_all.t not compressed with %s only (%s)" % (seed, toast, methods))
        # barman layout: wals/<16 hex>/<segment>[.ext], zstd / gzip by turns, and one
        # compressed file without extension (magic detection)
        barman = os.path.join(srv.w, "barman")
        segs = sorted(x for x in os.listdir(srv.arch) if len(x) == 24)
        for k, s in enumerate(segs):
            d = os.path.join(barman, "wals", s[:16])
            os.makedirs(d, exist_ok=True)
            src = os.path.join(srv.arch, s)
            if k % 3 == 0:
                subprocess.run(["zstd", "-q", "-3", src, "-o", os.path.join(d, s + ".zst")], check=True)
            elif k % 3 == 1:
                with open(os.path.join(d, s + ".gz"), "wb") as f:
                    subprocess.run(["gzip", "-c", src], check=True, stdout=f)
            else:
                with open(os.path.join(d, s), "wb") as f:   # gzip, no extension
                    subprocess.run(["gzip", "-c", src], check=True, stdout=f)
        check_barman_copy(srv.arch, barman, os.path.join(srv.w, "data", "pg_wal"))
        common = ["--start=" + start, "--end=" + end, "--catalog=" + srv.conninfo(),
                  "--format=test_decoding", "--timezone=" + zone]
        # All but the pg_wal run use a 1 KB reorder buffer, so nearly every transaction goes
        # through the spill files; the spill directory must be gone afterwards.
        spill_dir = os.path.join(srv.w, "spill")
        tiny = ["--reorder-memory-limit=1024", "--spill-dir=" + spill_dir]
        runs = [("pg_wal", ["--wal-dir=" + os.path.join(srv.w, "data", "pg_wal")]),
                ("archive+spill", ["--archive=" + srv.arch] + tiny),
                ("barman+zstd/gzip+spill", ["--archive=" + barman] + tiny),
                ("restore_command+spill", ["--restore-command=cp %s/%%f %%p" % srv.arch] + tiny),
                ("stream", ["--stream=" + srv.conninfo()])]
        ok = True
        ok = check_no_tables_run(waldump, barman, start, end, seed) and ok
        for name, src_args in runs:
            t1 = time.time()
            p = subprocess.run([waldump] + src_args + common, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120)
            if p.returncode != 0:
                print("waldump (%s) failed (seed=%d, exit %d): %s" % (name, seed, p.returncode, p.stderr.decode(errors="replace")))
                ok = False
                continue
            if os.path.exists(spill_dir):
                print("waldump (%s) left spill files behind (seed=%d): %s" % (name, seed, os.listdir(spill_dir)))
                ok = False
            if p.stdout != expected:
                first_diff(expected, p.stdout, seed, name)
                with open("/tmp/wr-oracle-%d.expected" % seed, "wb") as f: f.write(expected)
                with open("/tmp/wr-oracle-%d.got" % seed, "wb") as f: f.write(p.stdout)
                print("full outputs: /tmp/wr-oracle-%d.{expected,got}" % seed)
                ok = False
                break
            if os.environ.get("ORACLE_SAVE"):
                with open(os.environ["ORACLE_SAVE"], "wb") as f:
                    f.write(expected)
            print("oracle (%s): %d lines identical to test_decoding (%.1fs)"
                  % (name, expected.count(b"\n"), time.time() - t1), flush=True)
        return 0 if ok else 1
    finally:
        srv.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))   # run `finally`: stop the server
    sys.exit(main())
