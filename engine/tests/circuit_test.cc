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

void RunOracle(const char* plan, Table (*recompute)(const std::map<int, Row>&), unsigned seed) {
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
    model[id] = RandomRow(rng, id);
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
      int op = static_cast<int>(rng() % 10);
      if (op < 4 || model.empty()) {
        c.kind = ChangeKind::kInsert;
        int id = next_id++;
        c.new_row = RandomRow(rng, id);
        model[id] = *c.new_row;
      } else {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        int id = it->first;
        if (op < 8) {
          c.kind = ChangeKind::kUpdate;
          bool key_change = rng() % 5 == 0;
          int new_id = key_change ? next_id++ : id;
          c.new_row = RandomRow(rng, new_id);
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
    if (rng() % 3 == 0 || round == 59) {
      Merge(store->get(), 42, &merged);
      ASSERT_EQ(merged, recompute(model)) << "seed " << seed << " round " << round;
    }
  }
}

TEST(CircuitOracleTest, GroupByWithAllFiveAggregatesMatchesRecompute) {
  for (unsigned seed = 1; seed <= 5; ++seed) RunOracle(kAggPlan, RecomputeAgg, seed);
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
