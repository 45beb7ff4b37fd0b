/* KVM ioctl numbers computed in C, where the uapi structs with flexible
 * array members have the size the kernel uses (kvm_ioctls.h). */
#include <linux/kvm.h>

const unsigned long tv_kvm_set_cpuid2 = KVM_SET_CPUID2;
const unsigned long tv_kvm_cpuid2_header_size = sizeof(struct kvm_cpuid2);
