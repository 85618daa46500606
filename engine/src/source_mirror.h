// SourceMirror: the engine's copy of one source table, shared by every stream table reading it
// (DESIGN §5 "Source mirrors"). Keyed by the source's replica identity (primary key or
// REPLICA IDENTITY USING INDEX), it holds every column of each row, so any stream table over the
// source is covered and a new one never re-snapshots it: the mirror at the applied position is
// a consistent cut. It supplies the old row of an UPDATE/DELETE and the values of unchanged
// TOAST columns, so sources need no REPLICA IDENTITY FULL.
//
// Layout: mirror CF, key 'M' | BE32(relid) | EncodeKeyTuple(key values) → EncodeRow(row);
// registry: meta CF, key "mirror/" | BE32(relid) → MirrorMeta (JSON). A mirror applies a
// transaction iff its end LSN > max(bootstrap_lsn, applied_upto), like a stream table.
// Not thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "state/state_store.h"
#include "walreader/change.h"
#include "walreader/lsn.h"

namespace pgt::engine {

struct MirrorMeta {
  Oid relid = 0;
  std::string name;                   // schema.table, for messages
  std::vector<int16_t> key_attnums;
  int natts = 0;                      // rows are padded/cut to this many values
  Lsn bootstrap_lsn = 0;              // snapshot LSN the mirror was loaded at
  std::string Encode() const;
  static Result<MirrorMeta> Decode(std::string_view s);
};

class SourceMirror {
 public:
  explicit SourceMirror(MirrorMeta meta) : meta_(std::move(meta)) {}
  const MirrorMeta& meta() const { return meta_; }
  static std::string Prefix(Oid relid);
  static std::string MetaKey(Oid relid);

  // Applies one decoded INSERT/UPDATE/DELETE: sets *old_row (the row before, from the mirror)
  // and *new_row (the row after, unchanged TOAST values filled in), and if asked their encoded
  // keys (the mirror's keys without the relation prefix: the source identity). A change the
  // mirror cannot explain (UPDATE/DELETE of an unknown key, INSERT of a known one) is Corruption.
  Status Apply(Batch* b, const Change& c, std::optional<Row>* old_row, std::optional<Row>* new_row,
               std::string* old_key = nullptr, std::string* new_key = nullptr);
  // A bootstrap snapshot row.
  void PutSnapshotRow(Batch* b, const Row& row);
  // Every row, in key order (committed state).
  Status ForEachRow(StateStore* store, const std::function<Status(const Row&)>& fn) const;

 private:
  std::string Key(const Row& row) const;
  Row Normalize(Row row) const;
  MirrorMeta meta_;
};

}  // namespace pgt::engine
