// Record decoder: block references, images with holes, SAME_REL, 252/253 ids, main data.
#include <gtest/gtest.h>

#include "record.h"
#include "test_util.h"
#include "xlog_reader.h"

namespace pgt::test {
namespace {

using internal::DecodedRecord;
using internal::DecodeRecord;
using internal::RawRecord;

RawRecord Raw(const std::vector<uint8_t>& body, uint8_t rmid = 10, uint8_t info = 0, uint32_t xid = 0) {
  RawRecord r;
  r.start = 0x1000028;
  PutU32(&r.bytes, static_cast<uint32_t>(24 + body.size()));
  PutU32(&r.bytes, xid);
  PutU64(&r.bytes, 0);
  r.bytes.push_back(info);
  r.bytes.push_back(rmid);
  PutU16(&r.bytes, 0);
  PutU32(&r.bytes, 0);
  r.bytes.insert(r.bytes.end(), body.begin(), body.end());
  r.end = r.start + r.bytes.size();
  return r;
}

TEST(RecordTest, BlocksImagesSameRelOriginToplevelAndMainData) {
  std::vector<uint8_t> b;
  // block 0: image (compressed-less, with hole) + data, new relation
  b.push_back(0);
  b.push_back(0x10 | 0x20);
  PutU16(&b, 3);
  PutU16(&b, 100);     // image length
  PutU16(&b, 40);      // hole offset
  b.push_back(0x01 | 0x02);   // HAS_HOLE | APPLY
  PutU32(&b, 1663); PutU32(&b, 5); PutU32(&b, 16384);
  PutU32(&b, 7);
  // block 2: data only, SAME_REL
  b.push_back(2);
  b.push_back(0x20 | 0x80);
  PutU16(&b, 2);
  PutU32(&b, 9);
  b.push_back(253); PutU16(&b, 4);
  b.push_back(252); PutU32(&b, 777);
  b.push_back(255); b.push_back(4);
  std::vector<uint8_t> image(100, 0xAA), d0 = {1, 2, 3}, d2 = {4, 5}, main = {6, 7, 8, 9};
  b.insert(b.end(), image.begin(), image.end());
  b.insert(b.end(), d0.begin(), d0.end());
  b.insert(b.end(), d2.begin(), d2.end());
  b.insert(b.end(), main.begin(), main.end());
  auto r = DecodeRecord(Raw(b, 10, 0, 778));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->blocks.size(), 2u);
  const auto& b0 = r->blocks[0];
  EXPECT_TRUE(b0.has_image);
  EXPECT_EQ(b0.image_len, 100);
  EXPECT_EQ(b0.hole_offset, 40);
  EXPECT_EQ(b0.hole_length, 8192 - 100);
  EXPECT_EQ(b0.locator, (RelFileLocator{1663, 5, 16384}));
  EXPECT_EQ(b0.blkno, 7u);
  EXPECT_EQ(r->bytes[b0.image_off], 0xAA);
  EXPECT_EQ(r->block_data(b0)[0], 1);
  const auto& b2 = r->blocks[1];
  EXPECT_EQ(b2.id, 2);
  EXPECT_EQ(b2.locator, b0.locator);
  EXPECT_EQ(b2.blkno, 9u);
  EXPECT_EQ(r->block_data(b2)[1], 5);
  EXPECT_EQ(r->origin, 4);
  EXPECT_EQ(r->toplevel_xid, 777u);
  EXPECT_EQ(r->xid, 778u);
  ASSERT_EQ(r->main_len, 4u);
  EXPECT_EQ(r->main_data()[3], 9);
}

TEST(RecordTest, MalformedHeadersAreErrors) {
  {   // SAME_REL without a previous relation
    std::vector<uint8_t> b = {0, 0x20 | 0x80, 1, 0, 0, 0, 0, 0, 42};
    auto r = DecodeRecord(Raw(b));
    EXPECT_FALSE(r.ok());
  }
  {   // out-of-order block ids
    std::vector<uint8_t> b;
    for (uint8_t id : {3, 1}) {
      b.push_back(id); b.push_back(0); PutU16(&b, 0);
      PutU32(&b, 1); PutU32(&b, 2); PutU32(&b, 3); PutU32(&b, 0);
    }
    auto r = DecodeRecord(Raw(b));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("out-of-order"), std::string::npos);
  }
  {   // invalid block id
    auto r = DecodeRecord(Raw({200, 0}));
    EXPECT_FALSE(r.ok());
  }
  {   // main data length beyond the record
    auto r = DecodeRecord(Raw({255, 10, 1, 2}));
    EXPECT_FALSE(r.ok());
  }
}

TEST(RecordTest, EveryRecordOfTheFixtureDecodes) {
  auto bytes = ReadFile(FixturePath("basic.wal"));
  ASSERT_FALSE(bytes.empty());
  MemorySource src(0x1550000, bytes);
  internal::XLogReader reader(&src);
  ASSERT_TRUE(reader.Start(0x1550000, 1).ok());
  int n = 0, heap_with_block = 0;
  for (;;) {
    auto raw = reader.Next(std::chrono::milliseconds(0));
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    if (!raw->has_value()) break;
    auto r = DecodeRecord(std::move(**raw));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    n++;
    if (r->rmid == 10 && !r->blocks.empty() && r->blocks[0].locator.db_oid == 5) heap_with_block++;
  }
  EXPECT_GT(n, 50);
  EXPECT_GT(heap_with_block, 20);
}

}  // namespace
}  // namespace pgt::test
