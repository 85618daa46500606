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
#include <map>
#include <memory>
#include <set>
#include <string>

#include "engine/engine.h"
#include "merge.h"
#include "pg_conn.h"
#include "source_mirror.h"
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
  TimeLineId tli = 0;
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

struct Engine::Impl {
  EngineOptions opts;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<PgConn> primary;
  std::unique_ptr<PgConn> standby;          // catalog polls, replay pause control
  std::unique_ptr<SqlCatalogResolver> resolver;
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

  // engine.cc
  Status Startup();
  Status Loop(const std::atomic<bool>& stop);
  Status ConnectPrimary();
  Status ConnectStandby();
  Status StartDecoder();
  Status ApplyTransaction(const Transaction& txn);
  Status CommitBatch();
  Status Heartbeat();
  Lsn TableApplied(const TableRuntime& t) const { return std::max(t.table->meta().bootstrap_lsn, ckpt.applied_upto); }
  Lsn MirrorApplied(const SourceMirror& m) const { return std::max(m.meta().bootstrap_lsn, ckpt.applied_upto); }
  void MarkError(int64_t id, const Status& why);
  Status SaveTableMeta(Batch* b, const TableRuntime& t);
  // catalog_poll.cc
  Status PollCatalog();
  Status DropTable(int64_t id);
  // mirrors.cc: shared source mirrors — load, apply a change to a mirror and its readers, drop
  Status LoadMirrors();
  Status ApplyChangeToSource(const Transaction& txn, const Change& c);
  void TruncateSource(const Transaction& txn, Oid relid);
  bool SourceInUse(Oid relid) const;
  Status DropMirrorIfUnused(Oid relid);
  // bootstrap.cc
  // `meta` carries id, name and plan; for a re-bootstrap also the merged frontier.
  Status Bootstrap(TableMeta meta);
  Status Rebootstrap(TableRuntime& t);
  Status BootstrapTracked(int64_t id, const std::string& name, std::unique_ptr<StreamTable> table, Lsn d0);
  Status BootstrapFromMirrors(int64_t id, const std::string& name, std::unique_ptr<StreamTable> table);
  Status ResumeReplayIfWePaused();
  // scheduler.cc
  Status RunDueMerges(bool force_all);
  Status MergeTable(TableRuntime& t);
  Status ReconcileInflight();
  Status SettleInflight(TableRuntime& t);
};

}  // namespace pgt::engine
