// Engine::Impl — the engine's state and main loop, split by concern across engine.cc (startup,
// decode loop, batches, heartbeat), catalog_poll.cc (new/dropped stream tables),
// bootstrap.cc (DESIGN §6 invariant 3) and scheduler.cc (merges, DESIGN §5 / invariant 4).
//
// Invariants kept here:
//  - applied_upto only grows; a table applies a transaction iff its end LSN > table_applied(T).
//  - every decoded batch (state + pending + checkpoint) is committed atomically before the
//    physical slot is told it may recycle WAL (ConfirmFlush(restart_lsn)).
//  - a merge reads a snapshot of the committed state (merge_pool.cc) and runs on a merge thread
//    while decoding goes on; a merge whose outcome is unknown keeps its pending rows (final
//    values, safe to merge again) until the primary's frontier settles it.
//  - a transaction applied in chunks (large_txn.cc) has a durable marker; stream tables reading
//    a source it changed are not merged until it is applied whole.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "bootstrap_job.h"
#include "engine/engine.h"
#include "apply_path.h"
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
  // pending_change_rows as last counted (Heartbeat): a count walks the table's pending keys and
  // the tombstones of merged ones, so it is refreshed at most every kPendingCountPeriod.
  int64_t pending_rows = 0;
  Clock::time_point pending_counted_at{};
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

// Stream tables over stream tables (upstreams.cc): the last updates of each upstream's catalog
// row seen in the WAL — the frontier its storage table's contents correspond to from that point.
struct UpstreamSeen {
  Lsn end_lsn = 0;                  // end of the committing transaction
  std::optional<Lsn> frontier;      // pgt_stream_tables.frontier in that row (NULL = none yet)
};
struct UpstreamTracker {
  Oid catalog_relid = 0;            // pgtrickle.pgt_stream_tables, tracked while a DAG exists
  std::mutex mu;                    // `seen` is written by the apply path, read by merges
  std::map<int64_t, std::deque<UpstreamSeen>> seen;   // upstream id -> newest last, a few kept
};

// One merge handed to a merge thread (merge_pool.cc). The inputs are copied on the main thread,
// so the merge thread reads no engine field: it reads pending rows through `snap` (the committed
// state when the merge was started, whose applied position is `to`) and writes only its in-flight
// header. The main thread applies the outcome (FinishMerge, scheduler.cc).
struct MergeJob {
  int64_t id = 0;
  std::string name;
  std::vector<OutputColumn> columns;
  std::string pending_prefix;
  std::optional<Lsn> from;        // the primary's frontier must be this (CAS)
  Lsn to = 0;                     // the snapshot's applied position: the new frontier ...
  bool held_by_upstreams = false; // ... or less: a table reading stream tables (upstreams.cc)
  bool replace = false;
  int64_t epoch = 0;
  // The committed state the merge reads (applied position = `to`), kept until FinishMerge, which
  // removes the pending rows merged by comparing it with the current state; released there.
  std::unique_ptr<StoreSnapshot> snap;
  // outcome
  Status status;
  bool wrote = false;             // the merge transaction committed: frontier = to
  MergeResult res;
  std::atomic<bool> done{false};
};

// A primary connection for merges (merge_pool.cc), with the thread running its merge.
struct MergeSlot {
  std::unique_ptr<PgConn> conn;
  std::unique_ptr<MergeWriter> writer;
  uint64_t conn_gen = 0;                 // Impl::primary_gen it was opened for
  std::shared_ptr<MergeJob> job;         // nullptr = free
  std::thread thread;
  ~MergeSlot() { if (thread.joinable()) thread.join(); }
};

// The durable marker of a transaction applied in chunks (large_txn.cc): "the transaction whose
// commit record ends at end_lsn is applied up to its change (last_lsn, at_last_lsn)" — changes
// come in WAL order; a multi-insert record gives several changes one LSN.
struct PartialTxn {
  static constexpr char kKey[] = "partial_txn";   // meta CF
  Xid xid = 0;
  Lsn first_lsn = 0, commit_lsn = 0, end_lsn = 0;
  int64_t applied = 0;            // changes applied (logs)
  Lsn last_lsn = 0;
  int64_t at_last_lsn = 0;
  std::set<Oid> relids;           // sources it changed so far: their readers are not merged
  std::string Encode() const;
  static Result<PartialTxn> Decode(std::string_view s);
};

// The transaction being applied change by change (Decoder::NextStreamed).
struct StreamedTxn {
  Transaction header;                // no changes
  PartialTxn progress;               // applied so far (committed chunks + the open batch)
  std::optional<PartialTxn> resume;  // a marker from before a restart: what to skip
  Lsn cur_lsn = 0;
  int64_t cur_at = 0;                // changes seen at cur_lsn
  int64_t seen = 0, skipped = 0, since_chunk = 0, chunks = 0;
  Status error;
  bool stopping = false;             // the engine stops: the applied part was committed
  Clock::time_point started, last_chunk, last_service, last_log;
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
  ApplyPath apply_path;                     // apply_path.h: mirror -> readers' circuits, per batch
  std::vector<ApplyPath::Reader> apply_readers;   // scratch, per change

  Checkpoint ckpt;
  int64_t epoch = 0;
  std::map<int64_t, TableRuntime> tables;
  std::map<Oid, SourceMirror> mirrors;      // shared source mirrors (source_mirror.h), by relid
  std::set<int64_t> failed;                 // ids that cannot be maintained (status ERROR)
  std::set<int64_t> waiting_logged;         // tables whose wait for consistency was logged
  bool restart_decoder = false;             // restart from the checkpoint before decoding on
  size_t batch_txns = 0;
  Lsn batch_last_end = 0;   // end of the open batch's last transaction (CutAtAdoptedFrontier)
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
  std::vector<std::unique_ptr<MergeSlot>> merge_slots;   // merge_pool.cc: one connection per running merge
  UpstreamTracker upstreams;                // upstreams.cc: DAG of stream tables
  uint64_t primary_gen = 1;                 // bumped when the primary changes: older merge connections are closed
  // large_txn.cc: transactions applied in chunks
  std::optional<PartialTxn> partial;        // the committed marker (none = no transaction in part)
  std::optional<PartialTxn> partial_next;   // the marker the open batch will commit ...
  bool partial_dirty = false;               // ... if set
  std::optional<StreamedTxn> streaming;     // inside Decoder::NextStreamed
  const std::atomic<bool>* stop_flag = nullptr;
  std::unique_ptr<TransactionSink> large_txn_sink;
  int64_t transaction_chunks = 0;           // chunks committed since start (metrics)

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
  Status LoopBody(const std::atomic<bool>& stop);
  Status ConnectPrimary();
  Status ConnectStandby();
  Status StartDecoder();
  Status ApplyTransaction(const Transaction& txn);
  Status ApplyChange(const Transaction& txn, const Change& c);
  Status CommitBatch();                     // inside a streamed transaction: CommitChunk()
  Status CommitState(Lsn applied, Lsn restart);
  void DropBatch();                         // the uncommitted batch and everything it implied
  Status Heartbeat();
  void HeartbeatIfDue();
  void LogProgressIfDue();
  // large_txn.cc: streamed apply in chunks
  Status LoadPartial();
  class StreamSink;                         // the decoder's TransactionSink
  std::unique_ptr<TransactionSink> MakeStreamSink();
  bool BeginStreamed(const Transaction& header);
  // divergence.cc: commits the open batch before the first transaction past a frontier adopted
  // from a new primary, so that no batch spans it.
  Status CutAtAdoptedFrontier(const Transaction& header);
  void ApplyStreamed(const Change& c);
  void EndStreamed(const Transaction& header);
  Status CommitChunk();
  void ServiceDuringTransaction();          // heartbeat, merges, progress while a transaction applies
  bool BlockedByPartial(const TableRuntime& t) const;
  Lsn StateUpto() const;                    // the highest commit end LSN whose changes are (partly) in the state
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
  void NoteTransaction(int64_t changes);
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
  Status FinishApply();
  ApplyPath::ReadersFn ApplyReaders();
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
  // upstreams.cc: stream tables reading stream tables
  Status FollowUpstreamCatalog();           // tracks pgt_stream_tables while a table reads one
  bool IsUpstreamCatalogChange(const Change& c) const;
  void NoteUpstreamCatalogRow(const Transaction& txn, const Change& c);
  void StopDependantsOfFailed();            // a failed upstream stops its dependants (ERROR)
  void ForgetUpstreamFrontiers();           // rewind: observations past the restored point
  // The frontier a merge of `t` writes: its applied position, or for a table reading stream
  // tables the oldest frontier of those its state reflects; nullopt = not known yet (wait).
  std::optional<Lsn> MergeFrontier(const TableRuntime& t);
  // scheduler.cc
  Status ScheduleMerges();                  // finished merges handled, due ones started
  std::shared_ptr<MergeJob> PrepareMerge(TableRuntime& t);   // nullptr: nothing to start
  static void RunMerge(StateStore* store, MergeJob& job, MergeWriter* writer);   // on a merge thread
  void FinishMerge(MergeJob& job);          // main thread: the outcome
  Status ReconcileInflight();
  void NoteRebuild(const TableRuntime& t, const std::string& why);   // rebuild from mirrors or re-snapshot
  Status SettleInflight(TableRuntime& t, MergeWriter* writer = nullptr);
  // merge_pool.cc: merge threads, one primary connection each
  Result<MergeSlot*> FreeSlot();
  void StartMerge(MergeSlot* slot, std::shared_ptr<MergeJob> job);
  void JoinMergeThread(MergeSlot& slot);
  void FinishMerges(bool wait);             // joins finished (or, with wait, all) merges, applies outcomes
  void WaitForMerge(int64_t id);            // before a table's state is dropped or rebuilt
  size_t MergesRunning() const;
  bool MergeRunning(int64_t id) const;
  void ResetMergeConnections();             // the primary changed: no merge starts on an old connection
  void ForEachMergeConnection(const std::function<void(PgConn*, MergeWriter*)>& fn);

  // bootstrap_job.h: the snapshot bootstrap running on its own thread (at most one). Declared
  // last: destroyed (cancelled and joined) before the store it writes to.
  std::unique_ptr<BootstrapJob> boot_job;
};

}  // namespace pgt::engine
