// See xact_parse.h. Layouts (PG15-18): xl_xact_commit {i64 xact_time}; if XLOG_XACT_HAS_INFO
// {u32 xinfo}; then, each if flagged and in this order: dbinfo, subxacts, relfilenodes, dropped
// stats, invals (commit only, 16-byte messages), twophase xid (+ GID), origin. The only change
// across 15-18 is the dropped-stats item: {int kind; Oid dboid; Oid objoid} (12 bytes) up to 17,
// {int kind; Oid dboid; uint32 objid_lo; uint32 objid_hi} (16 bytes) in 18, where the stats
// object id became 64-bit.
#include "xact_parse.h"

#include <cstring>

#include "bytes.h"

namespace pgt::internal {

namespace {
constexpr uint32_t kHasDbInfo = 1u << 0, kHasSubxacts = 1u << 1, kHasRelfilenodes = 1u << 2,
                   kHasInvals = 1u << 3, kHasTwophase = 1u << 4, kHasOrigin = 1u << 5,
                   kHasGid = 1u << 7, kHasDroppedStats = 1u << 8;
constexpr size_t kInvalMessageSize = 16;

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t len) : p_(p), len_(len) {}
  bool Has(size_t n) const { return off_ + n <= len_; }
  uint32_t U32At() { uint32_t v = U32(p_ + off_); off_ += 4; return v; }
  int32_t I32At() { return static_cast<int32_t>(U32At()); }
  uint64_t U64At() { uint64_t v = U64(p_ + off_); off_ += 8; return v; }
  const uint8_t* Here() const { return p_ + off_; }
  void Skip(size_t n) { off_ += n; }
  size_t Left() const { return len_ - off_; }

 private:
  const uint8_t* p_;
  size_t len_;
  size_t off_ = 0;
};

Status Truncated(const char* what) {
  return Status::Corruption(std::string("truncated ") + what + " in transaction record");
}

// Reads an int count followed by `count` items of `item` bytes; checks bounds.
Result<int> Counted(Cursor& c, size_t item, const char* what) {
  if (!c.Has(4)) return Truncated(what);
  int n = c.I32At();
  if (n < 0 || !c.Has(static_cast<size_t>(n) * item)) return Truncated(what);
  return n;
}
}  // namespace

size_t XactStatsItemSize(int pg_major) { return pg_major >= 18 ? 16 : 12; }

Result<ParsedXactEnd> ParseXactEnd(const uint8_t* p, size_t len, uint8_t info, bool is_commit,
                                   int pg_major) {
  ParsedXactEnd r;
  Cursor c(p, len);
  if (!c.Has(8)) return Truncated("xact_time");
  r.xact_time = static_cast<int64_t>(c.U64At());
  if (info & kXactHasInfo) {
    if (!c.Has(4)) return Truncated("xinfo");
    r.xinfo = c.U32At();
  }
  if (r.xinfo & kHasDbInfo) {
    if (!c.Has(8)) return Truncated("dbinfo");
    r.db_id = c.U32At();
    r.ts_id = c.U32At();
  }
  if (r.xinfo & kHasSubxacts) {
    PGT_ASSIGN_OR_RETURN(int n, Counted(c, 4, "subxacts"));
    for (int i = 0; i < n; i++) r.subxacts.push_back(c.U32At());
  }
  if (r.xinfo & kHasRelfilenodes) {
    PGT_ASSIGN_OR_RETURN(int n, Counted(c, 12, "relfilenodes"));
    for (int i = 0; i < n; i++) {
      RelFileLocator l;
      l.spc_oid = c.U32At();
      l.db_oid = c.U32At();
      l.rel_number = c.U32At();
      r.dropped_rels.push_back(l);
    }
  }
  if (r.xinfo & kHasDroppedStats) {
    const size_t item = XactStatsItemSize(pg_major);
    PGT_ASSIGN_OR_RETURN(int n, Counted(c, item, "dropped stats"));
    r.ndropped_stats = n;
    c.Skip(n * item);
  }
  if (is_commit && (r.xinfo & kHasInvals)) {
    PGT_ASSIGN_OR_RETURN(int n, Counted(c, kInvalMessageSize, "invalidations"));
    r.ninvals = n;
    for (int i = 0; i < n; i++) {   // {int8 id; Oid dbId; Oid relId} for SHAREDINVALRELCACHE_ID
      const uint8_t* m = c.Here() + i * kInvalMessageSize;
      if (static_cast<int8_t>(m[0]) == -2) r.relcache_invals.emplace_back(U32(m + 4), U32(m + 8));
    }
    c.Skip(n * kInvalMessageSize);
  }
  if (r.xinfo & kHasTwophase) {
    if (!c.Has(4)) return Truncated("twophase xid");
    r.twophase_xid = c.U32At();
    if (r.xinfo & kHasGid) {
      const void* nul = std::memchr(c.Here(), 0, c.Left());
      if (nul == nullptr) return Truncated("gid");
      size_t n = static_cast<const uint8_t*>(nul) - c.Here();
      r.gid.assign(reinterpret_cast<const char*>(c.Here()), n);
      c.Skip(n + 1);
    }
  }
  if (r.xinfo & kHasOrigin) {
    if (!c.Has(16)) return Truncated("origin");
    r.has_origin = true;
    r.origin_lsn = c.U64At();
    r.origin_time = static_cast<int64_t>(c.U64At());
  }
  return r;
}

Result<ParsedAssignment> ParseAssignment(const uint8_t* p, size_t len) {
  ParsedAssignment a;
  Cursor c(p, len);
  if (!c.Has(4)) return Truncated("assignment");
  a.top = c.U32At();
  PGT_ASSIGN_OR_RETURN(int n, Counted(c, 4, "assignment"));
  for (int i = 0; i < n; i++) a.subxacts.push_back(c.U32At());
  return a;
}

Result<ParsedRunningXacts> ParseRunningXacts(const uint8_t* p, size_t len) {
  ParsedRunningXacts r;
  if (len < 24) return Status::Corruption("truncated xl_running_xacts");
  r.xcnt = static_cast<int32_t>(U32(p));
  r.subxcnt = static_cast<int32_t>(U32(p + 4));
  r.subxid_overflow = p[8] != 0;
  r.next_xid = U32(p + 12);
  r.oldest_running_xid = U32(p + 16);
  r.latest_completed_xid = U32(p + 20);
  if (r.xcnt < 0 || r.subxcnt < 0 ||
      24 + 4 * (static_cast<size_t>(r.xcnt) + static_cast<size_t>(r.subxcnt)) > len)
    return Status::Corruption("truncated xl_running_xacts xids");
  for (int i = 0; i < r.xcnt + r.subxcnt; i++) r.xids.push_back(U32(p + 24 + 4 * i));
  return r;
}

}  // namespace pgt::internal
