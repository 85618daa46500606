// Merge writer: applies one stream table's consolidated pending output to the primary in one
// transaction, guarded by the frontier CAS and the engine epoch (DESIGN §5 "Merge"):
//
//   BEGIN
//   SELECT epoch FROM pgtrickle.pgt_engine FOR KEY SHARE        -- fencing: epoch must be ours
//     (KEY SHARE: the heartbeat's UPDATE of the row does not wait for merges in flight; an
//     epoch claim locks the row FOR UPDATE, so it waits for them, and they see a claim made first)
//   SELECT frontier ... FROM pgt_stream_tables WHERE id FOR UPDATE  -- CAS: frontier must be F
//   COPY pgt_delta_<id> FROM STDIN                               -- op, row id, user columns,
//     sent chunk by chunk as the pending rows are read (one COPY: memory is one chunk)
//   DELETE FROM st USING delta WHERE op = 'D'
//   INSERT INTO st SELECT ... WHERE op = 'U' ON CONFLICT (__pgt_row_id) DO UPDATE ...
//   UPDATE pgt_stream_tables SET frontier = P, stats ...
//   COMMIT
//
// Pending rows hold final output values (not deltas), so applying the same pending set twice
// gives the same table: a merge whose outcome is unknown may be retried safely; the CAS decides
// whether it had landed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "circuit/plan.h"
#include "pg_conn.h"

namespace pgt::engine {

struct PendingRow {
  std::string row_id;         // 16 bytes
  std::optional<Row> row;     // nullopt = delete
};

// The pending rows of a merge, delivered chunk by chunk so that a merge's memory is one chunk
// whatever the number of rows: a source calls `emit` for each chunk in turn and stops at (and
// returns) the first error, its own or emit's.
using PendingChunkFn = std::function<Status(const std::vector<PendingRow>&)>;
using PendingRowSource = std::function<Status(const PendingChunkFn& emit)>;

struct MergeRequest {
  int64_t table_id = 0;
  const std::vector<OutputColumn>* columns = nullptr;
  bool has_rows = false;                  // `rows` delivers at least one row
  PendingRowSource rows;
  std::optional<Lsn> expected_frontier;   // nullopt = NULL (first merge)
  Lsn new_frontier = 0;
  int64_t epoch = 0;
  bool replace = false;                   // rows are the whole table: delete every other row
};

struct MergeSql {
  std::string create_delta;   // temp table, created once per connection
  std::string copy;
  std::string apply_deletes;  // removes rows marked 'D'
  std::string apply_replace;  // removes every row not marked 'U' (full replacement)
  std::string apply_upserts;
};

// SQL for one table; `storage` is the storage table's quoted qualified name.
MergeSql GenerateMergeSql(int64_t table_id, const std::string& storage, const std::vector<OutputColumn>& cols);
// COPY text lines: op ('U'/'D'), row id (uuid), then `ncols` user columns (NULL for deletes).
void AppendDeltaCopyData(std::string* out, const std::vector<PendingRow>& rows, size_t ncols);

struct MergeResult {
  int64_t rows_changed = 0;
  double duration_ms = 0;
};

// Runs the merge transaction. Conflict = frontier or epoch CAS failed (nothing applied);
// NotFound = the stream table no longer exists on the primary.
class MergeWriter {
 public:
  explicit MergeWriter(PgConn* primary) : conn_(primary) {}
  Result<MergeResult> Merge(const MergeRequest& req);
  // Nothing new to merge: only last_refresh_at moves (while the frontier is `frontier` and the
  // epoch ours).
  Status TouchFreshness(int64_t table_id, Lsn frontier, int64_t epoch);
  // The primary's frontier of a table (nullopt = NULL); NotFound if the table is gone.
  Result<std::optional<Lsn>> ReadFrontier(int64_t table_id);
  void ResetConnection(PgConn* primary) { conn_ = primary; created_.clear(); }
  // Issue 8: inside each merge transaction the server's timeline must still be `tli` (the one
  // its lineage was checked on); otherwise the merge is rolled back with Unavailable("lineage
  // guard: ..."). 0 = no check.
  void SetLineageGuard(TimeLineId tli) { guard_tli_ = tli; }

 private:
  Result<MergeResult> MergeInTxn(const MergeRequest& req);
  PgConn* conn_;
  std::vector<int64_t> created_;   // temp delta tables created on this connection
  TimeLineId guard_tli_ = 0;
};

}  // namespace pgt::engine
