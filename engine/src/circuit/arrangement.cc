// Arrangement (indexed Z-set); layout in arrangement.h.
#include "circuit/arrangement.h"

#include "values/codec.h"

namespace pgt::engine {

std::string Arrangement::KeyPrefix(const std::string& key) const {
  std::string k = prefix_;
  uint32_t n = static_cast<uint32_t>(key.size());
  for (int s = 24; s >= 0; s -= 8) k.push_back(static_cast<char>((n >> s) & 0xff));
  k += key;
  return k;
}

void Arrangement::Insert(Batch* b, const std::string& key, const std::string& id, const Row& row) {
  std::string enc;
  values::EncodeRow(row, &enc);
  b->Put(Cf::kAgg, KeyPrefix(key) + id, enc);
}

void Arrangement::Erase(Batch* b, const std::string& key, const std::string& id) {
  b->Delete(Cf::kAgg, KeyPrefix(key) + id);
}

Status Arrangement::ForEach(Batch* b, const std::string& key,
                            const std::function<Status(const std::string&, const Row&, bool*)>& fn) {
  std::string p = KeyPrefix(key);
  Status st;
  Status scan = b->Scan(Cf::kAgg, p, [&](std::string_view k, std::string_view v) {
    auto row = values::DecodeRow(v);
    if (!row.ok()) { st = row.status(); return false; }
    bool stop = false;
    st = fn(std::string(k.substr(p.size())), *row, &stop);
    return st.ok() && !stop;
  });
  PGT_RETURN_IF_ERROR(scan);
  return st;
}

Status Arrangement::ForEachAll(Batch* b,
                               const std::function<Status(const std::string&, const std::string&, const Row&)>& fn) {
  Status st;
  Status scan = b->Scan(Cf::kAgg, prefix_, [&](std::string_view k, std::string_view v) {
    std::string_view rest = k.substr(prefix_.size());
    if (rest.size() < 4) { st = Status::Corruption("arrangement: short key"); return false; }
    uint32_t n = (static_cast<uint32_t>(static_cast<uint8_t>(rest[0])) << 24) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(rest[1])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(rest[2])) << 8) | static_cast<uint8_t>(rest[3]);
    if (rest.size() < 4 + n) { st = Status::Corruption("arrangement: short key"); return false; }
    auto row = values::DecodeRow(v);
    if (!row.ok()) { st = row.status(); return false; }
    st = fn(std::string(rest.substr(4, n)), std::string(rest.substr(4 + n)), *row);
    return st.ok();
  });
  PGT_RETURN_IF_ERROR(scan);
  return st;
}

}  // namespace pgt::engine
