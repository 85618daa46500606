"""Goals, verdicts (met / missed next to each figure) and the list of missing figures
(report.md is rendered by render.py)."""
from __future__ import annotations

GOALS = {
    "write_tps_ratio": {"op": ">=", "value": 0.97,
                        "text": "write_tps_ratio >= 0.97 in every scenario (median of the "
                                "interleaved runs; shared and pinned cores)"},
    "staleness_p99_s": {"text": "staleness p99 <= schedule + 1 s under 50% of the baseline's "
                                "max TPS"},
    "apply_changes_per_cpu_s": {"op": ">=", "value": 100000,
                                "text": "engine apply >= 100k source row changes per CPU second "
                                        "(five stream tables over one source: "
                                        "wide_five_tables)"},
    "merge_growth": {"op": "<", "value": 1.5,
                     "text": "merge_ms for a 1,000-row delta grows < 1.5x from the small to the "
                             "large size (state_at_scale: 1M to 10M rows)"},
    "merge_vs_refresh_speedup": {"op": ">=", "value": 100,
                                 "text": "merge >= 100x faster than REFRESH MATERIALIZED VIEW "
                                         "at the large size"},
    "decoder_speedup": {"op": ">=", "value": 3, "text": "decoder_speedup >= 3 on every range"},
    "bootstrap_rows_per_s": {"op": ">=", "value": 500000,
                             "text": "bootstrap >= 500k rows/s (state_at_scale, large size)"},
    "peak_rss_mb": {"op": "<=", "value": 512,
                    "text": "engine peak RSS <= 512 MB with a 10M-row source (state_at_scale, "
                            "large size; and while applying the large transaction)"},
    "backpressure_ratio": {"op": ">=", "value": 0.97,
                           "text": "backpressure costs nothing measurable: TPS ratio to no "
                                   "pg_trickle >= 0.97 with backpressure off and on"},
}


def _met(value, key):
    g = GOALS[key]
    if value is None:
        return None
    return {">=": value >= g["value"], "<": value < g["value"],
            "<=": value <= g["value"]}[g["op"]]


def evaluate(report):
    """Attach goal verdicts next to each figure."""
    for sc in report["scenarios"].values():
        if sc.get("status") != "ok":
            continue
        wt = sc.get("write_throughput", {})
        for pl in wt.get("placements", {}).values():
            for name, cfg in pl.get("configs", {}).items():
                if name != "baseline" and cfg.get("write_tps_ratio"):
                    cfg["goal_met"] = _met(cfg["write_tps_ratio"]["median"], "write_tps_ratio")
        ap = wt.get("apply", {})
        if ap.get("changes_per_cpu_s") is not None:
            ap["goal_met"] = _met(ap["changes_per_cpu_s"], "apply_changes_per_cpu_s")
        fr = sc.get("freshness")
        if fr and fr.get("staleness_p99_s") is not None:
            fr["goal_met"] = fr["staleness_p99_s"] <= fr["goal_s"]
        mg = sc.get("merge")
        if mg and mg.get("merge_growth_small_to_large"):
            large = list(mg["sizes"])[-1]
            mg["goals"] = {}
            for name, g in mg["merge_growth_small_to_large"].items():
                sp = mg["sizes"][large]["stream_tables"][name]["merge_vs_refresh_speedup"]
                mg["goals"][name] = {
                    "growth": g, "growth_goal_met": _met(g, "merge_growth"),
                    "speedup_at_large": sp,
                    "speedup_goal_met": _met(sp, "merge_vs_refresh_speedup")}
            if sc.get("large_txn_rows"):
                e = mg["sizes"][large]
                mg["scale_goals"] = {
                    "bootstrap_goal_met": _met(e.get("bootstrap_rows_per_s"),
                                               "bootstrap_rows_per_s"),
                    "rss_goal_met": _met(e.get("engine_peak_rss_mb"), "peak_rss_mb")}
        lt = sc.get("large_transaction")
        if lt:
            lt["rss_goal_met"] = _met(lt.get("engine_peak_rss_mb_while_applying"), "peak_rss_mb")
        dec = sc.get("decoder")
        if dec and dec.get("decoder_speedup") is not None:
            dec["goal_met"] = _met(dec["decoder_speedup"], "decoder_speedup")
    bp = report.get("backpressure")
    if bp and "off_ratio" in bp:
        for k in ("off", "on"):
            bp[f"{k}_goal_met"] = _met(bp[f"{k}_ratio"]["median"], "backpressure_ratio")


def missing_figures(report):
    miss = []
    for name, sc in report["scenarios"].items():
        if sc.get("status") in ("skipped", "not_run"):
            if not sc.get("reason"):
                miss.append(f"{name}: skipped without a reason")
            continue
        ph = sc.get("phases", [])
        if "write_path" in ph:
            miss += _missing_write_path(name, sc.get("write_throughput", {}))
        if "freshness" in ph:
            fr = sc.get("freshness", {})
            for k in ("staleness_p50_s", "staleness_p99_s", "staleness_max_s",
                      "engine_changes_per_cpu_s"):
                if fr.get(k) is None:
                    miss.append(f"{name}.freshness.{k}")
            su = sc.get("sustained", {})
            if su.get("max_kept_up_changes_per_s") is None or not su.get("steps"):
                miss.append(f"{name}.sustained.max_kept_up_changes_per_s")
            er = sc.get("engine_resources", {})
            for k in ("peak_rss_mb", "rocksdb_mb"):
                if er.get(k) is None:
                    miss.append(f"{name}.engine_resources.{k}")
        if "merge" in ph:
            miss += _missing_merge(name, sc)
        if "decoder" in ph:
            dec = sc.get("decoder", {})
            for k in ("decoder_rows_per_s", "test_decoding_rows_per_s", "decoder_speedup"):
                if dec.get(k) is None:
                    miss.append(f"{name}.decoder.{k}")
    bp = report.get("backpressure")
    if bp is not None:
        for k in ("off_ratio", "on_ratio"):
            if bp.get(k, {}).get("median") is None:
                miss.append(f"backpressure.{k}")
    return miss


def _missing_write_path(name, wt):
    miss = []
    if wt.get("bootstrap_s") is None:
        miss.append(f"{name}.write_throughput.bootstrap_s")
    for pname in ("shared", "pinned"):
        if pname == "pinned" and wt.get("pinned_skipped"):
            continue
        pl = wt.get("placements", {}).get(pname, {})
        cfgs = pl.get("configs", {})
        if not cfgs.get("baseline", {}).get("tps"):
            miss.append(f"{name}.write_throughput.{pname}.baseline.tps")
        for cfg in ("engine", "trigger_change_buffer", "pg_ivm"):
            if cfg == "pg_ivm" and wt.get("pg_ivm", {}).get("skipped"):
                continue
            if not cfgs.get(cfg, {}).get("write_tps_ratio"):
                miss.append(f"{name}.write_throughput.{pname}.{cfg}.write_tps_ratio")
    if wt.get("apply", {}).get("changes_per_cpu_s") is None:
        miss.append(f"{name}.write_throughput.apply.changes_per_cpu_s")
    return miss


def _missing_merge(name, sc):
    miss = []
    sizes = sc.get("merge", {}).get("sizes", {})
    if len(sizes) < 2:
        miss.append(f"{name}.merge (two sizes)")
    for size, e in sizes.items():
        for k in ("bootstrap_rows_per_s", "engine_peak_rss_mb", "rocksdb_mb"):
            if e.get(k) is None:
                miss.append(f"{name}.merge.{size}.{k}")
        for st, v in e.get("stream_tables", {}).items():
            for k in ("merge_ms", "refresh_matview_ms", "merge_vs_refresh_speedup"):
                if v.get(k) is None:
                    miss.append(f"{name}.merge.{size}.{st}.{k}")
    if sc.get("large_txn_rows"):
        lt = sc.get("large_transaction", {})
        for k in ("engine_apply_s", "engine_peak_rss_mb_while_applying"):
            if lt.get(k) is None:
                miss.append(f"{name}.large_transaction.{k}")
    return miss
