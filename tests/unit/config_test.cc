#include "vmm/config.h"

#include <fmt/format.h>
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

namespace tv {
namespace {

TEST(ConfigParseDisk, DefaultsAreVirtioWritebackReadWrite) {
  DiskConfig d = parse_disk("disk.img");
  EXPECT_EQ(d.path, "disk.img");
  EXPECT_EQ(d.interface, DiskInterface::kVirtio);
  EXPECT_FALSE(d.read_only);
  EXPECT_EQ(d.cache, DiskCache::kWriteback);
}

TEST(ConfigParseDisk, EveryOption) {
  DiskConfig d = parse_disk("/images/a.img,if=ide,readonly,cache=none");
  EXPECT_EQ(d.path, "/images/a.img");
  EXPECT_EQ(d.interface, DiskInterface::kIde);
  EXPECT_TRUE(d.read_only);
  EXPECT_EQ(d.cache, DiskCache::kNone);

  EXPECT_TRUE(parse_disk("a.img,readonly=on").read_only);
  EXPECT_FALSE(parse_disk("a.img,readonly=off").read_only);
  EXPECT_EQ(parse_disk("a.img,cache=unsafe").cache, DiskCache::kUnsafe);
  EXPECT_EQ(parse_disk("a.img,cache=writeback").cache, DiskCache::kWriteback);
  EXPECT_EQ(parse_disk("a.img,if=virtio").interface, DiskInterface::kVirtio);
  EXPECT_EQ(parse_disk("file=a.img,if=ide").path, "a.img");    // QEMU's -drive spelling
  EXPECT_EQ(parse_disk("a,,b.img,readonly").path, "a,b.img");  // ",," is a literal comma
  EXPECT_TRUE(parse_disk("a,,b.img,readonly").read_only);
}

// Each bad form fails with one line that quotes the offending part.
void expect_disk_error(const std::string& value, const std::string& quoted) {
  try {
    parse_disk(value);
    ADD_FAILURE() << "no error for --disk '" << value << "'";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(quoted), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(ConfigParseDisk, RejectsBadForms) {
  expect_disk_error("", "empty file name");
  expect_disk_error(",if=ide", "empty file name");
  expect_disk_error("file=", "empty file name");
  expect_disk_error("a.img,", "empty option");
  expect_disk_error("a.img,,,", "empty option");  // "a.img," then an empty option
  expect_disk_error("a.img,if=scsi", "if=scsi");
  expect_disk_error("a.img,if=", "'if='");
  expect_disk_error("a.img,if", "'if'");
  expect_disk_error("a.img,readonly=maybe", "readonly=maybe");
  expect_disk_error("a.img,cache=writethrough", "cache=writethrough");
  expect_disk_error("a.img,cache", "'cache'");
  expect_disk_error("a.img,format=qcow2", "unknown option 'format'");
  expect_disk_error("a.img,=x", "unknown option ''");
  expect_disk_error("a.img,if=ide,if=virtio", "'if' given twice");
  expect_disk_error("a.img,readonly,readonly=off", "'readonly' given twice");
}

TEST(ConfigValidate, DiskCountsPerInterfaceAndDuplicates) {
  Config c;
  for (size_t i = 0; i < kMaxIdeDisks; ++i)
    c.disks.push_back(parse_disk(fmt::format("ide{}.img,if=ide", i)));
  for (size_t i = 0; i < kMaxVirtioDisks; ++i)
    c.disks.push_back(parse_disk(fmt::format("vd{}.img", i)));
  EXPECT_NO_THROW(validate(c));

  Config ide = c;
  ide.disks.push_back(parse_disk("one-more.img,if=ide"));
  EXPECT_THROW(validate(ide), Error);
  Config virtio = c;
  virtio.disks.push_back(parse_disk("one-more.img"));
  EXPECT_THROW(validate(virtio), Error);

  Config twice;
  twice.disks = {parse_disk("a.img"), parse_disk("a.img,if=ide,readonly")};
  try {
    validate(twice);
    ADD_FAILURE() << "the same image twice passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'a.img' is given twice"), std::string::npos);
  }
}

}  // namespace
}  // namespace tv
