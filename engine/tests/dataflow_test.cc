// Oracle tests of the dataflow operators (join inner/left/right/full with residual conditions,
// self-join, DISTINCT, UNION ALL, aggregates over joins and joins over aggregates) through
// StreamTable and two shared source mirrors: random inserts/updates (join keys and primary keys
// on both sides, to and from NULL)/deletes; after random batches the merged output must equal
// the query recomputed from scratch over the current source rows, as multisets of rows.
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "source_mirror.h"
#include "stream_table.h"
#include "test_util.h"
#include "values/codec.h"
#include "values/text_io.h"

namespace pgt::engine {
namespace {

using nlohmann::json;
using Rows = std::vector<std::string>;   // printed rows, sorted (a multiset)
using Model = std::map<int, Row>;        // id -> row

// Sources: a(id int4 pk, k int4, v int4) relid 100; b(id int4 pk, k int4, w text) relid 200.
json Source(int relid, const char* name, const char* third, int third_type) {
  return {{"relid", relid}, {"schema", "public"}, {"name", name}, {"key", {1}},
          {"columns", {{{"attnum", 1}, {"name", "id"}, {"typoid", 23}}, {{"attnum", 2}, {"name", "k"}, {"typoid", 23}},
                       {{"attnum", 3}, {"name", third}, {"typoid", third_type}}}}};
}
json Col(int i, int t = 23) { return {{"kind", "col"}, {"col", i}, {"typoid", t}}; }
json Int(int v) { return {{"kind", "const"}, {"typoid", 23}, {"value", std::to_string(v)}}; }
json Op(const char* fn, json a, json b, int t = 16) { return {{"kind", "op"}, {"fn", fn}, {"typoid", t}, {"args", {a, b}}, {"pg_fn", "x"}}; }
json IsNull(json a) { return {{"kind", "nulltest"}, {"negated", false}, {"arg", a}, {"typoid", 16}}; }
json Or(json a, json b) { return {{"kind", "bool"}, {"fn", "or"}, {"args", {a, b}}, {"typoid", 16}}; }
json Scan(int s) { return {{"op", "scan"}, {"source", s}}; }
json Project(json in, std::vector<json> exprs) { return {{"op", "project"}, {"input", in}, {"exprs", exprs}}; }
json Join(const char* kind, json l, json r, std::vector<json> lk, std::vector<json> rk, json residual = nullptr) {
  return {{"op", "join"}, {"kind", kind}, {"left", l}, {"right", r}, {"left_keys", lk}, {"right_keys", rk}, {"residual", residual}};
}
std::string PlanOf(json root, int ncols, bool two_sources = true) {
  json out = json::array();
  for (int i = 0; i < ncols; ++i) out.push_back({{"name", "c" + std::to_string(i)}, {"typoid", 25}, {"type_sql", "text"}});
  json sources = {Source(100, "a", "v", 23)};
  if (two_sources) sources.push_back(Source(200, "b", "w", 25));
  return json({{"version", 2}, {"sources", sources}, {"root", root}, {"output", out}}).dump();
}

std::string Print(const Row& r) {
  std::string s;
  for (const auto& v : r) s += (v.is_null ? "NULL" : values::FormatText(v)) + "|";
  return s;
}
const Value& K(const Row& r) { return r[1]; }
bool Eq(const Value& a, const Value& b) { return !a.is_null && !b.is_null && a.i == b.i; }
Row Nulls(int n) { return Row(static_cast<size_t>(n), Value::Null(TypeId::kUnknown)); }

// Join oracle: kind in inner/left/right/full, condition a.k = b.k AND (a.v > 20 OR b.w IS NULL);
// output a.id, a.v, b.id, b.w.
Rows RecomputeJoin(const std::string& kind, const Model& a, const Model& b) {
  auto match = [](const Row& x, const Row& y) {
    return Eq(K(x), K(y)) && ((!x[2].is_null && x[2].i > 20) || y[2].is_null);
  };
  Rows out;
  auto emit = [&](const Row* x, const Row* y) {
    Row ax = x ? *x : Nulls(3), by = y ? *y : Nulls(3);
    out.push_back(Print({ax[0], ax[2], by[0], by[2]}));
  };
  for (auto& [i, x] : a) {
    bool any = false;
    for (auto& [j, y] : b) if (match(x, y)) { emit(&x, &y); any = true; }
    if (!any && (kind == "left" || kind == "full")) emit(&x, nullptr);
  }
  if (kind == "right" || kind == "full")
    for (auto& [j, y] : b) {
      bool any = false;
      for (auto& [i, x] : a) any |= match(x, y);
      if (!any) emit(nullptr, &y);
    }
  std::sort(out.begin(), out.end());
  return out;
}

std::string JoinPlan(const char* kind) {
  json residual = Or(Op("gt", Col(2), Int(20)), IsNull(Col(5, 25)));
  return PlanOf(Project(Join(kind, Scan(0), Scan(1), {Col(1)}, {Col(1)}, residual), {Col(0), Col(2), Col(3), Col(5, 25)}), 4);
}

struct Case {
  std::string plan;
  std::function<Rows(const Model&, const Model&)> recompute;
  bool two_sources = true;
};

Row RandomRow(std::mt19937& rng, int id, bool is_b) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  Row r{Value::Int(TypeId::kInt4, id), pick(6) == 0 ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, pick(5))};
  if (is_b) r.push_back(pick(4) == 0 ? Value::Null(TypeId::kText) : Value::Str(TypeId::kText, "x" + std::to_string(pick(4))));
  else r.push_back(pick(5) == 0 ? Value::Null(TypeId::kInt4) : Value::Int(TypeId::kInt4, pick(60)));
  return r;
}

Rows Merged(StateStore* store, int64_t id, std::map<std::string, std::string>* table) {
  Batch b(store);
  EXPECT_TRUE(store->Scan(Cf::kPending, TablePrefix(id), [&](std::string_view k, std::string_view v) {
    std::string rid(k.substr(8));
    if (v[0] == 'D') table->erase(rid);
    else (*table)[rid] = Print(*values::DecodeRow(v.substr(1)));
    b.Delete(Cf::kPending, k);
    return true;
  }).ok());
  EXPECT_TRUE(store->Commit(&b).ok());
  Rows rows;
  for (auto& [k, v] : *table) rows.push_back(v);
  std::sort(rows.begin(), rows.end());
  return rows;
}

void RunOracle(const Case& cs, unsigned seed) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  TableMeta meta;
  meta.id = 7;
  meta.name = "public.st";
  meta.plan_json = cs.plan;
  auto st = StreamTable::Create(meta);
  ASSERT_TRUE(st.ok()) << st.status().message();
  std::mt19937 rng(seed);
  Model model[2];
  SourceMirror mirror[2] = {SourceMirror(MirrorMeta{100, "a", {1}, 3, 0}), SourceMirror(MirrorMeta{200, "b", {1}, 3, 0})};
  const Oid relid[2] = {100, 200};
  const int nsrc = cs.two_sources ? 2 : 1;
  std::map<std::string, std::string> merged;
  Batch b(store->get());
  for (int s = 0; s < nsrc; ++s)
    for (int id = 1; id <= 12; ++id) {
      model[s][id] = RandomRow(rng, id, s == 1);
      mirror[s].PutSnapshotRow(&b, model[s][id]);
      ASSERT_TRUE((*st)->ApplySnapshotRow(&b, relid[s], model[s][id]).ok());
    }
  (*st)->TouchGlobalGroup();
  int next_id = 100;
  for (int round = 0; round < 50; ++round) {
    int nchanges = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < nchanges; ++i) {
      int s = static_cast<int>(rng() % static_cast<unsigned>(nsrc));
      Model& m = model[s];
      Change c;
      c.relid = relid[s];
      int op = static_cast<int>(rng() % 10);
      if (op < 3 || m.empty()) {
        c.kind = ChangeKind::kInsert;
        int id = next_id++;
        c.new_row = RandomRow(rng, id, s == 1);
        m[id] = *c.new_row;
      } else {
        auto it = m.begin();
        std::advance(it, rng() % m.size());
        int id = it->first;
        Row old_key = Nulls(3);
        old_key[0] = Value::Int(TypeId::kInt4, id);
        if (op < 8) {
          c.kind = ChangeKind::kUpdate;
          bool key_change = rng() % 5 == 0;
          int new_id = key_change ? next_id++ : id;
          c.new_row = RandomRow(rng, new_id, s == 1);
          if (key_change) { c.old_row = old_key; c.old_is_key_only = true; m.erase(id); }
          m[new_id] = *c.new_row;
        } else {
          c.kind = ChangeKind::kDelete;
          c.old_row = old_key;
          c.old_is_key_only = true;
          m.erase(id);
        }
      }
      std::optional<Row> old_row, new_row;
      Status r = mirror[s].Apply(&b, c, &old_row, &new_row);
      ASSERT_TRUE(r.ok()) << r.message();
      r = (*st)->ApplySourceDelta(&b, relid[s], old_row, new_row);
      ASSERT_TRUE(r.ok()) << r.message();
    }
    ASSERT_TRUE((*st)->FinishBatch(&b).ok());
    ASSERT_TRUE((*store)->Commit(&b).ok());
    if (rng() % 3 == 0 || round == 49) {
      Rows got = Merged(store->get(), 7, &merged);
      Rows want = cs.recompute(model[0], model[1]);
      ASSERT_EQ(got, want) << "seed " << seed << " round " << round;
    }
  }
}

void RunSeeds(const Case& cs) {
  for (unsigned seed = 1; seed <= 6; ++seed) RunOracle(cs, seed);
}

TEST(DataflowOracleTest, InnerJoinWithResidualMatchesRecompute) {
  RunSeeds({JoinPlan("inner"), [](const Model& a, const Model& b) { return RecomputeJoin("inner", a, b); }});
}
TEST(DataflowOracleTest, LeftJoinMatchesRecompute) {
  RunSeeds({JoinPlan("left"), [](const Model& a, const Model& b) { return RecomputeJoin("left", a, b); }});
}
TEST(DataflowOracleTest, RightJoinMatchesRecompute) {
  RunSeeds({JoinPlan("right"), [](const Model& a, const Model& b) { return RecomputeJoin("right", a, b); }});
}
TEST(DataflowOracleTest, FullJoinMatchesRecompute) {
  RunSeeds({JoinPlan("full"), [](const Model& a, const Model& b) { return RecomputeJoin("full", a, b); }});
}

// SELECT x.id, y.id FROM a x JOIN a y ON x.k = y.v   (self-join: one source, two scans)
TEST(DataflowOracleTest, SelfJoinMatchesRecompute) {
  Case cs{PlanOf(Project(Join("inner", Scan(0), Scan(0), {Col(1)}, {Col(2)}), {Col(0), Col(3)}), 2, false),
          [](const Model& a, const Model&) {
            Rows out;
            for (auto& [i, x] : a)
              for (auto& [j, y] : a)
                if (Eq(x[1], y[2])) out.push_back(Print({x[0], y[0]}));
            std::sort(out.begin(), out.end());
            return out;
          }, false};
  RunSeeds(cs);
}

// SELECT DISTINCT a.k, b.w FROM a JOIN b ON a.k = b.k
TEST(DataflowOracleTest, DistinctOverJoinMatchesRecompute) {
  json j = Join("inner", Scan(0), Scan(1), {Col(1)}, {Col(1)});
  Case cs{PlanOf({{"op", "distinct"}, {"input", Project(j, {Col(1), Col(5, 25)})}}, 2),
          [](const Model& a, const Model& b) {
            std::set<std::string> s;
            for (auto& [i, x] : a)
              for (auto& [j2, y] : b)
                if (Eq(x[1], y[1])) s.insert(Print({x[1], y[2]}));
            return Rows(s.begin(), s.end());
          }};
  RunSeeds(cs);
}

// SELECT k FROM a UNION ALL SELECT k FROM b
TEST(DataflowOracleTest, UnionAllMatchesRecompute) {
  json u = {{"op", "union_all"}, {"inputs", {Project(Scan(0), {Col(1)}), Project(Scan(1), {Col(1)})}}};
  Case cs{PlanOf(u, 1), [](const Model& a, const Model& b) {
            Rows out;
            for (auto& [i, x] : a) out.push_back(Print({x[1]}));
            for (auto& [i, y] : b) out.push_back(Print({y[1]}));
            std::sort(out.begin(), out.end());
            return out;
          }};
  RunSeeds(cs);
}

json Agg(json in, std::vector<json> group_by, std::vector<json> aggs) {
  return {{"op", "aggregate"}, {"input", in}, {"group_by", group_by}, {"aggs", aggs}};
}
json CountStar() { return {{"fn", "count_star"}, {"arg", nullptr}, {"typoid", 20}}; }
json Sum(json arg) { return {{"fn", "sum"}, {"arg", arg}, {"typoid", 20}}; }

// SELECT b.w, count(*), sum(a.v) FROM a LEFT JOIN b ON a.k = b.k GROUP BY b.w
TEST(DataflowOracleTest, AggregateOverOuterJoinMatchesRecompute) {
  json j = Join("left", Scan(0), Scan(1), {Col(1)}, {Col(1)});
  Case cs{PlanOf(Agg(j, {Col(5, 25)}, {CountStar(), Sum(Col(2))}), 3),
          [](const Model& a, const Model& b) {
            std::map<std::string, std::pair<int64_t, std::optional<int64_t>>> g;
            std::map<std::string, Value> keys;
            auto add = [&](const Value& w, const Value& v) {
              std::string k = Print({w});
              keys[k] = w;
              auto& e = g[k];
              ++e.first;
              if (!v.is_null) e.second = e.second.value_or(0) + v.i;
            };
            for (auto& [i, x] : a) {
              bool any = false;
              for (auto& [j2, y] : b) if (Eq(x[1], y[1])) { add(y[2], x[2]); any = true; }
              if (!any) add(Value::Null(TypeId::kText), x[2]);
            }
            Rows out;
            for (auto& [k, e] : g)
              out.push_back(Print({keys[k], Value::Int(TypeId::kInt8, e.first),
                                   e.second ? Value::Int(TypeId::kInt8, *e.second) : Value::Null(TypeId::kInt8)}));
            std::sort(out.begin(), out.end());
            return out;
          }};
  RunSeeds(cs);
}

// SELECT g.k, g.n, b.id FROM (SELECT k, count(*) n FROM a GROUP BY k) g JOIN b ON g.k = b.k
TEST(DataflowOracleTest, JoinOverAggregateMatchesRecompute) {
  json g = Agg(Scan(0), {Col(1)}, {CountStar()});
  Case cs{PlanOf(Project(Join("inner", g, Scan(1), {Col(0)}, {Col(1)}), {Col(0), Col(1, 20), Col(2)}), 3),
          [](const Model& a, const Model& b) {
            std::map<int64_t, int64_t> n;
            for (auto& [i, x] : a) if (!x[1].is_null) ++n[x[1].i];
            Rows out;
            for (auto& [k, c] : n)
              for (auto& [j, y] : b)
                if (!y[1].is_null && y[1].i == k)
                  out.push_back(Print({Value::Int(TypeId::kInt4, k), Value::Int(TypeId::kInt8, c), y[0]}));
            std::sort(out.begin(), out.end());
            return out;
          }};
  RunSeeds(cs);
}

// Semi / anti joins: SELECT a.id, a.v FROM a WHERE [NOT] EXISTS (SELECT 1 FROM b WHERE b.k = a.k
// AND (a.v > 20 OR b.w IS NULL)), and a.k [NOT] IN (SELECT b.k FROM b) with NULLs as PostgreSQL.
Rows RecomputeSemi(const std::string& kind, const Model& a, const Model& b) {
  Rows out;
  for (auto& [i, x] : a) {
    bool pass;
    if (kind == "semi" || kind == "anti") {
      bool any = false;
      for (auto& [j, y] : b) any |= Eq(K(x), K(y)) && ((!x[2].is_null && x[2].i > 20) || y[2].is_null);
      pass = kind == "semi" ? any : !any;
    } else {   // NOT IN: TRUE iff b empty, or x.k not NULL, no b.k NULL, no b.k = x.k
      bool any_null = false, any_eq = false;
      for (auto& [j, y] : b) { any_null |= K(y).is_null; any_eq |= Eq(K(x), K(y)); }
      pass = b.empty() || (!K(x).is_null && !any_null && !any_eq);
    }
    if (pass) out.push_back(Print({x[0], x[2]}));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string SemiPlan(const char* kind) {
  json residual = std::string(kind) == "anti_null_aware" ? json(nullptr) : Or(Op("gt", Col(2), Int(20)), IsNull(Col(5, 25)));
  return PlanOf(Project(Join(kind, Scan(0), Scan(1), {Col(1)}, {Col(1)}, residual), {Col(0), Col(2)}), 2);
}

TEST(DataflowOracleTest, SemiJoinMatchesRecompute) {
  RunSeeds({SemiPlan("semi"), [](const Model& a, const Model& b) { return RecomputeSemi("semi", a, b); }});
}
TEST(DataflowOracleTest, AntiJoinMatchesRecompute) {
  RunSeeds({SemiPlan("anti"), [](const Model& a, const Model& b) { return RecomputeSemi("anti", a, b); }});
}
TEST(DataflowOracleTest, NotInWithNullsMatchesRecompute) {
  RunSeeds({SemiPlan("anti_null_aware"), [](const Model& a, const Model& b) { return RecomputeSemi("not_in", a, b); }});
}

// SELECT k FROM a <op> SELECT k FROM b, for INTERSECT / EXCEPT [ALL] (NULLs equal, as SQL).
Rows RecomputeSetOp(const std::string& kind, const Model& a, const Model& b) {
  std::map<std::string, std::pair<int64_t, int64_t>> m;
  for (auto& [i, x] : a) ++m[Print({x[1]})].first;
  for (auto& [i, y] : b) ++m[Print({y[1]})].second;
  Rows out;
  for (auto& [v, c] : m) {
    int64_t f = kind == "intersect" ? (std::min(c.first, c.second) > 0)
              : kind == "intersect_all" ? std::min(c.first, c.second)
              : kind == "except" ? (c.first > 0 && c.second == 0)
              : std::max<int64_t>(c.first - c.second, 0);
    for (int64_t i = 0; i < f; ++i) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void RunSetOp(const char* kind) {
  json s = {{"op", "setop"}, {"kind", kind}, {"inputs", {Project(Scan(0), {Col(1)}), Project(Scan(1), {Col(1)})}}};
  std::string k = kind;
  RunSeeds({PlanOf(s, 1), [k](const Model& a, const Model& b) { return RecomputeSetOp(k, a, b); }});
}

TEST(DataflowOracleTest, IntersectMatchesRecompute) { RunSetOp("intersect"); }
TEST(DataflowOracleTest, IntersectAllMatchesRecompute) { RunSetOp("intersect_all"); }
TEST(DataflowOracleTest, ExceptMatchesRecompute) { RunSetOp("except"); }
TEST(DataflowOracleTest, ExceptAllMatchesRecompute) { RunSetOp("except_all"); }

// SELECT k, count(DISTINCT v), sum(DISTINCT v), count(v) FROM a GROUP BY k
TEST(DataflowOracleTest, DistinctAggregatesMatchRecompute) {
  json cd = {{"fn", "count"}, {"arg", Col(2)}, {"typoid", 20}, {"distinct", true}};
  json sd = {{"fn", "sum"}, {"arg", Col(2)}, {"typoid", 20}, {"distinct", true}};
  json c = {{"fn", "count"}, {"arg", Col(2)}, {"typoid", 20}};
  Case cs{PlanOf(Agg(Scan(0), {Col(1)}, {cd, sd, c}), 4, false),
          [](const Model& a, const Model&) {
            std::map<std::string, std::pair<Value, std::set<int64_t>>> g;
            std::map<std::string, int64_t> n;
            for (auto& [i, x] : a) {
              auto& e = g[Print({x[1]})];
              e.first = x[1];
              if (!x[2].is_null) { e.second.insert(x[2].i); ++n[Print({x[1]})]; }
            }
            Rows out;
            for (auto& [k, e] : g) {
              int64_t s = 0;
              for (int64_t v : e.second) s += v;
              out.push_back(Print({e.first, Value::Int(TypeId::kInt8, static_cast<int64_t>(e.second.size())),
                                   e.second.empty() ? Value::Null(TypeId::kInt8) : Value::Int(TypeId::kInt8, s),
                                   Value::Int(TypeId::kInt8, n[k])}));
            }
            std::sort(out.begin(), out.end());
            return out;
          }, false};
  RunSeeds(cs);
}

TEST(DataflowPlanTest, RejectsBadJoinsNamingTheProblem) {
  json j = Join("lateral", Scan(0), Scan(1), {Col(1)}, {Col(1)});
  auto p = ParsePlan(PlanOf(Project(j, {Col(0)}), 1));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("lateral"), std::string::npos);
  json k = Join("inner", Scan(0), Scan(1), {Col(7)}, {Col(1)});
  p = ParsePlan(PlanOf(Project(k, {Col(0)}), 1));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("column 7"), std::string::npos);
}

// A source that is another stream table's storage carries its id (upstreams.cc merges the
// downstream at that table's frontier); absent = a plain table.
TEST(DataflowPlanTest, ReadsStreamTableSources) {
  json plan = json::parse(PlanOf(Project(Scan(0), {Col(0)}), 1, true));
  plan["sources"][1]["stream_table_id"] = 42;
  auto p = ParsePlan(plan.dump());
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ((*p)->sources[0].stream_table_id, 0);
  EXPECT_EQ((*p)->sources[1].stream_table_id, 42);
}

}  // namespace
}  // namespace pgt::engine
