// Oracle test of the circuit: random inserts/updates/deletes flow through a
// StreamTable (mirror -> filter -> aggregate -> project -> pending); after every batch the
// merged output must equal the query recomputed from scratch over the current source rows.
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "source_mirror.h"
#include "stream_table.h"
#include "test_util.h"
#include "values/codec.h"
#include "values/compare.h"
#include "values/decimal.h"
#include "values/text_io.h"

namespace pgt::engine {
namespace {

using values::Decimal;

// SELECT grp, count(*), count(qty), sum(amount), avg(qty), min(amount), max(cat)
// FROM src WHERE amount > 0 GROUP BY grp      (columns: id int4, grp int4, amount numeric, qty int4, cat text)
constexpr char kAggPlan[] = R"({"version":1,
 "sources":[{"relid":100,"schema":"public","name":"src","key":[1],
   "columns":[{"attnum":1,"name":"id","typoid":23},{"attnum":2,"name":"grp","typoid":23},
              {"attnum":3,"name":"amount","typoid":1700},{"attnum":4,"name":"qty","typoid":23},
              {"attnum":5,"name":"cat","typoid":25}]}],
 "root":{"op":"project","exprs":[{"kind":"col","col":0,"typoid":23},{"kind":"col","col":1,"typoid":20},
          {"kind":"col","col":2,"typoid":20},{"kind":"col","col":3,"typoid":1700},{"kind":"col","col":4,"typoid":1700},
          {"kind":"col","col":5,"typoid":1700},{"kind":"col","col":6,"typoid":25}],
   "input":{"op":"aggregate","group_by":[{"kind":"col","col":1,"typoid":23}],
     "aggs":[{"fn":"count_star","arg":null,"typoid":20},{"fn":"count","arg":{"kind":"col","col":3,"typoid":23},"typoid":20},
             {"fn":"sum","arg":{"kind":"col","col":2,"typoid":1700},"typoid":1700},
             {"fn":"avg","arg":{"kind":"col","col":3,"typoid":23},"typoid":1700},
             {"fn":"min","arg":{"kind":"col","col":2,"typoid":1700},"typoid":1700},
             {"fn":"max","arg":{"kind":"col","col":4,"typoid":25},"typoid":25}],
     "input":{"op":"filter","predicate":{"kind":"op","fn":"gt","typoid":16,
                "args":[{"kind":"col","col":2,"typoid":1700},{"kind":"const","typoid":1700,"value":"0"}]},
              "input":{"op":"scan","source":0}}}},
 "output":[{"name":"grp","typoid":23,"type_sql":"integer"},{"name":"n","typoid":20,"type_sql":"bigint"},
           {"name":"nq","typoid":20,"type_sql":"bigint"},{"name":"total","typoid":1700,"type_sql":"numeric"},
           {"name":"avg_qty","typoid":1700,"type_sql":"numeric"},{"name":"min_amount","typoid":1700,"type_sql":"numeric"},
           {"name":"max_cat","typoid":25,"type_sql":"text"}]})";

// SELECT id, qty * 2 AS q2, cat FROM src WHERE grp = 1 OR qty IS NULL
constexpr char kLinearPlan[] = R"({"version":1,
 "sources":[{"relid":100,"schema":"public","name":"src","key":[1],
   "columns":[{"attnum":1,"name":"id","typoid":23},{"attnum":2,"name":"grp","typoid":23},
              {"attnum":3,"name":"amount","typoid":1700},{"attnum":4,"name":"qty","typoid":23},
              {"attnum":5,"name":"cat","typoid":25}]}],
 "root":{"op":"project","exprs":[{"kind":"col","col":0,"typoid":23},
     {"kind":"op","fn":"mul","typoid":23,"args":[{"kind":"col","col":3,"typoid":23},{"kind":"const","typoid":23,"value":"2"}]},
     {"kind":"col","col":4,"typoid":25}],
   "input":{"op":"filter","predicate":{"kind":"bool","fn":"or","typoid":16,"args":[
       {"kind":"op","fn":"eq","typoid":16,"args":[{"kind":"col","col":1,"typoid":23},{"kind":"const","typoid":23,"value":"1"}]},
       {"kind":"nulltest","negated":false,"typoid":16,"arg":{"kind":"col","col":3,"typoid":23}}]},
     "input":{"op":"scan","source":0}}},
 "output":[{"name":"id","typoid":23,"type_sql":"integer"},{"name":"q2","typoid":23,"type_sql":"integer"},
           {"name":"cat","typoid":25,"type_sql":"text"}]})";

// SELECT grp, count(*), min(qty), max(qty), min(amount), max(amount), min(cat), max(cat)
// FROM src GROUP BY grp — over TiedRow's few values: ties everywhere, groups of a few rows that
// vanish and come back.
constexpr char kMinMaxPlan[] = R"({"version":1,
 "sources":[{"relid":100,"schema":"public","name":"src","key":[1],
   "columns":[{"attnum":1,"name":"id","typoid":23},{"attnum":2,"name":"grp","typoid":23},
              {"attnum":3,"name":"amount","typoid":1700},{"attnum":4,"name":"qty","typoid":23},
              {"attnum":5,"name":"cat","typoid":25}]}],
 "root":{"op":"aggregate","group_by":[{"kind":"col","col":1,"typoid":23}],
   "aggs":[{"fn":"count_star","arg":null,"typoid":20},
           {"fn":"min","arg":{"kind":"col","col":3,"typoid":23},"typoid":23},
           {"fn":"max","arg":{"kind":"col","col":3,"typoid":23},"typoid":23},
           {"fn":"min","arg":{"kind":"col","col":2,"typoid":1700},"typoid":1700},
           {"fn":"max","arg":{"kind":"col","col":2,"typoid":1700},"typoid":1700},
           {"fn":"min","arg":{"kind":"col","col":4,"typoid":25},"typoid":25},
           {"fn":"max","arg":{"kind":"col","col":4,"typoid":25},"typoid":25}],
   "input":{"op":"scan","source":0}},
 "output":[{"name":"grp","typoid":23,"type_sql":"integer"},{"name":"n","typoid":20,"type_sql":"bigint"},
           {"name":"min_qty","typoid":23,"type_sql":"integer"},{"name":"max_qty","typoid":23,"type_sql":"integer"},
           {"name":"min_amount","typoid":1700,"type_sql":"numeric"},{"name":"max_amount","typoid":1700,"type_sql":"numeric"},
           {"name":"min_cat","typoid":25,"type_sql":"text"},{"name":"max_cat","typoid":25,"type_sql":"text"}]})";

using Table = std::map<std::string, std::string>;   // row id -> printed row

std::string Print(const Row& r) {
  std::string s;
  for (const auto& v : r) s += (v.is_null ? "NULL" : values::FormatText(v)) + "|";
  return s;
}

std::string IdOf(const Row& key) {
  std::string k;
  values::EncodeKeyTuple(key, &k);
  return RowIdOf(k);
}

Table RecomputeAgg(const std::map<int, Row>& src) {
  struct G { Row key; int64_t n = 0, nq = 0; Decimal sum, qsum; int64_t ns = 0; std::optional<Value> mn, mx; };
  std::map<std::string, G> groups;
  for (const auto& [id, r] : src) {
    if (Decimal::Parse(r[2].s)->Compare(Decimal()) <= 0) continue;
    std::string gk = IdOf({r[1]});
    G& g = groups[gk];
    g.key = {r[1]};
    ++g.n;
    g.sum = g.sum.Add(*Decimal::Parse(r[2].s));
    ++g.ns;
    if (!r[3].is_null) { ++g.nq; g.qsum = g.qsum.Add(Decimal::FromInt64(r[3].i)); }
    if (!g.mn || *values::CompareValues(r[2], *g.mn) < 0) g.mn = r[2];
    if (!r[4].is_null && (!g.mx || *values::CompareValues(r[4], *g.mx) > 0)) g.mx = r[4];
  }
  Table t;
  for (auto& [gk, g] : groups) {
    Row out = g.key;
    out.push_back(Value::Int(TypeId::kInt8, g.n));
    out.push_back(Value::Int(TypeId::kInt8, g.nq));
    out.push_back(Value::Str(TypeId::kNumeric, g.sum.ToString()));
    out.push_back(g.nq ? Value::Str(TypeId::kNumeric, g.qsum.Div(Decimal::FromInt64(g.nq))->ToString())
                       : Value::Null(TypeId::kNumeric));
    out.push_back(*g.mn);
    out.push_back(g.mx ? *g.mx : Value::Null(TypeId::kText));
    t[gk] = Print(out);
  }
  return t;
}

Table RecomputeMinMax(const std::map<int, Row>& src) {
  struct G { Row key; int64_t n = 0; std::optional<Value> ext[6]; };
  std::map<std::string, G> groups;
  const int col[6] = {3, 3, 2, 2, 4, 4};
  for (const auto& [id, r] : src) {
    G& g = groups[IdOf({r[1]})];
    g.key = {r[1]};
    ++g.n;
    for (int a = 0; a < 6; ++a) {
      const Value& v = r[static_cast<size_t>(col[a])];
      if (v.is_null) continue;
      const bool max = a % 2 == 1;
      if (!g.ext[a] || (max ? *values::CompareValues(v, *g.ext[a]) > 0 : *values::CompareValues(v, *g.ext[a]) < 0)) g.ext[a] = v;
    }
  }
  const TypeId types[6] = {TypeId::kInt4, TypeId::kInt4, TypeId::kNumeric, TypeId::kNumeric, TypeId::kText, TypeId::kText};
  Table t;
  for (auto& [gk, g] : groups) {
    Row out = g.key;
    out.push_back(Value::Int(TypeId::kInt8, g.n));
    for (int a = 0; a < 6; ++a) out.push_back(g.ext[a] ? *g.ext[a] : Value::Null(types[a]));
    t[gk] = Print(out);
  }
  return t;
}

Table RecomputeLinear(const std::map<int, Row>& src) {
  Table t;
  for (const auto& [id, r] : src) {
    if (!((!r[1].is_null && r[1].i == 1) || r[3].is_null)) continue;
    Row out{r[0], r[3].is_null ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, r[3].i * 2), r[4]};
    t[IdOf({r[0]})] = Print(out);
  }
  return t;
}

// Applies and clears pending output as a merge would.
void Merge(StateStore* store, int64_t id, Table* table) {
  Batch b(store);
  ASSERT_TRUE(store->Scan(Cf::kPending, TablePrefix(id), [&](std::string_view k, std::string_view v) {
    std::string rid(k.substr(8));
    if (v[0] == 'D') table->erase(rid);
    else (*table)[rid] = Print(*values::DecodeRow(v.substr(1)));
    b.Delete(Cf::kPending, k);
    return true;
  }).ok());
  ASSERT_TRUE(store->Commit(&b).ok());
}

Row RandomRow(std::mt19937& rng, int id) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  Row r;
  r.push_back(Value::Int(TypeId::kInt4, id));
  r.push_back(pick(8) == 0 ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, pick(4)));
  r.push_back(Value::Str(TypeId::kNumeric, std::to_string(pick(2000) - 300) + "." + std::to_string(10 + pick(90))));
  r.push_back(pick(4) == 0 ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, pick(100)));
  r.push_back(pick(5) == 0 ? Value::Null(TypeId::kText) : Value::Str(TypeId::kText, "c" + std::to_string(pick(30))));
  return r;
}

// Few distinct values per column (many ties; each amount has one representation) and 12
// groups of a few rows each, so extremes lose their last copy and groups vanish often.
Row TiedRow(std::mt19937& rng, int id) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  static const char* amounts[] = {"-3.25", "0.5", "2", "7.75"};
  Row r;
  r.push_back(Value::Int(TypeId::kInt4, id));
  r.push_back(pick(10) == 0 ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, pick(12)));
  r.push_back(Value::Str(TypeId::kNumeric, amounts[pick(4)]));
  r.push_back(pick(5) == 0 ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, pick(4)));
  r.push_back(pick(5) == 0 ? Value::Null(TypeId::kText) : Value::Str(TypeId::kText, "c" + std::to_string(pick(3))));
  return r;
}

void RunOracle(const char* plan, Table (*recompute)(const std::map<int, Row>&), unsigned seed,
               Row (*random_row)(std::mt19937&, int) = RandomRow, bool compact = false) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  TableMeta meta;
  meta.id = 42;
  meta.name = "public.st";
  meta.plan_json = plan;
  auto st = StreamTable::Create(meta);
  ASSERT_TRUE(st.ok()) << st.status().message();
  std::mt19937 rng(seed);
  std::map<int, Row> model;
  Table merged;
  Batch b(store->get());
  SourceMirror mirror(MirrorMeta{100, "public.src", {1}, 5, 0});
  // Bootstrap from a snapshot of 30 rows.
  for (int id = 1; id <= 30; ++id) {
    model[id] = random_row(rng, id);
    mirror.PutSnapshotRow(&b, model[id]);
    ASSERT_TRUE((*st)->ApplySnapshotRow(&b, 100, model[id]).ok());
  }
  (*st)->TouchGlobalGroup();
  int next_id = 31;
  for (int round = 0; round < 60; ++round) {
    int nchanges = 1 + static_cast<int>(rng() % 25);
    for (int i = 0; i < nchanges; ++i) {
      Change c;
      c.relid = 100;
      // Tied rows: as many deletes as inserts (30 % each), so the source stays small and groups vanish.
      static const int kTiedOps[10] = {0, 0, 0, 5, 5, 5, 5, 8, 8, 8};
      int op = random_row == TiedRow ? kTiedOps[rng() % 10] : static_cast<int>(rng() % 10);
      if (op < 4 || model.empty()) {
        c.kind = ChangeKind::kInsert;
        int id = next_id++;
        c.new_row = random_row(rng, id);
        model[id] = *c.new_row;
      } else {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        int id = it->first;
        if (op < 8) {
          c.kind = ChangeKind::kUpdate;
          bool key_change = rng() % 5 == 0;
          int new_id = key_change ? next_id++ : id;
          c.new_row = random_row(rng, new_id);
          if (key_change) {   // WAL carries the old key only
            Row old_key(5, Value::Null(TypeId::kUnknown));
            old_key[0] = Value::Int(TypeId::kInt4, id);
            c.old_row = old_key;
            c.old_is_key_only = true;
            model.erase(id);
          }
          model[new_id] = *c.new_row;
        } else {
          c.kind = ChangeKind::kDelete;
          Row old_key(5, Value::Null(TypeId::kUnknown));
          old_key[0] = Value::Int(TypeId::kInt4, id);
          c.old_row = old_key;
          c.old_is_key_only = true;
          model.erase(id);
        }
      }
      std::optional<Row> old_row, new_row;
      Status s = mirror.Apply(&b, c, &old_row, &new_row);
      ASSERT_TRUE(s.ok()) << s.message();
      s = (*st)->ApplySourceDelta(&b, 100, old_row, new_row);
      ASSERT_TRUE(s.ok()) << s.message();
    }
    ASSERT_TRUE((*st)->FinishBatch(&b).ok());
    ASSERT_TRUE((*store)->Commit(&b).ok());
    if (compact && round % 10 == 9) { ASSERT_TRUE((*store)->CompactAll(Cf::kMinMax).ok()); }   // drops count-0 entries
    if (rng() % 3 == 0 || round == 59) {
      Merge(store->get(), 42, &merged);
      ASSERT_EQ(merged, recompute(model)) << "seed " << seed << " round " << round;
    }
  }
}

TEST(CircuitOracleTest, GroupByWithAllFiveAggregatesMatchesRecompute) {
  for (unsigned seed = 1; seed <= 5; ++seed) RunOracle(kAggPlan, RecomputeAgg, seed);
}

// MIN/MAX multisets as count deltas (merge operands): exact under ties, extremes losing their
// last copy, groups vanishing and coming back, with and without compactions dropping count-0
// entries in between.
TEST(CircuitOracleTest, MinMaxWithTiesAndVanishingGroupsMatchesRecompute) {
  for (unsigned seed = 1; seed <= 8; ++seed) RunOracle(kMinMaxPlan, RecomputeMinMax, seed, TiedRow, seed % 2 == 0);
}

TEST(CircuitOracleTest, FilterProjectMatchesRecompute) {
  for (unsigned seed = 1; seed <= 5; ++seed) RunOracle(kLinearPlan, RecomputeLinear, seed);
}

TEST(CircuitTest, UpdateOfRowMissingFromMirrorIsCorruptionNotSilentLoss) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  TableMeta meta;
  meta.id = 1;
  meta.name = "t";
  meta.plan_json = kLinearPlan;
  auto st = StreamTable::Create(meta);
  ASSERT_TRUE(st.ok());
  Batch b(store->get());
  std::mt19937 rng(7);
  Change c;
  c.kind = ChangeKind::kUpdate;
  c.relid = 100;
  c.new_row = RandomRow(rng, 5);
  SourceMirror mirror(MirrorMeta{100, "public.src", {1}, 5, 0});
  std::optional<Row> old_row, new_row;
  Status s = mirror.Apply(&b, c, &old_row, &new_row);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("mirror"), std::string::npos);
}

TEST(PlanTest, RejectsUnknownVersionAndOperators) {
  EXPECT_EQ(ParsePlan(R"({"version":3})").status().code(), Status::Code::kUnsupported);
  std::string bad = kLinearPlan;
  bad.replace(bad.find("\"filter\""), 8, "\"window\"");
  auto p = ParsePlan(bad);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("window"), std::string::npos);
}

}  // namespace
}  // namespace pgt::engine
