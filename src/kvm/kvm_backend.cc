// The kvm backend: one vCPU on /dev/kvm with a userspace PIC. The guest-RAM
// memfd mapping is memory slot 0; port I/O and MMIO exits go to the same
// buses as under bt; PIC interrupts are injected with KVM_INTERRUPT, using
// an interrupt window when the guest cannot take one yet (KVM API docs,
// "KVM_INTERRUPT", "request_interrupt_window").
//
// Some hosts expose a KVM that cannot run every 32-bit guest. kvm-pvm (a
// paravirtual KVM used inside VMs without nested VT-x/AMD-V) runs unpaged
// code through its instruction emulator and refuses 32-bit non-PAE paging
// with KVM_EXIT_SHUTDOWN. probe_kvm() tests for this with a tiny guest and
// reports it in one line.
#include "kvm/kvm_backend.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "arch/x86.h"
#include "base/counters.h"
#include "base/error.h"
#include "base/log.h"
#include "kvm/kvm_ioctls.h"
#include "vmm/cpuid.h"
#include "vmm/machine.h"

namespace tv {
namespace {

// KVM_RUN exits by reason, for the profile.
#define TV_KVM_EXITS(X)       \
  X(kHlt, "hlt")              \
  X(kIntr, "intr")            \
  X(kIo, "io")                \
  X(kIrqWindow, "irq_window") \
  X(kMmio, "mmio")            \
  X(kShutdown, "shutdown")
TV_COUNTER_LIST(KvmExit, TV_KVM_EXITS)

using x86::kCr0Et;
using x86::kCr0Pe;
using x86::kCr0Pg;
using x86::kCr4Pse;
constexpr uint64_t kEflagsIf = x86::kFlagIf;

int kvm_ioctl(int fd, unsigned long request, const char* what, unsigned long arg = 0) {
  int r;
  do r = ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR && request != KVM_RUN);
  if (r < 0 && !(request == KVM_RUN && errno == EINTR)) throw Error(errno_message(what));
  return r;
}

bool host_is_kvm_pvm() { return std::filesystem::exists("/sys/module/kvm_pvm"); }

kvm_segment flat_segment(uint16_t selector, uint8_t type) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xFFFFFFFF;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = 1;
  s.s = 1;
  s.g = 1;
  return s;
}

// One VM with one vCPU and its run structure. Used by the backend and by
// the probe's scratch VM.
class KvmVcpu {
 public:
  KvmVcpu(uint8_t* ram, uint64_t ram_size) {
    kvm_fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd_ < 0) throw Error(errno_message("cannot open /dev/kvm"));
    if (ioctl(kvm_fd_, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
      throw Error("/dev/kvm has an unexpected API version");
    vm_fd_ = kvm_ioctl(kvm_fd_, KVM_CREATE_VM, "KVM_CREATE_VM");
    // Intel VMX needs a three-page TSS area for real-mode emulation; it
    // must be out of the way of RAM (KVM API docs, KVM_SET_TSS_ADDR).
    ioctl(vm_fd_, KVM_SET_TSS_ADDR, 0xFFFBD000ul);
    kvm_userspace_memory_region region{};
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = ram_size;
    region.userspace_addr = reinterpret_cast<uint64_t>(ram);
    kvm_ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION",
              reinterpret_cast<unsigned long>(&region));
    vcpu_fd_ = kvm_ioctl(vm_fd_, KVM_CREATE_VCPU, "KVM_CREATE_VCPU");
    int run_size = kvm_ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
    // SAFETY: the kernel's per-vCPU run structure, shared with KVM for the
    // lifetime of vcpu_fd_; unmapped before the fd is closed.
    void* p = mmap(nullptr, size_t(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd_, 0);
    if (p == MAP_FAILED) throw Error(errno_message("mmap kvm_run"));
    run_ = static_cast<kvm_run*>(p);
    run_size_ = size_t(run_size);
    set_cpuid();
  }
  ~KvmVcpu() {
    if (run_) munmap(run_, run_size_);
    for (int fd : {vcpu_fd_, vm_fd_, kvm_fd_})
      if (fd >= 0) close(fd);
  }
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  kvm_run* run_struct() { return run_; }
  bool cpuid_accepted() const { return cpuid_accepted_; }
  int fd() const { return vcpu_fd_; }

  void set_protected_mode(const BootState& b, uint64_t cr0_extra = 0, uint64_t cr3 = 0,
                          uint64_t cr4 = 0) {
    kvm_sregs sregs;
    kvm_ioctl(vcpu_fd_, KVM_GET_SREGS, "KVM_GET_SREGS", reinterpret_cast<unsigned long>(&sregs));
    sregs.cs = flat_segment(b.code_selector, 0xB);  // execute/read, accessed
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(b.data_selector, 0x3);
    sregs.gdt.base = b.gdt_base;
    sregs.gdt.limit = b.gdt_limit;
    sregs.cr0 = kCr0Pe | kCr0Et | cr0_extra;
    sregs.cr3 = cr3;
    sregs.cr4 = cr4;
    sregs.efer = 0;
    kvm_ioctl(vcpu_fd_, KVM_SET_SREGS, "KVM_SET_SREGS", reinterpret_cast<unsigned long>(&sregs));
    kvm_regs regs{};
    regs.rip = b.eip;
    regs.rax = b.eax, regs.rbx = b.ebx, regs.rcx = b.ecx, regs.rdx = b.edx;
    regs.rsi = b.esi, regs.rdi = b.edi, regs.rbp = b.ebp, regs.rsp = b.esp;
    regs.rflags = 0x2;
    kvm_ioctl(vcpu_fd_, KVM_SET_REGS, "KVM_SET_REGS", reinterpret_cast<unsigned long>(&regs));
  }

  kvm_sregs sregs() const {
    kvm_sregs s;
    kvm_ioctl(vcpu_fd_, KVM_GET_SREGS, "KVM_GET_SREGS", reinterpret_cast<unsigned long>(&s));
    return s;
  }

 private:
  void set_cpuid() {
    auto table = guest_cpuid_table();
    // The C layout (kvm_ioctls.h): the entries follow the 8-byte header.
    std::vector<uint8_t> buf(tv_kvm_cpuid2_header_size + table.size() * sizeof(kvm_cpuid_entry2));
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
    cpuid->nent = uint32_t(table.size());
    // Not cpuid->entries: C++ places the flexible array after an empty
    // struct member, 4 bytes later than the kernel reads it.
    auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(buf.data() + tv_kvm_cpuid2_header_size);
    for (size_t i = 0; i < table.size(); ++i) {
      auto& e = entries[i];
      e = {};
      e.function = table[i].leaf;
      e.index = table[i].subleaf;
      e.eax = table[i].regs.eax, e.ebx = table[i].regs.ebx;
      e.ecx = table[i].regs.ecx, e.edx = table[i].regs.edx;
    }
    // The number from C (kvm_ioctls.h): C++'s KVM_SET_CPUID2 encodes a
    // different struct size and the kernel refuses it with EINVAL.
    cpuid_accepted_ = ioctl(vcpu_fd_, tv_kvm_set_cpuid2, cpuid) == 0;
    if (!cpuid_accepted_) {
      const int error = errno;  // before anything else can change it
      log::get("kvm")->info(
          "host KVM rejected the CPUID profile ({}); the guest sees KVM's default CPUID",
          std::strerror(error));
    }
  }

  bool cpuid_accepted_ = false;
  int kvm_fd_ = -1, vm_fd_ = -1, vcpu_fd_ = -1;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
};

class KvmBackend final : public Backend {
 public:
  explicit KvmBackend(Machine& m) : machine_(m), vcpu_(m.memory().physmap(), m.memory().size()) {}

  std::string_view name() const override { return "kvm"; }

  void set_boot_state(const BootState& state) override { vcpu_.set_protected_mode(state); }

  void kick() override { vcpu_.run_struct()->immediate_exit = 1; }

  bool interrupts_enabled() const override {
    kvm_regs regs;
    kvm_ioctl(vcpu_.fd(), KVM_GET_REGS, "KVM_GET_REGS", reinterpret_cast<unsigned long>(&regs));
    return regs.rflags & kEflagsIf;
  }

  // KVM sees guest RAM as the guest does: DMA writes need no notice.
  void memory_written(uint64_t, uint64_t) override {}

  VcpuExit run() override {
    kvm_run* run = vcpu_.run_struct();
    for (;;) {
      if (machine_.stop_requested()) return VcpuExit::kExitRequest;
      inject_interrupt(run);
      int r = kvm_ioctl(vcpu_.fd(), KVM_RUN, "KVM_RUN");
      if (r < 0) {  // EINTR: kicked by a signal or immediate_exit
        run->immediate_exit = 0;
        count(KvmExit::kIntr);
        return VcpuExit::kExitRequest;
      }
      if (auto exit = handle_exit(run)) return *exit;
    }
  }

  void report_profile(std::string& out) const override {
    out += "  kvm exits by reason:\n";
    for (size_t i = 0; i < kKvmExitCount; ++i)
      if (exits_.value[i]) out += fmt::format("    {:<12} {}\n", kKvmExitNames[i], exits_.value[i]);
  }

  void report_profile_json(JsonWriter& out) const override {
    out.begin_object("exits");
    for (size_t i = 0; i < kKvmExitCount; ++i)
      if (exits_.value[i]) out.value(kKvmExitNames[i], exits_.value[i]);
    out.end_object();
  }

 private:
  void count(KvmExit reason) { ++exits_[reason]; }

  void inject_interrupt(kvm_run* run) {
    run->request_interrupt_window = 0;
    dev::InterruptSource& source = machine_.platform().interrupt_source();
    if (!source.interrupt_pending()) return;
    if (run->ready_for_interrupt_injection && run->if_flag) {
      kvm_interrupt irq{source.acknowledge()};
      kvm_ioctl(vcpu_.fd(), KVM_INTERRUPT, "KVM_INTERRUPT", reinterpret_cast<unsigned long>(&irq));
    } else {
      run->request_interrupt_window = 1;
    }
  }

  void handle_io(kvm_run* run) {
    auto* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
    for (uint32_t i = 0; i < run->io.count; ++i, data += run->io.size) {
      if (run->io.direction == KVM_EXIT_IO_OUT) {
        uint64_t v = 0;
        std::memcpy(&v, data, run->io.size);
        machine_.pio().write(run->io.port, run->io.size, v);
      } else {
        uint64_t v = machine_.pio().read(run->io.port, run->io.size);
        std::memcpy(data, &v, run->io.size);
      }
    }
  }

  void handle_mmio(kvm_run* run) {
    unsigned len = std::min<unsigned>(run->mmio.len, 8);
    if (run->mmio.is_write) {
      uint64_t v = 0;
      std::memcpy(&v, run->mmio.data, len);
      machine_.mmio().write(run->mmio.phys_addr, len, v);
    } else {
      uint64_t v = machine_.mmio().read(run->mmio.phys_addr, len);
      std::memcpy(run->mmio.data, &v, len);
    }
  }

  std::optional<VcpuExit> handle_exit(kvm_run* run) {
    switch (run->exit_reason) {
      case KVM_EXIT_IO:
        count(KvmExit::kIo);
        handle_io(run);
        return std::nullopt;
      case KVM_EXIT_MMIO:
        count(KvmExit::kMmio);
        handle_mmio(run);
        return std::nullopt;
      case KVM_EXIT_IRQ_WINDOW_OPEN: count(KvmExit::kIrqWindow); return std::nullopt;
      case KVM_EXIT_INTR: count(KvmExit::kIntr); return VcpuExit::kExitRequest;
      case KVM_EXIT_HLT: count(KvmExit::kHlt); return VcpuExit::kHalted;
      case KVM_EXIT_SHUTDOWN: count(KvmExit::kShutdown); return shutdown();
      case KVM_EXIT_FAIL_ENTRY:
        throw Error(fmt::format("KVM could not enter the guest (hardware reason {:#x})",
                                run->fail_entry.hardware_entry_failure_reason));
      case KVM_EXIT_INTERNAL_ERROR:
        throw Error(fmt::format(
            "KVM internal error (suberror {}){}", run->internal.suberror,
            host_is_kvm_pvm() ? ": kvm-pvm cannot deliver exceptions to unpaged guests" : ""));
      default: throw Error(fmt::format("unexpected KVM exit reason {}", run->exit_reason));
    }
  }

  // A shutdown is a triple fault, unless the host's KVM is one that cannot
  // run what the guest just did: then say so instead of resetting silently.
  VcpuExit shutdown() {
    if (host_is_kvm_pvm() && (vcpu_.sregs().cr0 & kCr0Pg))
      throw Error("host KVM is kvm-pvm, which cannot run 32-bit paged guests; use --backend bt");
    return VcpuExit::kShutdown;
  }

  Machine& machine_;
  KvmVcpu vcpu_;
  CounterArray<KvmExit, kKvmExitCount> exits_;
};

// A probe guest: 4 MiB of scratch RAM holding a GDT (0x500), an IDT
// (0x1000) whose #BP gate leads to "out 0xf4, al" at 0x3000, a page
// directory (0x4000) with one 4 MiB identity page, and `code` at 0x2000.
// It passes if the vCPU reaches the debug-exit port.
// Runs `code` at 0x2000 until its OUT to port 0xF4; "" if it got there
// (`out`, if given, receives the value written), else why not.
std::string run_probe_guest(const std::vector<uint8_t>& code, bool paged, uint32_t* out = nullptr) {
  constexpr uint64_t kSize = 4ull << 20;
  // SAFETY: a private anonymous scratch mapping that outlives the probe VM.
  void* p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return errno_message("mmap");
  auto* ram = static_cast<uint8_t*>(p);
  const uint64_t gdt[] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
  std::memcpy(ram + 0x500, gdt, sizeof gdt);
  const uint64_t bp_gate = 0x00008E0000083000ull;  // 32-bit interrupt gate, CS 0x08, 0x3000
  std::memcpy(ram + 0x1000 + 3 * 8, &bp_gate, 8);
  const uint8_t handler[] = {0xE6, 0xF4, 0xF4};  // out 0xf4, al; hlt
  std::memcpy(ram + 0x3000, handler, sizeof handler);
  const uint32_t pde = 0x00000083;  // present, writable, 4 MiB page at 0
  std::memcpy(ram + 0x4000, &pde, 4);
  std::memcpy(ram + 0x2000, code.data(), code.size());
  std::string reason;
  try {
    KvmVcpu vcpu(ram, kSize);
    BootState b;
    b.eip = 0x2000;
    b.esp = 0x8000;
    vcpu.set_protected_mode(b, paged ? kCr0Pg : 0, 0x4000, paged ? kCr4Pse : 0);
    kvm_sregs sregs = vcpu.sregs();
    sregs.gdt.base = 0x500, sregs.gdt.limit = sizeof gdt - 1;
    sregs.idt.base = 0x1000, sregs.idt.limit = 0x7FF;
    kvm_ioctl(vcpu.fd(), KVM_SET_SREGS, "KVM_SET_SREGS", reinterpret_cast<unsigned long>(&sregs));
    kvm_ioctl(vcpu.fd(), KVM_RUN, "KVM_RUN");
    auto* run = vcpu.run_struct();
    if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0xF4)
      reason = fmt::format("KVM exit reason {}", run->exit_reason);
    else if (out && run->io.size == 4)
      std::memcpy(out, reinterpret_cast<uint8_t*>(run) + run->io.data_offset, 4);
  } catch (const Error& e) {
    reason = e.what();
  }
  munmap(p, kSize);
  return reason;
}

// True if the host's KVM takes our CPUID profile through KVM_SET_CPUID2.
bool cpuid_profile_accepted() {
  // SAFETY: a private anonymous scratch mapping that outlives the probe VM.
  void* p = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = false;
  try {
    KvmVcpu vcpu(static_cast<uint8_t*>(p), 1 << 20);
    ok = vcpu.cpuid_accepted();
  } catch (const Error&) {
  }
  munmap(p, 1 << 20);
  return ok;
}

}  // namespace

std::unique_ptr<Backend> make_kvm_backend(Machine& machine) {
  return std::make_unique<KvmBackend>(machine);
}

std::string probe_kvm(const std::string& feature) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno_message("cannot open /dev/kvm");
  close(fd);
  const std::string host = host_is_kvm_pvm() ? "host KVM is kvm-pvm, which" : "host KVM";
  if (feature == "paging") {
    if (auto why = run_probe_guest({0xE6, 0xF4, 0xF4}, true); !why.empty())
      return host + " cannot run 32-bit paged guests (" + why + ")";
  } else if (feature == "exceptions") {
    if (auto why = run_probe_guest({0xCC, 0xF4}, false); !why.empty())
      return host + " cannot deliver exceptions to unpaged guests (" + why + ")";
  } else if (feature == "segment-limits") {
    return probe_kvm("exceptions");  // the hardware checks limits; faults must be deliverable
  } else if (feature == "cpuid") {
    if (!cpuid_profile_accepted())
      return host + " rejects KVM_SET_CPUID2, so the guest cannot see the CPUID profile";
    // What a guest's CPUID.1:EDX really returns: mov eax, 1; cpuid;
    // mov eax, edx; out 0xF4, eax.
    uint32_t edx = 0;
    if (auto why = run_probe_guest({0xB8, 1, 0, 0, 0, 0x0F, 0xA2, 0x89, 0xD0, 0xE7, 0xF4, 0xF4},
                                   false, &edx);
        !why.empty())
      return host + " cannot run the CPUID probe (" + why + ")";
    if (edx != guest_cpuid(1, 0).edx)
      return fmt::format(
          "{} takes KVM_SET_CPUID2 but a guest's CPUID.1:EDX reads {:#x}, not the profile's {:#x}",
          host, edx, guest_cpuid(1, 0).edx);
  } else if (!feature.empty()) {
    return "unknown feature '" + feature + "'";
  }
  return "";
}

}  // namespace tv
