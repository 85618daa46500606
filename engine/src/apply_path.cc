// The apply path of one batch; see apply_path.h.
#include "apply_path.h"

namespace pgt::engine {

Status ApplyPath::ApplyChange(Batch* b, SourceMirror* mirror, const Change& c, const std::vector<Reader>& readers,
                              const ErrorFn& on_error) {
  std::optional<Row> old_row, new_row;
  Status st = mirror->Apply(b, c, &old_row, &new_row);
  for (const Reader& r : readers) {
    if (!r.applies) continue;
    Status ts = st.ok() ? r.table->ApplySourceDelta(b, c.relid, old_row, new_row) : st;
    if (!ts.ok()) on_error(r.id, ts);
  }
  return Status::Ok();
}

Status ApplyPath::Finish(Batch* b, const ReadersFn&, const std::vector<Reader>& all, const ErrorFn& on_error) {
  for (const Reader& r : all) {
    Status st = r.table->FinishBatch(b);
    if (!st.ok()) on_error(r.id, st);
  }
  return Status::Ok();
}

void ApplyPath::DropSource(Oid) {}

}  // namespace pgt::engine
