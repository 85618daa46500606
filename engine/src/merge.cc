#include "merge.h"

#include <algorithm>
#include <chrono>

#include "log.h"
#include "stream_table.h"
#include "values/text_io.h"

namespace pgt::engine {

MergeSql GenerateMergeSql(int64_t table_id, const std::string& storage, const std::vector<OutputColumn>& cols) {
  std::string delta = "pg_temp.pgt_delta_" + std::to_string(table_id);
  MergeSql sql;
  std::string coldefs, names, excluded, distinct_old, distinct_new;
  for (size_t i = 0; i < cols.size(); ++i) {
    std::string q = QuoteIdent(cols[i].name);
    coldefs += ", " + q + " " + cols[i].type_sql;
    names += (i ? ", " : "") + q;
    excluded += std::string(i ? ", " : "") + q + " = EXCLUDED." + q;
    distinct_old += std::string(i ? ", " : "") + "t." + q;
    distinct_new += std::string(i ? ", " : "") + "EXCLUDED." + q;
  }
  sql.create_delta = "CREATE TEMP TABLE IF NOT EXISTS pgt_delta_" + std::to_string(table_id) +
                     " (pgt_op \"char\" NOT NULL, pgt_row_id uuid NOT NULL" + coldefs + ") ON COMMIT DELETE ROWS";
  sql.copy = "COPY " + delta + " FROM STDIN";
  sql.apply_deletes = "DELETE FROM " + storage + " t USING " + delta +
                      " d WHERE d.pgt_op = 'D' AND t.__pgt_row_id = d.pgt_row_id";
  sql.apply_replace = "DELETE FROM " + storage + " t WHERE NOT EXISTS (SELECT 1 FROM " + delta +
                      " d WHERE d.pgt_op = 'U' AND d.pgt_row_id = t.__pgt_row_id)";
  if (cols.empty()) {
    sql.apply_upserts = "INSERT INTO " + storage + " (__pgt_row_id) SELECT pgt_row_id FROM " + delta +
                        " WHERE pgt_op = 'U' ON CONFLICT (__pgt_row_id) DO NOTHING";
  } else {
    sql.apply_upserts = "INSERT INTO " + storage + " AS t (" + names + ", __pgt_row_id) SELECT " + names +
                        ", pgt_row_id FROM " + delta + " WHERE pgt_op = 'U' ON CONFLICT (__pgt_row_id) DO UPDATE SET " +
                        excluded + " WHERE (" + distinct_old + ") IS DISTINCT FROM (" + distinct_new + ")";
  }
  return sql;
}

void AppendDeltaCopyData(std::string* out, const std::vector<PendingRow>& rows, size_t ncols) {
  for (const auto& r : rows) {
    *out += r.row ? "U\t" : "D\t";
    *out += FormatRowIdUuid(r.row_id);
    for (size_t i = 0; i < ncols; ++i) {
      out->push_back('\t');
      if (r.row) values::AppendCopyText(out, (*r.row)[i]);
      else *out += "\\N";
    }
    out->push_back('\n');
  }
}

Result<std::optional<Lsn>> MergeWriter::ReadFrontier(int64_t table_id) {
  PGT_ASSIGN_OR_RETURN(PgRows r, conn_->QueryParams(
      "SELECT frontier::text FROM pgtrickle.pgt_stream_tables WHERE id = $1", {std::to_string(table_id)}));
  if (r.rows.empty()) return Status::NotFound("stream table id " + std::to_string(table_id) + " is gone");
  if (!r.at(0, 0)) return std::optional<Lsn>();
  PGT_ASSIGN_OR_RETURN(Lsn f, ParseLsn(*r.at(0, 0)));
  return std::optional<Lsn>(f);
}

Status MergeWriter::TouchFreshness(int64_t table_id, Lsn frontier, int64_t epoch) {
  return conn_->QueryParams("UPDATE pgtrickle.pgt_stream_tables SET last_refresh_at = now(), "
                            "rows_changed_last_cycle = 0 WHERE id = $1 AND frontier = $2::pg_lsn AND "
                            "(SELECT epoch FROM pgtrickle.pgt_engine WHERE id = 1) = $3",
                            {std::to_string(table_id), FormatLsn(frontier), std::to_string(epoch)}).status();
}

Result<MergeResult> MergeWriter::Merge(const MergeRequest& req) {
  PGT_RETURN_IF_ERROR(conn_->Exec("BEGIN"));
  auto res = MergeInTxn(req);
  if (!res.ok()) {
    (void)conn_->Exec("ROLLBACK");
    return res.status();
  }
  PGT_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  if ((req.has_rows || req.replace) && std::find(created_.begin(), created_.end(), req.table_id) == created_.end())
    created_.push_back(req.table_id);
  return res;
}

Result<MergeResult> MergeWriter::MergeInTxn(const MergeRequest& req) {
  auto t0 = std::chrono::steady_clock::now();
  std::string id = std::to_string(req.table_id);
  // The timeline is read in the transaction that writes: a server that is not (or no longer) the
  // one whose lineage was checked never commits a merge.
  PGT_ASSIGN_OR_RETURN(PgRows ep, conn_->Query(
      "SELECT epoch, ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int "
      "FROM pgtrickle.pgt_engine WHERE id = 1 FOR KEY SHARE"));
  if (guard_tli_ != 0 && !ep.rows.empty() && ep.at(0, 1) &&
      static_cast<TimeLineId>(std::stoul(*ep.at(0, 1))) != guard_tli_)
    return Status::Unavailable("lineage guard: the primary is on timeline " + *ep.at(0, 1) + ", its lineage was checked on " +
                               std::to_string(guard_tli_));
  if (ep.rows.empty() || !ep.at(0, 0) || std::stoll(*ep.at(0, 0)) != req.epoch)
    return Status::Conflict("engine epoch " + std::to_string(req.epoch) + " is no longer current (fenced by a newer engine)");
  PGT_ASSIGN_OR_RETURN(PgRows st, conn_->QueryParams(
      "SELECT frontier::text, relid::regclass::text FROM pgtrickle.pgt_stream_tables WHERE id = $1 FOR UPDATE", {id}));
  if (st.rows.empty()) return Status::NotFound("stream table id " + id + " is gone");
  std::optional<Lsn> cur;
  if (st.at(0, 0)) {
    PGT_ASSIGN_OR_RETURN(Lsn f, ParseLsn(*st.at(0, 0)));
    cur = f;
  }
  if (cur != req.expected_frontier)
    return Status::Conflict("frontier of stream table id " + id + " is " + (cur ? FormatLsn(*cur) : "NULL") +
                            ", expected " + (req.expected_frontier ? FormatLsn(*req.expected_frontier) : "NULL"));
  const std::string& storage = *st.at(0, 1);
  int64_t changed = 0;
  if (req.has_rows || req.replace) {
    MergeSql sql = GenerateMergeSql(req.table_id, storage, *req.columns);
    // Created inside this transaction: remembered only once it commits (see Merge()).
    if (std::find(created_.begin(), created_.end(), req.table_id) == created_.end())
      PGT_RETURN_IF_ERROR(conn_->Exec(sql.create_delta));
    // One COPY fed chunk by chunk as the rows are read: the delta never exists whole in memory.
    int64_t sent = 0;
    std::string data;
    PGT_ASSIGN_OR_RETURN(int64_t copied, conn_->CopyInStream(sql.copy, [&](const PgConn::CopyPut& put) -> Status {
      if (!req.rows) return Status::Ok();
      return req.rows([&](const std::vector<PendingRow>& chunk) -> Status {
        data.clear();
        AppendDeltaCopyData(&data, chunk, req.columns->size());
        sent += static_cast<int64_t>(chunk.size());
        return put(data);
      });
    }));
    if (copied != sent)
      return Status::Internal("merge of stream table id " + id + ": the server copied " + std::to_string(copied) +
                              " delta rows of " + std::to_string(sent));
    PGT_RETURN_IF_ERROR(conn_->Exec(req.replace ? sql.apply_replace : sql.apply_deletes));
    PGT_RETURN_IF_ERROR(conn_->Exec(sql.apply_upserts));
    changed = sent;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  PGT_RETURN_IF_ERROR(conn_->QueryParams(
      "UPDATE pgtrickle.pgt_stream_tables SET frontier = $2::pg_lsn, engine_epoch = $3, last_refresh_at = now(), "
      "rows_changed_last_cycle = $4, avg_refresh_ms = CASE WHEN avg_refresh_ms IS NULL THEN $5::float8 "
      "ELSE avg_refresh_ms * 0.9 + $5::float8 * 0.1 END, refresh_count = refresh_count + 1, "
      // An ERROR recorded meanwhile (MarkError on the main thread while this merge ran on a merge
      // thread, or the extension's source-DDL check) is never overwritten by a merge.
      "status = CASE WHEN status = 'ERROR' THEN status ELSE 'ACTIVE' END, "
      "last_error = CASE WHEN status = 'ERROR' THEN last_error END, pending_change_rows = 0 WHERE id = $1",
      {id, FormatLsn(req.new_frontier), std::to_string(req.epoch), std::to_string(changed), std::to_string(ms)})
      .status());
  return MergeResult{changed, ms};
}

}  // namespace pgt::engine
