"""Bad input gets a clear error: unsupported queries and keyless sources are rejected at
create time with the documented SQLSTATE and a message naming the construct; the engine
refuses a bad configuration with exit status 2 and a one-line reason."""
import subprocess

import psycopg2

from common import Harness, TestFailure, log

REJECTED = [
    ("SELECT a.id FROM src a, LATERAL (SELECT b.id FROM src b WHERE b.grp = a.grp) s", "0A000", "LATERAL"),
    ("SELECT DISTINCT ON (grp) grp, id FROM src", "0A000", "DISTINCT ON"),
    ("SELECT grp FROM src ORDER BY grp", "0A000", "ORDER BY"),
    ("SELECT id FROM src LIMIT 3", "0A000", "LIMIT"),
    ("SELECT grp, count(*) FROM src GROUP BY ROLLUP (grp)", "0A000", "ROLLUP"),
    ("SELECT id, random() FROM src", "0A000", "random"),
    ("SELECT id FROM src UNION SELECT id::bigint FROM src", "0A000", "different types"),
    ("SELECT id, row_number() OVER () FROM src", "0A000", "window"),
    ("SELECT string_agg(cat, ',') FROM src", "0A000", "string_agg"),
    ("SELECT id FROM src a WHERE NOT (id = 1 OR id IN (SELECT id FROM src b WHERE b.grp = a.grp))", "0A000",
     "IN only in WHERE under AND/OR"),
    ("SELECT id FROM src a WHERE EXISTS (SELECT 1 FROM src b WHERE b.grp = a.grp) OR id = 1 AND "
     "EXISTS (SELECT 1 FROM src c WHERE c.grp < a.grp)", "0A000", "correlated"),
    ("SELECT id, (SELECT id FROM src b WHERE b.id = 1) FROM src", "0A000", "scalar subqueries"),
]


def expect_error(h, query, sqlstate, fragment, name="public.bad"):
    conn = h.cluster.connect("primary")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pgtrickle.create_stream_table(%s, %s)", (name, query))
        raise TestFailure(f"accepted: {query}")
    except psycopg2.Error as e:
        msg = e.pgerror or ""
        if e.pgcode != sqlstate or fragment.lower() not in msg.lower():
            raise TestFailure(f"{query}: expected SQLSTATE {sqlstate} naming {fragment!r}, got {e.pgcode}: {msg}")
        log(f"rejected as expected ({e.pgcode}): {msg.splitlines()[0]}")
    finally:
        conn.close()


def main():
    with Harness.from_argv() as h:
        h.primary_sql("CREATE TABLE src (id int PRIMARY KEY, grp int, cat text)")
        h.primary_sql("CREATE TABLE keyless (a int, b text)")
        for q, state, frag in REJECTED:
            expect_error(h, q, state, frag)
        conn = h.cluster.connect("primary")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pgtrickle.create_stream_table('public.k', 'SELECT a, b FROM keyless')")
            raise TestFailure("keyless source accepted")
        except psycopg2.Error as e:
            if "primary key" not in (e.pgerror or "") or "keyless" not in (e.pgerror or ""):
                raise TestFailure(f"keyless source: unclear error {e.pgcode}: {e.pgerror}")
            log(f"keyless source rejected ({e.pgcode}): {e.pgerror.splitlines()[0]}")
        finally:
            conn.close()
        # Nothing was created by the failed calls.
        if h.primary_sql("SELECT count(*) FROM pgtrickle.pgt_stream_tables")[0][0] != 0:
            raise TestFailure("a rejected stream table left a catalog row")

        binary = h.engine_binary
        for args, fragment in [([], "--primary"),
                               (["--primary", "x", "--standby", "y", "--state-dir", "/tmp/z", "--poll-ms", "-1"], "--poll-ms"),
                               (["--primary", "x", "--standby", "y", "--state-dir", "/tmp/z", "--log-format", "xml"], "--log-format"),
                               (["--bogus", "1"], "--bogus")]:
            p = subprocess.run([binary] + args, capture_output=True, text=True, timeout=30)
            lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
            if p.returncode != 2 or len(lines) != 1 or fragment not in lines[0]:
                raise TestFailure(f"engine {args}: expected exit 2 and one line naming {fragment}, "
                                  f"got {p.returncode}: {p.stderr!r}")
            log(f"engine refused {args}: {lines[0]}")
        p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
        if p.returncode != 0 or "--state-dir" not in p.stdout:
            raise TestFailure("engine --help does not document its flags")
        log("PASS test_errors")


if __name__ == "__main__":
    main()
