// Reorder buffer (internal): buffers the row changes of every open top-level transaction, in WAL
// order, each tagged with the (sub)xid that made it; at COMMIT the changes of the top-level
// transaction and of its committed subtransactions become one pgt::Transaction; ABORT drops the
// aborted (sub)transaction's changes (ROLLBACK TO SAVEPOINT writes an ABORT for the sub-xid).
// Tracks the first LSN of every transaction seen, with or without tracked changes, so that
// OldestFirstLsn() bounds where decoding must restart. Also keeps each transaction's TOAST
// chunks until the main row that points at them is decoded.
// Memory is not bounded yet (no spill to disk). Not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "walreader/change.h"
#include "tuple.h"

namespace pgt::internal {

class ReorderBuffer {
 public:
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
  // ABORT of `xid` (top-level: whole transaction; sub-xid: that subtransaction) and `subs`.
  void Abort(Xid xid, const std::vector<Xid>& subs);
  // Drops every open transaction whose top-level xid precedes `oldest_running` (they crashed).
  void AbortOlderThan(Xid oldest_running);

  Lsn OldestFirstLsn() const;   // kInvalidLsn when no transaction is open
  size_t size() const { return txns_.size(); }
  void Clear();
  Xid TopOf(Xid xid) const;

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
    const std::string* Find(const ToastPointer& ptr) override;
  };
  Txn& GetTxn(Xid top, Lsn lsn);
  void MergeInto(Txn& top, Xid sub);

  std::unordered_map<Xid, Txn> txns_;           // by top-level xid
  std::unordered_map<Xid, Xid> sub_to_top_;
};

}  // namespace pgt::internal
