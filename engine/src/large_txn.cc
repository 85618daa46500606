// Transactions applied change by change, in chunks (issue 10 "Large transactions").
//
// The decoder hands each committed transaction over change by change (Decoder::NextStreamed):
// nothing is materialised, whatever its size. A transaction that grows the open batch past
// kChunkChanges changes, or applies for longer than kChunkPeriod, is committed in chunks: each
// chunk is one atomic RocksDB write of the changes applied so far (mirrors, operator state,
// pending output) together with
//   - the marker PartialTxn "the transaction ending at end_lsn is applied up to its change
//     (last_lsn, at_last_lsn)", meta key "partial_txn";
//   - the checkpoint with applied_upto = the transaction's commit_lsn (every transaction that
//     ends at or before it is applied: they commit before it) and restart_lsn <= its first_lsn,
//     so a restart decodes it again, and a table still applies it (end_lsn > applied_upto).
// On the re-decode the changes the marker covers are skipped; the last part of the transaction
// and the marker's removal commit together. So a restart redoes at most one chunk.
//
// Frontier (invariant 5): pending output of a transaction applied in part is never merged.
// Stream tables reading a source the transaction changed (the marker's relids) are not merged
// until the marker is gone; other tables merge at the chunk's applied position (their pending
// holds no change of it). Between chunks the loop's periodic work goes on: heartbeat, progress
// log, merges started and finished (scheduler.cc). The catalog poll (bootstraps read the
// mirrors, which hold part of the transaction) and state checkpoints wait until it is applied.
#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

namespace {
// Bounds the open batch (its in-memory writes) and the work a restart redoes.
constexpr int64_t kChunkChanges = 20000;
constexpr auto kChunkPeriod = std::chrono::seconds(2);
constexpr auto kServicePeriod = std::chrono::milliseconds(100);
constexpr auto kTxnProgressPeriod = std::chrono::seconds(3);

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Test hook: PGT_TEST_STREAMED_CHANGE_DELAY_US slows the apply of streamed transactions (per
// change, slept every 256 changes) so that tests can observe the engine in the middle of one
// on any machine; unset (the default) it costs nothing.
std::chrono::microseconds TestChangeDelay() {
  static const std::chrono::microseconds delay = [] {
    const char* v = std::getenv("PGT_TEST_STREAMED_CHANGE_DELAY_US");
    return std::chrono::microseconds(v ? std::strtoll(v, nullptr, 10) : 0);
  }();
  return delay;
}

}  // namespace

class Engine::Impl::StreamSink : public TransactionSink {
 public:
  explicit StreamSink(Engine::Impl* m) : m_(m) {}
  bool BeginTransaction(const Transaction& h) override { return m_->BeginStreamed(h); }
  void OnChange(const Change& c) override { m_->ApplyStreamed(c); }
  void EndTransaction(const Transaction& h) override { m_->EndStreamed(h); }

 private:
  Engine::Impl* m_;
};

std::unique_ptr<TransactionSink> Engine::Impl::MakeStreamSink() { return std::make_unique<StreamSink>(this); }

std::string PartialTxn::Encode() const {
  return nlohmann::json({{"xid", xid}, {"first_lsn", first_lsn}, {"commit_lsn", commit_lsn}, {"end_lsn", end_lsn},
                         {"applied", applied}, {"last_lsn", last_lsn}, {"at_last_lsn", at_last_lsn},
                         {"relids", relids}}).dump();
}

Result<PartialTxn> PartialTxn::Decode(std::string_view s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("partial transaction marker is not JSON");
  PartialTxn p;
  try {
    p.xid = j.at("xid").get<Xid>();
    p.first_lsn = j.at("first_lsn").get<Lsn>();
    p.commit_lsn = j.at("commit_lsn").get<Lsn>();
    p.end_lsn = j.at("end_lsn").get<Lsn>();
    p.applied = j.at("applied").get<int64_t>();
    p.last_lsn = j.at("last_lsn").get<Lsn>();
    p.at_last_lsn = j.at("at_last_lsn").get<int64_t>();
    p.relids = j.at("relids").get<std::set<Oid>>();
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("partial transaction marker: ") + e.what());
  }
  return p;
}

Status Engine::Impl::LoadPartial() {
  partial.reset();
  partial_next.reset();
  partial_dirty = false;
  streaming.reset();
  PGT_ASSIGN_OR_RETURN(auto raw, store->Get(Cf::kMeta, PartialTxn::kKey));
  if (!raw) return Status::Ok();
  PGT_ASSIGN_OR_RETURN(partial, PartialTxn::Decode(*raw));
  PGT_LOG_INFO("transaction ", partial->xid, " (commit ", FormatLsn(partial->commit_lsn), ") was applied in part: ",
               partial->applied, " change(s); the rest is applied when it is decoded again");
  return Status::Ok();
}

Lsn Engine::Impl::StateUpto() const {
  Lsn l = ckpt.applied_upto;
  if (partial) l = std::max(l, partial->end_lsn);
  if (streaming && streaming->chunks > 0) l = std::max(l, streaming->header.end_lsn);
  return l;
}

bool Engine::Impl::BlockedByPartial(const TableRuntime& t) const {
  if (!partial) return false;
  for (Oid r : partial->relids)
    if (t.table->ReadsSource(r)) return true;
  return false;
}

bool Engine::Impl::BeginStreamed(const Transaction& header) {
  streaming.reset();
  // The WAL it came from must still be on the history the engine follows (divergence.cc).
  auto holds = WalLineageHolds(header, *stop_flag);
  if (!holds.ok() || !*holds) {
    if (!holds.ok()) {
      streaming.emplace();
      streaming->error = holds.status();
    }
    return false;
  }
  StreamedTxn s;
  s.header = header;
  s.progress.xid = header.xid;
  s.progress.first_lsn = header.first_lsn;
  s.progress.commit_lsn = header.commit_lsn;
  s.progress.end_lsn = header.end_lsn;
  s.started = s.last_chunk = s.last_service = s.last_log = Clock::now();
  if (partial) {
    if (partial->end_lsn == header.end_lsn && partial->xid == header.xid) {
      s.resume = *partial;
      s.progress = *partial;
      PGT_EVENT(kInfo, "large_transaction_resumed",
                (LogFields{{"xid", static_cast<int64_t>(header.xid)}, {"commit_lsn", FormatLsn(header.commit_lsn)},
                           {"changes_applied", partial->applied}}),
                "transaction ", header.xid, " (commit ", FormatLsn(header.commit_lsn), ") resumes after change ",
                partial->applied, " (applied before the restart)");
    } else if (header.end_lsn > partial->end_lsn) {
      streaming.emplace();
      streaming->error = Status::Corruption(
          "transaction " + std::to_string(partial->xid) + " ending at " + FormatLsn(partial->end_lsn) +
          " was applied in part, but decoding passed it without meeting it again (next: transaction " +
          std::to_string(header.xid) + " ending at " + FormatLsn(header.end_lsn) + ")");
      return false;
    }
  }
  // Nothing applies a transaction that ends at or before the applied position (re-decoded WAL).
  if (!s.resume && header.end_lsn <= ckpt.applied_upto) return false;
  if (!s.resume) {
    Status cut = CutAtAdoptedFrontier(header);
    if (!cut.ok()) {
      streaming.emplace();
      streaming->error = cut;
      return false;
    }
  }
  streaming = std::move(s);
  return true;
}

void Engine::Impl::ApplyStreamed(const Change& c) {
  StreamedTxn& s = *streaming;
  if (!s.error.ok() || s.stopping) return;   // the rest is read by the decoder, not applied
  ++s.seen;
  if (c.lsn != s.cur_lsn) {
    s.cur_lsn = c.lsn;
    s.cur_at = 0;
  }
  ++s.cur_at;
  if (s.resume && (c.lsn < s.resume->last_lsn || (c.lsn == s.resume->last_lsn && s.cur_at <= s.resume->at_last_lsn))) {
    ++s.skipped;
    return;
  }
  Status st = ApplyChange(s.header, c);
  if (!st.ok()) {
    s.error = st;
    return;
  }
  if (c.kind == ChangeKind::kTruncate) s.progress.relids.insert(c.truncated.begin(), c.truncated.end());
  else s.progress.relids.insert(c.relid);
  ++s.progress.applied;
  s.progress.last_lsn = c.lsn;
  s.progress.at_last_lsn = s.cur_at;
  ++s.since_chunk;
  if (s.since_chunk < kChunkChanges && (s.seen & 255) != 0) return;
  if (TestChangeDelay().count() > 0) std::this_thread::sleep_for(TestChangeDelay() * 256);
  auto now = Clock::now();
  if (s.since_chunk >= kChunkChanges || now - s.last_chunk >= kChunkPeriod || (*stop_flag && !s.stopping)) {
    st = CommitChunk();
    if (!st.ok()) {
      s.error = st;
      return;
    }
    if (*stop_flag) {
      s.stopping = true;
      PGT_LOG_INFO("stopping inside transaction ", s.header.xid, ": ", s.progress.applied,
                   " change(s) applied and committed; the rest is applied after the restart");
      return;
    }
  }
  if (now - s.last_service >= kServicePeriod) ServiceDuringTransaction();
}

// A chunk: everything applied so far, with the marker and a checkpoint that makes a restart
// decode the transaction again (see the file comment).
Status Engine::Impl::CommitChunk() {
  StreamedTxn& s = *streaming;
  partial_next = s.progress;
  partial_dirty = true;
  Lsn restart = std::min(decoder->restart_lsn(), s.header.first_lsn);
  PGT_RETURN_IF_ERROR(CommitState(s.header.commit_lsn, restart));
  s.since_chunk = 0;
  s.last_chunk = Clock::now();
  ++s.chunks;
  ++transaction_chunks;
  return Status::Ok();
}

void Engine::Impl::ServiceDuringTransaction() {
  StreamedTxn& s = *streaming;
  auto now = Clock::now();
  s.last_service = now;
  if (s.chunks > 0 && now - s.last_log >= kTxnProgressPeriod) {
    s.last_log = now;
    const Lsn span = s.header.commit_lsn > s.header.first_lsn ? s.header.commit_lsn - s.header.first_lsn : 1;
    const double wal_pct = 100.0 * static_cast<double>(s.cur_lsn - std::min(s.cur_lsn, s.header.first_lsn)) /
                           static_cast<double>(span);
    const double secs = Seconds(now - s.started);
    const int64_t done_now = s.progress.applied - (s.resume ? s.resume->applied : 0);
    PGT_EVENT(kInfo, "large_transaction_progress",
              (LogFields{{"xid", static_cast<int64_t>(s.header.xid)}, {"commit_lsn", FormatLsn(s.header.commit_lsn)},
                         {"changes_applied", s.progress.applied}, {"changes_skipped", s.skipped},
                         {"chunks", s.chunks}, {"wal_percent", static_cast<int64_t>(wal_pct)},
                         {"changes_per_second", secs > 0 ? static_cast<int64_t>(done_now / secs) : 0}}),
              "transaction ", s.header.xid, " (commit ", FormatLsn(s.header.commit_lsn), "): ", s.progress.applied,
              " change(s) applied in ", s.chunks, " chunk(s), ", static_cast<int64_t>(wal_pct),
              "% of its WAL, ", secs > 0 ? static_cast<int64_t>(done_now / secs) : 0, " changes/s");
  }
  Status st = ScheduleMerges();
  if (!st.ok()) {
    s.error = st;
    return;
  }
  PublishSnapshot();
  HeartbeatIfDue();
}

void Engine::Impl::EndStreamed(const Transaction& header) {
  StreamedTxn& s = *streaming;
  if (!s.error.ok() || s.stopping) return;   // the loop sees `streaming` still set
  if (s.resume || s.chunks > 0) {
    partial_next.reset();   // removed with the transaction's last part (the loop commits it now)
    partial_dirty = true;
    PGT_EVENT(kInfo, "large_transaction_applied",
              (LogFields{{"xid", static_cast<int64_t>(header.xid)}, {"commit_lsn", FormatLsn(header.commit_lsn)},
                         {"changes", s.progress.applied}, {"chunks", s.chunks + 1}, {"changes_skipped", s.skipped},
                         {"seconds", Seconds(Clock::now() - s.started)}}),
              "transaction ", header.xid, " (commit ", FormatLsn(header.commit_lsn), ") applied: ", s.progress.applied,
              " change(s) in ", s.chunks + 1, " chunk(s), ", Seconds(Clock::now() - s.started), " s",
              s.skipped ? " (" + std::to_string(s.skipped) + " applied before a restart were skipped)" : std::string());
  }
  NoteTransaction(s.seen);
  ++batch_txns;
  batch_last_end = header.end_lsn;
  streaming.reset();
}

}  // namespace pgt::engine
