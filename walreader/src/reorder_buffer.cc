// Reorder buffer: see reorder_buffer.h.
#include "reorder_buffer.h"

#include <algorithm>
#include <unordered_set>

namespace pgt::internal {

const std::string* ReorderBuffer::Txn::Find(const ToastPointer& ptr) {
  auto it = toast.find({ptr.toastrelid, ptr.valueid});
  return it == toast.end() ? nullptr : &it->second.data;
}

Xid ReorderBuffer::TopOf(Xid xid) const {
  auto it = sub_to_top_.find(xid);
  return it == sub_to_top_.end() ? xid : it->second;
}

ReorderBuffer::Txn& ReorderBuffer::GetTxn(Xid top, Lsn lsn) {
  auto [it, inserted] = txns_.try_emplace(top);
  Txn& t = it->second;
  if (inserted) {
    t.xid = top;
    t.first_lsn = lsn;
  } else if (lsn != kInvalidLsn && (t.first_lsn == kInvalidLsn || lsn < t.first_lsn)) {
    t.first_lsn = lsn;
  }
  return t;
}

void ReorderBuffer::MergeInto(Txn& top, Xid sub) {
  auto it = txns_.find(sub);
  if (it == txns_.end() || sub == top.xid) return;
  Txn& s = it->second;
  if (s.first_lsn != kInvalidLsn && (top.first_lsn == kInvalidLsn || s.first_lsn < top.first_lsn))
    top.first_lsn = s.first_lsn;
  // Both lists are in WAL order: merge by LSN, keeping the tags alongside.
  std::vector<Change> changes;
  std::vector<Xid> tags;
  size_t i = 0, j = 0;
  while (i < top.changes.size() || j < s.changes.size()) {
    bool take_top = j >= s.changes.size() ||
                    (i < top.changes.size() && top.changes[i].lsn <= s.changes[j].lsn);
    if (take_top) { changes.push_back(std::move(top.changes[i])); tags.push_back(top.tags[i]); i++; }
    else { changes.push_back(std::move(s.changes[j])); tags.push_back(s.tags[j]); j++; }
  }
  top.changes = std::move(changes);
  top.tags = std::move(tags);
  for (auto& [k, v] : s.toast) top.toast[k] = std::move(v);
  txns_.erase(it);
}

void ReorderBuffer::Assign(Xid top, const std::vector<Xid>& subs, Lsn lsn) {
  top = TopOf(top);
  Txn& t = GetTxn(top, lsn);
  for (Xid s : subs) {
    if (s == kInvalidXid || s == top) continue;
    sub_to_top_[s] = top;
    MergeInto(t, s);
  }
}

void ReorderBuffer::ProcessXid(Xid xid, Xid toplevel, Lsn lsn) {
  if (xid == kInvalidXid) return;
  if (toplevel != kInvalidXid && toplevel != xid && sub_to_top_.find(xid) == sub_to_top_.end())
    Assign(toplevel, {xid}, lsn);
  GetTxn(TopOf(xid), lsn);
}

void ReorderBuffer::AddChange(Xid xid, Change change) {
  Txn& t = GetTxn(TopOf(xid), change.lsn);
  t.changes.push_back(std::move(change));
  t.tags.push_back(xid);
}

void ReorderBuffer::SetSpeculative(Xid xid, Change change) {
  Txn& t = GetTxn(TopOf(xid), change.lsn);
  t.speculative = std::move(change);
  t.speculative_tag = xid;
}

void ReorderBuffer::ConfirmSpeculative(Xid xid) {
  auto it = txns_.find(TopOf(xid));
  if (it == txns_.end() || !it->second.speculative) return;
  Txn& t = it->second;
  t.changes.push_back(std::move(*t.speculative));
  t.tags.push_back(t.speculative_tag);
  t.speculative.reset();
}

void ReorderBuffer::DropSpeculative(Xid xid) {
  auto it = txns_.find(TopOf(xid));
  if (it != txns_.end()) it->second.speculative.reset();
}

Status ReorderBuffer::AddToastChunk(Xid xid, Oid toast_relid, Oid valueid, int32_t seq,
                                    const std::string& data) {
  Txn& t = GetTxn(TopOf(xid), kInvalidLsn);
  ToastValue& v = t.toast[{toast_relid, valueid}];
  if (seq != v.next_seq)
    return Status::Corruption("TOAST chunk " + std::to_string(seq) + " of value " +
                              std::to_string(valueid) + " out of order (expected " +
                              std::to_string(v.next_seq) + ")");
  v.next_seq++;
  v.data += data;
  return Status::Ok();
}

void ReorderBuffer::ResetToast(Xid xid) {
  auto it = txns_.find(TopOf(xid));
  if (it != txns_.end()) it->second.toast.clear();
}

ToastLookup* ReorderBuffer::ToastFor(Xid xid) {
  auto it = txns_.find(TopOf(xid));
  if (it == txns_.end() || it->second.toast.empty()) return nullptr;
  return &it->second;
}

Transaction ReorderBuffer::Commit(Xid xid, const std::vector<Xid>& committed_subs, Lsn commit_lsn,
                                  Lsn end_lsn, int64_t commit_time_us) {
  Xid top = TopOf(xid);
  Assign(top, committed_subs, commit_lsn);
  Transaction out;
  out.xid = top;
  out.commit_lsn = commit_lsn;
  out.end_lsn = end_lsn;
  out.commit_time_us = commit_time_us;
  auto it = txns_.find(top);
  if (it != txns_.end()) {
    Txn& t = it->second;
    out.first_lsn = t.first_lsn;
    std::unordered_set<Xid> live(committed_subs.begin(), committed_subs.end());
    live.insert(top);
    for (size_t i = 0; i < t.changes.size(); i++)
      if (live.count(t.tags[i])) out.changes.push_back(std::move(t.changes[i]));
    txns_.erase(it);
  } else {
    out.first_lsn = commit_lsn;
  }
  for (auto m = sub_to_top_.begin(); m != sub_to_top_.end();)
    m = (m->second == top) ? sub_to_top_.erase(m) : std::next(m);
  return out;
}

void ReorderBuffer::Abort(Xid xid, const std::vector<Xid>& subs) {
  Xid top = TopOf(xid);
  if (top != xid) {   // subtransaction abort (ROLLBACK TO SAVEPOINT)
    std::unordered_set<Xid> dead(subs.begin(), subs.end());
    dead.insert(xid);
    auto it = txns_.find(top);
    if (it != txns_.end()) {
      Txn& t = it->second;
      std::vector<Change> keep;
      std::vector<Xid> tags;
      for (size_t i = 0; i < t.changes.size(); i++) {
        if (dead.count(t.tags[i])) continue;
        keep.push_back(std::move(t.changes[i]));
        tags.push_back(t.tags[i]);
      }
      t.changes = std::move(keep);
      t.tags = std::move(tags);
      if (t.speculative && dead.count(t.speculative_tag)) t.speculative.reset();
    }
    for (Xid d : dead) sub_to_top_.erase(d);
    for (Xid d : dead) txns_.erase(d);   // in case one was seen before its assignment
    return;
  }
  txns_.erase(top);
  for (Xid s : subs) txns_.erase(s);
  for (auto m = sub_to_top_.begin(); m != sub_to_top_.end();)
    m = (m->second == top) ? sub_to_top_.erase(m) : std::next(m);
}

void ReorderBuffer::AbortOlderThan(Xid oldest_running) {
  std::vector<Xid> dead;
  for (const auto& [xid, t] : txns_)
    if (XidPrecedes(xid, oldest_running)) dead.push_back(xid);
  for (Xid x : dead) Abort(x, {});
}

Lsn ReorderBuffer::OldestFirstLsn() const {
  Lsn m = kInvalidLsn;
  for (const auto& [xid, t] : txns_)
    if (t.first_lsn != kInvalidLsn && (m == kInvalidLsn || t.first_lsn < m)) m = t.first_lsn;
  return m;
}

void ReorderBuffer::Clear() {
  txns_.clear();
  sub_to_top_.clear();
}

}  // namespace pgt::internal

