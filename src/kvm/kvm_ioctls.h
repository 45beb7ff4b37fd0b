// The KVM ioctl numbers whose argument struct ends in a flexible array
// member, as the kernel computes them. Debian 12's uapi headers declare
// such members through __DECLARE_FLEX_ARRAY, which gives the struct a
// different size in C++ (an empty struct member, 1 byte plus padding) than
// in C, and the size is encoded in the ioctl number (_IOW): the C++ value
// of KVM_SET_CPUID2 is not the kernel's, and the kernel answers EINVAL.
// kvm_ioctls.c takes the numbers from a C compile; the backend uses these.
#pragma once

extern "C" {
extern const unsigned long tv_kvm_set_cpuid2;          // KVM_SET_CPUID2 (struct kvm_cpuid2)
extern const unsigned long tv_kvm_cpuid2_header_size;  // sizeof(struct kvm_cpuid2) in C
}
