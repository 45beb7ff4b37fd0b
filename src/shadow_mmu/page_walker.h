// Software walker of the guest's IA-32 page tables (32-bit paging, no PAE):
// a page directory and page tables of 1024 32-bit entries, 4 KiB pages, and
// 4 MiB pages when CR4.PSE is set (SDM Vol. 3A 4.3). It checks access rights
// (4.6), builds the #PF error code (4.7) and sets the accessed and dirty
// flags (4.8). The shadow MMU calls it on every hidden page fault, so it
// allocates nothing, throws nothing and logs nothing.
#pragma once

#include <cstdint>
#include <string>

#include "arch/x86.h"
#include "base/address.h"
#include "base/guest_memory.h"

namespace tv::mmu {

enum class AccessType { kRead, kWrite, kFetch };

// The control-register state that shapes a walk: CR3, CR4.PSE and CR0.WP.
// CR4.PGE does not change the walk; the G bit is only reported.
struct PagingMode {
  uint32_t cr3;
  bool pse;
  bool wp;
};

// #PF error code bits: arch/x86.h (kPfPresent, kPfWrite, ...).
using x86::kPfFetch;
using x86::kPfPresent;
using x86::kPfReserved;
using x86::kPfUser;
using x86::kPfWrite;

struct Translation {
  bool ok;
  GuestPhys phys;       // physical address of `linear` (frame + offset) when ok
  uint32_t page_size;   // 4096 or 4 MiB
  bool writable;        // effective R/W for this privilege (supervisor with WP=0: true)
  bool user;            // U/S: both levels allow user access
  bool global;          // G bit of the final entry
  bool dirty;           // D bit of the final entry after this walk
  uint32_t error_code;  // #PF error code when !ok (kPf* bits)
  GuestPhys pte_addr;   // guest-physical address of the final entry (PDE for 4 MiB
                        // pages); when !ok, of the entry that caused the fault
  // When ok: the PDE and (4 KiB pages) PTE as this walk left them, A and D
  // included: the shadow MMU remembers them to notice a changed entry.
  uint32_t pde, pte;
  bool large() const { return page_size != x86::kPage4K; }
};

// Where the entries for `linear` lie (SDM Vol. 3A 4.3, Figure 4-2): bits
// 31:22 index the directory that CR3 bits 31:12 locate, bits 21:12 the
// page table that the PDE locates.
constexpr GuestPhys pde_address(uint32_t cr3, GuestLinear linear) {
  return {(cr3 & x86::kPteFrame4K) | ((linear.value >> 22) * 4)};
}
constexpr GuestPhys pte_address(uint32_t pde, GuestLinear linear) {
  return {(pde & x86::kPteFrame4K) | (((linear.value >> 12) & 0x3FF) * 4)};
}

// Walks the tables for `linear`. `user` means the access is made at CPL 3
// (or is an explicit user access). When `set_ad` is true and the access is
// permitted, sets A in the PDE and PTE, and D in the final entry on a write,
// with plain stores of the updated entry (enough for one vCPU; an entry
// whose bit is already set is not stored to). A denied access changes
// nothing in guest memory.
Translation walk(GuestMemory& ram, const PagingMode& mode, GuestLinear linear, AccessType access,
                 bool user, bool set_ad = true);

// One line for logs, e.g. "phys=0x123234 4K rw user global dirty (pte @0x2004)"
// or "#PF ec=0x7 protection write user (pte @0x2004)".
std::string describe(const Translation& t);

}  // namespace tv::mmu
