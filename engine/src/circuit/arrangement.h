// Arrangement: an indexed Z-set in RocksDB — join key → {identity → row}. Identities are
// unique in a node's input, so every stored row has weight 1 and a retraction deletes it.
// Rows live in the operator-state column family under the owner's prefix:
//   prefix | BE32(len(key)) | key | identity  →  EncodeRow(row)
// (the length prefix keeps one key's rows apart from every other key's). Reads go through the
// batch, so a node sees its own writes of the batch; memory stays bounded whatever the size.
#pragma once

#include <functional>
#include <string>

#include "state/state_store.h"
#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::engine {

class Arrangement {
 public:
  explicit Arrangement(std::string prefix) : prefix_(std::move(prefix)) {}
  void Insert(Batch* b, const std::string& key, const std::string& id, const Row& row);
  void Erase(Batch* b, const std::string& key, const std::string& id);
  // Visits the rows under `key` (in identity order) until fn returns false.
  Status ForEach(Batch* b, const std::string& key,
                 const std::function<Status(const std::string& id, const Row& row, bool* stop)>& fn);
  // Visits every row of every key (in key order).
  Status ForEachAll(Batch* b, const std::function<Status(const std::string& key, const std::string& id, const Row& row)>& fn);

 private:
  std::string KeyPrefix(const std::string& key) const;
  std::string prefix_;
};

}  // namespace pgt::engine
