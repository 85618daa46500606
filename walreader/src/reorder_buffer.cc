// Reorder buffer: see reorder_buffer.h.
#include "reorder_buffer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_set>

namespace pgt::internal {

// --- spill format ------------------------------------------------------------------------------
// A spill file is a sequence of records: u32 payload length, then the payload (little-endian
// host order; the file never outlives the process that wrote it):
//   u32 tag (sub)xid, u8 kind, u32 relid, u64 lsn,
//   u8 flags (1 old_row, 2 old_is_key_only, 4 new_row, 8 truncate_cascade, 16 restart_seqs),
//   [row old], [row new], u32 n + n x u32 truncated
//   row   = u32 ncols + ncols x value
//   value = u8 type, u8 flags (1 is_null, 2 unchanged_toast, 4 has i, 8 has f, 16 has s),
//           [i64 i], [f64 f (bit pattern)], [u32 len + len bytes s] -- only the fields that are
//           not zero/empty (a value uses one of them), so an int costs 10 bytes, not 26
namespace {

struct Cursor {
  const char* p;
  size_t n;
  template <typename T> bool Get(T* v) {
    if (n < sizeof(T)) return false;
    std::memcpy(v, p, sizeof(T));
    p += sizeof(T);
    n -= sizeof(T);
    return true;
  }
};

// Serialization writes through a pointer into a region sized beforehand (appending field by
// field to the string cost more than the rest of spilling).
struct Writer {
  char* p;
  template <typename T> void Put(T v) {
    std::memcpy(p, &v, sizeof(T));
    p += sizeof(T);
  }
};

uint8_t ValueFlags(const Value& v, uint64_t* fbits) {
  std::memcpy(fbits, &v.f, 8);
  return static_cast<uint8_t>((v.is_null ? 1 : 0) | (v.unchanged_toast ? 2 : 0) |
                              (v.i != 0 ? 4 : 0) | (*fbits != 0 ? 8 : 0) | (!v.s.empty() ? 16 : 0));
}

size_t RowBytes(const Row& r) {
  size_t n = 4;
  for (const Value& v : r) {
    uint64_t fbits;
    uint8_t flags = ValueFlags(v, &fbits);
    n += 2 + ((flags & 4) ? 8 : 0) + ((flags & 8) ? 8 : 0) + ((flags & 16) ? 4 + v.s.size() : 0);
  }
  return n;
}

void PutRow(Writer* w, const Row& r) {
  w->Put<uint32_t>(static_cast<uint32_t>(r.size()));
  for (const Value& v : r) {
    uint64_t fbits;
    uint8_t flags = ValueFlags(v, &fbits);
    w->Put<uint8_t>(static_cast<uint8_t>(v.type));
    w->Put<uint8_t>(flags);
    if (flags & 4) w->Put<int64_t>(v.i);
    if (flags & 8) w->Put<uint64_t>(fbits);
    if (flags & 16) {
      w->Put<uint32_t>(static_cast<uint32_t>(v.s.size()));
      std::memcpy(w->p, v.s.data(), v.s.size());
      w->p += v.s.size();
    }
  }
}

bool GetRow(Cursor* c, Row* r) {
  uint32_t n;
  if (!c->Get(&n) || n > c->n) return false;   // every value takes more than one byte
  r->resize(n);
  for (Value& v : *r) {
    uint8_t type, flags;
    if (!c->Get(&type) || !c->Get(&flags) || (flags & ~31u) != 0) return false;
    v.type = static_cast<TypeId>(type);
    v.is_null = flags & 1;
    v.unchanged_toast = flags & 2;
    // `r` may be a reused row (see ReadBack): absent fields are zero/empty, as written.
    v.i = 0;
    v.f = 0;
    if ((flags & 4) && !c->Get(&v.i)) return false;
    if ((flags & 8) && !c->Get(&v.f)) return false;
    if (!(flags & 16)) {
      v.s.clear();
    } else {
      uint32_t len;
      if (!c->Get(&len) || len > c->n) return false;
      v.s.assign(c->p, len);
      c->p += len;
      c->n -= len;
    }
  }
  return true;
}

size_t RowSize(const Row& r) {
  size_t n = r.capacity() * sizeof(Value);
  for (const Value& v : r)
    if (v.s.capacity() > 15) n += v.s.capacity() + 1;
  return n;
}

std::atomic<uint64_t> g_instances{0};

}  // namespace

size_t ReorderBuffer::ApproxSize(const Change& c) {
  size_t n = sizeof(Change) + sizeof(Xid) + c.truncated.capacity() * sizeof(Oid);
  if (c.old_row) n += RowSize(*c.old_row);
  if (c.new_row) n += RowSize(*c.new_row);
  return n;
}

namespace {
// Payload bytes of one spill record (after its u32 length).
size_t PayloadSize(const Change& c) {
  return 4 + 1 + 4 + 8 + 1 + (c.old_row ? RowBytes(*c.old_row) : 0) +
         (c.new_row ? RowBytes(*c.new_row) : 0) + 4 + 4 * c.truncated.size();
}

// Writes the record (length, payload of `len` = PayloadSize(c) bytes) at p; returns its end.
char* WriteChange(char* p, Xid tag, const Change& c, size_t len) {
  Writer w{p};
  w.Put<uint32_t>(static_cast<uint32_t>(len));
  w.Put<uint32_t>(tag);
  w.Put<uint8_t>(static_cast<uint8_t>(c.kind));
  w.Put<uint32_t>(c.relid);
  w.Put<uint64_t>(c.lsn);
  w.Put<uint8_t>((c.old_row ? 1 : 0) | (c.old_is_key_only ? 2 : 0) | (c.new_row ? 4 : 0) |
                 (c.truncate_cascade ? 8 : 0) | (c.truncate_restart_seqs ? 16 : 0));
  if (c.old_row) PutRow(&w, *c.old_row);
  if (c.new_row) PutRow(&w, *c.new_row);
  w.Put<uint32_t>(static_cast<uint32_t>(c.truncated.size()));
  for (Oid o : c.truncated) w.Put<uint32_t>(o);
  return w.p;
}
}  // namespace

void ReorderBuffer::SerializeChange(Xid tag, const Change& c, std::string* out) {
  size_t len = PayloadSize(c);
  size_t at = out->size();
  out->resize(at + 4 + len);
  WriteChange(out->data() + at, tag, c, len);
}

bool ReorderBuffer::ParseChange(const char* p, size_t n, Xid* tag, Change* c) {
  Cursor cur{p, n};
  uint8_t kind, flags;
  uint32_t ntrunc;
  if (!cur.Get(tag) || !cur.Get(&kind) || !cur.Get(&c->relid) || !cur.Get(&c->lsn) ||
      !cur.Get(&flags))
    return false;
  c->kind = static_cast<ChangeKind>(kind);
  c->old_is_key_only = flags & 2;
  c->truncate_cascade = flags & 8;
  c->truncate_restart_seqs = flags & 16;
  // Rows already present in `c` are refilled: their vectors and strings keep their allocations.
  auto row = [&](std::optional<Row>* r, bool present) {
    if (!present) { r->reset(); return true; }
    if (!r->has_value()) r->emplace();
    return GetRow(&cur, &**r);
  };
  if (!row(&c->old_row, flags & 1) || !row(&c->new_row, flags & 4)) return false;
  if (!cur.Get(&ntrunc) || ntrunc > cur.n / sizeof(Oid)) return false;
  c->truncated.resize(ntrunc);
  for (Oid& o : c->truncated) cur.Get(&o);
  return cur.n == 0;
}

// --- buffer ------------------------------------------------------------------------------------

ReorderBuffer::ReorderBuffer(size_t memory_limit, std::string spill_dir)
    : memory_limit_(memory_limit), spill_dir_(std::move(spill_dir)), instance_(g_instances++) {
  if (spill_dir_.empty()) spill_dir_ = "/tmp/walreader-spill-" + std::to_string(::getpid());
}

ReorderBuffer::~ReorderBuffer() { Clear(); }

size_t ReorderBuffer::spill_files() const {
  size_t n = 0;
  for (const auto& [xid, t] : txns_) n += !t.spill_path.empty();
  return n;
}

std::string ReorderBuffer::SpillPathOf(Xid top) const {
  auto it = txns_.find(top);
  return it == txns_.end() ? std::string() : it->second.spill_path;
}

void ReorderBuffer::RemoveSpill(Txn& t) {
  if (t.spill_path.empty()) return;
  std::remove(t.spill_path.c_str());
  t.spill_path.clear();
  t.spilled = 0;
}

void ReorderBuffer::EraseTxn(std::unordered_map<Xid, Txn>::iterator it) {
  if (cached_ == &it->second) cached_ = nullptr;
  mem_total_ -= it->second.mem;
  RemoveSpill(it->second);
  // Most transactions are small and short: keep one emptied node (with its vectors' capacity)
  // for the next transaction instead of freeing and allocating it again.
  auto node = txns_.extract(it);
  Txn& t = node.mapped();
  if (spare_.empty() && t.changes.capacity() <= 256) {
    RecycleRows(t.changes);
    t.changes.clear();
    t.tags.clear();
    t.speculative.reset();
    t.speculative_tag = kInvalidXid;
    t.toast.clear();
    t.mem = 0;
    t.spill_path.clear();
    t.spilled = 0;
    t.batch_hint = 0;
    t.xid = kInvalidXid;
    t.first_lsn = kInvalidLsn;
    spare_ = std::move(node);
  }
}

Status ReorderBuffer::Spill(Txn& t) {
  if (t.spill_path.empty()) {
    // Every new file: another decoder of this process may have removed the (empty) directory.
    std::error_code ec;
    if (std::filesystem::create_directories(spill_dir_, ec)) dir_created_ = true;
    if (ec) return Status::IOError("cannot create spill directory " + spill_dir_ + ": " + ec.message());
    t.spill_path = spill_dir_ + "/" + std::to_string(::getpid()) + "-" + std::to_string(instance_) +
                   "-" + std::to_string(t.xid) + "-" + std::to_string(gen_++) + ".spill";
  }
  std::FILE* f = std::fopen(t.spill_path.c_str(), t.spilled == 0 ? "wb" : "ab");
  if (!f && errno == ENOENT && t.spilled == 0) {   // directory removed meanwhile
    std::error_code ec;
    std::filesystem::create_directories(spill_dir_, ec);
    f = std::fopen(t.spill_path.c_str(), "wb");
  }
  if (!f) return Status::IOError("cannot open spill file " + t.spill_path + ": " + std::strerror(errno));
  // Serialized in chunks of about 1 MB through a reused buffer: serializing the whole batch
  // first would need as much memory again as the changes being spilled.
  // The buffer keeps its size between chunks and records are written at an offset into it
  // (resizing the string per record zero-filled every byte once more).
  bool ok = true;
  int err = 0;
  if (spill_buf_.size() < (size_t{1} << 20)) spill_buf_.resize(size_t{1} << 20);
  size_t used = 0;
  auto flush = [&]() {
    if (used == 0 || !ok) return;
    ok = std::fwrite(spill_buf_.data(), 1, used, f) == used;
    if (!ok) err = errno;
    used = 0;
  };
  for (size_t i = 0; i < t.changes.size() && ok; i++) {
    const size_t len = PayloadSize(t.changes[i]);
    if (used + 4 + len > spill_buf_.size()) {
      flush();
      if (4 + len > spill_buf_.size()) spill_buf_.resize(4 + len);
    }
    used = static_cast<size_t>(WriteChange(spill_buf_.data() + used, t.tags[i], t.changes[i], len) -
                               spill_buf_.data());
  }
  flush();
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) return Status::IOError("cannot write spill file " + t.spill_path + ": " + std::strerror(err));
  t.spilled += t.changes.size();
  t.batch_hint = t.changes.size();
  // The vectors keep their capacity: a transaction that spilled is likely to fill another batch
  // of the same size, and freeing and growing them again cost page faults and copies.
  RecycleRows(t.changes);
  t.changes.clear();
  t.tags.clear();
  mem_total_ -= t.mem;
  t.mem = 0;
  spill_count_++;
  return Status::Ok();
}

Row ReorderBuffer::TakeRow() {
  if (row_pool_.empty()) return Row();
  Row r = std::move(row_pool_.back());
  row_pool_.pop_back();
  return r;
}

void ReorderBuffer::RecycleRows(std::vector<Change>& changes, size_t from) {
  // Only small rows: a pooled row keeps its string buffers, and rows holding large (detoasted)
  // values would make the pool hold up to kRowPoolSize of them.
  auto keep = [&](std::optional<Row>& r) {
    if (r && r->capacity() > 0 && row_pool_.size() < kRowPoolSize &&
        RowSize(*r) <= kPooledRowMaxBytes)
      row_pool_.push_back(std::move(*r));
  };
  for (size_t i = from; i < changes.size() && row_pool_.size() < kRowPoolSize; i++) {
    keep(changes[i].new_row);
    keep(changes[i].old_row);
  }
}

void ReorderBuffer::MaybeSpill() {
  while (mem_total_ > memory_limit_ && error_.ok()) {
    Txn* largest = nullptr;
    for (auto& [xid, t] : txns_)
      if (t.mem > 0 && (!largest || t.mem > largest->mem)) largest = &t;
    if (!largest) return;
    Status st = Spill(*largest);
    if (!st.ok()) Fail(st);
  }
}

template <typename Fn>
Status ReorderBuffer::ReadBack(Txn& t, Fn&& fn) {
  if (t.spill_path.empty()) return Status::Ok();
  std::FILE* f = std::fopen(t.spill_path.c_str(), "rb");
  if (!f) return Status::IOError("cannot open spill file " + t.spill_path + ": " + std::strerror(errno));
  // Read in chunks of 1 MB (two freads per record cost more than parsing it); `buf` holds the
  // unparsed bytes [pos, have).
  std::string buf(size_t{1} << 20, '\0');
  size_t pos = 0, have = 0;
  auto fill = [&](size_t need) {
    if (have - pos >= need) return true;
    std::memmove(buf.data(), buf.data() + pos, have - pos);
    have -= pos;
    pos = 0;
    if (buf.size() < need) buf.resize(need);
    while (have < need) {
      size_t n = std::fread(buf.data() + have, 1, buf.size() - have, f);
      if (n == 0) return false;
      have += n;
    }
    return true;
  };
  Status st;
  Change c;   // refilled for every record: a callback that does not keep it saves the allocations
  for (uint64_t k = 0; k < t.spilled; k++) {
    uint32_t len;
    if (!fill(sizeof(len))) {
      st = Status::IOError("spill file " + t.spill_path + " is short");
      break;
    }
    std::memcpy(&len, buf.data() + pos, sizeof(len));
    if (!fill(sizeof(len) + len)) {
      st = Status::IOError("spill file " + t.spill_path + " is short");
      break;
    }
    Xid tag;
    if (!ParseChange(buf.data() + pos + sizeof(len), len, &tag, &c)) {
      st = Status::Corruption("spill file " + t.spill_path + ": bad record " + std::to_string(k));
      break;
    }
    pos += sizeof(len) + len;
    fn(tag, std::move(c));
  }
  std::fclose(f);
  RemoveSpill(t);
  return st;
}

Status ReorderBuffer::Unspill(Txn& t) {
  if (t.spill_path.empty()) return Status::Ok();
  std::vector<Change> changes;
  std::vector<Xid> tags;
  size_t mem = 0;
  Status st = ReadBack(t, [&](Xid tag, Change&& c) {
    mem += ApproxSize(c);
    changes.push_back(std::move(c));
    tags.push_back(tag);
  });
  for (size_t i = 0; i < t.changes.size(); i++) {
    changes.push_back(std::move(t.changes[i]));
    tags.push_back(t.tags[i]);
  }
  t.changes = std::move(changes);
  t.tags = std::move(tags);
  t.mem += mem;
  mem_total_ += mem;
  return st;
}

const std::string* ReorderBuffer::Txn::Find(const ToastPointer& ptr) {
  auto it = toast.find({ptr.toastrelid, ptr.valueid});
  return it == toast.end() ? nullptr : &it->second.data;
}

Xid ReorderBuffer::TopOf(Xid xid) const {
  auto it = sub_to_top_.find(xid);
  return it == sub_to_top_.end() ? xid : it->second;
}

// Every heap record looks its transaction up several times (ProcessXid, AddChange, ToastFor,
// ResetToast): remember the last one (unordered_map nodes do not move; EraseTxn/Clear forget it).
ReorderBuffer::Txn* ReorderBuffer::FindTxn(Xid top) {
  if (cached_ != nullptr && cached_->xid == top) return cached_;
  auto it = txns_.find(top);
  if (it == txns_.end()) return nullptr;
  cached_ = &it->second;
  return cached_;
}

ReorderBuffer::Txn& ReorderBuffer::GetTxn(Xid top, Lsn lsn) {
  if (cached_ != nullptr && cached_->xid == top) {
    Txn& t = *cached_;
    if (lsn != kInvalidLsn && (t.first_lsn == kInvalidLsn || lsn < t.first_lsn)) t.first_lsn = lsn;
    return t;
  }
  auto it = txns_.find(top);
  bool inserted = it == txns_.end();
  if (inserted && !spare_.empty()) {   // an emptied node of a finished transaction
    spare_.key() = top;
    it = txns_.insert(std::move(spare_)).position;
  } else if (inserted) {
    it = txns_.try_emplace(top).first;
  }
  Txn& t = it->second;
  cached_ = &t;
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
  // Rare (a subxact seen before its assignment): merge in memory; spilled again when needed.
  if (Status st = Unspill(top); !st.ok()) Fail(st);
  if (Status st = Unspill(s); !st.ok()) Fail(st);
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
  top.mem += s.mem;   // moves between transactions: the total is unchanged
  s.mem = 0;
  EraseTxn(it);
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
  if (t.changes.empty() && t.batch_hint > 0) {
    // A transaction that spilled is likely to fill another batch of the same size: one
    // allocation (virtual until used) instead of regrowing the vectors from empty.
    t.changes.reserve(t.batch_hint);
    t.tags.reserve(t.batch_hint);
  }
  size_t sz = ApproxSize(change);
  t.changes.push_back(std::move(change));
  t.tags.push_back(xid);
  t.mem += sz;
  mem_total_ += sz;
  mem_peak_ = std::max(mem_peak_, mem_total_);
  MaybeSpill();
}

void ReorderBuffer::SetSpeculative(Xid xid, Change change) {
  Txn& t = GetTxn(TopOf(xid), change.lsn);
  t.speculative = std::move(change);
  t.speculative_tag = xid;
}

void ReorderBuffer::ConfirmSpeculative(Xid xid) {
  Txn* tp = FindTxn(TopOf(xid));
  if (tp == nullptr || !tp->speculative) return;
  Txn& t = *tp;
  size_t sz = ApproxSize(*t.speculative);
  t.changes.push_back(std::move(*t.speculative));
  t.tags.push_back(t.speculative_tag);
  t.speculative.reset();
  t.mem += sz;
  mem_total_ += sz;
  mem_peak_ = std::max(mem_peak_, mem_total_);
  MaybeSpill();
}

void ReorderBuffer::DropSpeculative(Xid xid) {
  if (Txn* t = FindTxn(TopOf(xid))) t->speculative.reset();
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
  if (Txn* t = FindTxn(TopOf(xid)); t != nullptr && !t->toast.empty()) t->toast.clear();
}

ToastLookup* ReorderBuffer::ToastFor(Xid xid) {
  Txn* t = FindTxn(TopOf(xid));
  if (t == nullptr || t->toast.empty()) return nullptr;
  return t;
}

Transaction ReorderBuffer::Commit(Xid xid, const std::vector<Xid>& committed_subs, Lsn commit_lsn,
                                  Lsn end_lsn, int64_t commit_time_us) {
  std::vector<Change> changes;
  Transaction out = CommitStream(xid, committed_subs, commit_lsn, end_lsn, commit_time_us,
                                 [&](const Transaction&, Change&& c) { changes.push_back(std::move(c)); });
  out.changes = std::move(changes);
  return out;
}

Transaction ReorderBuffer::CommitStream(Xid xid, const std::vector<Xid>& committed_subs,
                                        Lsn commit_lsn, Lsn end_lsn, int64_t commit_time_us,
                                        const ChangeFn& fn) {
  Xid top = TopOf(xid);
  Assign(top, committed_subs, commit_lsn);
  Transaction header;
  header.xid = top;
  header.commit_lsn = commit_lsn;
  header.end_lsn = end_lsn;
  header.commit_time_us = commit_time_us;
  header.first_lsn = commit_lsn;
  auto it = txns_.find(top);
  if (it != txns_.end()) {
    Txn& t = it->second;
    header.first_lsn = t.first_lsn;
    // The committed (sub)xids: usually the top-level xid alone, so look at the short list
    // instead of hashing.
    auto live = [&](Xid tag) {
      if (tag == top) return true;
      for (Xid s : committed_subs)
        if (s == tag) return true;
      return false;
    };
    // Spilled changes first (they precede the in-memory ones), filtered by the same rule.
    Status st = ReadBack(t, [&](Xid tag, Change&& c) {
      if (live(tag)) fn(header, std::move(c));
    });
    if (!st.ok()) Fail(st);
    for (size_t i = 0; i < t.changes.size() && st.ok(); i++)
      if (live(t.tags[i])) fn(header, std::move(t.changes[i]));
    EraseTxn(it);
  }
  for (auto m = sub_to_top_.begin(); m != sub_to_top_.end();)
    m = (m->second == top) ? sub_to_top_.erase(m) : std::next(m);
  return header;
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
      // Spilled changes of the dead subxacts stay in the file: Commit keeps only the tags of
      // the committed subxacts listed in the commit record, which never lists aborted ones.
      size_t mem = 0;
      for (const Change& c : t.changes) mem += ApproxSize(c);
      mem_total_ = mem_total_ - t.mem + mem;
      t.mem = mem;
      if (t.speculative && dead.count(t.speculative_tag)) t.speculative.reset();
    }
    for (Xid d : dead) sub_to_top_.erase(d);
    for (Xid d : dead)   // in case one was seen before its assignment
      if (auto e = txns_.find(d); e != txns_.end()) EraseTxn(e);
    return;
  }
  if (auto e = txns_.find(top); e != txns_.end()) EraseTxn(e);
  for (Xid s : subs)
    if (auto e = txns_.find(s); e != txns_.end()) EraseTxn(e);
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
  for (auto& [xid, t] : txns_) RemoveSpill(t);
  txns_.clear();
  spare_ = {};
  cached_ = nullptr;
  sub_to_top_.clear();
  mem_total_ = 0;
  error_ = Status::Ok();
  if (dir_created_) {   // only if now empty (other decoders of this process may share it)
    std::error_code ec;
    std::filesystem::remove(spill_dir_, ec);
    dir_created_ = false;
  }
}

}  // namespace pgt::internal

