// placeholder
#include "walreader/catalog.h"
namespace pgt {
struct SqlCatalogResolver::Impl {};
SqlCatalogResolver::~SqlCatalogResolver() = default;
Result<std::unique_ptr<SqlCatalogResolver>> SqlCatalogResolver::Connect(const std::string&) { return Status::Unsupported("todo"); }
Status SqlCatalogResolver::Track(Oid, Lsn) { return Status::Unsupported("todo"); }
void SqlCatalogResolver::Untrack(Oid) {}
Result<RelationDesc> SqlCatalogResolver::Describe(Oid) { return Status::Unsupported("todo"); }
const RelationDesc* SqlCatalogResolver::Lookup(const RelFileLocator&, Lsn) { return nullptr; }
const RelationDesc* SqlCatalogResolver::LookupByOid(Oid) { return nullptr; }
const RelationDesc* SqlCatalogResolver::LookupToastOwner(const RelFileLocator&, Lsn) { return nullptr; }
}
namespace pgt { Result<std::vector<Oid>> SqlCatalogResolver::UserTables(const std::string&) { return Status::Unsupported("todo"); } }
