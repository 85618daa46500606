// Engine::Impl — the engine's state and main loop, split by concern across engine.cc (startup,
// decode loop, batches, heartbeat), catalog_poll.cc (new/dropped stream tables),
// bootstrap.cc (DESIGN §6 invariant 3) and scheduler.cc (merges, DESIGN §5 / invariant 4).
//
// Invariants kept here:
//  - applied_upto only grows; a table applies a transaction iff its end LSN > table_applied(T).
//  - every decoded batch (state + pending + checkpoint) is committed atomically before the
//    physical slot is told it may recycle WAL (ConfirmFlush(restart_lsn)).
//  - a merge runs only with no uncommitted batch; a merge whose outcome is unknown keeps its
//    pending rows (final values, safe to merge again) until the primary's frontier settles it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "bootstrap_job.h"
#include "engine/engine.h"
#include "failover.h"
#include "failover_stats.h"
#include "merge.h"
#include "observe.h"
#include "pg_conn.h"
#include "source_mirror.h"
#include "state/checkpoints.h"
#include "state/state_store.h"
#include "stream_table.h"
#include "walreader/catalog.h"
#include "walreader/decoder.h"
#include "walreader/source.h"

namespace pgt::engine {

using Clock = std::chrono::steady_clock;

struct Checkpoint {
  Lsn restart_lsn = 0;    // decoding restarts here
  Lsn applied_upto = 0;   // every transaction with end LSN <= this is applied (monotonic)
  bool consistent = false;
  TimeLineId tli = 0;           // timeline of the WAL at applied_upto
  std::string system_id;        // of the WAL followed (lineage checks)
  std::string Encode() const;
  static Result<Checkpoint> Decode(std::string_view s);
};

// Per-table scheduling and statistics kept in memory.
struct TableRuntime {
  std::unique_ptr<StreamTable> table;
  int64_t schedule_ms = 5000;
  std::string sla_tier = "standard";
  Clock::time_point last_merge{};
  int64_t source_changes_since_merge = 0;
  int64_t oldest_pending_commit_us = 0;   // 0 = none
};

// The decoder's catalog view (source_ddl.cc): the SQL resolver, plus the set of relfilenodes a
// row change referenced while no tracked table was stored there (a rewrite's new file that
// received rows before the engine mapped it).
class MissRecordingResolver : public CatalogResolver {
 public:
  explicit MissRecordingResolver(SqlCatalogResolver* inner) : inner_(inner) {}
  const RelationDesc* Lookup(const RelFileLocator& loc, Lsn lsn) override;
  const RelationDesc* LookupByOid(Oid relid) override { return inner_->LookupByOid(relid); }
  const RelationDesc* LookupToastOwner(const RelFileLocator& loc, Lsn lsn) override;
  const RelationDesc* LookupByOidAt(Oid relid, Lsn lsn) override { return inner_->LookupByOidAt(relid, lsn); }
  Status status() const override { return inner_->status(); }
  Status TakeUnresolved() override { return inner_->TakeUnresolved(); }
  bool MissedAny(Oid rel, Oid toast_rel) const;

 private:
  SqlCatalogResolver* inner_;
  std::set<Oid> missed_;
  bool overflowed_ = false;
};

// An extra primary connection for parallel merges (merge_pool.cc); slot 0 is Impl::primary.
struct MergeSlot {
  std::unique_ptr<PgConn> conn;
  std::unique_ptr<MergeWriter> writer;
};

struct Engine::Impl {
  EngineOptions opts;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<PgConn> primary;
  std::unique_ptr<PgConn> standby;          // catalog polls, replay pause control
  std::unique_ptr<SqlCatalogResolver> resolver;
  std::unique_ptr<MissRecordingResolver> lookup;   // what the decoder uses (source_ddl.cc)
  std::set<Oid> relfile_recorded;                  // sources whose file is stored (source_ddl.cc)
  std::unique_ptr<WalSource> source;
  std::unique_ptr<Decoder> decoder;
  std::unique_ptr<MergeWriter> merger;
  std::unique_ptr<Batch> batch;

  Checkpoint ckpt;
  int64_t epoch = 0;
  std::map<int64_t, TableRuntime> tables;
  std::map<Oid, SourceMirror> mirrors;      // shared source mirrors (source_mirror.h), by relid
  std::set<int64_t> failed;                 // ids that cannot be maintained (status ERROR)
  std::set<int64_t> waiting_logged;         // tables whose wait for consistency was logged
  bool restart_decoder = false;             // restart from the checkpoint before decoding on
  size_t batch_txns = 0;
  Clock::time_point batch_started{};
  Clock::time_point last_poll{}, last_heartbeat{}, last_checkpoint_request{}, last_progress_log{};
  // control.cc (issue 12): state read from the primary
  std::string ext_version;                  // extversion of pg_trickle on the primary
  bool catalog_v2 = false;                  // extension >= 0.2.0: pause, refresh, generations
  bool merges_enabled = true;               // pg_trickle.enabled
  std::set<int64_t> paused;                 // alter_stream_table(status => 'paused')
  std::set<int64_t> refresh_requested;      // refresh_stream_table() waiting or requested
  std::map<int64_t, Lsn> request_targets;   // wait => false requests: merge past this LSN
  Clock::time_point last_control{};
  int max_parallel = 4;                     // pg_trickle.max_parallel_workers
  std::vector<std::unique_ptr<MergeSlot>> merge_slots;   // merge_pool.cc: connections 1..N-1

  // ---- failover (issue 8; reattach.cc, divergence.cc) ----
  FailoverStats& fstats = GlobalFailoverStats();
  std::string primary_label;                // host:port of the attached primary ("" = none)
  std::string primary_conninfo_resolved;    // conninfo of that one host (merge slots use it)
  TimeLineId primary_tli = 0;               // its timeline, checked by the lineage test
  std::string system_id;                    // of the WAL followed ("" = not known yet)
  bool attached_once = false;               // a primary was attached since the process started
  bool lost_primary = false;                // detached since the last attach
  std::string lost_reason;
  TimeLineId tli_at_loss = 0;
  Clock::time_point lost_at{}, reattached_at{};
  bool awaiting_first_merge = false;        // measure re-attach -> first merge
  // Re-resolving a lost primary: 100 ms doubling to 2 s (merges should resume within seconds of
  // a promotion; each attempt is a few connections).
  Backoff primary_backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(2000)};
  Backoff decode_backoff{std::chrono::milliseconds(500), std::chrono::milliseconds(5000)};
  Clock::time_point next_primary_attempt{};
  std::map<std::string, std::string> conditions;   // condition key -> the message last logged
  Clock::time_point last_slot_advance{}, last_divergence_check{};
  Lsn slot_advanced_to = 0;
  TimeLineId seen_source_tli = 0;           // the source's timeline at the last check
  std::optional<LineageVerdict> divergence; // detected, not yet handled (needs a primary)
  std::optional<Status> fatal;
  Clock::time_point started_at = Clock::now();
  std::string wal_source = "stream";        // where WAL comes from now (composite source)
  std::string failover_status_written;      // last JSON written to pgt_engine.failover
  Clock::time_point failover_status_at{};
  bool failover_column_missing = false;     // catalog without the issue 8 column
  std::unique_ptr<CheckpointSet> ckpts;     // RocksDB checkpoints for divergence rewinds
  Clock::time_point last_state_checkpoint{};
  // After a divergence: WAL of timeline `first` past LSN `second` is never applied.
  std::optional<std::pair<TimeLineId, Lsn>> fork_limit;              // set where a void path meets a fatal condition

  // engine.cc
  Status Startup();
  Status LoadState();
  Status Loop(const std::atomic<bool>& stop);
  Status ConnectPrimary();
  Status ConnectStandby();
  Status StartDecoder();
  Status ApplyTransaction(const Transaction& txn);
  Status CommitBatch();
  Status Heartbeat();
  // reattach.cc (issue 8)
  Status ResolvePrimary();                  // one pass over the --primary hosts
  bool PrimaryReady();                      // attached (tries to attach, within the backoff)
  void LosePrimary(const std::string& why);
  void CheckPrimaryCurrent();               // a newer timeline appeared: the primary is stale
  FollowedLineage Followed(bool probe);
  std::optional<TimelineHistory> HistoryOf(TimeLineId tli, const std::string& primary_conninfo);
  void Condition(const std::string& key, const std::string& msg, bool warn = true);
  void ClearCondition(const std::string& key, const std::string& msg = "");
  void AdvanceSlot();
  Status OpenWalSource();
  void NoteMerged();
  void WriteFailoverStatus();               // pgt_engine.failover (when the column exists)
  // divergence.cc (issue 8)
  Status CheckDivergence();                 // the newest history vs what was applied
  Status HandleDivergence(const LineageVerdict& v);
  Status TakeStateCheckpoint();
  Result<bool> WalLineageHolds(const std::optional<Transaction>& next, const std::atomic<bool>& stop);
  // Restores the newest usable checkpoint at or before the switch point; false = none.
  Result<bool> RewindToCheckpoint(const LineageVerdict& v, const std::map<int64_t, std::optional<Lsn>>& frontiers);
  Lsn TableApplied(const TableRuntime& t) const { return std::max(t.table->meta().bootstrap_lsn, ckpt.applied_upto); }
  Lsn MirrorApplied(const SourceMirror& m) const { return std::max(m.meta().bootstrap_lsn, ckpt.applied_upto); }
  void MarkError(int64_t id, const Status& why);
  Status SaveTableMeta(Batch* b, const TableRuntime& t);
  // snapshot.cc: HTTP server, metrics counters, the snapshot the HTTP thread reads (observe.h)
  Observability obs;
  Status StartObservability();
  void PublishSnapshot();                          // cheap: returns at once unless 250 ms passed
  void NoteTransaction(const Transaction& txn);
  void NoteMerge(int64_t id, bool ok, int64_t rows, double seconds);
  void SampleServerPositions(double now_unix);
  void ApplyPrimaryLogFormat();
  void FillFailoverCounters(FailoverCounters* f) const;   // issue 8 wires its counters here
  // catalog_poll.cc
  Status PollCatalog();
  Status DropTable(int64_t id);
  // mirrors.cc: shared source mirrors — load, apply a change to a mirror and its readers, drop
  Status LoadMirrors();
  Status ApplyChangeToSource(const Transaction& txn, const Change& c);
  void TruncateSource(const Transaction& txn, Oid relid);
  void DropStaleMirror(Batch* b, Oid relid, const std::string& what);
  bool SourceInUse(Oid relid) const;
  Status DropMirrorIfUnused(Oid relid);
  // bootstrap.cc
  // `meta` carries id, name and plan; for a re-bootstrap also the merged frontier.
  Status Bootstrap(TableMeta meta);
  Status Rebootstrap(TableRuntime& t);
  Status BootstrapTracked(int64_t id, const std::string& name, std::unique_ptr<StreamTable> table, Lsn d0);
  // bootstrap_job.cc: the snapshot load on its own thread, the catch-up log, completion
  Status StartBootstrapJob(std::unique_ptr<BootstrapJob> job);
  // A change of a source of the running job (mirror_status null: the source has no mirror).
  void CaptureForBootstrap(const Transaction& txn, const Change& c, const Status* mirror_status,
                           const std::optional<Row>* old_row, const std::optional<Row>* new_row);
  // TRUNCATE (in a transaction ending at end_lsn), rewrite, dropped mirror of a source.
  void CancelBootstrapReading(Oid relid, const std::string& why, Lsn end_lsn = ~Lsn{0});
  void StopBootstrapJob(const std::string& why);                    // table dropped, divergence
  void DiscardBootstrapJob();
  Status PollBootstrapJob();
  Status CompleteBootstrapJob();
  Status BootstrapFromMirrors(int64_t id, const std::string& name, const std::string& sources,
                              std::unique_ptr<StreamTable> table);
  Status LoadFromMirrors(int64_t id, Lsn cut, StreamTable* table);
  Status ResumeReplayIfWePaused();
  // SST files of a bootstrap, one directory per table: a bootstrap from the mirrors may run
  // while a snapshot bootstrap's thread loads another table.
  std::string BulkDir(int64_t id = -1) const {
    return opts.state_dir + "/bulk-load" + (id >= 0 ? "/" + std::to_string(id) : std::string());
  }
  // control.cc
  Status CheckExtensionVersion();
  Status PollControl();
  bool MergeRequested(const TableRuntime& t);
  void OnMerged(int64_t id);
  Status ReportProgress();
  Status FollowGenerations();
  Result<bool> GenerationMovedOnPrimary(int64_t id);
  // source_ddl.cc
  Status FollowInvalidations();
  Status RedescribeSources();
  Status CheckSourceFiles();
  // scheduler.cc
  Status RunDueMerges(bool force_all);
  Status MergeTable(TableRuntime& t, PgConn* conn, MergeWriter* writer);
  Status ReconcileInflight();
  void NoteRebuild(const TableRuntime& t, const std::string& why);   // rebuild from mirrors or re-snapshot
  Status SettleInflight(TableRuntime& t, MergeWriter* writer = nullptr);
  // merge_pool.cc: merges of `due` (tier order), at most max_parallel at once; one status each.
  std::vector<Status> RunMerges(const std::vector<TableRuntime*>& due);
  Result<MergeSlot*> Slot(size_t k);
  void ForEachMergeConnection(const std::function<void(PgConn*, MergeWriter*)>& fn);

  // bootstrap_job.h: the snapshot bootstrap running on its own thread (at most one). Declared
  // last: destroyed (cancelled and joined) before the store it writes to.
  std::unique_ptr<BootstrapJob> boot_job;
};

}  // namespace pgt::engine
