#include "merge.h"

#include <gtest/gtest.h>

namespace pgt::engine {
namespace {

std::vector<OutputColumn> Cols() {
  return {{"grp", 23, TypeId::kInt4, "integer"}, {"Total \"x\"", 1700, TypeId::kNumeric, "numeric"}};
}

TEST(MergeSqlTest, QuotesIdentifiersAndUsesRowIdentity) {
  MergeSql sql = GenerateMergeSql(7, "public.st", Cols());
  EXPECT_EQ(sql.create_delta,
            "CREATE TEMP TABLE IF NOT EXISTS pgt_delta_7 (pgt_op \"char\" NOT NULL, pgt_row_id uuid NOT NULL, "
            "\"grp\" integer, \"Total \"\"x\"\"\" numeric) ON COMMIT DELETE ROWS");
  EXPECT_EQ(sql.copy, "COPY pg_temp.pgt_delta_7 FROM STDIN");
  EXPECT_EQ(sql.apply_deletes,
            "DELETE FROM public.st t USING pg_temp.pgt_delta_7 d WHERE d.pgt_op = 'D' AND t.__pgt_row_id = d.pgt_row_id");
  EXPECT_NE(sql.apply_upserts.find("ON CONFLICT (__pgt_row_id) DO UPDATE SET \"grp\" = EXCLUDED.\"grp\", "
                                   "\"Total \"\"x\"\"\" = EXCLUDED.\"Total \"\"x\"\"\""),
            std::string::npos);
  EXPECT_EQ(sql.apply_replace,
            "DELETE FROM public.st t WHERE NOT EXISTS (SELECT 1 FROM pg_temp.pgt_delta_7 d WHERE d.pgt_op = 'U' "
            "AND d.pgt_row_id = t.__pgt_row_id)");
  // Unchanged rows are not rewritten (no dead tuples for no-op updates).
  EXPECT_NE(sql.apply_upserts.find("IS DISTINCT FROM"), std::string::npos);
}

TEST(MergeSqlTest, DeltaCopyDataEscapesAndMarksDeletes) {
  std::vector<PendingRow> rows(2);
  rows[0].row_id = std::string(16, '\x01');
  rows[0].row = Row{Value::Int(TypeId::kInt4, -5), Value::Str(TypeId::kNumeric, "1.50")};
  rows[1].row_id = std::string(16, '\xab');
  std::string data = "before\n";
  AppendDeltaCopyData(&data, rows, 2);
  EXPECT_EQ(data, "before\n"
            "U\t01010101-0101-0101-0101-010101010101\t-5\t1.50\n"
            "D\tabababab-abab-abab-abab-abababababab\t\\N\t\\N\n");
}

}  // namespace
}  // namespace pgt::engine
