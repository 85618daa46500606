#!/usr/bin/env python3
"""Live overwrite-contrecord check (XLOG_OVERWRITE_CONTRECORD, XLP_FIRST_IS_OVERWRITE_CONTRECORD).

As PostgreSQL's own src/test/recovery/t/026_overwrite_contrecord.pl produces it: a throwaway
PostgreSQL 15 (1 MB segments, a test_decoding slot) gets some transactions, then its current
segment is filled up to its last two pages and a 600 kB logical message is written, so that one
record crosses into the next segment; the server is stopped with `-m immediate`, that next
segment is removed, and the server is started again. Crash recovery finds the record torn, and
the server writes an OVERWRITE_CONTRECORD record where the continuation should have been, on a
page flagged FIRST_IS_OVERWRITE_CONTRECORD (checked with pg_waldump); more transactions follow.

  pgtrickle-waldump --wal-dir=PG_WAL | --stream=CONNINFO  --start=<before> --end=<after>

must equal test_decoding's output for the slot, byte for byte: the torn record is dropped and
decoding continues after it.

usage: overwrite_contrecord_check.py WALDUMP [--seed=N]     Exit 77 (skip) without root/PG15.
"""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_check as oc  # noqa: E402

FILL = """
DO $$
DECLARE
    wal_segsize int := setting::int FROM pg_settings WHERE name = 'wal_segment_size';
    remain int;
BEGIN
    LOOP
        INSERT INTO filler SELECT g, repeat(md5(g::text), (random() * 60 + 1)::int)
        FROM generate_series(1, 10) g;
        remain := wal_segsize - (pg_current_wal_insert_lsn() - '0/0') % wal_segsize;
        EXIT WHEN remain < 2 * 8192;
    END LOOP;
END
$$;
"""


def transactions(r, first, n):
    out = []
    for i in range(n):
        k = first + i
        out.append("begin; insert into t values (%d, %s); update t set v = v || 'u' where id = %d; commit;"
                   % (k, oc.q("v%d-%d" % (k, r.randint(0, 10 ** 6))), k))
        if r.random() < 0.3:
            out.append("delete from t where id = %d;" % k)
    return "\n".join(out) + "\n"


def main():
    waldump = sys.argv[1]
    seed = oc.seed_or_skip(sys.argv[2:], "overwrite-contrecord")
    if seed is None:
        return 77
    r = random.Random(seed)
    srv = oc.Server()
    try:
        srv.start(1)
        data = os.path.join(srv.w, "data")
        pg_wal = os.path.join(data, "pg_wal")
        with open(os.path.join(data, "pg_hba.conf"), "a") as f:
            f.write("local replication all trust\n")
        srv.psql("alter system set autovacuum = off")
        srv.run([oc.BIN + "/pg_ctl", "-D", data, "reload"])
        srv.psql("create table t(id int primary key, v text); create table filler(a int, b text);")
        srv.psql("select 'x' from pg_create_logical_replication_slot('s', 'test_decoding')")
        start = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        srv.psql(transactions(r, 1, 20))
        srv.psql(FILL)
        initfile = srv.psql("select pg_walfile_name(pg_current_wal_insert_lsn())").decode().strip()
        torn_at = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        srv.psql("select pg_logical_emit_message(true, 'test 026', repeat('xyzxz', 123456))")
        endfile = srv.psql("select pg_walfile_name(pg_current_wal_insert_lsn())").decode().strip()
        if initfile == endfile:
            raise RuntimeError("the message did not cross into the next segment (%s)" % initfile)
        srv.run([oc.BIN + "/pg_ctl", "-D", data, "-m", "immediate", "stop"])
        os.unlink(os.path.join(pg_wal, endfile))
        srv.run([oc.BIN + "/pg_ctl", "-D", data, "-l", os.path.join(srv.w, "log"), "-w", "start"])
        srv.psql(transactions(r, 1000, 20))
        end = srv.psql("select pg_current_wal_insert_lsn()").decode().strip()
        # The case under test must be in the WAL: an OVERWRITE_CONTRECORD at the start of the
        # rewritten segment (pg_waldump names it).
        dump = subprocess.run([oc.BIN + "/pg_waldump", "-p", pg_wal, endfile], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE).stdout.decode(errors="replace")
        if "OVERWRITE_CONTRECORD" not in dump:
            raise RuntimeError("no OVERWRITE_CONTRECORD in %s:\n%s" % (endfile, dump[:2000]))
        expected = srv.psql("select data from pg_logical_slot_peek_changes('s', NULL, NULL, "
                            "'include-xids', '0', 'skip-empty-xacts', '1')")
        for needle in [b"table public.t: INSERT: id[integer]:1 ", b"table public.t: INSERT: id[integer]:1019 ",
                       b"table public.filler: INSERT:"]:
            if needle not in expected:
                raise RuntimeError("test_decoding output lacks %r (seed %d)" % (needle, seed))
        print("overwrite-contrecord: %s..%s, record torn at %s (%s), %s rewritten with an overwrite "
              "contrecord" % (start, end, torn_at, initfile, endfile), flush=True)
        ok = True
        common = ["--start=" + start, "--end=" + end, "--catalog=" + srv.conninfo()]
        for name, args in [("pg_wal", ["--wal-dir=" + pg_wal]), ("stream", ["--stream=" + srv.conninfo()])]:
            ok = oc.compare_cli(waldump, args + common, expected, seed,
                                "overwrite-contrecord (%s)" % name) and ok
        return 0 if ok else 1
    finally:
        srv.stop()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
