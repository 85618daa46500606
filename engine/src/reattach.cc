// Connections by role and re-attach (issue 8; DESIGN §6 invariant 5).
//
// The primary is resolved host by host from --primary: a host qualifies if it accepts writes and
// passes the lineage check (failover.h CheckLineage): same system, a timeline at least as new as
// any the engine heard of (its stream, its standby, the archive), and a history containing the
// engine's applied position. Nothing is written to a server before it qualified: the epoch claim,
// heartbeats, status, errors and merges all go through PrimaryReady(). A lost primary is
// re-resolved with exponential backoff and jitter; each change of state is logged once.
//
// WAL retention: the stream runs without a slot and reports what it received as flushed (a
// standby's shutdown never waits for the engine); the slot on the standby stays inactive and is
// advanced by SQL after durable batches (AdvanceSlot), so it retains what a restart needs while
// that standby lives. The archive covers the rest (composite source).
#include <thread>

#include <nlohmann/json.hpp>

#include "engine_impl.h"
#include "log.h"
#include "walreader/composite_source.h"

namespace pgt::engine {

namespace {
std::string Seconds(Clock::duration d) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", std::chrono::duration<double>(d).count());
  return b;
}
}  // namespace

void Engine::Impl::Condition(const std::string& key, const std::string& msg, bool warn) {
  auto it = conditions.find(key);
  if (it != conditions.end() && it->second == msg) return;
  conditions[key] = msg;
  if (warn) PGT_LOG_WARN(msg);
  else PGT_LOG_INFO(msg);
}

void Engine::Impl::ClearCondition(const std::string& key, const std::string& msg) {
  if (conditions.erase(key) && !msg.empty()) PGT_LOG_INFO(msg);
}

SegmentSourceOptions ArchiveOptions(const EngineOptions& o) {
  SegmentSourceOptions a;
  a.kind = SegmentSourceOptions::Kind::kArchive;
  a.dir = o.archive_dir;
  a.restore_command = o.restore_command;
  return a;
}

bool HasArchive(const EngineOptions& o) { return !o.archive_dir.empty() || !o.restore_command.empty(); }

// What the engine follows; `probe` asks the standby and the archive for newer timelines.
FollowedLineage Engine::Impl::Followed(bool probe) {
  FollowedLineage f;
  f.system_id = system_id;
  f.tli = ckpt.tli;
  f.applied = StateUpto();   // with a transaction applied in part: its end (large_txn.cc)
  f.newest_known = std::max(ckpt.tli, source ? source->timeline() : 0);
  f.newest_known_from = "the engine's WAL stream";
  if (!probe) return f;
  auto id = IdentifyServer(opts.standby_conninfo);
  if (id.ok()) {
    if (f.system_id.empty()) f.system_id = id->system_id;
    if (id->tli > f.newest_known) {
      f.newest_known = id->tli;
      f.newest_known_from = "standby " + HostsLabel(opts.standby_conninfo);
    }
  }
  if (HasArchive(opts)) {
    auto t = ArchiveNewestTimeline(ArchiveOptions(opts), f.newest_known);
    if (t.ok() && *t > f.newest_known) {
      f.newest_known = *t;
      f.newest_known_from = "the archive";
    }
  }
  if (f.newest_known > 1) {
    auto h = HistoryOf(f.newest_known, "");
    if (h) f.newest_history = *h;
  }
  return f;
}

// The history of `tli`: from the server itself (replication connection), the standby, or the
// archive, whichever answers first.
std::optional<TimelineHistory> Engine::Impl::HistoryOf(TimeLineId tli, const std::string& primary_conninfo) {
  if (tli <= 1) return TimelineHistory{{tli, 0, kEndOfTime}};
  if (!primary_conninfo.empty()) {
    auto h = ServerTimelineHistory(primary_conninfo, tli);
    if (h.ok()) return *h;
  }
  auto h = ServerTimelineHistory(opts.standby_conninfo, tli);
  if (h.ok()) return *h;
  if (HasArchive(opts)) {
    auto a = ArchiveTimelineHistory(ArchiveOptions(opts), tli);
    if (a.ok()) return *a;
  }
  return std::nullopt;
}

Status Engine::Impl::ResolvePrimary() {
  PGT_ASSIGN_OR_RETURN(auto hosts, SplitHosts(opts.primary_conninfo));
  FollowedLineage followed = Followed(true);
  std::string problems;
  for (const auto& h : hosts) {
    auto c = PgConn::Connect(h.conninfo, "primary " + h.label);
    if (!c.ok()) { problems += "; " + h.label + ": " + c.status().message(); continue; }
    auto r = (*c)->Query(
        "SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system())::text, "
        "CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END");
    if (!r.ok()) { problems += "; " + h.label + ": " + r.status().message(); continue; }
    if (r->at(0, 0).value_or("t") == "t") { problems += "; " + h.label + ": in recovery"; continue; }
    PrimaryLineage p;
    p.system_id = r->at(0, 1).value_or("");
    p.tli = static_cast<TimeLineId>(std::stoul(r->at(0, 2).value_or("0"), nullptr, 16));
    if (p.tli > followed.tli && followed.tli != 0) p.history = HistoryOf(p.tli, h.conninfo);
    else if (p.tli > 1 && !followed.newest_history.empty()) p.history = HistoryOf(p.tli, h.conninfo);
    LineageVerdict v = CheckLineage(followed, p);
    if (v.kind == LineageKind::kStale) {
      fstats.stale_primary_refusals++;
      Condition("stale:" + h.label, "refusing to write to stale primary " + h.label + ": " + v.reason +
                                        "; nothing is written to it, the engine looks for the real primary");
      continue;
    }
    if (v.kind == LineageKind::kUnknown) {
      Condition("unknown:" + h.label, "not writing to " + h.label + " yet: " + v.reason + " (retrying)");
      problems += "; " + h.label + ": " + v.reason;
      continue;
    }
    if (v.kind == LineageKind::kDiverged && !divergence) {
      fstats.divergences++;
      PGT_LOG_WARN("divergence: the primary ", h.label, " (timeline ", p.tli, "): ", v.reason,
                   "; state derived from WAL past ", FormatLsn(v.switch_point), " will not be merged");
      divergence = v;
    }
    ClearCondition("stale:" + h.label);
    ClearCondition("unknown:" + h.label);
    if (p.history && followed.tli != 0 && p.tli != followed.tli) {
      if (const TimelineSpan* s = FindTimeline(*p.history, followed.tli); s && s->end != kEndOfTime)
        fstats.last_switch_point = s->end;
    }
    // Claim the tables: the epoch only moves forward, and a lower one (a claim lost with
    // asynchronous replication) is raised back to ours; a higher one means another engine.
    // FOR UPDATE: waits for merges in flight (they hold FOR KEY SHARE, merge.h).
    auto e = (*c)->QueryParams(
        "UPDATE pgtrickle.pgt_engine SET epoch = CASE WHEN $1::bigint = 0 THEN epoch + 1 "
        "ELSE greatest(epoch, $1::bigint) END, heartbeat_at = now() WHERE id = 1 AND "
        "id = (SELECT id FROM pgtrickle.pgt_engine WHERE id = 1 FOR UPDATE) RETURNING epoch",
        {std::to_string(epoch)});
    if (!e.ok())
      return Status::Unavailable("primary " + h.label + ": pg_trickle catalog not writable (is CREATE EXTENSION pg_trickle done?): " +
                                 e.status().message());
    if (e->rows.empty()) return Status::Unavailable("primary " + h.label + ": pgtrickle.pgt_engine has no row");
    int64_t got = std::stoll(*e->at(0, 0));
    if (epoch != 0 && got != epoch)
      return Status::Conflict("engine epoch " + std::to_string(epoch) + " is no longer current on " + h.label +
                              " (fenced by a newer engine, epoch " + std::to_string(got) + ")");
    epoch = got;
    primary = std::move(c).value();
    if (merger) merger->ResetConnection(primary.get());
    else merger = std::make_unique<MergeWriter>(primary.get());
    merger->SetLineageGuard(p.tli);
    primary_label = h.label;
    primary_conninfo_resolved = h.conninfo;   // merge_pool.cc connects its slots to this host only
    primary_tli = p.tli;
    ResetMergeConnections();                  // connections to a previous primary
    ApplyPrimaryLogFormat();
    if (system_id.empty()) system_id = p.system_id;
    return Status::Ok();
  }
  return Status::Unavailable("no primary found among " + HostsLabel(opts.primary_conninfo) +
                             (problems.empty() ? "" : " (" + problems.substr(2) + ")"));
}

bool Engine::Impl::PrimaryReady() {
  if (primary && primary->healthy()) return true;
  if (primary) LosePrimary("connection lost: " + std::string(PQerrorMessage(primary->raw())));
  if (Clock::now() < next_primary_attempt) return false;
  Status st = ResolvePrimary();
  if (!st.ok()) {
    if (st.code() == Status::Code::kConflict) { fatal = st; return false; }   // fenced: Loop exits
    next_primary_attempt = Clock::now() + primary_backoff.Next();
    Condition("primary", "no primary to write to: " + st.message() +
                             "; merges and status wait, decoding continues; retrying with backoff up to 2 s");
    return false;
  }
  primary_backoff.Reset();
  ClearCondition("primary");
  if (!attached_once && ckpt.tli != 0 && primary_tli != ckpt.tli) {
    // First attach of this process, but the timeline moved since the state was written (the
    // engine was down or restarted during a failover): that is a re-attach too.
    lost_at = started_at;
    tli_at_loss = ckpt.tli;
    lost_reason = "the engine (re)started after a timeline switch";
    attached_once = true;
  }
  if (attached_once) {
    fstats.reattaches++;
    reattached_at = Clock::now();
    awaiting_first_merge = true;
    std::string source_desc = wal_source;
    if (source && !source->problem().empty()) source_desc += " (stream: " + source->problem() + ")";
    PGT_LOG_INFO("re-attached: primary ", primary_label, " (timeline ", primary_tli, ", was ", tli_at_loss,
                 "), switch point ", FormatLsn(fstats.last_switch_point.load()), ", WAL from ", source_desc,
                 ", standby ", HostsLabel(opts.standby_conninfo), ", ", Seconds(Clock::now() - lost_at),
                 " s after losing the primary (", lost_reason, ")");
  } else {
    PGT_EVENT(kInfo, "connected_primary",
              (LogFields{{"epoch", epoch}, {"primary", primary_label}, {"timeline", static_cast<int64_t>(primary_tli)}}),
              "connected to the primary ", primary_label, " (timeline ", primary_tli, "); engine epoch ", epoch);
  }
  bool was_attached = attached_once;
  attached_once = true;
  lost_primary = false;
  if (was_attached && !divergence) {
    // The new primary decides about in-flight merges and may lack merges the old one had
    // (after a divergence HandleDivergence compares the frontiers instead).
    Status rs = ReconcileInflight();
    if (!rs.ok()) Condition("reconcile", "checking frontiers on the new primary failed (retried at the next merge): " + rs.message());
  }
  return primary != nullptr;
}

void Engine::Impl::LosePrimary(const std::string& why) {
  if (!primary && lost_primary) return;
  PGT_LOG_WARN("lost the primary ", primary_label.empty() ? std::string("(none)") : primary_label, ": ", why,
               "; resolving ", HostsLabel(opts.primary_conninfo), " again with backoff (merges wait, decoding continues)");
  primary.reset();
  if (merger) merger->ResetConnection(nullptr);
  ResetMergeConnections();   // never start a merge through a connection to the lost primary
  lost_primary = true;
  lost_reason = why;
  lost_at = Clock::now();
  tli_at_loss = primary_tli;
  primary_label.clear();
  next_primary_attempt = Clock::now();
  primary_backoff.Reset();
}

// A timeline newer than the primary's appeared in the WAL the engine follows: the attached
// primary was demoted in all but name (split brain). Detach; ResolvePrimary refuses it.
void Engine::Impl::CheckPrimaryCurrent() {
  if (!primary || !source) return;
  TimeLineId t = source->timeline();
  if (t > primary_tli && primary_tli != 0)
    LosePrimary("the WAL stream moved to timeline " + std::to_string(t) + ", newer than the primary's " +
                std::to_string(primary_tli));
}

void Engine::Impl::NoteMerged() {
  if (!awaiting_first_merge) return;
  awaiting_first_merge = false;
  auto d = Clock::now() - reattached_at;
  auto total = Clock::now() - lost_at;
  fstats.last_reattach_to_first_merge_ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  PGT_LOG_INFO("first merge after re-attach: ", Seconds(d), " s (", Seconds(total), " s after losing the primary)");
}

// The inactive slot on the standby retains WAL from the engine's restart position.
void Engine::Impl::AdvanceSlot() {
  if (opts.slot.empty() || !standby || ckpt.restart_lsn <= slot_advanced_to) return;
  if (Clock::now() - last_slot_advance < std::chrono::seconds(1)) return;
  last_slot_advance = Clock::now();
  auto r = standby->QueryParams(
      "SELECT pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM pg_replication_slots "
      "WHERE slot_name = $1 AND NOT active AND restart_lsn < $2::pg_lsn", {opts.slot, FormatLsn(ckpt.restart_lsn)});
  if (!r.ok()) {
    Condition("slot", "cannot advance slot " + opts.slot + " on the standby: " + r.status().message() +
                          " (WAL retention then relies on the archive)");
    if (!standby->healthy()) {
      auto c = PgConn::Connect(opts.standby_conninfo, "standby");
      if (c.ok()) standby = std::move(c).value();
    }
    return;
  }
  ClearCondition("slot", "slot " + opts.slot + " on the standby advances again");
  slot_advanced_to = ckpt.restart_lsn;
}

// The composite WAL source: stream (no slot) + archive.
Status Engine::Impl::OpenWalSource() {
  StreamOptions so;
  so.conninfo = opts.standby_conninfo;
  so.slot = "";
  so.retry_first_connect = true;
  PGT_ASSIGN_OR_RETURN(auto stream, OpenStreamSource(so));
  CompositeSourceOptions co;
  co.stream = std::move(stream);
  if (HasArchive(opts)) {
    SegmentSourceOptions a = ArchiveOptions(opts);
    PGT_ASSIGN_OR_RETURN(co.archive, OpenSegmentSource(a));
    co.archive_history = [a]() -> Result<TimelineHistory> {
      PGT_ASSIGN_OR_RETURN(TimeLineId t, ArchiveNewestTimeline(a, 1));
      return ArchiveTimelineHistory(a, t);
    };
  }
  FailoverStats* fs = &fstats;
  co.on_switch = [this](const std::string& m) {
    PGT_LOG_INFO(m);
    wal_source = m.rfind("reading WAL from the archive", 0) == 0 ? "archive" : "stream";
  };
  co.on_bytes = [fs](bool archive, size_t n) {
    (archive ? fs->wal_bytes_archive : fs->wal_bytes_stream) += n;
  };
  source = OpenCompositeSource(std::move(co));
  return Status::Ok();
}

// The failover state as JSON in pgtrickle.pgt_engine.failover, written with the heartbeat when
// it changed (the WAL byte counters only every 10 s), so the condition is visible on the
// primary. A catalog without that column (before the upgrade adding it) is skipped silently.
void Engine::Impl::WriteFailoverStatus() {
  if (failover_column_missing || !primary) return;
  nlohmann::json conds = nlohmann::json::array();
  for (auto& [k, m] : conditions) conds.push_back(m);
  nlohmann::json j = {{"primary", primary_label}, {"timeline", fstats.timeline.load()},
                      {"wal_source", wal_source}, {"stream_problem", source ? source->problem() : ""},
                      {"conditions", conds}, {"reattaches", fstats.reattaches.load()},
                      {"resnapshots", fstats.resnapshots.load()}, {"rewinds", fstats.rewinds.load()},
                      {"divergences", fstats.divergences.load()},
                      {"stale_primary_refusals", fstats.stale_primary_refusals.load()},
                      {"last_switch_point", FormatLsn(fstats.last_switch_point.load())},
                      {"last_reattach_to_first_merge_ms", fstats.last_reattach_to_first_merge_ms.load()}};
  std::string text = j.dump();
  if (text == failover_status_written && Clock::now() - failover_status_at < std::chrono::seconds(10)) return;
  failover_status_at = Clock::now();
  j["wal_bytes_stream"] = fstats.wal_bytes_stream.load();
  j["wal_bytes_archive"] = fstats.wal_bytes_archive.load();
  auto r = primary->QueryParams("UPDATE pgtrickle.pgt_engine SET failover = $1::jsonb WHERE id = 1 AND epoch = $2",
                                {j.dump(), std::to_string(epoch)});
  if (!r.ok()) {
    if (r.status().message().find("\"failover\"") != std::string::npos) failover_column_missing = true;
    else Condition("failover-status", "cannot write the failover status to the primary: " + r.status().message());
    return;
  }
  failover_status_written = text;
}

}  // namespace pgt::engine
