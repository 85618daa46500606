"""The engine runs with exactly the privileges deploy/ gives it, not as a superuser.

The Cluster's pg_trickle.* parameters (the seed's GUCs) are applied and must take effect. The role and its grants are read from deploy/kubernetes/cluster.yaml (the managed role
`pgtrickle_engine`: LOGIN, REPLICATION, inRoles; `bootstrap.initdb.postInitApplicationSQL`) and
deploy/README.md's step 5 (GRANT on each stream table), applied to a local primary + hot standby,
with the sources created by the application owner `app` as on CNPG. The engine then streams from
the standby, bootstraps, merges a workload (checked against the query), and logs no permission
error.
"""
import os
import re
import time

import yaml

from common import Harness, TestFailure, Workload, log
import streams

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TABLE, QUERY = streams.GROUP_BY


def manifest_cluster():
    with open(os.path.join(REPO, "deploy", "kubernetes", "cluster.yaml")) as f:
        (cluster,) = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "Cluster"]
    return cluster


def manifest_role_and_sql():
    cluster = manifest_cluster()
    (role,) = [r for r in cluster["spec"]["managed"]["roles"] if r["name"] == "pgtrickle_engine"]
    return role, cluster["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]


def apply_pg_trickle_parameters(h):
    """The Cluster's pg_trickle.* parameters (the seed's GUCs) exist and take these values."""
    params = {k: v for k, v in manifest_cluster()["spec"]["postgresql"]["parameters"].items()
              if k.startswith("pg_trickle.")}
    for k, v in params.items():
        h.primary_sql(f"ALTER SYSTEM SET {k} = %s", (v,))
    h.primary_sql("SELECT pg_reload_conf()")
    deadline = time.time() + 10
    while True:
        got = dict(h.primary_sql("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(params),)))
        if all(got.get(k) == v for k, v in params.items()):
            break
        if time.time() > deadline:
            raise TestFailure(f"pg_trickle parameters of cluster.yaml not in effect: want {params}, got {got}")
        time.sleep(0.2)
    log(f"cluster.yaml's parameters in effect: {params}")


def readme_stream_table_grant():
    with open(os.path.join(REPO, "deploy", "README.md")) as f:
        m = re.search(r"^\s*(GRANT [^;]* ON public\.\w+ TO pgtrickle_engine);", f.read(), re.M)
    if not m:
        raise TestFailure("deploy/README.md step 5 has no GRANT ... TO pgtrickle_engine")
    return m.group(1)


def check_exporter_queries(h):
    """CNPG's exporter runs the custom queries as cnpg_metrics_exporter (member of pg_monitor only)."""
    import psycopg2
    sys_path = os.path.join(REPO, "tests", "deploy")
    import sys
    sys.path.insert(0, sys_path)
    import metric_refs
    h.primary_sql("CREATE ROLE cnpg_metrics_exporter LOGIN IN ROLE pg_monitor")
    dsn = h.cluster.primary_dsn.replace("user=postgres", "user=cnpg_metrics_exporter")
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SET search_path = pg_catalog, public, pg_temp")   # as CNPG's exporter
            for name, q in metric_refs.custom_queries(
                    os.path.join(REPO, "deploy", "kubernetes", "metrics-configmap.yaml")).items():
                try:
                    cur.execute(q["query"])
                except psycopg2.Error as e:
                    raise TestFailure(f"custom query {name} fails as cnpg_metrics_exporter: {e}")
                log(f"custom query {name} as cnpg_metrics_exporter: {len(cur.fetchall())} row(s)")
    finally:
        conn.close()


def main():
    with Harness.from_argv() as h:
        role, init_sql = manifest_role_and_sql()
        attrs = ["LOGIN" if role.get("login") else "NOLOGIN",
                 "REPLICATION" if role.get("replication") else "NOREPLICATION"]
        if role.get("superuser"):
            raise TestFailure("the engine role must not be a superuser")
        h.primary_sql(f"CREATE ROLE pgtrickle_engine {' '.join(attrs)}")
        for r in role.get("inRoles", []):
            h.primary_sql(f"GRANT {r} TO pgtrickle_engine")
        # CNPG's initdb makes `app` the owner of the application database (CREATE on public).
        h.primary_sql("CREATE ROLE app LOGIN")
        h.primary_sql("GRANT CREATE ON SCHEMA public TO app")
        for stmt in init_sql:
            h.primary_sql(stmt)
        log(f"role pgtrickle_engine ({' '.join(attrs)}, in {role.get('inRoles', [])}) + "
            f"{len(init_sql)} statements from cluster.yaml")

        app_dsn = h.cluster.primary_dsn.replace("user=postgres", "user=app")
        wl = Workload(app_dsn, seed=h.seed)
        wl.create_table()            # owned by app: the default privileges apply
        wl.run(40)
        streams.create(h, TABLE, QUERY, schedule="300 milliseconds")
        h.primary_sql(re.sub(r"public\.\w+", TABLE, readme_stream_table_grant()))

        engine_dsn = lambda dsn: dsn.replace("user=postgres", "user=pgtrickle_engine")  # noqa: E731
        # cluster.yaml sets pg_trickle.log_format = json: the flag below wins over it.
        apply_pg_trickle_parameters(h)
        h.start_engine(["--primary", engine_dsn(h.cluster.primary_dsn),
                        "--standby", engine_dsn(h.cluster.standby_dsn), "--log-format", "text"])
        h.wait_for_frontier(TABLE, h.cluster.primary_lsn(), timeout=90)
        h.assert_stream_table_matches_query(TABLE, QUERY)
        wl.run(60)
        h.wait_for_frontier(TABLE, h.cluster.primary_lsn(), timeout=60)
        h.assert_stream_table_matches_query(TABLE, QUERY)
        # It really is that role on both servers (the WAL stream included).
        on_primary = h.primary_sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'pgtrickle_engine'")[0][0]
        streams_ = h.standby_sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'pgtrickle_engine' "
                                 "AND backend_type = 'walsender'")[0][0]
        log(f"engine sessions as pgtrickle_engine: {on_primary} on the primary, {streams_} WAL sender(s) on the standby")
        if on_primary < 1 or streams_ < 1:
            raise TestFailure("the engine is not connected as pgtrickle_engine on both servers")
        check_exporter_queries(h)
        h.stop_engine()
        with open(h.engine.log_path, errors="replace") as f:
            lines = f.readlines()
        denied = [l for l in lines if "permission denied" in l or "must be superuser" in l]
        if denied:
            raise TestFailure(f"the engine hit missing privileges: {denied[:3]}")
        if any(l.startswith("{") for l in lines):
            raise TestFailure("--log-format text did not win over pg_trickle.log_format = 'json'")
        who = h.primary_sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'pgtrickle_engine'")[0][0]
        if who:
            raise TestFailure("pgtrickle_engine became a superuser")
        log("PASS test_deploy_privileges")


if __name__ == "__main__":
    main()
