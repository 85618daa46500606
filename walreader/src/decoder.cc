// Decoder: drives reader -> record decoder -> rmgr dispatch -> reorder buffer (decoder.h).
//
// Consistency (as snapbuild.c, simplified): without a consistent restart point the decoder
// cannot know transactions that began before its start. Stages on XLOG_RUNNING_XACTS:
//   kWaitFirst --first record: N1 = nextXid--> kWaitOldestN1
//   kWaitOldestN1 --oldestRunningXid >= N1: N2 = nextXid--> kWaitOldestN2
//   kWaitOldestN2 --oldestRunningXid >= N2--> kConsistent
// (checked in sequence on the same record, so a record with no running xacts makes the decoder
// consistent at once). Every transaction that commits before kConsistent is dropped, even if
// complete: a consumer must not rely on it.
#include <time.h>

#include <deque>
#include <unordered_map>

#include "heap_decode.h"
#include "record.h"
#include "reorder_buffer.h"
#include "walreader/decoder.h"
#include "xact_parse.h"
#include "xlog_reader.h"

namespace pgt {

using namespace internal;

namespace {
enum class Stage { kWaitFirst, kWaitOldestN1, kWaitOldestN2, kConsistent };

// The decode loop reads the clock often (see Run): CLOCK_MONOTONIC_COARSE costs a few ns instead
// of tens (a clock read per record showed in profiles), and its resolution (a few ms) is plenty
// for `wait`.
std::chrono::nanoseconds CoarseNow() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// XLOG (rmgr 0) record types (catalog/pg_control.h of the writing version); none carries row
// data. CHECKPOINT_REDO (0xE0) exists from 17 on; 15 and 16 never write it.
bool KnownXlogInfo(uint8_t info, int pg_major) {
  switch (info & 0xF0) {
    case 0x00:   // CHECKPOINT_SHUTDOWN
    case 0x10:   // CHECKPOINT_ONLINE
    case 0x20:   // NOOP
    case 0x30:   // NEXTOID
    case 0x40:   // SWITCH (the reader skips to the next segment)
    case 0x50:   // BACKUP_END
    case 0x60:   // PARAMETER_CHANGE
    case 0x70:   // RESTORE_POINT
    case 0x80:   // FPW_CHANGE
    case 0x90:   // END_OF_RECOVERY
    case 0xA0:   // FPI_FOR_HINT
    case 0xB0:   // FPI
    case 0xD0:   // OVERWRITE_CONTRECORD
      return true;
    case 0xE0:   // CHECKPOINT_REDO (17+: marks the redo point of an online checkpoint)
      return pg_major >= 17;
    default:
      return false;
  }
}
}  // namespace

struct Decoder::Impl {
  Impl(WalSource* s, CatalogResolver* c, DecoderOptions o)
      : source(s), catalog(c), opts(o), reader(s),
        rb(o.reorder_memory_limit, o.spill_dir) {}

  Status Dispatch(const DecodedRecord& r);
  // Decodes records until a transaction is ready (in `ready`, or handed to `sink` when set).
  Result<bool> Run(std::chrono::milliseconds wait);
  void Commit(Xid xid, const std::vector<Xid>& subs, const DecodedRecord& r, int64_t time);
  static void Deliver(Transaction&& t, TransactionSink* sink);
  Status DecodeXact(const DecodedRecord& r);
  Status DecodeRunningXacts(const DecodedRecord& r);
  Status DecodeHeap(const DecodedRecord& r, const HeapDecodeContext& hctx);
  Status CheckNotPoisoned(Xid xid, const std::vector<Xid>& subxacts, Lsn commit_lsn);
  void ForgetPoisoned(Xid xid, const std::vector<Xid>& subxacts);
  Status Unknown(const DecodedRecord& r) {
    return Status::Unsupported("unknown WAL record type (rmgr " + std::to_string(r.rmid) +
                               ", info 0x" + Hex(r.info) + ") at " + FormatLsn(r.start));
  }
  static std::string Hex(uint8_t v) {
    const char* d = "0123456789ABCDEF";
    return std::string{d[v >> 4], d[v & 15]};
  }

  WalSource* source;
  CatalogResolver* catalog;
  DecoderOptions opts;
  XLogReader reader;
  ReorderBuffer rb;
  std::deque<Transaction> ready;
  DecodedRecord record;              // the record being dispatched (reused)
  TransactionSink* sink = nullptr;   // set during NextStreamed
  bool streamed = false;             // a transaction was offered to `sink`
  bool started = false;
  Status error;
  Lsn decoded_upto = kInvalidLsn;
  Stage stage = Stage::kWaitFirst;
  Xid n1 = 0, n2 = 0;
  // (Sub)transactions that wrote rows the catalog could not describe (a tuple wider than its
  // descriptor, a relfilenode of unknown table): an error if they commit, nothing if they abort
  // (a rolled-back DDL leaves no catalog history row behind).
  std::unordered_map<Xid, Status> poisoned;
  std::vector<RelationInvalidation> invalidations;
};

Status Decoder::Impl::DecodeHeap(const DecodedRecord& r, const HeapDecodeContext& hctx) {
  Status st = r.rmid == kRmHeap2 ? DecodeHeap2Record(r, hctx) : DecodeHeapRecord(r, hctx);
  Status unresolved = catalog->TakeUnresolved();
  if (st.code() == Status::Code::kConflict) {
    unresolved = st;
    st = Status::Ok();
  }
  if (!unresolved.ok()) poisoned.emplace(r.xid, unresolved);
  return st;
}

Status Decoder::Impl::CheckNotPoisoned(Xid xid, const std::vector<Xid>& subxacts, Lsn commit_lsn) {
  if (poisoned.empty()) return Status::Ok();
  auto check = [&](Xid x) {
    auto it = poisoned.find(x);
    return it == poisoned.end() ? Status::Ok()
                                : it->second.WithContext("transaction " + std::to_string(xid) +
                                                         " committed at " + FormatLsn(commit_lsn));
  };
  PGT_RETURN_IF_ERROR(check(xid));
  for (Xid s : subxacts) PGT_RETURN_IF_ERROR(check(s));
  return Status::Ok();
}

void Decoder::Impl::ForgetPoisoned(Xid xid, const std::vector<Xid>& subxacts) {
  if (poisoned.empty()) return;
  poisoned.erase(xid);
  for (Xid s : subxacts) poisoned.erase(s);
}

Status Decoder::Impl::Dispatch(const DecodedRecord& r) {
  rb.ProcessXid(r.xid, r.toplevel_xid, r.start);
  HeapDecodeContext hctx{catalog, opts.database_oid, &rb};
  switch (r.rmid) {
    case kRmXlog:
      return KnownXlogInfo(r.info, r.pg_major) ? Status::Ok() : Unknown(r);
    case kRmXact:
      return DecodeXact(r);
    case kRmSmgr:   // CREATE 0x10 / TRUNCATE 0x20: file-level, no rows
      return ((r.info & 0xF0) == 0x10 || (r.info & 0xF0) == 0x20) ? Status::Ok() : Unknown(r);
    case kRmStandby:
      switch (r.info & 0xF0) {
        case 0x00: return Status::Ok();   // LOCK (AccessExclusive locks)
        case 0x10: return DecodeRunningXacts(r);
        case 0x20: return Status::Ok();   // INVALIDATIONS
      }
      return Unknown(r);
    case kRmHeap2:
    case kRmHeap:
      return DecodeHeap(r, hctx);
    // Resource managers without row data for tables: ignored entirely.
    case kRmClog:
    case kRmDbase:
    case kRmTblspc:
    case kRmMultiXact:
    case kRmRelMap:       // TODO(catalog): refresh mapped-catalog descriptors
    case kRmBtree:
    case kRmHash:
    case kRmGin:
    case kRmGist:
    case kRmSeq:
    case kRmSpgist:
    case kRmBrin:
    case kRmCommitTs:
    case kRmReplOrigin:
    case kRmGeneric:
    case kRmLogicalMsg:
      return Status::Ok();
  }
  return Status::Unsupported("unknown resource manager id " + std::to_string(r.rmid) +
                             " in record at " + FormatLsn(r.start));
}

Status Decoder::Impl::DecodeXact(const DecodedRecord& r) {
  uint8_t op = r.info & kXactOpMask;
  switch (op) {
    case kXactCommit:
    case kXactCommitPrepared: {
      auto parsed = ParseXactEnd(r.main_data(), r.main_len, r.info, true, r.pg_major);
      if (!parsed.ok()) return parsed.status().WithContext("commit at " + FormatLsn(r.start));
      Xid xid = op == kXactCommitPrepared ? parsed->twophase_xid : r.xid;
      if (stage == Stage::kConsistent) PGT_RETURN_IF_ERROR(CheckNotPoisoned(xid, parsed->subxacts, r.start));
      ForgetPoisoned(xid, parsed->subxacts);
      if (stage == Stage::kConsistent && opts.collect_invalidations) {
        const size_t first = invalidations.size();
        for (auto [db, relid] : parsed->relcache_invals) {
          bool seen = false;   // a commit often repeats a relation's message
          for (size_t i = first; i < invalidations.size(); i++) seen |= invalidations[i].relid == relid;
          if (!seen && (opts.database_oid == 0 || db == opts.database_oid) && relid != 0 &&
              catalog->LookupByOid(relid) != nullptr)
            invalidations.push_back(RelationInvalidation{relid, xid, r.start, r.end});
        }
      }
      Commit(xid, parsed->subxacts, r, parsed->xact_time);
      return Status::Ok();
    }
    case kXactAbort:
    case kXactAbortPrepared: {
      auto parsed = ParseXactEnd(r.main_data(), r.main_len, r.info, false, r.pg_major);
      if (!parsed.ok()) return parsed.status().WithContext("abort at " + FormatLsn(r.start));
      Xid xid = op == kXactAbortPrepared ? parsed->twophase_xid : r.xid;
      ForgetPoisoned(xid, parsed->subxacts);
      rb.Abort(xid, parsed->subxacts);
      return Status::Ok();
    }
    case kXactAssignment: {
      auto parsed = ParseAssignment(r.main_data(), r.main_len);
      if (!parsed.ok()) return parsed.status().WithContext("assignment at " + FormatLsn(r.start));
      rb.Assign(parsed->top, parsed->subxacts, r.start);
      return Status::Ok();
    }
    case kXactPrepare:         // stays open until COMMIT/ABORT PREPARED
    case kXactInvalidations:   // per-command invalidations; the commit record repeats them
      return Status::Ok();
  }
  return Unknown(r);
}

// Emits the committed transaction: materialised into `ready` for Next, streamed to `sink` for
// NextStreamed (BeginTransaction at the first change, so empty transactions are not offered).
// Before consistency the changes are dropped as they are read.
void Decoder::Impl::Commit(Xid xid, const std::vector<Xid>& subs, const DecodedRecord& r,
                           int64_t time) {
  if (stage != Stage::kConsistent) {
    rb.CommitStream(xid, subs, r.start, r.end, time, [](const Transaction&, Change&&) {});
    return;
  }
  if (sink == nullptr) {
    Transaction t = rb.Commit(xid, subs, r.start, r.end, time);
    if (!t.changes.empty()) ready.push_back(std::move(t));
    return;
  }
  bool begun = false, wanted = false;
  Transaction header = rb.CommitStream(
      xid, subs, r.start, r.end, time, [&](const Transaction& h, Change&& c) {
        if (!begun) {
          begun = true;
          wanted = sink->BeginTransaction(h);
        }
        if (wanted) sink->OnChange(c);
      });
  if (begun) streamed = true;
  if (wanted && rb.status().ok()) sink->EndTransaction(header);
}

void Decoder::Impl::Deliver(Transaction&& t, TransactionSink* sink) {
  Transaction header;
  header.xid = t.xid;
  header.first_lsn = t.first_lsn;
  header.commit_lsn = t.commit_lsn;
  header.end_lsn = t.end_lsn;
  header.commit_time_us = t.commit_time_us;
  if (!sink->BeginTransaction(header)) return;
  for (const Change& c : t.changes) sink->OnChange(c);
  sink->EndTransaction(header);
}

Status Decoder::Impl::DecodeRunningXacts(const DecodedRecord& r) {
  auto rx = ParseRunningXacts(r.main_data(), r.main_len);
  if (!rx.ok()) return rx.status().WithContext("running_xacts at " + FormatLsn(r.start));
  rb.AbortOlderThan(rx->oldest_running_xid);   // transactions of a crashed server
  if (stage == Stage::kWaitFirst) {
    n1 = rx->next_xid;
    stage = Stage::kWaitOldestN1;
  }
  if (stage == Stage::kWaitOldestN1 && !XidPrecedes(rx->oldest_running_xid, n1)) {
    n2 = rx->next_xid;
    stage = Stage::kWaitOldestN2;
  }
  if (stage == Stage::kWaitOldestN2 && !XidPrecedes(rx->oldest_running_xid, n2))
    stage = Stage::kConsistent;
  return Status::Ok();
}

Decoder::Decoder(WalSource* source, CatalogResolver* catalog, DecoderOptions opts)
    : impl_(std::make_unique<Impl>(source, catalog, opts)) {}
Decoder::~Decoder() = default;

Status Decoder::Start(Lsn lsn, TimeLineId tli, bool consistent) {
  Impl& d = *impl_;
  d.rb.Clear();
  d.ready.clear();
  d.poisoned.clear();
  d.invalidations.clear();
  d.error = Status::Ok();
  d.stage = consistent ? Stage::kConsistent : Stage::kWaitFirst;
  d.n1 = d.n2 = 0;
  d.decoded_upto = lsn;
  Status st = d.reader.Start(lsn, tli);
  d.started = st.ok();
  return st;
}

Result<std::optional<Transaction>> Decoder::Next(std::chrono::milliseconds wait) {
  Impl& d = *impl_;
  d.sink = nullptr;
  PGT_ASSIGN_OR_RETURN(bool got, d.Run(wait));
  if (!got) return std::optional<Transaction>();
  Transaction t = std::move(d.ready.front());
  d.ready.pop_front();
  return std::optional<Transaction>(std::move(t));
}

Result<bool> Decoder::NextStreamed(std::chrono::milliseconds wait, TransactionSink* sink) {
  Impl& d = *impl_;
  if (!d.ready.empty() && d.started && d.error.ok()) {   // materialised by an earlier Next
    Transaction t = std::move(d.ready.front());
    d.ready.pop_front();
    Impl::Deliver(std::move(t), sink);
    return true;
  }
  d.sink = sink;
  d.streamed = false;
  auto got = d.Run(wait);
  d.sink = nullptr;
  return got;
}

Result<bool> Decoder::Impl::Run(std::chrono::milliseconds wait) {
  if (!started) return Status::InvalidArgument("Decoder::Next before a successful Start");
  if (!error.ok()) return error;
  // Control returns to the caller within about `wait` even while WAL keeps flowing without a
  // transaction to emit (untracked tables, or before consistency): the caller has batches to
  // commit, a catalog to poll and merges to run.
  // A zero `wait` still decodes what is already available (tests, tools) for up to 100 ms
  // instead of returning before reading anything; new bytes are waited for only within `wait`.
  const auto begin = CoarseNow();
  const auto deadline = begin + wait;
  const auto budget_end = begin + (wait.count() > 0 ? wait : std::chrono::milliseconds(100));
  // The clock is read after any record whose reading went to the source (it may have waited)
  // and every 32 records otherwise, so `left` is never stale by more than 32 in-memory records.
  auto left = wait;
  uint64_t reads_seen = reader.source_reads() - 1;
  for (uint32_t n = 0;; n++) {
    if (sink == nullptr ? !ready.empty() : streamed) return true;
    if (n % 32 == 0 || reader.source_reads() != reads_seen) {
      reads_seen = reader.source_reads();
      auto now = CoarseNow();
      if (now >= budget_end) return false;
      left = now >= deadline ? std::chrono::milliseconds(0)
                             : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    }
    auto raw = reader.Next(left);
    if (!raw.ok()) { error = raw.status(); return error; }
    if (!raw->has_value()) return false;
    DecodedRecord& rec = record;   // reused: its block list and bytes keep their allocations
    Status st = DecodeRecordInto(std::move(**raw), &rec);
    if (!st.ok()) { error = st; return error; }
    st = Dispatch(rec);
    if (st.ok() && !catalog->status().ok())
      st = catalog->status().WithContext("catalog lookup, record at " + FormatLsn(rec.start));
    if (st.ok() && !rb.status().ok())
      st = rb.status().WithContext("reorder buffer spill, record at " + FormatLsn(rec.start));
    if (!st.ok()) { error = st; return error; }
    bool is_switch = rec.rmid == kRmXlog && (rec.info & 0xF0) == 0x40;
    decoded_upto = is_switch ? reader.position() : rec.end;
    if (rec.bytes.capacity() <= (size_t{1} << 20)) reader.Recycle(std::move(rec.bytes));
  }
}

Lsn Decoder::decoded_upto() const { return impl_->decoded_upto; }

Lsn Decoder::restart_lsn() const {
  Lsn oldest = impl_->rb.OldestFirstLsn();
  if (oldest == kInvalidLsn || oldest > impl_->decoded_upto) return impl_->decoded_upto;
  return oldest;
}

std::vector<RelationInvalidation> Decoder::TakeInvalidations() {
  std::vector<RelationInvalidation> out;
  out.swap(impl_->invalidations);
  return out;
}

bool Decoder::consistent() const { return impl_->stage == Stage::kConsistent; }
size_t Decoder::open_transactions() const { return impl_->rb.size(); }

}  // namespace pgt
