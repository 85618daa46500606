"""Which metric names deploy/ refers to, and which ones exist.

- referenced: metric names in the PromQL of the Grafana dashboard and of the PrometheusRule;
- exported by CNPG from the custom queries ConfigMap: cnpg_<query name>_<column> for every
  GAUGE/COUNTER column (CNPG's exporter naming, see deploy/README.md);
- exported by the engine: the families of a live /metrics scrape (tests/integration/test_metrics.py).
"""
import json
import re

import yaml

# Names PromQL itself defines or Prometheus adds to every target.
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}
SCRAPE_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def promql_metrics(expr: str) -> set:
    """Metric names in a PromQL expression (good enough for our dashboards and rules)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)                        # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                       # range selectors
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in IDENT.finditer(e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):                            # a function call
            continue
        if word.lower() in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]?", word):
            continue
        names.add(word)
    return names


def dashboard_exprs(path: str) -> list:
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    return out


def rule_exprs(path: str) -> list:
    out = []
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "PrometheusRule":
                for g in doc["spec"]["groups"]:
                    for r in g["rules"]:
                        out.append((r.get("alert") or r.get("record"), r["expr"]))
    return out


def custom_queries(configmap_path: str) -> dict:
    """{query name: {"query": sql, "labels": [...], "values": [...]}} from the ConfigMap."""
    with open(configmap_path) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "ConfigMap" and "queries.yaml" in doc.get("data", {}):
                queries = yaml.safe_load(doc["data"]["queries.yaml"])
                break
        else:
            raise ValueError(f"{configmap_path}: no ConfigMap with data.queries.yaml")
    out = {}
    for name, q in queries.items():
        labels, values = [], []
        for m in q["metrics"]:
            (col, spec), = m.items()
            (labels if spec["usage"] == "LABEL" else values).append((col, spec["usage"]))
        out[name] = {"query": q["query"], "labels": [c for c, _ in labels], "values": values}
    return out


def cnpg_exported(configmap_path: str) -> set:
    names = set()
    for qname, q in custom_queries(configmap_path).items():
        for col, usage in q["values"]:
            if usage in ("GAUGE", "COUNTER", "DURATION"):
                names.add(f"cnpg_{qname}_{col}")
    return names


def scrape_families(text: str) -> set:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
