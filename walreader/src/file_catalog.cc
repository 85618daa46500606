// FileCatalog: see file_catalog.h.
#include "file_catalog.h"

#include <fstream>
#include <sstream>
#include <vector>

namespace pgt::internal {

Result<std::unique_ptr<FileCatalog>> FileCatalog::Load(const std::string& path, Oid db_oid) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read catalog file " + path);
  auto cat = std::make_unique<FileCatalog>();
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string item;
    while (std::getline(ss, item, '|')) f.push_back(item);
    if (line.back() == '|') f.push_back("");
    if (f.size() != 11)
      return Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": expected 11 fields");
    Oid relid = static_cast<Oid>(std::stoul(f[1]));
    RelationDesc& d = cat->by_oid_[relid];
    d.relid = relid;
    d.schema = "public";
    d.name = f[0];
    d.locator = RelFileLocator{1663, db_oid, static_cast<Oid>(std::stoul(f[2]))};
    AttributeDesc a;
    a.attnum = static_cast<int16_t>(std::stoi(f[3]));
    a.name = f[4];
    a.type_oid = static_cast<Oid>(std::stoul(f[5]));
    a.type = TypeIdFromOid(a.type_oid);
    a.attlen = static_cast<int16_t>(std::stoi(f[6]));
    a.attalign = f[7].empty() ? 'c' : f[7][0];
    a.attbyval = f[8] == "t";
    a.dropped = f[9] == "t";
    if (static_cast<int>(d.attrs.size()) != a.attnum - 1)
      return Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": attnums out of order");
    d.attrs.push_back(a);
    d.key_attnums.clear();
    std::stringstream ks(f[10]);
    while (std::getline(ks, item, ','))
      if (!item.empty()) d.key_attnums.push_back(static_cast<int16_t>(std::stoi(item)));
    cat->by_filenode_[d.locator.rel_number] = relid;
  }
  return cat;
}

void FileCatalog::Add(RelationDesc d) {
  by_filenode_[d.locator.rel_number] = d.relid;
  Oid id = d.relid;
  by_oid_[id] = std::move(d);
}

const RelationDesc* FileCatalog::Lookup(const RelFileLocator& loc, Lsn) {
  auto it = by_filenode_.find(loc.rel_number);
  if (it == by_filenode_.end()) return nullptr;
  const RelationDesc* d = LookupByOid(it->second);
  return d != nullptr && d->locator == loc ? d : nullptr;
}

const RelationDesc* FileCatalog::LookupByOid(Oid relid) {
  auto it = by_oid_.find(relid);
  return it == by_oid_.end() ? nullptr : &it->second;
}

}  // namespace pgt::internal
