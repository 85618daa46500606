"""The engine's HTTP side on a live primary + standby, scraped by a real Prometheus server:

1. /readyz turns 200 once attached and caught up; /healthz 200; /status JSON names the roles,
   the timeline and the stream table with its frontier;
2. a live /metrics scrape passes `promtool check metrics`, has every family operators rely on,
   documents every family in docs/engine-cli.md, and covers every engine metric the deploy/
   dashboard and alert rules query; the seed's
   custom queries (deploy/kubernetes/metrics-configmap.yaml) run on the primary and return the
   columns CNPG exports;
3. Prometheus (Debian's server, loopback, temp dir) scrapes the engine; under a write load the
   engine-lag metric rises, and falls back once the load stops (queried through Prometheus);
4. slowloris clients, huge headers and a connection flood do not stall the engine: merges keep
   landing during the attack, the endpoints answer during the slow-client attack and again
   right after the flood;
5. with pg_trickle.log_format = 'json' on the primary (no --log-format flag), the engine's log
   lines are JSON objects with level, time, event and fields.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg2

from common import Harness, TestFailure, Workload, log
from cluster import reserve_ports, release_ports
import streams

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "deploy"))
import metric_refs  # noqa: E402

K8S = os.path.join(REPO, "deploy", "kubernetes")
TABLE, QUERY = streams.GROUP_BY
EXPECTED_FAMILIES = [
    "pgtrickle_engine_lag_primary_bytes", "pgtrickle_engine_lag_primary_seconds",
    "pgtrickle_engine_lag_standby_bytes", "pgtrickle_engine_lag_standby_seconds",
    "pgtrickle_engine_decoded_wal_bytes_total", "pgtrickle_engine_stream_table_staleness_seconds",
    "pgtrickle_engine_stream_table_frontier_bytes", "pgtrickle_engine_stream_table_last_merge_duration_seconds",
    "pgtrickle_engine_stream_table_last_merge_rows", "pgtrickle_engine_stream_table_merges_total",
    "pgtrickle_engine_stream_table_merge_errors_total", "pgtrickle_engine_stream_table_status",
    "pgtrickle_engine_source_pending_rows", "pgtrickle_engine_source_oldest_pending_age_seconds",
    "pgtrickle_engine_bootstraps_completed_total", "pgtrickle_engine_state_size_bytes",
    "pgtrickle_engine_reattaches_total", "pgtrickle_engine_timeline", "pgtrickle_engine_wal_read_bytes_total",
    "pgtrickle_engine_build_info"]


def http_get(port, path, timeout=5.0):
    """(status, body) or (None, error text)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (OSError, urllib.error.URLError) as e:
        return None, str(e)


def wait_http(port, path, want=200, timeout=90.0, engine=None):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = http_get(port, path)
        if last[0] == want:
            return last[1]
        if engine is not None:
            engine.check_alive()
        time.sleep(0.3)
    raise TestFailure(f"GET {path} did not answer {want} within {timeout}s: last {last}")


def metric_value(scrape, name, **labels):
    for line in scrape.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, val = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(val)
    return None


# ---------------------------------------------------------------- checks on one scrape

def check_scrape(h, port, tmpdir):
    scrape = wait_http(port, "/metrics")
    path = os.path.join(tmpdir, "scrape.txt")
    with open(path, "w") as f:
        f.write(scrape)
    p = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True, text=True)
    if p.returncode != 0:
        raise TestFailure(f"promtool check metrics rc={p.returncode}: {p.stdout}{p.stderr}")
    families = metric_refs.scrape_families(scrape)
    missing = [f for f in EXPECTED_FAMILIES if f not in families]
    if missing:
        raise TestFailure(f"scrape lacks {missing}")
    log(f"promtool check metrics: clean; {len(families)} families")
    with open(os.path.join(REPO, "docs", "engine-cli.md")) as f:
        docs = f.read()
    undocumented = [f for f in families if f.startswith("pgtrickle_engine_") and
                    f"`{f[len('pgtrickle_engine_'):]}`" not in docs and f"`{f[len('pgtrickle_engine_'):]}{{" not in docs]
    if undocumented:
        raise TestFailure(f"metrics missing from docs/engine-cli.md: {undocumented}")
    # Every engine metric deploy/ queries exists in the live scrape; CNPG's come from queries.yaml.
    cnpg = metric_refs.cnpg_exported(os.path.join(K8S, "metrics-configmap.yaml"))
    refs = metric_refs.dashboard_exprs(os.path.join(K8S, "pgtrickle-dashboard.json")) + \
        metric_refs.rule_exprs(os.path.join(K8S, "prometheusrule.yaml"))
    unknown = sorted({(w, m) for w, e in refs for m in metric_refs.promql_metrics(e)
                      if m not in families and m not in cnpg and m not in metric_refs.SCRAPE_METRICS})
    if unknown:
        raise TestFailure(f"deploy/ queries metrics nobody exports: {unknown}")
    frontier = metric_value(scrape, "pgtrickle_engine_stream_table_frontier_bytes", table=TABLE)
    if not frontier:
        raise TestFailure(f"no frontier metric for {TABLE}")
    return scrape


def check_custom_queries(h):
    """The seed's CNPG queries run against our extension and return the exported columns."""
    for name, q in metric_refs.custom_queries(os.path.join(K8S, "metrics-configmap.yaml")).items():
        conn = psycopg2.connect(h.cluster.primary_dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(q["query"])
                cols = [d[0] for d in cur.description]
                rows = cur.fetchall()
        finally:
            conn.close()
        want = q["labels"] + [c for c, _ in q["values"]]
        if sorted(cols) != sorted(want):
            raise TestFailure(f"custom query {name}: columns {cols}, ConfigMap declares {want}")
        log(f"custom query {name}: {len(rows)} row(s), columns {cols}")
        if name == "pg_trickle_stream_tables" and not any(TABLE in str(r) for r in rows):
            raise TestFailure(f"custom query {name} does not list {TABLE}: {rows}")


def check_status(port):
    # /status is a snapshot the loop publishes (every 250 ms, and as soon as a merge's outcome is
    # applied on the main thread, which comes after the merge thread's commit on the primary):
    # give it a few seconds to show the merge the primary already has.
    deadline = time.time() + 10
    while True:
        st = json.loads(wait_http(port, "/status"))
        shown = {t["name"]: t for t in st["tables"]}.get(TABLE, {})
        if shown.get("frontier") or time.time() > deadline:
            break
        time.sleep(0.1)
    if not (st["roles"]["primary"]["connected"] and st["roles"]["standby"]["connected"]):
        raise TestFailure(f"/status roles not connected: {st['roles']}")
    if not st["timeline"] or not st["lsn"]["decoded"]:
        raise TestFailure(f"/status lacks timeline/LSN: {st}")
    tables = {t["name"]: t for t in st["tables"]}
    if TABLE not in tables or not tables[TABLE]["frontier"] or tables[TABLE]["status"] != "ACTIVE":
        raise TestFailure(f"/status tables: {st['tables']}")
    log(f"/status: timeline {st['timeline']}, decoded {st['lsn']['decoded']}, {TABLE} at {tables[TABLE]['frontier']}")


# ---------------------------------------------------------------- Prometheus server

class Prometheus:
    def __init__(self, tmpdir, port, target_port):
        self.port = port
        self.dir = os.path.join(tmpdir, "prometheus")
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                    "scrape_configs:\n  - job_name: pgtrickle-engine\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def query(self, expr, at=None):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?query=" + urllib.parse.quote(expr)
        if at is not None:
            url += f"&time={at:.3f}"
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        if body.get("status") != "success":
            raise TestFailure(f"Prometheus query {expr}: {body}")
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def wait_up(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"prometheus exited rc={self.proc.returncode}: {open(self.log_path).read()[-2000:]}")
            try:
                if any(v == 1 for _, v in self.query('up{job="pgtrickle-engine"}')):
                    return
            except (OSError, urllib.error.URLError, TestFailure):
                pass
            time.sleep(0.5)
        raise TestFailure(f"Prometheus never scraped the engine: {open(self.log_path).read()[-2000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- load and attackers

def write_load(dsn, stop, errors):
    try:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO noise (v) SELECT repeat(md5(random()::text), 8) FROM generate_series(1, 3000)")
        conn.close()
    except Exception as e:  # noqa: BLE001
        errors.append(e)


def slowloris(port, stop):
    """Opens connections and trickles a never-ending header, one byte at a time."""
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            while not stop.is_set():
                s.sendall(b"X")
                time.sleep(0.5)
        except OSError:
            pass   # the server cut us off: start again
        finally:
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass


def huge_headers(port, stop, answers):
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
            answers.append(s.recv(64)[:12])
            s.close()
        except OSError:
            pass
        time.sleep(0.05)


def flood(port, stop, n=200):
    """Holds as many idle connections as it can (far beyond the server's limit)."""
    socks = []
    while not stop.is_set():
        while len(socks) < n and not stop.is_set():
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.2)
        alive = []
        for s in socks:   # drop the ones the server closed, reopen next round
            try:
                s.setblocking(False)
                if s.recv(1) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            alive.append(s)
        socks = alive
    for s in socks:
        s.close()


def frontier(h):
    return h.primary_sql("SELECT frontier::text FROM pgtrickle.pgt_stream_tables WHERE name = %s", (TABLE,))[0][0]


def frontiers_during(h, seconds, engine):
    seen = []
    end = time.time() + seconds
    while time.time() < end:
        engine.check_alive()
        f = frontier(h)
        if not seen or seen[-1] != f:
            seen.append(f)
        time.sleep(0.2)
    return seen


# ---------------------------------------------------------------- JSON logs

def check_json_logs(path):
    objs, text_after = [], []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("====="):
                continue
            if line.startswith("{"):
                objs.append(json.loads(line))
            elif objs:
                text_after.append(line)
    if not objs:
        raise TestFailure("no JSON log line although pg_trickle.log_format = 'json' on the primary")
    if text_after:
        raise TestFailure(f"text log lines after the switch to JSON: {text_after[:3]}")
    for o in objs:
        for k in ("time", "level", "event", "msg"):
            if k not in o:
                raise TestFailure(f"JSON log line without {k}: {o}")
    events = {o["event"]: o for o in objs}
    merged = [o for o in objs if o["event"] == "merged"]
    if not merged or not all(k in merged[0] for k in ("table", "lsn", "rows", "duration_ms")):
        raise TestFailure(f"no structured 'merged' event: {[o['event'] for o in objs][:20]}")
    if "timeline" not in events.get("engine_started", {}):
        raise TestFailure(f"engine_started event lacks timeline: {events.get('engine_started')}")
    log(f"{len(objs)} JSON log lines; events {sorted(events)}")


# ---------------------------------------------------------------- main

def main():
    with Harness.from_argv() as h:
        tmpdir = tempfile.mkdtemp(prefix="metrics-", dir=h.cluster.data_root)
        ports = reserve_ports(2, h.cluster.data_root)
        http_port, prom_port = ports
        prom = None
        try:
            h.primary_sql("ALTER SYSTEM SET pg_trickle.log_format = 'json'")
            h.primary_sql("SELECT pg_reload_conf()")
            wl = Workload(h.cluster.primary_dsn, seed=h.seed)
            wl.create_table()
            wl.run(40)
            h.primary_sql("CREATE TABLE noise (id bigserial PRIMARY KEY, v text)")
            h.primary_sql("SELECT pgtrickle.create_stream_table(%s, %s, '300 milliseconds'::interval, "
                          "sla_tier => 'critical')", (TABLE, QUERY))
            h.start_engine(["--http-listen", f"127.0.0.1:{http_port}", "--heartbeat-ms", "500"])
            assert wait_http(http_port, "/healthz", engine=h.engine).strip() == "ok"
            h.wait_for_frontier(TABLE, h.cluster.primary_lsn(), timeout=90)
            start = time.time()
            wait_http(http_port, "/readyz", timeout=60, engine=h.engine)
            log(f"/readyz 200 after the first merge (+{time.time() - start:.1f}s)")
            check_status(http_port)
            check_scrape(h, http_port, tmpdir)
            check_custom_queries(h)

            prom = Prometheus(tmpdir, prom_port, http_port)
            prom.wait_up()
            log("Prometheus scrapes the engine")
            time.sleep(3)
            quiet_before = max(v for _, v in prom.query("max_over_time(pgtrickle_engine_lag_primary_bytes[3s])"))

            # ---- write load, then attackers on top of it
            stop_load, errors = threading.Event(), []
            writers = [threading.Thread(target=write_load, args=(h.cluster.primary_dsn, stop_load, errors))
                       for _ in range(3)]
            load_start = time.time()
            for t in writers:
                t.start()
            try:
                Workload(h.cluster.primary_dsn, seed=h.seed + 1).load_ids().run(60)
                # Slow clients + huge headers: endpoints still answer, merges land.
                stop_slow, big_answers = threading.Event(), []
                attackers = [threading.Thread(target=slowloris, args=(http_port, stop_slow)) for _ in range(8)]
                attackers.append(threading.Thread(target=huge_headers, args=(http_port, stop_slow, big_answers)))
                for t in attackers:
                    t.start()
                try:
                    time.sleep(1)
                    answered = 0
                    for _ in range(10):
                        code, _ = http_get(http_port, "/metrics", timeout=5)
                        answered += code == 200
                        time.sleep(0.3)
                    seen = frontiers_during(h, 4, h.engine)
                finally:
                    stop_slow.set()
                    for t in attackers:
                        t.join()
                log(f"slow clients: /metrics answered {answered}/10, frontier moved {len(seen) - 1} times, "
                    f"huge headers answered {sorted(set(big_answers))}")
                if answered < 8:
                    raise TestFailure(f"/metrics answered only {answered}/10 times under slow clients")
                if len(seen) < 3:
                    raise TestFailure(f"merges stalled under slow clients: frontiers {seen}")
                if not any(a.startswith(b"HTTP/1.1 431") for a in big_answers):
                    raise TestFailure(f"huge headers were not refused with 431: {set(big_answers)}")
                # Connection flood beyond the limit: merges still land; HTTP recovers after it.
                stop_flood = threading.Event()
                flooder = threading.Thread(target=flood, args=(http_port, stop_flood))
                flooder.start()
                try:
                    time.sleep(1)
                    seen = frontiers_during(h, 5, h.engine)
                finally:
                    stop_flood.set()
                    flooder.join()
                log(f"connection flood: frontier moved {len(seen) - 1} times")
                if len(seen) < 3:
                    raise TestFailure(f"merges stalled under a connection flood: frontiers {seen}")
                t0 = time.time()
                wait_http(http_port, "/healthz", timeout=10)
                log(f"/healthz answers {time.time() - t0:.1f}s after the flood")
            finally:
                stop_load.set()
                for t in writers:
                    t.join()
            load_end = time.time()
            if errors:
                raise TestFailure(f"write load failed: {errors[0]}")

            # ---- lag moved with the load (through Prometheus)
            h.wait_for_frontier(TABLE, h.cluster.primary_lsn(), timeout=120)
            time.sleep(4)
            window = int(load_end - load_start) + 1
            peak = max(v for _, v in prom.query(f"max_over_time(pgtrickle_engine_lag_primary_bytes[{window}s])", at=load_end))
            peak_s = max(v for _, v in prom.query(f"max_over_time(pgtrickle_engine_lag_primary_seconds[{window}s])", at=load_end))
            after = max(v for _, v in prom.query("max_over_time(pgtrickle_engine_lag_primary_bytes[2s])"))
            rate = max(v for _, v in prom.query(f"rate(pgtrickle_engine_decoded_wal_bytes_total[{window}s])", at=load_end))
            log(f"engine lag behind the primary: before load {quiet_before:.0f} B, peak under load {peak:.0f} B "
                f"({peak_s:.2f} s), after {after:.0f} B; decode rate under load {rate / 1e6:.1f} MB/s")
            # Both gauges come from the same snapshot: behind in bytes means behind in time.
            if not peak_s > 0:
                raise TestFailure(f"lag in seconds never rose under load (bytes peaked at {peak})")
            if not peak > 0 or not peak > after:
                raise TestFailure(f"engine lag did not move with the load: before {quiet_before}, peak {peak}, after {after}")
            if not rate > 0:
                raise TestFailure("decode throughput was 0 under load")
            staleness = prom.query(f'pgtrickle_engine_stream_table_staleness_seconds{{table="{TABLE}"}}')
            if not staleness or staleness[0][1] > 30 or staleness[0][0].get("sla_tier") != "critical":
                raise TestFailure(f"staleness of {TABLE} (critical) after catching up: {staleness}")

            h.assert_stream_table_matches_query(TABLE, QUERY)
            h.stop_engine()
            check_json_logs(h.engine.log_path)
        finally:
            if prom is not None:
                prom.stop()
            release_ports(ports, h.cluster.data_root)
        log("PASS test_metrics")


if __name__ == "__main__":
    main()
