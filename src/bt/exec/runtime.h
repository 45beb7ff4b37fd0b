// The bt backend: owns the vCPU area, the shadow window, the translation
// cache and the translator, and runs the dispatcher loop: find or translate
// the block for cpu.eip, chain the exit just taken, enter translated code,
// and act on why it came back (DESIGN.md "BT: translation", "BT: faults").
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/log.h"
#include "bt/cache/code_cache.h"
#include "bt/exec/device_step.h"
#include "bt/exec/vcpu_area.h"
#include "bt/frontend/translator.h"
#include "bt/helpers/callout_context.h"
#include "bt/profile/report.h"
#include "bt/stats/stats.h"
#include "bt/x86/exceptions.h"
#include "bt/x86/linear_memory.h"
#include "shadow_mmu/shadow_mmu.h"
#include "vmm/backend.h"

namespace tv {
class Machine;
}

namespace tv::bt {

// A guest event the fault handler found, delivered by the dispatcher.
struct PendingFault {
  enum class Kind { kNone, kException, kCodeWrite, kUnhandled } kind = Kind::kNone;
  Event event{};
  GuestPhys frame{};                        // kCodeWrite: the guest-physical frame written
  uint32_t write_len = 0;                   // kCodeWrite: bytes written (4096: unknown)
  mmu::View view = mmu::View::kSupervisor;  // kCodeWrite: the view written through
  GuestLinear linear{};                     // kCodeWrite: the address written; kException #PF: CR2
  uint64_t unhandled_address =
      0;  // kUnhandled: the physical address, or the window offset (a guard)
};

class BtRuntime final : public Backend, public CalloutContext {
 public:
  explicit BtRuntime(Machine& machine);
  ~BtRuntime() override;

  // Backend
  std::string_view name() const override { return "bt"; }
  void set_boot_state(const BootState& state) override;
  VcpuExit run() override;
  void kick() override;
  bool interrupts_enabled() const override { return area_.cpu().vif != 0; }
  void memory_written(uint64_t phys, uint64_t len) override;
  void report_profile(std::string& out) const override;
  void report_profile_json(JsonWriter& out) const override;

  // For callouts and the fault handler.
  CpuState& cpu() { return area_.cpu(); }
  Machine& machine() { return machine_; }
  Stats& stats() { return stats_; }
  CodeCache& cache() { return *cache_; }
  VcpuArea& area() { return area_; }
  mmu::ShadowMmu& mmu() { return mmu_; }
  PendingFault& pending_fault() { return pending_; }
  DeviceStep& device_step() { return device_step_; }

  // CalloutContext
  LinearMemory& memory() override { return memory_; }
  dev::Bus& pio() override;
  dev::Bus& mmio() override;
  void mode_changed() override { mode_dirty_ = true; }
  bool same_mode_after_segment_load() override { return !mode_dirty_ && derive_mode() == mode_; }
  void paging_changed(bool cr3_written) override;
  void invalidate_linear(uint32_t linear) override;
  bool deliver(const Event& event) override;
  void after_iret() override;
  void set_halted() override { halted_ = true; }
  std::optional<uint64_t> platform_read_msr(uint32_t msr) override;
  bool platform_write_msr(uint32_t msr, uint64_t value) override;

  // Translated code changed CPL/CS/SS itself (cpu.mode_stale): the mode
  // and GS base are derived again before C++ relies on them.
  void sync_mode();
  // After a block-ending callout: the host code of the next block if the
  // dispatcher has nothing else to do first (interrupts, kicks, halts,
  // single steps, shadows), else nullptr.
  const uint8_t* continue_inline();
  // Before translated code runs: whether the PIC has a request, for the
  // check at the end of an STI shadow.
  void refresh_irq_pending();
  // Helpers wrote guest memory through the physmap: drop translations of
  // that frame if it holds code.
  void note_write(uint64_t frame);
  // True if an interrupt can be taken now (used by callouts to decide
  // whether to leave translated code after touching a device); refreshes
  // cpu.irq_pending on the way.
  bool interrupt_deliverable();
  // A host-side failure inside a callout, rethrown by the dispatcher
  // (C++ exceptions must not unwind through translated code).
  void set_fatal(std::string message) { fatal_ = std::move(message); }
  bool exit_requested() const { return exit_requested_.load(std::memory_order_relaxed); }
  // The machine wants the run loop (a reset, power-off or exit request).
  bool stop_requested() const;
  // Set when a callout wrote to a frame holding translated code.
  bool take_code_written() { return std::exchange(code_written_, false); }
  // The fault handler emulated a device access of the translated code at
  // `host_pc`. Async-signal-safe: remembered in a fixed ring; the dispatcher
  // retranslates that instruction as a callout (adaptive translation).
  void note_device_access(const uint8_t* host_pc);
  // For crash reports: the guest EIP of the block the dispatcher entered last.
  uint32_t last_entered_eip() const { return last_entered_eip_; }

 private:
  // Modes with a bit set here are not cached for reuse: one-instruction
  // blocks that run once after a write to a code page.
  static constexpr uint32_t kSingleMode = 1u << 31;

  Block* find_block(uint32_t eip);
  Block* translate(uint32_t eip, bool single);
  void deliver_interrupt();
  bool handle_pending_fault();
  void invalidate_frame(uint64_t frame, InvalidationCause cause);
  void flush_cache(InvalidationCause cause);
  void update_mode();
  uint32_t derive_mode();
  ProfileSources profile_sources() const;
  void remember_for_indirect(const Block* block);
  void retranslate_device_accesses();

  Machine& machine_;
  std::shared_ptr<spdlog::logger> log_;  // resolved once: log::get() takes a lock
  VcpuArea area_;
  mmu::ShadowMmu mmu_;
  LinearMemory memory_;
  Stats stats_;
  std::unique_ptr<CodeCache> cache_;
  std::unique_ptr<Translator> translator_;
  uint32_t mode_ = 0;
  uint32_t cs_base_ = 0;
  struct ModeMemo {
    bool valid = false;
    Segment seg[kNumSegRegs];
    uint32_t cr0 = 0, cr4 = 0;
    uint8_t cpl = 0;
    uint32_t mode = 0;
    uint32_t lo[kNumSegRegs], hi[kNumSegRegs];
    uint8_t writable[kNumSegRegs];
  };
  static constexpr unsigned kModeMemos = 4;
  ModeMemo mode_memo_[kModeMemos];
  unsigned memo_next_ = 0;
  bool mode_dirty_ = true;
  bool halted_ = false;
  bool shutdown_ = false;
  bool single_step_next_ = false;
  std::atomic<bool> exit_requested_{false};
  PendingFault pending_;
  DeviceStep device_step_;
  std::optional<std::string> fatal_;
  bool code_written_ = false;
  uint32_t last_entered_eip_ = 0;
  // Host PCs of device accesses the fault handler emulated, not yet
  // retranslated (a ring filled in signal context, drained by run()).
  static constexpr unsigned kDeviceRing = 16;
  const uint8_t* device_ring_[kDeviceRing] = {};
  volatile unsigned device_ring_head_ = 0;
  unsigned device_ring_tail_ = 0;
  std::unordered_set<uint32_t> device_eips_;  // linear EIPs translated as device callouts
  // A write to a code frame that hit no translated code runs as a
  // one-instruction block with its page writable; closed again after.
  struct {
    bool open;
    mmu::View view;
    GuestLinear linear;
    GuestPhys frame;
  } open_write_{};
  std::FILE* perf_map_ = nullptr;
  struct {
    bool valid;
    GuestLinear linear;
    uint32_t eip;
    bool write, user;
  } last_pf_{};
};

}  // namespace tv::bt
