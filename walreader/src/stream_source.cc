// placeholder, replaced below
#include "walreader/source.h"
namespace pgt {
Result<std::unique_ptr<WalSource>> OpenStreamSource(const StreamOptions&) { return Status::Unsupported("todo"); }
Result<Lsn> IdentifySystemXLogPos(const std::string&, TimeLineId*) { return Status::Unsupported("todo"); }
}
