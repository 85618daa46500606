// libFuzzer target: arbitrary bytes as the WAL pages of a segment, read by XLogReader (page
// headers, record reassembly across pages, CRC, xl_prev, XLOG_SWITCH), every record returned then
// split by DecodeRecord. Input: 1 configuration byte, then the WAL bytes.
//   bit 0     base: 0 = 0/1550000 (mid-segment, as tests/fixtures/basic.wal), 1 = 0/1000000
//             (segment start: long page header expected)
//   bit 1     the source reports the segment size (16 MB) or not (0 = unknown)
//   bits 2-4  read chunk size (the reader must cope with partial pages)
//   bits 5-7  start position: page-aligned base, an exact record start, or mid-page LSNs
#include <cstddef>
#include <cstdint>

#include "fuzz_common.h"
#include "record.h"
#include "xlog_reader.h"

using namespace pgt;
using namespace pgt::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t cfg = data[0];
  const Lsn base = (cfg & 1) ? 0x1000000 : 0x1550000;
  const uint64_t seg = (cfg & 2) ? kDefaultSegmentSize : 0;
  static constexpr size_t kChunks[8] = {size_t{1} << 20, 1, 7, 24, 100, 4096, 8191, 8192};
  const size_t chunk = kChunks[(cfg >> 2) & 7];
  static constexpr Lsn kStarts[8] = {0, 0x298, 0x28, 0x2000, 0x2018, 0x1ff8, 0x4000, 0x7fe8};
  const Lsn start = base + kStarts[(cfg >> 5) & 7];

  fuzz::MemSource src(base, data + 1, size - 1, chunk, seg);
  XLogReader reader(&src);
  if (!reader.Start(start, 1).ok()) return 0;
  Lsn last_start = 0;
  int empty = 0;
  for (int i = 0; i < 100000 && empty < 2; i++) {
    auto r = reader.Next(std::chrono::milliseconds(0));
    if (!r.ok()) break;
    if (!r.value().has_value()) {   // no more WAL (read once more: the zero-fill re-read path)
      empty++;
      continue;
    }
    RawRecord rec = std::move(*r.value());
    PGT_FUZZ_CHECK(rec.bytes.size() >= kXLogRecordHeaderSize);
    PGT_FUZZ_CHECK(rec.start > last_start && rec.end > rec.start);
    PGT_FUZZ_CHECK(rec.start >= start);
    last_start = rec.start;
    auto d = DecodeRecord(std::move(rec));
    if (!d.ok()) continue;
    fuzz::CheckDecoded(d.value());
    fuzz::ParseMainData(d.value());
  }
  return 0;
}
