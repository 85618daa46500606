// libFuzzer target: arbitrary bytes as one raw WAL record (header included) given to
// DecodeRecord (block references, images, 252/253, main data), then the main-data parsers of
// transaction-control records (xact_parse.h).
//
// Seed mode (used by run.sh): with PGT_FUZZ_SEEDS=DIR and PGT_FUZZ_FIXTURE=tests/fixtures/basic.wal
// the binary writes seed corpora for the three targets from the fixture and exits:
// DIR/xlog (config byte + WAL pages), DIR/record (each record), DIR/tuple (flag byte + the
// xl_heap_header + tuple of each t_types INSERT, a t_types tuple whose text column is an lz4
// inline-compressed value, and raw LZ4 blocks for the tuple target's direct lz4 mode).
#include <lz4.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "bytes.h"
#include "fuzz_common.h"
#include "record.h"
#include "xlog_reader.h"

using namespace pgt;
using namespace pgt::internal;

namespace {

constexpr Lsn kFixtureBase = 0x1550000;   // tests/fixtures/basic.wal.info page_start
constexpr Oid kTypesRelfilenode = 16384;  // t_types (tests/fixtures/basic.catalog)

void WriteFile(const std::filesystem::path& p, uint8_t prefix, bool with_prefix,
               const uint8_t* b, size_t n) {
  std::ofstream f(p, std::ios::binary);
  if (with_prefix) f.put(static_cast<char>(prefix));
  f.write(reinterpret_cast<const char*>(b), static_cast<std::streamsize>(n));
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", p.c_str());
    std::exit(1);
  }
}

void PutU16(std::vector<uint8_t>* v, uint16_t x) {
  v->push_back(static_cast<uint8_t>(x));
  v->push_back(static_cast<uint8_t>(x >> 8));
}
void PutU32(std::vector<uint8_t>* v, uint32_t x) {
  PutU16(v, static_cast<uint16_t>(x));
  PutU16(v, static_cast<uint16_t>(x >> 16));
}
std::string Lz4Block(const std::string& raw) {
  std::string out(static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw.size()))), '\0');
  int n = LZ4_compress_default(raw.data(), out.data(), static_cast<int>(raw.size()),
                               static_cast<int>(out.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// Seeds for lz4: raw blocks (tuple target, flag bit 2: u16 raw size + block) and a t_types tuple
// (19 attributes) where only id (int4) and t (text, attribute 9) are not null, t being an
// inline lz4-compressed varlena (header flag 0x02, va_tcinfo = raw size | 1 << 30).
void MakeLz4Seeds(const std::filesystem::path& root) {
  std::string raw;
  for (int i = 0; i < 120; i++) raw += "lz4 seed " + std::to_string(i % 9) + "; ";
  const std::string block = Lz4Block(raw);
  std::vector<uint8_t> direct;
  PutU16(&direct, static_cast<uint16_t>(raw.size()));
  direct.insert(direct.end(), block.begin(), block.end());
  WriteFile(root / "tuple" / "lz4_block", 0x04, true, direct.data(), direct.size());
  std::vector<uint8_t> tup;
  PutU16(&tup, 19);                   // t_infomask2: natts
  PutU16(&tup, 0x0003);               // HASNULL | HASVARWIDTH
  tup.push_back(32);                  // t_hoff = MAXALIGN(23 + 3 bitmap bytes)
  for (uint8_t b : {0x01, 0x01, 0x00}) tup.push_back(b);   // not null: attributes 1 and 9
  tup.resize(tup.size() + 6, 0);      // padding up to t_hoff
  PutU32(&tup, 42);                   // id
  PutU32(&tup, static_cast<uint32_t>(((8 + block.size()) << 2) | 0x02));
  PutU32(&tup, static_cast<uint32_t>(raw.size()) | (1u << 30));
  tup.insert(tup.end(), block.begin(), block.end());
  for (uint8_t flags : {0x00, 0x03})
    WriteFile(root / "tuple" / ("lz4_tup_" + std::to_string(flags)), flags, true, tup.data(),
              tup.size());
}

int MakeSeeds(const char* dir, const char* fixture) {
  namespace fs = std::filesystem;
  std::ifstream in(fixture, std::ios::binary);
  std::vector<uint8_t> wal((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (wal.size() < kXLogBlcksz) {
    std::fprintf(stderr, "cannot read fixture %s\n", fixture);
    return 1;
  }
  const fs::path root(dir);
  for (const char* sub : {"xlog", "record", "tuple"}) fs::create_directories(root / sub);
  // xlog: the whole fixture with a few reader configurations, and shorter prefixes.
  const uint8_t cfgs[] = {0x00, 0x02, 0x20, 0x08, 0x14, 0x1c};
  for (uint8_t c : cfgs)
    WriteFile(root / "xlog" / ("wal_" + std::to_string(c)), c, true, wal.data(), wal.size());
  WriteFile(root / "xlog" / "wal_1page", 0x00, true, wal.data(), kXLogBlcksz);
  WriteFile(root / "xlog" / "wal_2pages", 0x20, true, wal.data(), 2 * kXLogBlcksz);

  fuzz::MemSource src(kFixtureBase, wal.data(), wal.size(), size_t{1} << 20, 0);
  XLogReader reader(&src);
  if (!reader.Start(kFixtureBase, 1).ok()) return 1;
  int nrec = 0, ntup = 0;
  for (;;) {
    auto r = reader.Next(std::chrono::milliseconds(0));
    if (!r.ok() || !r.value().has_value()) break;
    RawRecord rec = std::move(*r.value());
    WriteFile(root / "record" / ("rec_" + std::to_string(nrec++)), 0, false, rec.bytes.data(),
              rec.bytes.size());
    auto d = DecodeRecord(std::move(rec));
    if (!d.ok()) continue;
    const DecodedRecord& dr = d.value();
    const BlockRef* b0 = dr.block(0);
    // HEAP INSERT (info & 0x70 == 0): block 0 data = xl_heap_header + tuple.
    if (dr.rmid == kRmHeap && (dr.info & 0x70) == 0 && b0 != nullptr && b0->has_data &&
        b0->locator.rel_number == kTypesRelfilenode) {
      for (uint8_t flags : {0x00, 0x03})
        WriteFile(root / "tuple" / ("tup_" + std::to_string(ntup++)), flags, true,
                  dr.block_data(*b0), b0->data_len);
    }
  }
  MakeLz4Seeds(root);
  std::fprintf(stderr, "seeds: %d records, %d tuples (+ lz4 seeds)\n", nrec, ntup);
  return (nrec > 0 && ntup > 0) ? 0 : 1;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("PGT_FUZZ_SEEDS");
  const char* fixture = std::getenv("PGT_FUZZ_FIXTURE");
  if (dir != nullptr && fixture != nullptr) std::exit(MakeSeeds(dir, fixture));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RawRecord raw;
  raw.start = 0x1550028;
  raw.end = raw.start + size;
  raw.bytes.assign(data, data + size);
  auto d = DecodeRecord(std::move(raw));
  if (!d.ok()) return 0;
  fuzz::CheckDecoded(d.value());
  fuzz::ParseMainData(d.value());
  return 0;
}
