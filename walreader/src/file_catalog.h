// A CatalogResolver loaded from a text file (internal; tests and pgtrickle-waldump
// --catalog-file). One line per attribute, '|'-separated, as written by
// tests/fixtures/make_fixtures.sh:
//   relname|oid|relfilenode|attnum|attname|atttypid|attlen|attalign|attbyval|attisdropped|pkey
// (pkey = comma-separated attnums). Relations live in schema public, tablespace 1663.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "walreader/catalog.h"

namespace pgt::internal {

class FileCatalog : public CatalogResolver {
 public:
  static Result<std::unique_ptr<FileCatalog>> Load(const std::string& path, Oid db_oid);
  const RelationDesc* Lookup(const RelFileLocator& loc, Lsn lsn) override;
  const RelationDesc* LookupByOid(Oid relid) override;
  void Add(RelationDesc d);

 private:
  std::unordered_map<Oid, RelationDesc> by_oid_;
  std::unordered_map<Oid, Oid> by_filenode_;
};

}  // namespace pgt::internal
