#include "bt/exec/runtime.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/log.h"
#include "bt/emit/emit.h"
#include "bt/exec/fault_handler.h"
#include "bt/profile/disasm.h"
#include "bt/x86/segments.h"
#include "vmm/machine.h"

extern "C" uint32_t tv_bt_enter(tv::bt::CpuState* cpu, const void* code);
extern "C" void tv_bt_exit();
extern "C" void tv_bt_callout();
extern "C" void tv_bt_load_sse();

namespace tv::bt {
namespace {

void set_gs_base(uint8_t* base) {
  // SAFETY: GS is unused by the host ABI on x86-64 Linux (glibc uses FS),
  // and the kernel preserves the GS base across signals and context
  // switches, so translated code's gs: prefix always reaches the window.
  asm volatile("wrgsbase %0" : : "r"(reinterpret_cast<uint64_t>(base)) : "memory");
}

}  // namespace

BtRuntime::BtRuntime(Machine& machine)
    : machine_(machine),
      log_(log::get("bt")),
      mmu_(machine.memory()),
      memory_(machine.memory(), area_.cpu(), &mmu_) {
  set_gs_base(mmu_.window(mmu::View::kSupervisor).base());
  cache_ = std::make_unique<CodeCache>(machine.config().tc_size_bytes, area_.jump_cache(0),
                                       area_.jump_cache(3), stats_);
  // The shared miss stub: an indirect branch whose target (R13D) is not in
  // the jump cache leaves with exit reason kIndirect.
  uint8_t* stub = cache_->reserve(64);
  CodeWriter w(stub, stub + 64);
  w.bytes({0x45, 0x89, 0x6F, kOffEip});  // mov [r15 + eip], r13d
  Emit{w}.store_exit_reason(uint32_t(ExitReason::kIndirect));
  Emit{w}.jmp_exit_thunk();
  cache_->set_miss_stub(stub);
  cache_->jump_cache_clear();
  translator_ = std::make_unique<Translator>(memory_, *cache_, stats_);
  memory_.set_write_hook(
      [](void* rt, uint64_t frame) { static_cast<BtRuntime*>(rt)->note_write(frame); }, this);
  // A task switch loads CR3 from the new TSS: the same path as MOV CR3.
  memory_.set_cr3_hook([](void* rt) { static_cast<BtRuntime*>(rt)->paging_changed(true); }, this);
  CpuState& cpu = area_.cpu();
  cpu.vcpu = this;
  cpu.callout_thunk = reinterpret_cast<uint64_t>(&tv_bt_callout);
  cpu.exit_thunk = reinterpret_cast<uint64_t>(&tv_bt_exit);
  cpu.load_sse_thunk = reinterpret_cast<uint64_t>(&tv_bt_load_sse);
  cpu.gs_base = reinterpret_cast<uint64_t>(mmu_.window(mmu::View::kSupervisor).base());
  // A fresh FP state: fxsave of a just-initialised FPU (FCW 0x37F, MXCSR 0x1F80).
  asm volatile("fninit; fxsave64 %0" : "=m"(*reinterpret_cast<uint8_t(*)[512]>(cpu.fpu)));
  uint32_t mxcsr = 0x1F80;
  std::memcpy(cpu.fpu + 24, &mxcsr, 4);
  install_fault_handler(this);
  if (machine.config().perf_map) {
    // The perf-PID.map convention of JITs: "START SIZE NAME" per line.
    std::string path = fmt::format("/tmp/perf-{}.map", getpid());
    perf_map_ = std::fopen(path.c_str(), "w");
    if (!perf_map_) throw Error(errno_message("cannot write " + path));
  }
}

BtRuntime::~BtRuntime() {
  install_fault_handler(nullptr);
  if (perf_map_) std::fclose(perf_map_);
}

void BtRuntime::set_boot_state(const BootState& b) {
  CpuState& cpu = area_.cpu();
  reset_flat_protected_mode(cpu, b.code_selector, b.data_selector, {b.gdt_base, b.gdt_limit});
  cpu.eip = b.eip;
  cpu.gpr[kEax] = b.eax, cpu.gpr[kEbx] = b.ebx, cpu.gpr[kEcx] = b.ecx, cpu.gpr[kEdx] = b.edx;
  cpu.gpr[kEsi] = b.esi, cpu.gpr[kEdi] = b.edi, cpu.gpr[kEbp] = b.ebp, cpu.gpr[kEsp] = b.esp;
  mode_dirty_ = true;
}

void BtRuntime::kick() {
  exit_requested_.store(true, std::memory_order_relaxed);
  area_.close_gate();
}

bool BtRuntime::interrupt_deliverable() {
  refresh_irq_pending();
  const CpuState& cpu = area_.cpu();
  return cpu.vif && !cpu.sti_shadow && cpu.irq_pending;
}

void BtRuntime::sync_mode() {
  area_.cpu().mode_stale = 0;
  update_mode();
}

void BtRuntime::refresh_irq_pending() {
  area_.cpu().irq_pending = machine_.platform().interrupt_source().interrupt_pending();
}

// The mode and segment-check data depend on the segment registers, CR0,
// CR4 and CPL only; a kernel entry and its return cycle through a few such
// states (user, kernel with the user's selectors, kernel), so the last
// four results are kept.
uint32_t BtRuntime::derive_mode() {
  CpuState& cpu = area_.cpu();
  for (ModeMemo& m : mode_memo_) {
    if (m.valid && m.cr0 == cpu.cr0 && m.cr4 == cpu.cr4 && m.cpl == cpu.cpl &&
        std::memcmp(m.seg, cpu.seg, sizeof m.seg) == 0) {
      std::memcpy(cpu.seg_lo, m.lo, sizeof m.lo);
      std::memcpy(cpu.seg_hi, m.hi, sizeof m.hi);
      std::memcpy(cpu.seg_writable, m.writable, sizeof m.writable);
      return m.mode;
    }
  }
  derive_segment_checks(cpu);
  ModeMemo& m = mode_memo_[memo_next_];
  memo_next_ = (memo_next_ + 1) % kModeMemos;
  m.valid = true;
  m.cr0 = cpu.cr0, m.cr4 = cpu.cr4, m.cpl = cpu.cpl;
  std::memcpy(m.seg, cpu.seg, sizeof m.seg);
  std::memcpy(m.lo, cpu.seg_lo, sizeof m.lo);
  std::memcpy(m.hi, cpu.seg_hi, sizeof m.hi);
  std::memcpy(m.writable, cpu.seg_writable, sizeof m.writable);
  return m.mode = Mode::of(cpu);
}

void BtRuntime::update_mode() {
  uint32_t mode = derive_mode();
  uint32_t cs_base = area_.cpu().seg[kCs].base;
  // The jump caches map EIPs (CS offsets) of one mode and CS base; each
  // CPL has its own table, so a CPL change alone keeps them.
  constexpr uint32_t kCplBits = 3u << Mode::kCplShift;
  if ((mode & ~kCplBits) != (mode_ & ~kCplBits) || cs_base != cs_base_) cache_->jump_cache_clear();
  mode_ = mode;
  cs_base_ = cs_base;
  mode_dirty_ = false;
  // The user view maps only user pages, so the host MMU enforces U/S.
  auto view = area_.cpu().cpl == 3 ? mmu::View::kUser : mmu::View::kSupervisor;
  uint8_t* base = mmu_.window(view).base();
  area_.cpu().view_base[0] = reinterpret_cast<uint64_t>(mmu_.window(mmu::View::kSupervisor).base());
  area_.cpu().view_base[1] = reinterpret_cast<uint64_t>(mmu_.window(mmu::View::kUser).base());
  if (reinterpret_cast<uint64_t>(base) != area_.cpu().gs_base) {
    area_.cpu().gs_base = reinterpret_cast<uint64_t>(base);
    set_gs_base(base);
  }
  const CpuState& cpu = area_.cpu();
  if (cpu.seg[kSs].base != 0) {
    static bool logged = false;
    if (!logged)
      log::get("bt")->warn("unimplemented: non-zero SS segment base; running as if zero");
    logged = true;
  }
}

ProfileSources BtRuntime::profile_sources() const {
  return {stats_, *cache_, mmu_.stats(), const_cast<LinearMemory&>(memory_)};
}

void BtRuntime::report_profile(std::string& out) const {
  bt::report_profile(out, profile_sources());
}

void BtRuntime::report_profile_json(JsonWriter& out) const {
  bt::report_profile_json(out, profile_sources());
}

dev::Bus& BtRuntime::pio() { return machine_.pio(); }

dev::Bus& BtRuntime::mmio() { return machine_.mmio(); }

std::optional<uint64_t> BtRuntime::platform_read_msr(uint32_t msr) {
  return machine_.read_msr(msr);
}

bool BtRuntime::platform_write_msr(uint32_t msr, uint64_t value) {
  return machine_.write_msr(msr, value);
}

bool BtRuntime::stop_requested() const { return machine_.stop_requested(); }

void BtRuntime::paging_changed(bool cr3_written) {
  const CpuState& cpu = area_.cpu();
  mmu::PagingState p;
  p.enabled = cpu.cr0 & kCr0Pg;
  p.cr3 = cpu.cr3 & ~0xFFFu;
  p.pse = cpu.cr4 & kCr4Pse;
  p.pge = cpu.cr4 & kCr4Pge;
  p.wp = cpu.cr0 & kCr0Wp;
  // A CR3 write flushes the non-global TLB entries, even when the value
  // does not change; anything else that changed flushes everything.
  mmu::PagingState same_but_cr3 = mmu_.paging();
  same_but_cr3.cr3 = p.cr3;
  if (cr3_written && p == same_but_cr3) {
    mmu_.switch_cr3(p.cr3);
    if (p.pge) {  // global pages keep their mappings: their blocks keep their links
      cache_->park_nonglobal(cs_base_);
      mode_dirty_ = true;
      return;
    }
  } else {
    mmu_.set_paging(p);
  }
  cache_->jump_cache_clear();
  cache_->unchain_cross_page();
  mode_dirty_ = true;
}

void BtRuntime::invalidate_linear(uint32_t linear) {
  const GuestLinear page = page_of(GuestLinear{linear});
  if (mmu_.invalidate_page(page)) {  // a whole 4 MiB region went
    cache_->jump_cache_clear();
    cache_->unchain_cross_page();
    return;
  }
  cache_->jump_cache_drop_page(page.value - cs_base_);
  cache_->jump_cache_drop_page(page.value - kPage4K - cs_base_);  // blocks running into this page
  cache_->unchain_cross_page_into(page.value);
}

const uint8_t* BtRuntime::continue_inline() {
  CpuState& cpu = area_.cpu();
  if (shutdown_ || halted_ || fatal_ || single_step_next_ || cpu.sti_shadow ||
      pending_.kind != PendingFault::Kind::kNone || exit_requested() || stop_requested() ||
      (!cpu.nmi_blocked && machine_.platform().nmi_pending()) || interrupt_deliverable())
    return nullptr;
  if (mode_dirty_) update_mode();
  if (const uint8_t* host = cache_->jump_cache_find(cpu.eip, cpu.cpl == 3)) {
    ++stats_.exits[ExitKind::kCalloutInline];
    last_entered_eip_ = cpu.eip;
    return host;
  }
  Block* block;
  try {
    block = find_block(cpu.eip);
  } catch (...) {  // a fetch fault: the dispatcher finds it again and delivers it
    return nullptr;
  }
  remember_for_indirect(block);
  ++stats_.exits[ExitKind::kCalloutInline];
  last_entered_eip_ = block->eip;
  return block->host;
}

void BtRuntime::after_iret() {
  // Returning to the instruction that took a #PF: the handler has most
  // likely fixed the PTE, so map the page now instead of taking a second
  // host fault for it (the walk decides; a failure is simply ignored).
  if (!last_pf_.valid || area_.cpu().eip != last_pf_.eip) return;
  last_pf_.valid = false;
  auto view = last_pf_.user ? mmu::View::kUser : mmu::View::kSupervisor;
  mmu::FaultOutcome r = mmu_.handle_fault(view, last_pf_.linear, last_pf_.write);
  if (r.kind == mmu::FaultOutcome::Kind::kHostError) mmu::throw_if_failed(r.host);
}

bool BtRuntime::deliver(const Event& event) {
  event.kind == EventKind::kExternal ? ++stats_.interrupts : ++stats_.exceptions;
  if (deliver_event(area_.cpu(), memory_, event) == DeliveryResult::kTripleFault) {
    shutdown_ = true;
    return false;
  }
  mode_dirty_ = true;
  return true;
}

void BtRuntime::deliver_interrupt() {
  uint8_t vector = machine_.platform().interrupt_source().acknowledge();
  halted_ = false;
  deliver(Event{vector, EventKind::kExternal});
}

bool BtRuntime::handle_pending_fault() {
  PendingFault f = pending_;
  pending_ = {};
  switch (f.kind) {
    case PendingFault::Kind::kException:
      if (f.event.vector == kPF) {
        area_.cpu().cr2 = f.linear.value;
        invalidate_linear(f.linear.value);  // a #PF drops the page's TLB entry (Linux relies on it)
        last_pf_ = {true, f.linear, area_.cpu().eip, (f.event.error_code & kPfWrite) != 0,
                    (f.event.error_code & kPfUser) != 0};
      }
      return deliver(f.event);
    case PendingFault::Kind::kCodeWrite: {
      // Only the blocks whose bytes the write touches go (QEMU does the
      // same); if code remains in the frame, the write runs once with its
      // page writable and the frame stays traced.
      // A write of unknown size, or one running into the next page (which
      // faults on its own), takes the whole frame.
      uint32_t lo = page_offset(f.linear), hi = lo + f.write_len;
      if (hi > kPage4K) lo = 0, hi = kPage4K;
      stats_.invalidations[InvalidationCause::kCodePageWrite] +=
          cache_->invalidate_range(f.frame.value, lo, hi);
      if (cache_->page_has_code(f.frame.value)) {
        mmu_.open_for_write(f.view, f.linear, f.frame);
        open_write_ = {true, f.view, f.linear, f.frame};
      } else {
        mmu_.untrace_frame(f.frame);
      }
      single_step_next_ = true;
      return true;
    }
    case PendingFault::Kind::kUnhandled:
      throw Error(fmt::format(
          "unimplemented: guest instruction at EIP {:#x} accesses {:#x} outside RAM in a way "
          "that is not emulated",
          area_.cpu().eip, f.unhandled_address));
    case PendingFault::Kind::kNone: return true;
  }
  return true;
}

VcpuExit BtRuntime::run() {
  CpuState& cpu = area_.cpu();
  ExitSlot* last_slot = nullptr;
  for (;;) {
    if (shutdown_) return VcpuExit::kShutdown;
    if (exit_requested_.exchange(false, std::memory_order_relaxed)) {
      area_.open_gate();
      return VcpuExit::kExitRequest;
    }
    if (stop_requested()) return VcpuExit::kExitRequest;
    // NMIs are not masked by IF, only by a running NMI handler (SDM Vol. 3A 6.7.1).
    if (!cpu.nmi_blocked && machine_.platform().take_nmi()) {
      halted_ = false;
      deliver(Event{kNMI, EventKind::kExternal});
      cpu.nmi_blocked = 1;
      last_slot = nullptr;
      continue;
    }
    if (halted_) {
      if (!interrupt_deliverable()) return VcpuExit::kHalted;
      halted_ = false;
    }
    // MOV SS / POP SS block interrupts for one instruction (SDM Vol. 3A
    // 6.8.3): run that instruction alone, then look again.
    bool shadow = std::exchange(cpu.sti_shadow, uint8_t{0});
    if (!shadow && interrupt_deliverable()) {
      deliver_interrupt();
      last_slot = nullptr;
      continue;
    }
    if (shadow) single_step_next_ = true;
    if (mode_dirty_) {
      update_mode();
      last_slot = nullptr;
    }
    Block* block;
    bool single = single_step_next_;
    uint64_t flushes = stats_.flushes;
    try {
      block = single ? translate(cpu.eip, true) : find_block(cpu.eip);
    } catch (const FetchError& e) {
      // Nothing decodes outside RAM: the bus floats to 0xFF, an invalid opcode.
      deliver(Event{kUD, EventKind::kException});
      continue;
    } catch (const GuestFault& f) {  // #PF fetching code (CR2 is set)
      single_step_next_ = false;
      deliver(exception_event(f));
      continue;
    }
    single_step_next_ = false;
    if (stats_.flushes != flushes) last_slot = nullptr;  // its block is gone
    if (last_slot && !single && last_slot->chainable) {
      // With paging, a jump to another page (or into a block that runs
      // into the next page) holds only while the mappings do: such chains
      // are undone on every CR3 write and INVLPG.
      bool same_page =
          ((last_slot->block->eip ^ block->eip) & ~0xFFFu) == 0 && block->pages[1] == kNoFrame;
      cache_->chain(last_slot, block, !same_page && (mode_ & Mode::kPaging));
    }
    last_slot = nullptr;
    if (!single) remember_for_indirect(block);
    cpu.exit_reason = uint32_t(ExitReason::kBranch);
    cpu.exit_slot = nullptr;
    last_entered_eip_ = block->eip;
    refresh_irq_pending();
    auto reason = ExitReason(tv_bt_enter(&cpu, block->host));
    if (cpu.mode_stale) {  // an inline SYSENTER/SYSEXIT ran
      cpu.mode_stale = 0;
      mode_dirty_ = true;
    }
    if (single) {
      cache_->retire(block);
      ++stats_.single_steps;
      if (open_write_.open) {
        mmu_.close_after_write(open_write_.view, open_write_.linear, open_write_.frame);
        open_write_.open = false;
      }
    }
    if (fatal_) throw Error(*fatal_);
    machine_.mmio().flush_deferred_logs();  // what the fault handler's MMIO path could not log
    if (device_ring_tail_ != device_ring_head_) {
      retranslate_device_accesses();
      last_slot = nullptr;  // its block may be gone
    }
    switch (reason) {
      case ExitReason::kBranch:
        ++stats_.exits[cpu.exit_slot ? ExitKind::kBranch : ExitKind::kSync];
        if (!single) last_slot = cpu.exit_slot;
        break;
      case ExitReason::kIndirect:
        ++stats_.exits[ExitKind::kIndirectMiss];
        ++stats_.jump_cache_misses;
        break;
      case ExitReason::kCallout: ++stats_.exits[ExitKind::kCallout]; break;
      case ExitReason::kExitRequest:
        // The gate was closed: whatever raced with the kick, open it again
        // here, or every block entry would fault. A shadowed instruction
        // that did not run yet keeps its shadow.
        ++stats_.exits[ExitKind::kExitRequest];
        if (shadow) cpu.sti_shadow = 1;
        exit_requested_.store(false, std::memory_order_relaxed);
        area_.open_gate();
        return VcpuExit::kExitRequest;
      case ExitReason::kFault:
        ++stats_.exits[ExitKind::kFault];
        handle_pending_fault();
        break;
    }
  }
}

}  // namespace tv::bt
