// Reorder buffer (internal): buffers the row changes of every open top-level transaction, in WAL
// order, each tagged with the (sub)xid that made it; at COMMIT the changes of the top-level
// transaction and of its committed subtransactions become one pgt::Transaction; ABORT drops the
// aborted (sub)transaction's changes (ROLLBACK TO SAVEPOINT writes an ABORT for the sub-xid).
// Tracks the first LSN of every transaction seen, with or without tracked changes, so that
// OldestFirstLsn() bounds where decoding must restart. Also keeps each transaction's TOAST
// chunks until the main row that points at them is decoded.
// Memory: the approximate bytes of buffered changes are accounted per transaction; when the total
// exceeds `memory_limit`, the in-memory changes of the largest transaction are appended to its
// spill file (`spill_dir`/<pid>-<instance>-<xid>-<gen>.spill, a length-prefixed binary format,
// see reorder_buffer.cc) with the (sub)xid of each change, and read back in order at COMMIT,
// filtered by the committed (sub)xids, so ROLLBACK TO SAVEPOINT still drops the right changes.
// Spilled changes always precede the in-memory ones of the same transaction (WAL order). Files
// are removed when the transaction is emitted or aborted, on Clear() and on destruction.
// Commit() returns the Transaction with all of its changes in memory; CommitStream() hands them
// to a callback one at a time (spilled ones read back record by record), so a committed
// transaction of any size is emitted within the memory limit.
// Spill I/O errors are sticky: status() turns non-OK (the decoder reports it). Not thread-safe.
#pragma once

#include <map>
#include <type_traits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "walreader/change.h"
#include "tuple.h"

namespace pgt::internal {

class ReorderBuffer {
 public:
  static constexpr size_t kDefaultMemoryLimit = size_t{64} << 20;
  // `spill_dir` empty = /tmp/walreader-spill-<pid> (created on demand).
  explicit ReorderBuffer(size_t memory_limit = kDefaultMemoryLimit, std::string spill_dir = "");
  ~ReorderBuffer();
  ReorderBuffer(const ReorderBuffer&) = delete;
  ReorderBuffer& operator=(const ReorderBuffer&) = delete;

  // Notes a record written by `xid` at `lsn`; `toplevel` is the top-level xid if the record says
  // so (block id 252), else kInvalidXid.
  void ProcessXid(Xid xid, Xid toplevel, Lsn lsn);
  // XLOG_XACT_ASSIGNMENT / commit subxact lists: `subs` belong to `top`.
  void Assign(Xid top, const std::vector<Xid>& subs, Lsn lsn);
  void AddChange(Xid xid, Change change);

  // Speculative insertion (INSERT ... ON CONFLICT): held until CONFIRM or super-delete.
  void SetSpeculative(Xid xid, Change change);
  void ConfirmSpeculative(Xid xid);
  void DropSpeculative(Xid xid);

  // TOAST chunks of `xid`'s transaction, keyed by (toast relation OID, value id).
  Status AddToastChunk(Xid xid, Oid toast_relid, Oid valueid, int32_t seq, const std::string& data);
  void ResetToast(Xid xid);
  ToastLookup* ToastFor(Xid xid);   // nullptr if the transaction has no chunks

  // Ends the transaction whose top-level (or own) xid is `xid`; returns it with the changes of
  // the top-level xact and of `committed_subs` (others were aborted).
  Transaction Commit(Xid xid, const std::vector<Xid>& committed_subs, Lsn commit_lsn, Lsn end_lsn,
                     int64_t commit_time_us);
  // Same, streamed: calls fn(header, change) for each change in order (header = the returned
  // Transaction, without changes); the transaction is gone afterwards. A spill read error stops
  // the stream and makes status() non-OK.
  // A non-owning reference to the caller's callable (std::function would allocate for every
  // commit: the decoder's lambda does not fit its small buffer).
  class ChangeFn {
   public:
    template <typename F>
    ChangeFn(F&& f)   // NOLINT: implicit, like std::function
        : obj_(const_cast<void*>(static_cast<const void*>(&f))),
          call_([](void* o, const Transaction& h, Change&& c) {
            (*static_cast<std::remove_reference_t<F>*>(o))(h, std::move(c));
          }) {}
    void operator()(const Transaction& h, Change&& c) const { call_(obj_, h, std::move(c)); }

   private:
    void* obj_;
    void (*call_)(void*, const Transaction&, Change&&);
  };
  Transaction CommitStream(Xid xid, const std::vector<Xid>& committed_subs, Lsn commit_lsn, Lsn end_lsn,
                    int64_t commit_time_us, const ChangeFn& fn);
  // ABORT of `xid` (top-level: whole transaction; sub-xid: that subtransaction) and `subs`.
  void Abort(Xid xid, const std::vector<Xid>& subs);
  // Drops every open transaction whose top-level xid precedes `oldest_running` (they crashed).
  void AbortOlderThan(Xid oldest_running);

  Lsn OldestFirstLsn() const;   // kInvalidLsn when no transaction is open
  size_t size() const { return txns_.size(); }
  void Clear();
  Xid TopOf(Xid xid) const;

  // Spill state (tests, diagnostics).
  const Status& status() const { return error_; }   // first spill I/O error, sticky until Clear
  size_t memory_used() const { return mem_total_; }  // approximate bytes of in-memory changes
  // Highest memory_used() seen (just before a spill brings it under the limit again).
  size_t peak_memory_used() const { return mem_peak_; }
  size_t spill_files() const;                        // open transactions with a spill file
  uint64_t spill_count() const { return spill_count_; }   // spills performed so far
  const std::string& spill_dir() const { return spill_dir_; }
  std::string SpillPathOf(Xid top) const;            // "" if not spilled

  // A row of an emitted or spilled change, its vector and strings kept for the next decoded row
  // (see TupleContext::recycled); empty if none. At most kRowPoolSize rows are kept.
  Row TakeRow();
  static constexpr size_t kRowPoolSize = 256;
  static constexpr size_t kPooledRowMaxBytes = 4096;   // larger rows are freed, not pooled

  static size_t ApproxSize(const Change& c);
  // The spill record format (exposed for tests): appends/parses one (tag, change) record.
  static void SerializeChange(Xid tag, const Change& c, std::string* out);
  static bool ParseChange(const char* p, size_t n, Xid* tag, Change* c);

 private:
  struct ToastValue {
    int32_t next_seq = 0;
    std::string data;
  };
  struct Txn : public ToastLookup {
    Xid xid = kInvalidXid;
    Lsn first_lsn = kInvalidLsn;
    std::vector<Change> changes;
    std::vector<Xid> tags;                       // (sub)xid of each change
    std::optional<Change> speculative;
    Xid speculative_tag = kInvalidXid;
    std::map<std::pair<Oid, Oid>, ToastValue> toast;
    size_t mem = 0;                              // ApproxSize of `changes`
    std::string spill_path;                      // "" = nothing spilled
    uint64_t spilled = 0;                        // records in the spill file
    size_t batch_hint = 0;                       // size of the last spilled batch
    const std::string* Find(const ToastPointer& ptr) override;
  };
  Txn& GetTxn(Xid top, Lsn lsn);
  Txn* FindTxn(Xid top);                         // nullptr if not open
  void MergeInto(Txn& top, Xid sub);
  void EraseTxn(std::unordered_map<Xid, Txn>::iterator it);
  void MaybeSpill();
  Status Spill(Txn& t);
  // Reads `t`'s spill file, calling fn(tag, Change&&) per record in order; removes the file.
  template <typename Fn> Status ReadBack(Txn& t, Fn&& fn);
  Status Unspill(Txn& t);                        // spilled changes back in front of `changes`
  void RemoveSpill(Txn& t);
  void Fail(Status st) { if (error_.ok()) error_ = std::move(st); }
  // Moves the rows of changes[from, to) into row_pool_ while it has room.
  void RecycleRows(std::vector<Change>& changes, size_t from = 0);

  size_t memory_limit_;
  std::string spill_dir_;
  bool dir_created_ = false;
  uint64_t instance_;
  uint64_t gen_ = 0;
  size_t mem_total_ = 0;
  std::string spill_buf_;                        // serialization buffer, reused
  size_t mem_peak_ = 0;
  uint64_t spill_count_ = 0;
  Status error_;

  std::unordered_map<Xid, Txn> txns_;           // by top-level xid
  Txn* cached_ = nullptr;                        // the last one looked up (see FindTxn)
  std::unordered_map<Xid, Txn>::node_type spare_;   // an emptied node for reuse (see EraseTxn)
  std::unordered_map<Xid, Xid> sub_to_top_;
  std::vector<Row> row_pool_;                    // see TakeRow
};

}  // namespace pgt::internal
