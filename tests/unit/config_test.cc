#include "vmm/config.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace tv {
namespace {

TEST(ParseSize, AcceptsSuffixesAndBareMebibytes) {
  EXPECT_EQ(parse_size("64M"), 64ull << 20);
  EXPECT_EQ(parse_size("64m"), 64ull << 20);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_size("512K"), 512ull << 10);
  EXPECT_EQ(parse_size("4096B"), 4096u);
  EXPECT_EQ(parse_size("128"), 128ull << 20);  // QEMU's -m: bare numbers are MiB
}

TEST(ParseSize, RejectsGarbageAndOverflow) {
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("-1M"));
  EXPECT_FALSE(parse_size("12X"));
  EXPECT_FALSE(parse_size("1.5G"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("17179869184G"));  // 2^34 GiB does not fit in 64 bits
}

TEST(Validate, MemoryBounds) {
  Config c;
  c.mem_bytes = 1ull << 20;
  EXPECT_THROW(validate(c), Error);
  c.mem_bytes = 4ull << 30;
  EXPECT_THROW(validate(c), Error);
  c.mem_bytes = (64ull << 20) + 1;
  EXPECT_THROW(validate(c), Error);
  c.mem_bytes = 64ull << 20;
  EXPECT_NO_THROW(validate(c));
}

}  // namespace
}  // namespace tv

namespace tv {
namespace {

TEST(ParseInitrd, QemuSyntax) {
  auto one = parse_initrd("mod.bin");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].path, "mod.bin");
  EXPECT_EQ(one[0].cmdline, "mod.bin");

  auto two = parse_initrd("a.bin arg1 arg2,b.bin x=1,,2");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].path, "a.bin");
  EXPECT_EQ(two[0].cmdline, "a.bin arg1 arg2");
  EXPECT_EQ(two[1].path, "b.bin");
  EXPECT_EQ(two[1].cmdline, "b.bin x=1,2");  // ",," is a literal comma

  auto empty = parse_initrd("");
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].path, "");
}

}  // namespace
}  // namespace tv
