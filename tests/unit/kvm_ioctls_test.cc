// The KVM ioctl numbers transvisor uses against what a C compile gives
// (src/kvm/kvm_ioctls.c): the flexible-array structs differ in size
// between C and C++, and the size is part of the number.
#include "kvm/kvm_ioctls.h"

#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <cstddef>

namespace {

TEST(KvmIoctls, SetCpuid2HasTheKernelsStructSize) {
  // struct kvm_cpuid2 { __u32 nent; __u32 padding; struct kvm_cpuid_entry2 entries[]; }
  EXPECT_EQ(tv_kvm_cpuid2_header_size, 8u);
  EXPECT_EQ(_IOC_SIZE(tv_kvm_set_cpuid2), 8u);
  EXPECT_EQ(_IOC_NR(tv_kvm_set_cpuid2), 0x90u);
  EXPECT_EQ(_IOC_TYPE(tv_kvm_set_cpuid2), unsigned(KVMIO));
  EXPECT_EQ(_IOC_DIR(tv_kvm_set_cpuid2), unsigned(_IOC_WRITE));
}

}  // namespace
