// IA-32 32-bit paging walker (SDM Vol. 3A 4.3, 4.6, 4.7, 4.8). Entries are
// read straight through the physmap with 4-byte copies: entries are 4-byte
// aligned, so each read and each A/D store is one aligned access, which is
// all a single vCPU needs (the guest is stopped while its fault is walked).
#include "shadow_mmu/page_walker.h"

#include <fmt/format.h>

#include <cstring>

namespace tv::mmu {
namespace {

// Paging-structure entry bits (SDM Vol. 3A 4.3, Tables 4-4 to 4-6).
constexpr uint32_t kP = x86::kPteP, kRw = x86::kPteRw, kUs = x86::kPteUs, kA = x86::kPteA,
                   kD = x86::kPteD, kPs = x86::kPtePs, kG = x86::kPteG;
constexpr uint32_t kFrame4K = x86::kPteFrame4K, kFrame4M = x86::kPteFrame4M;
// Bits 21:13 of a 4 MiB PDE. SDM Table 4-4: bits 21:(M-19) are reserved and
// bits (M-20):13 hold physical-address bits (M-1):32 under PSE-36. We do not
// support physical addresses above 4 GiB, so M is 32 for the guest and all
// of 21:13 are reserved: a guest that sets 16:13 to reach memory above
// 4 GiB gets a RSVD #PF instead of a silently truncated address.
constexpr uint32_t kPde4MReserved = 0x003FE000;

using x86::kPage4K;
using x86::kPage4M;

// One paging-structure entry: where it lives and what it held when read.
struct Entry {
  uint8_t* host;  // nullptr when the entry lies outside guest RAM
  GuestPhys addr;
  uint32_t value;
};

// A table outside RAM reads as all ones on real hardware (open bus), which
// would make a present entry with every right and, for a PSE PDE, reserved
// bits set. Deliberate simplification: such an entry reads as 0, i.e. not
// present, so the guest gets a plain #PF (P=0) and we never store A/D to
// MMIO. No real guest keeps page tables outside RAM.
Entry read_entry(GuestMemory& ram, GuestPhys addr) {
  Entry e{ram.host(addr, sizeof(uint32_t)), addr, 0};
  if (e.host) std::memcpy(&e.value, e.host, sizeof e.value);
  return e;
}

// Sets `bits` in a guest entry, storing only when one of them is clear, so
// that a walk over already-accessed pages writes nothing (SDM 4.8).
void mark(Entry& e, uint32_t bits) {
  if ((e.value & bits) == bits) return;
  e.value |= bits;
  std::memcpy(e.host, &e.value, sizeof e.value);
}

// The #PF error code's W/R and U/S bits describe the access (SDM 4.7);
// a fetch is reported as a read since I/D is only defined with NX.
uint32_t access_bits(AccessType access, bool user) {
  return (access == AccessType::kWrite ? kPfWrite : 0) | (user ? kPfUser : 0);
}

Translation fault(const Entry& e, uint32_t error_code) {
  Translation t{};
  t.error_code = error_code;
  t.pte_addr = e.addr;
  return t;
}

// Access rights from the R/W and U/S bits combined over both levels
// (SDM 4.6.1, without SMEP/SMAP/NX): supervisor reads and fetches always
// pass; supervisor writes need R/W=1 only when CR0.WP=1; user accesses
// need U/S=1 and user writes also R/W=1, whatever CR0.WP says.
bool effective_writable(uint32_t rights, bool user, bool wp) {
  return (rights & kRw) || (!user && !wp);
}

bool permitted(uint32_t rights, AccessType access, bool user, bool wp) {
  if (user && !(rights & kUs)) return false;
  return access != AccessType::kWrite || effective_writable(rights, user, wp);
}

// Fills in a translation for a present final entry; `rights` is the AND of
// R/W and U/S over the levels walked.
Translation translate(const Entry& final, uint32_t rights, GuestPhys phys, uint32_t size, bool user,
                      bool wp) {
  Translation t{};
  t.ok = true;
  t.phys = phys;
  t.page_size = size;
  t.writable = effective_writable(rights, user, wp);
  t.user = rights & kUs;
  t.global = final.value & kG;
  t.dirty = final.value & kD;
  t.pte_addr = final.addr;
  return t;
}

// A 4 MiB page: the PDE is the final entry (SDM 4.3, Table 4-4).
Translation walk_4m(Entry& pde, const PagingMode& mode, GuestLinear linear, AccessType access,
                    bool user, bool set_ad) {
  const uint32_t ec = access_bits(access, user);
  if (pde.value & kPde4MReserved) return fault(pde, ec | kPfPresent | kPfReserved);
  const uint32_t rights = pde.value & (kRw | kUs);
  if (!permitted(rights, access, user, mode.wp)) return fault(pde, ec | kPfPresent);
  if (set_ad) mark(pde, access == AccessType::kWrite ? kA | kD : kA);
  GuestPhys phys{(pde.value & kFrame4M) | (linear.value & (kPage4M - 1))};
  Translation t = translate(pde, rights, phys, kPage4M, user, mode.wp);
  t.pde = pde.value;
  return t;
}

// A 4 KiB page through a page table (SDM 4.3, Tables 4-5 and 4-6). The
// PDE's D and G bits are ignored at this level; only the PTE's count.
Translation walk_4k(GuestMemory& ram, Entry& pde, const PagingMode& mode, GuestLinear linear,
                    AccessType access, bool user, bool set_ad) {
  const uint32_t ec = access_bits(access, user);
  Entry pte = read_entry(ram, pte_address(pde.value, linear));
  if (!(pte.value & kP)) return fault(pte, ec);
  const uint32_t rights = pde.value & pte.value & (kRw | kUs);
  if (!permitted(rights, access, user, mode.wp)) return fault(pte, ec | kPfPresent);
  if (set_ad) {
    mark(pde, kA);
    mark(pte, access == AccessType::kWrite ? kA | kD : kA);
  }
  GuestPhys phys{(pte.value & kFrame4K) | page_offset(linear)};
  Translation t = translate(pte, rights, phys, kPage4K, user, mode.wp);
  t.pde = pde.value;
  t.pte = pte.value;
  return t;
}

}  // namespace

// A faulting access sets no A or D flag: the guest's handler fixes the
// entry and retries, and that retry walks (and marks) again.
Translation walk(GuestMemory& ram, const PagingMode& mode, GuestLinear linear, AccessType access,
                 bool user, bool set_ad) {
  // CR3 bits 31:12 locate the directory; PWT/PCD (bits 3, 4) only set its
  // memory type (SDM 4.3, Table 4-3).
  Entry pde = read_entry(ram, pde_address(mode.cr3, linear));
  if (!(pde.value & kP)) return fault(pde, access_bits(access, user));
  // With CR4.PSE=0 the PS bit is ignored and every PDE points to a page table.
  if (mode.pse && (pde.value & kPs)) return walk_4m(pde, mode, linear, access, user, set_ad);
  return walk_4k(ram, pde, mode, linear, access, user, set_ad);
}

std::string describe(const Translation& t) {
  if (t.ok) {
    return fmt::format("phys={:#x} {} {} {}{}{} (pte @{:#x})", t.phys.value,
                       t.page_size == kPage4M ? "4M" : "4K", t.writable ? "rw" : "ro",
                       t.user ? "user" : "supervisor", t.global ? " global" : "",
                       t.dirty ? " dirty" : "", t.pte_addr.value);
  }
  const char* kind = (t.error_code & kPfReserved)  ? "reserved bit"
                     : (t.error_code & kPfPresent) ? "protection"
                                                   : "not present";
  return fmt::format("#PF ec={:#x} {} {} {} (pte @{:#x})", t.error_code, kind,
                     (t.error_code & kPfWrite) ? "write" : "read",
                     (t.error_code & kPfUser) ? "user" : "supervisor", t.pte_addr.value);
}

}  // namespace tv::mmu
