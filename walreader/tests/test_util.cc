#include "test_util.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "bytes.h"
#include "crc32c.h"

namespace pgt::test {

using internal::kXLogBlcksz;

Status MemorySource::Start(Lsn start, TimeLineId) {
  if (start < base_) return Status::NotFound("before fixture start");
  pos_ = start;
  starts_++;
  return Status::Ok();
}

Status MemorySource::Read(std::vector<uint8_t>* out, std::chrono::milliseconds) {
  size_t avail = limit_ ? std::min(limit_, bytes_.size()) : bytes_.size();
  size_t off = pos_ - base_;
  if (off >= avail) return Status::Ok();
  size_t n = std::min(chunk_, avail - off);
  out->insert(out->end(), bytes_.begin() + off, bytes_.begin() + off + n);
  pos_ += n;
  return Status::Ok();
}

void PutU16(std::vector<uint8_t>* v, uint16_t x) { v->insert(v->end(), {uint8_t(x), uint8_t(x >> 8)}); }
void PutU32(std::vector<uint8_t>* v, uint32_t x) { for (int i = 0; i < 4; i++) v->push_back(uint8_t(x >> (8 * i))); }
void PutU64(std::vector<uint8_t>* v, uint64_t x) { for (int i = 0; i < 8; i++) v->push_back(uint8_t(x >> (8 * i))); }

WalBuilder::WalBuilder(Lsn start, uint64_t seg_size, uint32_t tli, uint16_t magic)
    : start_(start), pos_(start), seg_size_(seg_size), tli_(tli), magic_(magic) {}

void WalBuilder::Put(const uint8_t* p, size_t n) {
  bytes.insert(bytes.end(), p, p + n);
  pos_ += n;
}

void WalBuilder::PageHeader(uint32_t rem) {
  std::vector<uint8_t> h;
  bool lng = pos_ % seg_size_ == 0;
  uint16_t info = (rem ? 0x1 : 0) | (lng ? 0x2 : 0);
  PutU16(&h, magic_);
  PutU16(&h, info);
  PutU32(&h, tli_);
  PutU64(&h, pos_);
  PutU32(&h, rem);
  PutU32(&h, 0);
  if (lng) {
    PutU64(&h, 7000000000000000001ull);
    PutU32(&h, static_cast<uint32_t>(seg_size_));
    PutU32(&h, kXLogBlcksz);
  }
  Put(h.data(), h.size());
}

Lsn WalBuilder::Add(uint8_t rmid, uint8_t info, uint32_t xid, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> rec;
  PutU32(&rec, static_cast<uint32_t>(24 + body.size()));
  PutU32(&rec, xid);
  PutU64(&rec, last_start_);
  rec.push_back(info);
  rec.push_back(rmid);
  PutU16(&rec, 0);
  PutU32(&rec, 0);
  rec.insert(rec.end(), body.begin(), body.end());
  uint32_t crc = internal::Crc32cExtend(internal::kCrc32cInit, rec.data() + 24, rec.size() - 24);
  crc = internal::Crc32cFinish(internal::Crc32cExtend(crc, rec.data(), 20));
  std::memcpy(rec.data() + 20, &crc, 4);
  static const uint8_t zeros[8] = {};
  if (pos_ % 8) Put(zeros, 8 - pos_ % 8);
  if (pos_ % kXLogBlcksz == 0) PageHeader(0);
  Lsn start = pos_;
  size_t written = 0;
  while (written < rec.size()) {
    if (pos_ % kXLogBlcksz == 0) PageHeader(static_cast<uint32_t>(rec.size() - written));
    size_t room = kXLogBlcksz - pos_ % kXLogBlcksz;
    size_t n = std::min(room, rec.size() - written);
    Put(rec.data() + written, n);
    written += n;
  }
  last_start_ = start;
  last_end_ = pos_;
  return start;
}

Lsn WalBuilder::AddSwitch() {
  Lsn s = Add(0, 0x40, 0, {});
  uint64_t next = (pos_ + seg_size_ - 1) / seg_size_ * seg_size_;
  // The rest of the segment: zero pages with valid headers, as the server leaves them.
  std::vector<uint8_t> z(kXLogBlcksz - pos_ % kXLogBlcksz, 0);
  if (pos_ % kXLogBlcksz) Put(z.data(), z.size());
  std::vector<uint8_t> page(kXLogBlcksz - 24, 0);
  while (pos_ < next) {
    PageHeader(0);
    Put(page.data(), page.size());
  }
  return s;
}

std::vector<uint8_t> WalBuilder::PaddedBytes() const {
  std::vector<uint8_t> b = bytes;
  while ((start_ + b.size()) % kXLogBlcksz) b.push_back(0);
  return b;
}

std::vector<uint8_t> MainDataOnly(const std::vector<uint8_t>& main) {
  std::vector<uint8_t> b;
  if (main.size() < 256) { b.push_back(255); b.push_back(uint8_t(main.size())); }
  else { b.push_back(254); PutU32(&b, static_cast<uint32_t>(main.size())); }
  b.insert(b.end(), main.begin(), main.end());
  return b;
}

std::vector<uint8_t> Block0AndMain(const RelFileLocator& loc, const std::vector<uint8_t>& data,
                                   const std::vector<uint8_t>& main, uint32_t toplevel_xid) {
  std::vector<uint8_t> b;
  b.push_back(0);
  b.push_back(0x20);
  PutU16(&b, static_cast<uint16_t>(data.size()));
  PutU32(&b, loc.spc_oid);
  PutU32(&b, loc.db_oid);
  PutU32(&b, loc.rel_number);
  PutU32(&b, 0);
  if (toplevel_xid) { b.push_back(252); PutU32(&b, toplevel_xid); }
  b.push_back(255);
  b.push_back(uint8_t(main.size()));
  b.insert(b.end(), data.begin(), data.end());
  b.insert(b.end(), main.begin(), main.end());
  return b;
}

std::vector<uint8_t> Tuple(const std::vector<const char*>& values, const std::vector<bool>& is_int) {
  size_t natts = values.size();
  bool hasnull = false;
  for (auto* v : values) hasnull |= v == nullptr;
  size_t bitmap = hasnull ? (natts + 7) / 8 : 0;
  size_t t_hoff = (23 + bitmap + 7) / 8 * 8;
  std::vector<uint8_t> t;
  PutU16(&t, static_cast<uint16_t>(natts));
  PutU16(&t, (hasnull ? 1 : 0) | 2);
  t.push_back(static_cast<uint8_t>(t_hoff));
  std::vector<uint8_t> bits(bitmap, 0);
  for (size_t i = 0; i < natts; i++)
    if (values[i] != nullptr && bitmap) bits[i / 8] |= uint8_t(1 << (i % 8));
  t.insert(t.end(), bits.begin(), bits.end());
  while (t.size() < 5 + t_hoff - 23) t.push_back(0);
  size_t data_start = t.size();
  for (size_t i = 0; i < natts; i++) {
    if (values[i] == nullptr) continue;
    if (is_int[i]) {
      while ((t.size() - data_start) % 4) t.push_back(0);
      PutU32(&t, static_cast<uint32_t>(std::stol(values[i])));
    } else {   // short varlena
      size_t n = std::strlen(values[i]);
      t.push_back(static_cast<uint8_t>(((n + 1) << 1) | 1));
      t.insert(t.end(), values[i], values[i] + n);
    }
  }
  return t;
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::string FixturePath(const std::string& name) { return std::string(WALREADER_FIXTURES) + "/" + name; }

}  // namespace pgt::test
