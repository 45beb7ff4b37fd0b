// The xAPIC local APIC of one vCPU (SDM Vol. 3A ch. 11, Pentium 4/Xeon
// flavour, as QEMU's "apic" device shows it: version 0x14, six LVT entries,
// no CMCI, no x2APIC, no EOI-broadcast suppression). It is three things:
// - an IoDevice for its 4 KiB register page (offsets into the page; 32-bit
//   accesses to 16-byte-aligned registers only);
// - a TimedDevice for its timer, computed from the clock, never stepped;
// - the InterruptSource the vCPU takes interrupts from. While the APIC is
//   hardware-disabled (IA32_APIC_BASE[11] = 0) or software-disabled
//   (SVR[8] = 0, the power-on state) it is transparent: the 8259A's INTR
//   passes straight through, so a guest that never touches the APIC (or a
//   Linux booted with `nolapic`) sees exactly the PIC.
//
// Wiring for the machine:
// - Insert the page at mmio_base() (0xFEE00000 after reset) while
//   hardware_enabled(); after every successful set_apic_base() re-read both
//   and move or remove the range (a disabled APIC must not answer; if it is
//   still reached, it reads all-ones and drops writes like an empty bus).
//   The CPUID.01H:EDX.APIC bit follows hardware_enabled() (SDM 11.4.3).
// - RDMSR/WRMSR 0x1B go to apic_base()/set_apic_base() (false: #GP), 0x6E0
//   to tsc_deadline()/set_tsc_deadline(); advertise CPUID.01H:ECX[24]
//   (TSC-deadline) only when a TscRate was given.
// - Register it as a TimedDevice; the vCPU polls interrupt_pending(), runs
//   acknowledge() as its INTA cycle and polls take_nmi/take_init/take_sipi.
// Everything runs on the vCPU thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "devices/apic_bus.h"
#include "devices/device.h"

namespace tv::dev {

// Guest TSC to clock time for the TSC-deadline timer: the guest TSC read
// `tsc` at clock instant `ns` and runs at `hz` (guest TSC = host TSC).
// hz = 0: no TSC rate known, a TSC deadline never fires.
struct TscRate {
  uint64_t hz = 0;
  uint64_t tsc = 0;
  uint64_t ns = 0;
};

// DFR model bits 28-31 (SDM 11.6.2.2): 1111b flat, 0000b cluster.
enum class DestinationModel : uint8_t { kFlat, kCluster };

class LocalApic final : public IoDevice, public TimedDevice, public InterruptSource {
 public:
  // The timer's input clock before the divider, QEMU's choice: 1 GHz, one
  // tick per ns. Guests calibrate it against the PIT or read it from CPUID.
  static constexpr uint64_t kBusHz = 1'000'000'000;
  static constexpr uint64_t kPageSize = 0x1000;
  static constexpr uint32_t kMsrApicBase = 0x1B;
  static constexpr uint32_t kMsrTscDeadline = 0x6E0;
  static constexpr unsigned kPhysAddrBits = 36;
  static constexpr uint32_t kVersion = 0x00050014;  // max LVT entry 5, version 0x14

  // `bus` carries ICR messages (the ApicCluster), `eoi` hears EOIs of
  // level-triggered vectors (the cluster, which forwards to the I/O APIC),
  // `pic` is the 8259A on LINT0 (may be null). All must outlive the APIC.
  LocalApic(uint8_t apic_id, const Clock& clock, ApicBus& bus, EoiSink& eoi, InterruptSource* pic,
            TscRate tsc = {});

  // RESET: the power-on state (SDM 11.4.7.1), APIC ID and base MSR included.
  void reset();

  // IoDevice: the register page.
  std::string_view name() const override { return "lapic"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // TimedDevice: the timer. A masked timer has no deadline (it still counts).
  void advance(uint64_t now_ns) override;
  std::optional<uint64_t> next_deadline_ns() const override;

  // InterruptSource: the APIC's highest IRR vector if its priority class
  // beats PPR, else the 8259A through LINT0 (ExtINT or virtual wire).
  bool interrupt_pending() const override;
  uint8_t acknowledge() override;

  // IA32_APIC_BASE (SDM 11.4.4). set_apic_base returns false if the write
  // must #GP (reserved bits 0-7, 9, 10 or above bit 35). Clearing the global
  // enable returns the APIC to its power-on state (SDM 11.4.3 allows it);
  // enabling it again is allowed (FSB-era processors).
  uint64_t apic_base() const { return apic_base_; }
  bool set_apic_base(uint64_t value);
  bool hardware_enabled() const { return apic_base_ & kBaseEnable; }
  uint64_t mmio_base() const { return apic_base_ & kBaseAddressMask; }
  bool software_enabled() const { return svr_ & kSvrEnable; }

  // IA32_TSC_DEADLINE (SDM 11.5.4.1): reads 0 and ignores writes outside
  // TSC-deadline mode; 0 disarms; reads 0 again once the deadline passed.
  uint64_t tsc_deadline() const;
  void set_tsc_deadline(uint64_t tsc);

  // Messages from the bus already routed to this APIC (SDM 11.6, 11.11).
  void accept(const ApicMessage& message);

  // The LINT0/LINT1 pins, for devices wired to them; edge or level as the
  // LVT entry says. The 8259A on LINT0 is polled through `pic` instead.
  void set_lint(unsigned pin, bool level);

  // Events the vCPU takes itself. INIT has already reset this APIC (SDM
  // 11.4.7.3) when take_init() reports it; a SIPI is meaningful only to a
  // vCPU in wait-for-SIPI, which the vCPU decides.
  bool take_nmi();
  bool take_init();
  std::optional<uint8_t> take_sipi();
  bool nmi_pending() const { return nmi_pending_; }
  // An NMI, INIT or SIPI is waiting (wakes a halted vCPU).
  bool cpu_event_pending() const {
    return nmi_pending_ || init_pending_ || sipi_vector_.has_value();
  }

  // What the bus needs for routing (SDM 11.6.2).
  uint8_t id() const { return uint8_t(id_ >> 24); }
  uint8_t logical_id() const { return uint8_t(ldr_ >> 24); }
  DestinationModel destination_model() const;
  uint8_t ppr() const;  // SDM 11.8.3.1

 private:
  enum Lvt : unsigned { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kLvts };
  enum class TimerMode : uint8_t { kOneShot, kPeriodic, kTscDeadline };

  static constexpr uint64_t kBaseBsp = 1u << 8;
  static constexpr uint64_t kBaseEnable = 1u << 11;
  static constexpr uint64_t kBaseAddressMask = ((1ull << kPhysAddrBits) - 1) & ~0xFFFull;
  static constexpr uint32_t kSvrEnable = 1u << 8;

  using Bits256 = std::array<uint32_t, 8>;

  // lapic.cc: state, interrupt acceptance, priorities, pins.
  void reset_registers();
  bool set_irr(uint8_t vector, bool level);
  void deliver_lvt(Lvt entry);
  int deliverable_vector() const;
  bool extint_pending() const;
  void eoi();
  void signal_error(uint32_t bit);
  void software_disable();
  void init_from_message();
  void lint_changed(unsigned pin, bool was_asserted);
  bool lint_asserted(unsigned pin) const { return lint_asserted(pin, lvt_[kLvtLint0 + pin]); }
  bool lint_asserted(unsigned pin, uint32_t lvt) const;
  bool transparent() const { return !hardware_enabled() || !software_enabled(); }
  void log_once(bool& flag, const char* what);

  // lapic_mmio.cc: the register page.
  uint32_t read_register(unsigned offset, uint64_t now);
  void write_register(unsigned offset, uint32_t value, uint64_t now);
  void write_lvt(Lvt entry, uint32_t value, uint64_t now);
  void write_icr_low(uint32_t value);
  void write_esr();

  // lapic_timer.cc.
  TimerMode timer_mode() const;
  static TimerMode timer_mode_of(uint32_t lvt);
  uint32_t current_count(uint64_t now) const;
  std::optional<uint64_t> timer_expiry() const;
  void rebase_timer(uint64_t now);
  void disarm_timer();
  void write_lvt_timer(uint32_t value, uint64_t now);
  void write_initial_count(uint32_t value, uint64_t now);
  void write_divide(uint32_t value, uint64_t now);
  uint64_t tsc_to_ns(uint64_t tsc);

  const Clock& clock_;
  ApicBus& bus_;
  EoiSink& eoi_sink_;
  InterruptSource* pic_;
  const TscRate tsc_rate_;
  const uint8_t hardware_id_;

  uint64_t apic_base_ = 0;
  uint32_t id_ = 0;  // ID register: the APIC ID in bits 24-31
  uint32_t tpr_ = 0;
  uint32_t ldr_ = 0;
  uint32_t dfr_ = 0;
  uint32_t svr_ = 0;
  Bits256 isr_{};
  Bits256 tmr_{};
  Bits256 irr_{};
  uint32_t esr_pending_ = 0;  // errors since the last ESR write
  uint32_t esr_ = 0;          // what ESR reads: latched at the last write
  uint32_t icr_low_ = 0;
  uint32_t icr_high_ = 0;
  std::array<uint32_t, kLvts> lvt_{};

  // Timer: counting `first` from `start_ns` at bus/2^shift, reloading
  // `initial` in periodic mode; `fires` expirations handled since start.
  uint32_t timer_initial_ = 0;
  uint32_t timer_divide_ = 0;
  unsigned timer_shift_ = 1;
  bool timer_armed_ = false;
  uint64_t timer_start_ns_ = 0;
  uint32_t timer_first_ = 0;
  uint64_t timer_fires_ = 0;
  uint64_t tsc_deadline_ = 0;
  uint64_t tsc_deadline_ns_ = 0;

  bool lint_line_[2] = {};  // pin levels as driven, before polarity
  bool nmi_pending_ = false;
  bool init_pending_ = false;
  std::optional<uint8_t> sipi_vector_;
  bool extint_message_ = false;  // an ExtINT message awaits the INTA cycle

  bool logged_access_ = false;
  bool logged_smi_ = false;
  bool logged_reserved_mode_ = false;
  bool logged_bad_pin_ = false;
  bool logged_no_tsc_rate_ = false;
  bool logged_illegal_register_ = false;
};

}  // namespace tv::dev
