// pgtrickle-waldump: decodes a WAL range and prints committed transactions in contrib/
// test_decoding's text format (include-xids 0, skip-empty-xacts 1), so that the server's own
// logical decoding can be used as the oracle.
//
//   pgtrickle-waldump (--wal-dir=DIR | --stream=CONNINFO) --start=LSN [--end=LSN] [--timeline=N]
//                     (--catalog=CONNINFO [--tables=a,b] | --catalog-file=FILE --db-oid=N)
//                     [--wait-consistent]
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "file_catalog.h"
#include "walreader/decoder.h"
#include "walreader/text_format.h"

namespace {
struct Args {
  std::string wal_dir, stream, start, end, catalog, catalog_file, tables;
  unsigned long db_oid = 0, timeline = 1;
  bool wait_consistent = false;
};

bool Parse(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; i++) {
    std::string s = argv[i];
    auto val = [&](const char* name, std::string* out) {
      std::string p = std::string("--") + name + "=";
      if (s.rfind(p, 0) != 0) return false;
      *out = s.substr(p.size());
      return true;
    };
    std::string tmp;
    if (val("wal-dir", &a->wal_dir) || val("stream", &a->stream) || val("start", &a->start) || val("end", &a->end) ||
        val("catalog", &a->catalog) || val("catalog-file", &a->catalog_file) ||
        val("tables", &a->tables))
      continue;
    if (val("db-oid", &tmp)) { a->db_oid = std::stoul(tmp); continue; }
    if (val("timeline", &tmp)) { a->timeline = std::stoul(tmp); continue; }
    if (s == "--wait-consistent") { a->wait_consistent = true; continue; }
    std::cerr << "pgtrickle-waldump: unknown argument " << s << "\n";
    return false;
  }
  if (a->wal_dir.empty() == a->stream.empty() || a->start.empty() || (a->catalog.empty() == a->catalog_file.empty())) {
    std::cerr << "usage: pgtrickle-waldump (--wal-dir=DIR | --stream=CONNINFO) --start=LSN [--end=LSN] [--timeline=N]\n"
                 "         (--catalog=CONNINFO [--tables=a,b] | --catalog-file=FILE --db-oid=N)\n"
                 "         [--wait-consistent]\n";
    return false;
  }
  return true;
}

int Fail(const pgt::Status& st) {
  std::cerr << "pgtrickle-waldump: " << st.ToString() << "\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, &a)) return 2;
  auto start = pgt::ParseLsn(a.start);
  if (!start.ok()) return Fail(start.status());
  pgt::Lsn end = UINT64_MAX;
  if (!a.end.empty()) {
    auto e = pgt::ParseLsn(a.end);
    if (!e.ok()) return Fail(e.status());
    end = e.value();
  }
  std::unique_ptr<pgt::CatalogResolver> catalog;
  pgt::Oid db_oid = static_cast<pgt::Oid>(a.db_oid);
  if (!a.catalog_file.empty()) {
    auto c = pgt::internal::FileCatalog::Load(a.catalog_file, db_oid);
    if (!c.ok()) return Fail(c.status());
    catalog = std::move(c.value());
  } else {
    auto c = pgt::SqlCatalogResolver::Connect(a.catalog);
    if (!c.ok()) return Fail(c.status());
    auto& sql = *c.value();
    db_oid = sql.database_oid();
    auto ids = sql.UserTables(a.tables);
    if (!ids.ok()) return Fail(ids.status());
    for (pgt::Oid id : ids.value()) {
      pgt::Status st = sql.Track(id, 0);
      if (!st.ok()) return Fail(st);
    }
    catalog = std::move(c.value());
  }
  pgt::StreamOptions so;
  so.conninfo = a.stream;
  auto src = a.stream.empty() ? pgt::OpenDirectorySource(a.wal_dir) : pgt::OpenStreamSource(so);
  if (!src.ok()) return Fail(src.status());
  pgt::Decoder dec(src->get(), catalog.get(), pgt::DecoderOptions{db_oid});
  pgt::Status st = dec.Start(start.value(), static_cast<pgt::TimeLineId>(a.timeline),
                             !a.wait_consistent);
  if (!st.ok()) return Fail(st);
  auto by_oid = [&](pgt::Oid id) { return catalog->LookupByOid(id); };
  while (dec.decoded_upto() < end) {
    auto t = dec.Next(std::chrono::milliseconds(200));
    if (!t.ok()) return Fail(t.status());
    if (!t->has_value()) {
      if (a.stream.empty() || end == UINT64_MAX) break;   // no more WAL
      continue;                                           // streaming: wait for --end
    }
    const pgt::Transaction& txn = **t;
    if (txn.end_lsn > end) break;
    std::cout << "BEGIN\n";
    for (const auto& c : txn.changes) std::cout << pgt::FormatChangeTestDecoding(c, by_oid) << "\n";
    std::cout << "COMMIT\n";
  }
  return 0;
}
