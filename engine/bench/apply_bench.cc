// apply_bench: the engine's apply path in process, without servers — synthetic decoded
// transactions over one wide source (20 columns of int/numeric/text) go through ApplyPath
// (shared source mirror → stream tables' circuits → pending) into a RocksDB StateStore, batch by
// batch, exactly as the engine loop applies them (mirrors.cc / engine.cc CommitBatch).
//
// Shapes (--tables):
//   five: T1 SELECT grp, count(*), sum(n1), avg(a1), min(n2), max(t1) FROM src GROUP BY grp
//         T2 SELECT id, a1, a2 * 2, n1, t1 FROM src WHERE region < 5
//         T3 SELECT count(*), sum(b1), max(a3) FROM src
//         T4 SELECT region, count(*), sum(n3), min(a4), max(b2) FROM src GROUP BY region
//         T5 SELECT grp, count(*), sum(b3) FROM src WHERE a2 > 50 GROUP BY grp
//   one:  T1 only
//   join: SELECT s.id, s.a1, d.name FROM src s JOIN dim d ON s.grp = d.id (dim: one row per grp)
// Workloads (--mode): update (random rows, a few columns each), mixed (insert/update/delete).
//
// Reports changes per CPU second (process CPU time of the timed part) and the time per stage.
// --check recomputes every table from the final source rows (a fresh state, the rows loaded as
// a bootstrap would) and compares the outputs row by row: exit 1 on a difference. Timings are
// printed, never checked.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apply_path.h"
#include "source_mirror.h"
#include "state/state_store.h"
#include "stream_table.h"
#include "values/codec.h"
#include "values/text_io.h"

#include <filesystem>

namespace pgt::engine {
namespace {

using nlohmann::json;
constexpr Oid kSrc = 100, kDim = 200;
constexpr int kCols = 20;

struct Options {
  int rows = 100000;          // source rows loaded before the timed part
  int txns = 200;             // timed transactions
  int changes = 250;          // changes per transaction
  int batch_txns = 2000;      // transactions per committed batch (the engine's kMaxBatchTxns)
  int groups = 1000;          // distinct grp values
  std::string tables = "five";
  std::string mode = "update";
  bool check = false;
  unsigned seed = 1;
};

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---- plans (docs/plan-format.md) ----
// Source columns: 1 id int8 (key), 2 grp int4, 3 region int4, 4-8 a1..a5 int4, 9-12 b1..b4 int8,
// 13-16 n1..n4 numeric, 17-20 t1..t4 text.
const char* ColName(int attnum) {
  static const char* names[kCols] = {"id", "grp", "region", "a1", "a2", "a3", "a4", "a5", "b1", "b2",
                                     "b3", "b4", "n1", "n2", "n3", "n4", "t1", "t2", "t3", "t4"};
  return names[attnum - 1];
}
int TypOf(int attnum) {
  if (attnum == 1) return 20;
  if (attnum <= 8) return 23;
  if (attnum <= 12) return 20;
  if (attnum <= 16) return 1700;
  return 25;
}
int Att(const char* name) {
  for (int a = 1; a <= kCols; ++a) if (std::strcmp(ColName(a), name) == 0) return a;
  std::abort();
}
json C(const char* name) { return {{"kind", "col"}, {"col", Att(name) - 1}, {"typoid", TypOf(Att(name))}}; }
json Ci(int i, int typ) { return {{"kind", "col"}, {"col", i}, {"typoid", typ}}; }
json K(int v) { return {{"kind", "const"}, {"typoid", 23}, {"value", std::to_string(v)}}; }
json Op(const char* fn, json a, json b, int typ) { return {{"kind", "op"}, {"fn", fn}, {"typoid", typ}, {"args", {a, b}}, {"pg_fn", fn}}; }
json Scan(int s) { return {{"op", "scan"}, {"source", s}}; }
json Agg(const char* fn, json arg, int typ) { return {{"fn", fn}, {"arg", arg}, {"typoid", typ}}; }
json Out(const char* name, int typ) { return {{"name", name}, {"typoid", typ}, {"type_sql", "x"}}; }

json SourceJson() {
  json cols = json::array();
  for (int a = 1; a <= kCols; ++a) cols.push_back({{"attnum", a}, {"name", ColName(a)}, {"typoid", TypOf(a)}});
  return {{"relid", kSrc}, {"schema", "public"}, {"name", "src"}, {"key", {1}}, {"columns", cols}};
}
json DimJson() {
  return {{"relid", kDim}, {"schema", "public"}, {"name", "dim"}, {"key", {1}},
          {"columns", {{{"attnum", 1}, {"name", "id"}, {"typoid", 23}}, {{"attnum", 2}, {"name", "name"}, {"typoid", 25}}}}};
}
std::string PlanOf(json root, json output, bool with_dim = false) {
  json sources = {SourceJson()};
  if (with_dim) sources.push_back(DimJson());
  return json({{"version", 2}, {"sources", sources}, {"root", root}, {"output", output}}).dump();
}

// An aggregate whose output columns are its own (group keys then aggregates), as `project` of
// identity over it.
std::string AggPlan(json input, std::vector<json> group_by, std::vector<json> aggs, json output) {
  json root = {{"op", "aggregate"}, {"group_by", group_by}, {"aggs", aggs}, {"input", input}};
  return PlanOf(root, output);
}

std::vector<std::string> Plans(const std::string& shape) {
  std::vector<std::string> p;
  if (shape == "join") {
    json join = {{"op", "join"}, {"kind", "inner"}, {"left", Scan(0)}, {"right", Scan(1)},
                 {"left_keys", {C("grp")}}, {"right_keys", {Ci(0, 23)}}, {"residual", nullptr}};
    json root = {{"op", "project"}, {"input", join}, {"exprs", {C("id"), C("a1"), Ci(kCols + 1, 25)}}};
    p.push_back(PlanOf(root, {Out("id", 20), Out("a1", 23), Out("name", 25)}, true));
    return p;
  }
  p.push_back(AggPlan(Scan(0), {C("grp")},
                      {Agg("count_star", nullptr, 20), Agg("sum", C("n1"), 1700), Agg("avg", C("a1"), 1700),
                       Agg("min", C("n2"), 1700), Agg("max", C("t1"), 25)},
                      {Out("grp", 23), Out("n", 20), Out("s", 1700), Out("a", 1700), Out("mn", 1700), Out("mx", 25)}));
  if (shape == "one") return p;
  json filter = {{"op", "filter"}, {"input", Scan(0)}, {"predicate", Op("lt", C("region"), K(5), 16)}};
  json proj = {{"op", "project"}, {"input", filter}, {"exprs", {C("id"), C("a1"), Op("mul", C("a2"), K(2), 23), C("n1"), C("t1")}}};
  p.push_back(PlanOf(proj, {Out("id", 20), Out("a1", 23), Out("a2x2", 23), Out("n1", 1700), Out("t1", 25)}));
  p.push_back(AggPlan(Scan(0), {}, {Agg("count_star", nullptr, 20), Agg("sum", C("b1"), 1700), Agg("max", C("a3"), 23)},
                      {Out("n", 20), Out("s", 1700), Out("mx", 23)}));
  p.push_back(AggPlan(Scan(0), {C("region")},
                      {Agg("count_star", nullptr, 20), Agg("sum", C("n3"), 1700), Agg("min", C("a4"), 23), Agg("max", C("b2"), 20)},
                      {Out("region", 23), Out("n", 20), Out("s", 1700), Out("mn", 23), Out("mx", 20)}));
  json f5 = {{"op", "filter"}, {"input", Scan(0)}, {"predicate", Op("gt", C("a2"), K(50), 16)}};
  p.push_back(AggPlan(f5, {C("grp")}, {Agg("count_star", nullptr, 20), Agg("sum", C("b3"), 1700)},
                      {Out("grp", 23), Out("n", 20), Out("s", 1700)}));
  return p;
}

// ---- synthetic rows ----
class Gen {
 public:
  Gen(unsigned seed, int groups) : rng_(seed), groups_(groups) {}
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  Value Numeric() {
    int cents = Pick(2000000) - 1000000;
    std::string s = std::to_string(std::abs(cents) / 100) + "." + std::to_string(100 + std::abs(cents) % 100).substr(1);
    return Value::Str(TypeId::kNumeric, cents < 0 ? "-" + s : s);
  }
  Value Text() {
    static const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};
    std::string s = std::string(words[Pick(8)]) + "-" + std::to_string(Pick(1000000)) + "-" + words[Pick(8)];
    return Value::Str(TypeId::kText, s);
  }
  Value Column(int attnum) {
    switch (TypOf(attnum)) {
      case 20: return Value::Int(TypeId::kInt8, static_cast<int64_t>(rng_() % 1000000000));
      case 23: return Value::Int(TypeId::kInt4, attnum == 2 ? Pick(groups_) : attnum == 3 ? Pick(10) : Pick(100));
      case 1700: return Numeric();
      default: return Text();
    }
  }
  Row NewRow(int64_t id) {
    Row r;
    r.reserve(kCols);
    r.push_back(Value::Int(TypeId::kInt8, id));
    for (int a = 2; a <= kCols; ++a) r.push_back(Column(a));
    return r;
  }
  // An UPDATE changes a few columns (one of the grouping columns now and then).
  Row Updated(Row r) {
    int n = 1 + Pick(4);
    for (int i = 0; i < n; ++i) {
      int a = Pick(10) == 0 ? 2 + Pick(2) : 4 + Pick(kCols - 3);
      r[static_cast<size_t>(a - 1)] = Column(a);
    }
    return r;
  }

 private:
  std::mt19937_64 rng_;
  int groups_;
};

Row DimRow(int id) { return {Value::Int(TypeId::kInt4, id), Value::Str(TypeId::kText, "dim-" + std::to_string(id))}; }

// ---- the engine side: mirrors, tables, batches ----
struct Harness {
  std::unique_ptr<StateStore> store;
  std::map<Oid, SourceMirror> mirrors;
  std::vector<std::unique_ptr<StreamTable>> tables;
  ApplyPath path;
  std::unique_ptr<Batch> batch;
  int errors = 0;

  Status Open(const std::string& dir, const std::vector<std::string>& plans) {
    PGT_ASSIGN_OR_RETURN(store, StateStore::Open(dir));
    mirrors.emplace(kSrc, SourceMirror(MirrorMeta{kSrc, "public.src", {1}, kCols, 0}));
    mirrors.emplace(kDim, SourceMirror(MirrorMeta{kDim, "public.dim", {1}, 2, 0}));
    int64_t id = 1;
    for (const auto& plan : plans) {
      TableMeta meta;
      meta.id = id++;
      meta.name = "st" + std::to_string(meta.id);
      meta.plan_json = plan;
      PGT_ASSIGN_OR_RETURN(auto t, StreamTable::Create(meta));
      tables.push_back(std::move(t));
    }
    batch = std::make_unique<Batch>(store.get());
    return Status::Ok();
  }

  std::vector<ApplyPath::Reader> Readers(Oid relid) {
    std::vector<ApplyPath::Reader> r;
    for (auto& t : tables) if (t->ReadsSource(relid)) r.push_back(ApplyPath::Reader{t->meta().id, t.get(), true});
    return r;
  }
  ApplyPath::ErrorFn OnError() {
    return [this](int64_t id, const Status& why) {
      if (errors++ < 5) std::fprintf(stderr, "table %lld: %s\n", static_cast<long long>(id), why.message().c_str());
    };
  }

  // Bootstrap: snapshot rows into the mirrors and every reader, one committed batch per 10k rows.
  Status Load(Oid relid, const std::vector<Row>& rows) {
    Batch b(store.get());
    auto readers = Readers(relid);
    size_t n = 0;
    for (const Row& row : rows) {
      mirrors.at(relid).PutSnapshotRow(&b, row);
      for (auto& r : readers) PGT_RETURN_IF_ERROR(r.table->ApplySnapshotRow(&b, relid, row));
      if (++n % 10000 == 0) {
        for (auto& r : readers) PGT_RETURN_IF_ERROR(r.table->FinishBatch(&b));
        PGT_RETURN_IF_ERROR(store->Commit(&b));
      }
    }
    for (auto& t : tables) t->TouchGlobalGroup();
    for (auto& r : readers) PGT_RETURN_IF_ERROR(r.table->FinishBatch(&b));
    return store->Commit(&b);
  }
};

// Stage timers: process CPU seconds (RocksDB's background threads included) per stage.
struct Stages {
  double apply = 0, finish = 0, commit = 0;
};
double CpuSince(double cpu0) { return CpuSeconds() - cpu0; }
double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Status CommitBatch(Harness* h, Stages* st) {
  double t0 = CpuSeconds();
  auto all = h->Readers(kSrc);
  for (auto& r : h->Readers(kDim)) {
    bool dup = false;
    for (auto& a : all) dup |= a.id == r.id;
    if (!dup) all.push_back(r);
  }
  auto readers = [h](Oid relid, std::vector<ApplyPath::Reader>* out) {
    for (auto& r : h->Readers(relid)) out->push_back(r);
  };
  PGT_RETURN_IF_ERROR(h->path.Finish(h->batch.get(), readers, all, h->OnError()));
  st->finish += CpuSince(t0);
  t0 = CpuSeconds();
  h->batch->Put(Cf::kMeta, "checkpoint", "bench");
  PGT_RETURN_IF_ERROR(h->store->Commit(h->batch.get()));
  st->commit += CpuSince(t0);
  return Status::Ok();
}

// Profiling only the timed part: with APPLY_BENCH_PERF_CTL=<fifo> the bench writes "enable" and
// "disable" to it around the timed part, for `perf record --control fifo:<fifo> -D -1 ...`.
void PerfControl(const char* cmd) {
  const char* fifo = std::getenv("APPLY_BENCH_PERF_CTL");
  if (!fifo) return;
  if (FILE* f = std::fopen(fifo, "w")) {
    std::fprintf(f, "%s\n", cmd);
    std::fclose(f);
  }
}

// Final output of every table: row id -> printed row (pending holds final values; nothing merged).
using Output = std::map<std::string, std::string>;
std::string Print(const Row& r) {
  std::string s;
  for (const auto& v : r) s += (v.is_null ? "NULL" : values::FormatText(v)) + "|";
  return s;
}
Result<Output> Pending(StateStore* store, int64_t id) {
  Output out;
  Status st;
  PGT_RETURN_IF_ERROR(store->Scan(Cf::kPending, TablePrefix(id), [&](std::string_view k, std::string_view v) {
    if (v.empty() || v[0] == 'D') return true;
    auto row = values::DecodeRow(v.substr(1));
    if (!row.ok()) { st = row.status(); return false; }
    out[std::string(k.substr(8))] = Print(*row);
    return true;
  }));
  PGT_RETURN_IF_ERROR(st);
  return out;
}

// The state operations of the timed part per source change, per column family.
void PrintOps(const BatchOps& ops, int64_t changes) {
  const double n = static_cast<double>(changes);
  std::printf("  state ops per change: family  get(batch) get(db) put del merge scan | committed\n");
  for (int c = 0; c < BatchOps::kCfs; ++c) {
    std::printf("  %28s  %10.3f %7.3f %5.3f %5.3f %5.3f %5.3f | %.3f\n", CfName(static_cast<Cf>(c)),
                static_cast<double>(ops.get_hit[c]) / n, static_cast<double>(ops.get_db[c]) / n,
                static_cast<double>(ops.put[c]) / n, static_cast<double>(ops.del[c]) / n,
                static_cast<double>(ops.merge[c]) / n, static_cast<double>(ops.scan[c]) / n,
                static_cast<double>(ops.committed[c]) / n);
  }
}

int Run(const Options& o) {
  namespace fs = std::filesystem;
  std::string base = (fs::temp_directory_path() / "pgt-apply-bench-XXXXXX").string();
  if (!mkdtemp(base.data())) { std::perror("mkdtemp"); return 2; }
  struct Cleanup { std::string d; ~Cleanup() { std::error_code ec; fs::remove_all(d, ec); } } cleanup{base};

  auto plans = Plans(o.tables);
  Harness h;
  Status st = h.Open(base + "/inc", plans);
  if (!st.ok()) { std::fprintf(stderr, "open: %s\n", st.message().c_str()); return 2; }
  Gen gen(o.seed, o.groups);
  std::map<int64_t, Row> model;   // the source's rows now
  std::vector<Row> initial;
  for (int64_t id = 1; id <= o.rows; ++id) initial.push_back(model[id] = gen.NewRow(id));
  std::vector<Row> dims;
  for (int g = 0; g < o.groups; ++g) dims.push_back(DimRow(g));
  auto t_load = std::chrono::steady_clock::now();
  st = h.Load(kSrc, initial);
  if (st.ok() && o.tables == "join") st = h.Load(kDim, dims);
  if (!st.ok()) { std::fprintf(stderr, "load: %s\n", st.message().c_str()); return 2; }
  double load_s = Since(t_load);
  initial.clear();

  // The timed transactions, generated up front (decoding is not measured here).
  std::vector<Transaction> txns;
  std::vector<int64_t> ids;
  for (auto& [id, r] : model) ids.push_back(id);
  int64_t next_id = o.rows + 1;
  Lsn lsn = 0x1000000;
  for (int t = 0; t < o.txns; ++t) {
    Transaction txn;
    txn.xid = static_cast<Xid>(1000 + t);
    for (int c = 0; c < o.changes; ++c) {
      Change ch;
      ch.relid = kSrc;
      ch.lsn = lsn++;
      int op = o.mode == "mixed" ? gen.Pick(4) : 1;   // mixed: 1/4 insert, 1/2 update, 1/4 delete
      if (op == 0 || ids.empty()) {
        ch.kind = ChangeKind::kInsert;
        ch.new_row = model[next_id] = gen.NewRow(next_id);
        ids.push_back(next_id++);
      } else {
        size_t at = static_cast<size_t>(gen.Pick(static_cast<int>(ids.size())));
        int64_t id = ids[at];
        if (op == 3) {
          ch.kind = ChangeKind::kDelete;
          Row key(kCols, Value::Null(TypeId::kUnknown));
          key[0] = Value::Int(TypeId::kInt8, id);
          ch.old_row = key;
          ch.old_is_key_only = true;
          model.erase(id);
          ids[at] = ids.back();
          ids.pop_back();
        } else {
          ch.kind = ChangeKind::kUpdate;
          ch.new_row = model[id] = gen.Updated(model[id]);
        }
      }
      txn.changes.push_back(std::move(ch));
    }
    txn.first_lsn = txn.changes.empty() ? lsn : txn.changes.front().lsn;
    txn.commit_lsn = lsn++;
    txn.end_lsn = lsn++;
    txns.push_back(std::move(txn));
  }

  Stages stages;
  auto src_readers = h.Readers(kSrc);
  ApplyPath::ReadersFn current = [&h](Oid relid, std::vector<ApplyPath::Reader>* out) {
    for (auto& r : h.Readers(relid)) out->push_back(r);
  };
  auto on_error = h.OnError();
  PerfControl("enable");
  const double cpu0 = CpuSeconds();
  auto wall0 = std::chrono::steady_clock::now();
  int in_batch = 0;
  int64_t changes = 0;
  for (const Transaction& txn : txns) {
    double t0 = CpuSeconds();
    for (const Change& c : txn.changes) {
      st = h.path.ApplyChange(h.batch.get(), &h.mirrors.at(c.relid), c, src_readers, current, on_error);
      if (!st.ok()) { std::fprintf(stderr, "apply: %s\n", st.message().c_str()); return 2; }
      ++changes;
    }
    stages.apply += CpuSince(t0);
    if (++in_batch >= o.batch_txns) {
      st = CommitBatch(&h, &stages);
      if (!st.ok()) { std::fprintf(stderr, "commit: %s\n", st.message().c_str()); return 2; }
      in_batch = 0;
    }
  }
  if (in_batch > 0) {
    st = CommitBatch(&h, &stages);
    if (!st.ok()) { std::fprintf(stderr, "commit: %s\n", st.message().c_str()); return 2; }
  }
  const double cpu = CpuSeconds() - cpu0, wall = Since(wall0);
  PerfControl("disable");
  std::printf("apply_bench tables=%s mode=%s rows=%d txns=%d changes/txn=%d batch_txns=%d\n", o.tables.c_str(),
              o.mode.c_str(), o.rows, o.txns, o.changes, o.batch_txns);
  std::printf("  load (bootstrap) %.2f s\n", load_s);
  std::printf("  %lld changes in %.3f s wall, %.3f s CPU: %.0f changes per CPU second\n",
              static_cast<long long>(changes), wall, cpu, static_cast<double>(changes) / cpu);
  std::printf("  stages (CPU): apply %.3f s, finish %.3f s, commit %.3f s\n", stages.apply, stages.finish, stages.commit);
  PrintOps(h.batch->ops(), changes);
  if (h.errors) { std::fprintf(stderr, "%d table errors\n", h.errors); return 1; }
  if (!o.check) return 0;

  // Recompute: a fresh state loaded from the final source rows.
  Harness fresh;
  st = fresh.Open(base + "/fresh", plans);
  std::vector<Row> now;
  for (auto& [id, r] : model) now.push_back(r);
  if (st.ok()) st = fresh.Load(kSrc, now);
  if (st.ok() && o.tables == "join") st = fresh.Load(kDim, dims);
  if (!st.ok()) { std::fprintf(stderr, "recompute: %s\n", st.message().c_str()); return 2; }
  int bad = 0;
  for (size_t i = 0; i < h.tables.size(); ++i) {
    auto got = Pending(h.store.get(), h.tables[i]->meta().id);
    auto want = Pending(fresh.store.get(), fresh.tables[i]->meta().id);
    if (!got.ok() || !want.ok()) { std::fprintf(stderr, "reading pending failed\n"); return 2; }
    if (*got != *want) {
      ++bad;
      std::fprintf(stderr, "table %zu: %zu rows incrementally, %zu recomputed\n", i + 1, got->size(), want->size());
      int shown = 0;
      for (auto& [k, v] : *want) {
        auto it = got->find(k);
        if ((it == got->end() || it->second != v) && shown++ < 3)
          std::fprintf(stderr, "  want %s got %s\n", v.c_str(), it == got->end() ? "(none)" : it->second.c_str());
      }
    } else {
      std::printf("  table %zu: %zu rows, equal to the recompute\n", i + 1, got->size());
    }
  }
  return bad ? 1 : 0;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--check") { o->check = true; continue; }
    if (!(v = next())) { std::fprintf(stderr, "apply_bench: %s needs a value\n", a.c_str()); return false; }
    if (a == "--rows") o->rows = std::atoi(v);
    else if (a == "--txns") o->txns = std::atoi(v);
    else if (a == "--changes") o->changes = std::atoi(v);
    else if (a == "--batch-txns") o->batch_txns = std::atoi(v);
    else if (a == "--groups") o->groups = std::atoi(v);
    else if (a == "--seed") o->seed = static_cast<unsigned>(std::atoi(v));
    else if (a == "--tables") o->tables = v;
    else if (a == "--mode") o->mode = v;
    else { std::fprintf(stderr, "apply_bench: unknown option %s\n", a.c_str()); return false; }
  }
  if (o->tables != "five" && o->tables != "one" && o->tables != "join") {
    std::fprintf(stderr, "apply_bench: --tables is five, one or join\n");
    return false;
  }
  if (o->mode != "update" && o->mode != "mixed") { std::fprintf(stderr, "apply_bench: --mode is update or mixed\n"); return false; }
  if (o->rows < 1 || o->txns < 1 || o->changes < 1 || o->batch_txns < 1 || o->groups < 1) {
    std::fprintf(stderr, "apply_bench: sizes must be positive\n");
    return false;
  }
  return true;
}

}  // namespace
}  // namespace pgt::engine

int main(int argc, char** argv) {
  pgt::engine::Options o;
  if (!pgt::engine::ParseArgs(argc, argv, &o)) return 2;
  return pgt::engine::Run(o);
}
