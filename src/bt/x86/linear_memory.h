// Guest linear-memory access for C++ helpers. Helpers never touch the
// shadow windows; they reach guest memory through the physmap, translating
// linear addresses with the guest's paging state (DESIGN.md "BT: faults").
// With paging on, linear addresses go through the shadow MMU's walker.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/guest_memory.h"
#include "bt/x86/cpu_state.h"
#include "bt/x86/guest_fault.h"
#include "shadow_mmu/shadow_mmu.h"

namespace tv::bt {

enum class Access { kRead, kWrite };

class LinearMemory {
 public:
  LinearMemory(GuestMemory& ram, CpuState& cpu, mmu::ShadowMmu* mmu = nullptr)
      : ram_(ram), cpu_(cpu), mmu_(mmu) {}

  // Physical reads outside RAM see an open bus (all-ones); writes there are
  // dropped, as on a PC with nothing decoding the address.
  // Within one page of RAM (descriptors, stack slots): one translation
  // and a plain access; anything else goes page by page.
  template <typename T>
  T read(uint32_t linear) {
    T v;
    if ((linear & 0xFFF) <= 0x1000 - sizeof(T)) {
      if (const uint8_t* p = ram_.host(translate(linear, Access::kRead), sizeof(T))) {
        std::memcpy(&v, p, sizeof v);
        return v;
      }
    }
    copy_in(linear, &v, sizeof v);
    return v;
  }
  template <typename T>
  void write(uint32_t linear, T v) {
    if ((linear & 0xFFF) <= 0x1000 - sizeof(T)) {
      GuestPhys phys = translate(linear, Access::kWrite);
      wrote(phys.value & ~0xFFFull);
      if (uint8_t* p = ram_.host(phys, sizeof(T))) std::memcpy(p, &v, sizeof v);
      return;
    }
    copy_out(linear, &v, sizeof v);
  }

  // Page by page: one translation per page touched.
  void copy_in(uint32_t linear, void* dst, uint32_t len) {
    auto* d = static_cast<uint8_t*>(dst);
    while (len) {
      uint32_t chunk = std::min<uint32_t>(len, 0x1000 - (linear & 0xFFF));
      GuestPhys phys = translate(linear, Access::kRead);
      if (const uint8_t* p = ram_.host(phys, chunk))
        std::memcpy(d, p, chunk);
      else
        std::memset(d, 0xFF, chunk);
      linear += chunk, d += chunk, len -= chunk;
    }
  }
  void copy_out(uint32_t linear, const void* src, uint32_t len) {
    auto* s = static_cast<const uint8_t*>(src);
    while (len) {
      uint32_t chunk = std::min<uint32_t>(len, 0x1000 - (linear & 0xFFF));
      GuestPhys phys = translate(linear, Access::kWrite);
      wrote(phys.value & ~0xFFFull);
      if (uint8_t* p = ram_.host(phys, chunk)) std::memcpy(p, s, chunk);
      linear += chunk, s += chunk, len -= chunk;
    }
  }

  // Called for every frame a helper writes through the physmap, so that
  // translations of code in it are dropped (self-modifying code that
  // bypasses the write-protected window, e.g. rep movs).
  using WriteHook = void (*)(void* context, uint64_t frame);
  void set_write_hook(WriteHook hook, void* context) {
    hook_ = hook;
    hook_context_ = context;
  }

  // A helper loaded CR3 itself (a task switch, SDM Vol. 3A 7.3 step 12):
  // the vCPU does what it does for MOV CR3 (the shadow MMU switches address
  // space, translations are flushed), so the accesses after it walk the
  // new tables.
  using Cr3Hook = void (*)(void* context);
  void set_cr3_hook(Cr3Hook hook, void* context) {
    cr3_hook_ = hook;
    cr3_context_ = context;
  }
  void cr3_loaded() {
    if (cr3_hook_) cr3_hook_(cr3_context_);
  }

  // Host pointer for [linear, linear+len) when the range lies within one
  // 4 KiB page backed by RAM (string operations work page by page), else
  // nullptr. May throw GuestFault like translate().
  uint8_t* host_ptr(uint32_t linear, uint32_t len, Access access) {
    if (len == 0 || (linear & 0xFFF) + uint64_t(len) > 0x1000) return nullptr;
    GuestPhys phys = translate(linear, access);
    if (access == Access::kWrite) wrote(phys.value & ~0xFFFull);
    return ram_.host(phys, len);
  }

  // Linear -> physical through the guest's page tables (setting A/D as the
  // CPU would); throws GuestFault(#PF) with CR2 set. Accesses are user
  // accesses at CPL 3, except where a PrivilegeScope says otherwise: the
  // descriptor tables and the TSS, which the CPU always reads as supervisor
  // (SDM Vol. 3A 4.6.1), and stacks, at the stack segment's privilege.
  GuestPhys translate(uint32_t linear, Access access) const {
    if (!mmu_ || !mmu_->paging().enabled) return GuestPhys{linear};
    if (auto hit =
            mmu_->tlb_lookup(GuestLinear{linear}, access_cpl() == 3, access == Access::kWrite))
      return *hit;
    return translate_walk(linear, access);
  }
  // The TLB missed: walk (and fill it), or raise the #PF.
  [[gnu::noinline]] GuestPhys translate_walk(uint32_t linear, Access access) const {
    const bool user = access_cpl() == 3;
    mmu::PhysOrFault r = access == Access::kRead ? mmu_->translate_read(GuestLinear{linear}, user)
                                                 : mmu_->translate_write(GuestLinear{linear}, user);
    if (r.ok) return r.phys;
    cpu_.cr2 = linear;
    throw fault(kPF, r.error_code);
  }

  // Makes the accesses inside its lifetime at privilege `cpl` (stack
  // operations use the stack segment's DPL).
  class PrivilegeScope {
   public:
    PrivilegeScope(LinearMemory& m, uint8_t cpl) : m_(m), saved_(m.override_cpl_) {
      m.override_cpl_ = cpl;
    }
    ~PrivilegeScope() { m_.override_cpl_ = saved_; }

   private:
    LinearMemory& m_;
    int saved_;
  };

  GuestMemory& ram() { return ram_; }
  CpuState& cpu() { return cpu_; }

 private:
  uint8_t access_cpl() const { return override_cpl_ >= 0 ? uint8_t(override_cpl_) : cpu_.cpl; }
  void wrote(uint64_t frame) {
    if (hook_) hook_(hook_context_, frame);
  }

  GuestMemory& ram_;
  CpuState& cpu_;
  mmu::ShadowMmu* mmu_;
  int override_cpl_ = -1;
  WriteHook hook_ = nullptr;
  void* hook_context_ = nullptr;
  Cr3Hook cr3_hook_ = nullptr;
  void* cr3_context_ = nullptr;
};

}  // namespace tv::bt
