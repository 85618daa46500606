// DescriptorHistory: descriptor versions by LSN (catalog_history.h).
#include <algorithm>

#include "walreader/catalog_history.h"

namespace pgt {

void DescriptorHistory::Add(RelationDesc d, bool rewritten) {
  pool_.push_back(std::move(d));
  const RelationDesc* p = &pool_.back();
  auto& vs = versions_[p->relid];
  vs.push_back(Version{p, rewritten});
  // The first version naming a relfilenode is the one that introduced it.
  heap_owner_.emplace(p->locator, Owner{p->relid, vs.size() - 1});
  if (p->toast_relid != 0) toast_owner_.emplace(p->toast_locator, Owner{p->relid, vs.size() - 1});
}

void DescriptorHistory::AddAlias(const RelFileLocator& loc, Oid relid, bool toast) {
  (toast ? toast_alias_ : alias_)[loc] = relid;
}

const RelationDesc* DescriptorHistory::At(Oid relid, Lsn lsn) const {
  auto it = versions_.find(relid);
  return it == versions_.end() || it->second.empty() ? nullptr : Pick(it->second, lsn);
}

// Last version with valid_from <= lsn; before the first one, the first one.
const RelationDesc* DescriptorHistory::Pick(const std::vector<Version>& vs, Lsn lsn) {
  auto after = std::upper_bound(vs.begin(), vs.end(), lsn,
                                [](Lsn l, const Version& v) { return l < v.desc->valid_from; });
  return after == vs.begin() ? vs.front().desc : std::prev(after)->desc;
}

const RelationDesc* DescriptorHistory::Latest(Oid relid) const {
  auto it = versions_.find(relid);
  return it == versions_.end() || it->second.empty() ? nullptr : it->second.back().desc;
}

std::vector<Oid> DescriptorHistory::Relids() const {
  std::vector<Oid> out;
  for (const auto& [relid, vs] : versions_) out.push_back(relid);
  std::sort(out.begin(), out.end());
  return out;
}

DescriptorHistory::Resolution DescriptorHistory::ResolveIn(
    const std::unordered_map<RelFileLocator, Owner, RelFileLocatorHash>& index,
    const RelFileLocator& loc, Lsn lsn, bool toast) const {
  Resolution r;
  auto it = index.find(loc);
  if (it == index.end()) {
    const auto& aliases = toast ? toast_alias_ : alias_;
    auto a = aliases.find(loc);
    if (a == aliases.end()) return r;
    r.kind = Resolution::Kind::kDecode;
    r.desc = At(a->second, lsn);
    return r;
  }
  const std::vector<Version>& vs = versions_.at(it->second.relid);
  const Version& intro = vs[it->second.first_version];
  // A rewrite fills the new relfilenode through a transient heap before the swap: those inserts
  // are not changes of the table.
  if (intro.rewritten && lsn < intro.desc->valid_from) {
    r.kind = Resolution::Kind::kSkipRewrite;
    return r;
  }
  r.kind = Resolution::Kind::kDecode;
  r.desc = Pick(vs, lsn);
  return r;
}

DescriptorHistory::Resolution DescriptorHistory::Resolve(const RelFileLocator& loc, Lsn lsn) const {
  return ResolveIn(heap_owner_, loc, lsn, false);
}

DescriptorHistory::Resolution DescriptorHistory::ResolveToast(const RelFileLocator& loc, Lsn lsn) const {
  return ResolveIn(toast_owner_, loc, lsn, true);
}

}  // namespace pgt
