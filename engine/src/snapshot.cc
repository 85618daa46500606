// Engine::Impl's side of observability (observe.h): the HTTP server's start, the counters the
// main loop feeds, and PublishSnapshot(), which turns the engine's state into an immutable
// EngineSnapshot for the HTTP thread. Everything here runs on the main loop.
#include <libpq-fe.h>

#include <algorithm>
#include <mutex>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

namespace {
constexpr auto kPublishEvery = std::chrono::milliseconds(250);
constexpr auto kSizeEvery = std::chrono::seconds(10);   // RocksDB size: a property read per CF

std::string HostOf(PgConn* c) {
  if (!c || !c->healthy()) return "";
  const char* h = PQhost(c->raw());
  const char* p = PQport(c->raw());
  return std::string(h ? h : "") + ":" + (p ? p : "");
}

double CommitTimeUnix(int64_t pg_us) { return pg_us ? pg_us / 1e6 + 946684800.0 : 0; }

http::Response Route(const http::Request& req, SnapshotHub* hub, const HealthPolicy& policy) {
  std::string path = req.target.substr(0, req.target.find('?'));
  double now = NowUnix();
  if (path == "/metrics")
    return {200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(*hub->Get(), hub->live(), now)};
  if (path == "/status") return {200, "application/json", RenderStatusJson(*hub->Get(), hub->live(), now)};
  if (path == "/healthz" || path == "/readyz") {
    Verdict v = path == "/healthz" ? CheckHealth(hub->live(), policy, now)
                                   : CheckReady(*hub->Get(), hub->live(), policy, now);
    return {v.ok ? 200 : 503, "text/plain; charset=utf-8", v.reason + "\n"};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz, /readyz, /status\n"};
}
}  // namespace

Status Engine::Impl::StartObservability() {
  obs.started_unix = NowUnix();
  obs.policy.stall_seconds = opts.health_stall_s;
  obs.policy.ready_max_lag_bytes = static_cast<uint64_t>(opts.ready_max_lag_mb) << 20;
  obs.hub.live().Beat();
  if (opts.http_listen.empty()) return Status::Ok();
  SnapshotHub* hub = &obs.hub;
  HealthPolicy policy = obs.policy;
  PGT_ASSIGN_OR_RETURN(obs.http, http::Server::Start(opts.http_listen, [hub, policy](const http::Request& r) {
    return Route(r, hub, policy);
  }));
  LogEvent(LogLevel::kInfo, "http_listening", "http: serving /metrics /healthz /readyz /status on " +
           obs.http->address() + ":" + std::to_string(obs.http->port()),
           {{"address", obs.http->address()}, {"port", std::to_string(obs.http->port())}});
  return Status::Ok();
}

void Engine::Impl::NoteTransaction(int64_t changes) {
  ++obs.decoded_transactions;
  obs.decoded_changes += changes;
}

// Called on the main thread (FinishMerge, scheduler.cc); the lock is kept for safety.
void Engine::Impl::NoteMerge(int64_t id, bool ok, int64_t rows, double seconds) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  TableCounters& c = obs.table_counters[id];
  if (!ok) { ++c.merge_errors; return; }
  ++c.merges;
  c.rows_merged += rows;
  c.last_merge_rows = rows;
  c.last_merge_seconds = seconds;
  c.last_merge_unix = NowUnix();
}

// Position samples of both servers, once per heartbeat period. Errors leave the position
// unknown; the engine's own code notices broken connections and reconnects.
void Engine::Impl::SampleServerPositions(double now) {
  if (primary && primary->healthy()) {
    auto r = primary->Query("SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                            "ELSE pg_current_wal_flush_lsn() END)::text");
    if (r.ok() && r->rows.size() == 1 && r->at(0, 0)) {
      auto l = ParseLsn(*r->at(0, 0));
      if (l.ok()) obs.primary_samples.Add(now, *l);
    }
  }
  if (standby && standby->healthy()) {
    auto r = standby->Query("SELECT pg_is_in_recovery(), (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                            "ELSE pg_current_wal_flush_lsn() END)::text, pg_last_wal_receive_lsn()::text");
    if (r.ok() && r->rows.size() == 1 && r->at(0, 1)) {
      obs.standby_in_recovery = r->at(0, 0).value_or("f") == "t";
      auto l = ParseLsn(*r->at(0, 1));
      if (l.ok()) obs.standby_samples.Add(now, *l);
      auto rl = r->at(0, 2) ? ParseLsn(*r->at(0, 2)) : Result<Lsn>(Lsn{0});
      obs.standby_receive_lsn = rl.ok() ? *rl : 0;
    }
  }
}

// The failover counters shown by /metrics and /status. The failover work (issue 8) keeps its
// own counters; copy them here (reattaches, resnapshots, rewinds, stale_primary_refusals,
// wal_bytes_stream/archive, timeline, last_switch_point, last_reattach_to_first_merge_seconds).
// Until then: the timeline being decoded, and every decoded byte counted as streamed (the
// stream is the only WAL source).
// From the failover counters (failover_stats.h, kept by reattach.cc / divergence.cc and the
// composite WAL source).
void Engine::Impl::FillFailoverCounters(FailoverCounters* f) const {
  f->reattaches = static_cast<int64_t>(fstats.reattaches.load());
  f->resnapshots = static_cast<int64_t>(fstats.resnapshots.load());
  f->rewinds = static_cast<int64_t>(fstats.rewinds.load());
  f->stale_primary_refusals = static_cast<int64_t>(fstats.stale_primary_refusals.load());
  f->wal_bytes_stream = fstats.wal_bytes_stream.load();
  f->wal_bytes_archive = fstats.wal_bytes_archive.load();
  f->timeline = fstats.timeline.load();
  if (f->timeline == 0) f->timeline = source ? source->timeline() : ckpt.tli;
  f->last_switch_point = fstats.last_switch_point.load();
  int64_t ms = fstats.last_reattach_to_first_merge_ms.load();
  f->last_reattach_to_first_merge_seconds = ms < 0 ? 0.0 : static_cast<double>(ms) / 1000.0;
}

void Engine::Impl::PublishSnapshot() {
  auto now_steady = Clock::now();
  obs.hub.live().Beat();
  if (now_steady - obs.last_publish < kPublishEvery) return;
  obs.last_publish = now_steady;
  const double now = NowUnix();
  Lsn decoded = decoder ? decoder->decoded_upto() : 0;
  if (decoded > obs.last_decoded && obs.last_decoded != 0) obs.decoded_wal_bytes += decoded - obs.last_decoded;
  obs.last_decoded = decoded;
  if (now_steady - obs.last_sample >= std::chrono::milliseconds(opts.heartbeat_ms)) {
    obs.last_sample = now_steady;
    SampleServerPositions(now);
  }
  if (now_steady - obs.last_size >= kSizeEvery) {
    obs.last_size = now_steady;
    obs.state_bytes = store ? store->ApproximateSize() : 0;
    ApplyPrimaryLogFormat();   // pg_trickle.log_format is reloadable (SIGHUP) on the primary
  }

  auto s = std::make_shared<EngineSnapshot>();
  s->taken_unix = now;
  s->started_unix = obs.started_unix;
  s->primary_connected = primary && primary->healthy();
  s->standby_connected = standby && standby->healthy();
  s->primary_host = HostOf(primary.get());
  s->standby_host = HostOf(standby.get());
  s->standby_in_recovery = obs.standby_in_recovery;
  s->consistent = decoder && decoder->consistent();
  s->epoch = epoch;
  s->decoded_lsn = decoded;
  s->applied_lsn = ckpt.applied_upto;
  s->restart_lsn = ckpt.restart_lsn;
  s->primary_lsn = obs.primary_samples.latest();
  s->standby_replay_lsn = obs.standby_samples.latest();
  s->standby_receive_lsn = obs.standby_receive_lsn;
  s->lag_primary_seconds = obs.primary_samples.SecondsBehind(decoded, now);
  s->lag_standby_seconds = obs.standby_samples.SecondsBehind(decoded, now);
  s->decoded_wal_bytes = obs.decoded_wal_bytes;
  s->decoded_transactions = obs.decoded_transactions;
  s->decoded_changes = obs.decoded_changes;
  s->batches_committed = obs.batches_committed;
  s->open_transactions = decoder ? static_cast<int64_t>(decoder->open_transactions()) : 0;
  s->merges_running = static_cast<int64_t>(MergesRunning());
  s->transaction_chunks = transaction_chunks;
  s->large_txn_changes_applied = streaming ? streaming->progress.applied : partial ? partial->applied : 0;
  s->state_bytes = obs.state_bytes;
  FillFailoverCounters(&s->failover);

  std::map<std::string, SourceSnapshot> sources;
  for (auto& [id, t] : tables) {
    TableMeta& m = t.table->meta();
    TableCounters& c = obs.table_counters[id];
    TableSnapshot ts;
    ts.id = id;
    ts.name = m.name;
    ts.sla_tier = t.sla_tier;
    ts.status = failed.count(id) ? "ERROR" : m.needs_rebootstrap ? "BOOTSTRAPPING" : "ACTIVE";
    ts.last_error = m.error;
    ts.frontier = m.has_merged ? m.merged_frontier : 0;
    if (m.has_merged)
      c.frontier_time_unix = std::max(c.frontier_time_unix, obs.primary_samples.TimeAt(m.merged_frontier));
    ts.frontier_time_unix = c.frontier_time_unix;
    ts.pending_source_changes = t.source_changes_since_merge;
    ts.merges = c.merges;
    ts.merge_errors = c.merge_errors;
    ts.rows_merged = c.rows_merged;
    ts.last_merge_rows = c.last_merge_rows;
    ts.last_merge_seconds = c.last_merge_seconds;
    ts.last_merge_unix = c.last_merge_unix;
    s->tables.push_back(std::move(ts));
    if (failed.count(id)) continue;
    for (const auto& src : t.table->plan().sources) {
      SourceSnapshot& agg = sources[src.schema + "." + src.name];
      agg.name = src.schema + "." + src.name;
      agg.pending_rows = std::max(agg.pending_rows, t.source_changes_since_merge);
      double oldest = CommitTimeUnix(t.oldest_pending_commit_us);
      if (oldest > 0 && (agg.oldest_pending_commit_unix == 0 || oldest < agg.oldest_pending_commit_unix))
        agg.oldest_pending_commit_unix = oldest;
    }
  }
  for (auto& [name, src] : sources) s->sources.push_back(std::move(src));
  obs.hub.Publish(std::move(s));
}

// pg_trickle.log_format on the primary decides the log format unless --log-format was given.
// Read at connect and every 10 s; logged when it changes.
void Engine::Impl::ApplyPrimaryLogFormat() {
  if (opts.log_format_given || !primary || !primary->healthy()) return;
  auto r = primary->Query("SELECT current_setting('pg_trickle.log_format', true)");
  if (!r.ok() || r->rows.empty() || !r->at(0, 0)) return;
  const std::string& v = *r->at(0, 0);
  if ((v == "json" || v == "text") && v != obs.log_format_seen) {
    obs.log_format_seen = v;
    SetLogFormat(v == "json" ? LogFormat::kJson : LogFormat::kText);
    LogEvent(LogLevel::kInfo, "log_format", "log format " + v + " (pg_trickle.log_format on the primary)",
             {{"log_format", v}});
  }
}

}  // namespace pgt::engine
