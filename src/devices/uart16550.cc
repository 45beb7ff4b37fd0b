// 16550A UART register model. Register layout, reset values and interrupt
// rules follow the National/TI PC16550D datasheet ("8250 datasheet" below,
// since the 16550 keeps the 8250's register semantics).
#include "devices/uart16550.h"

#include <utility>

#include "base/log.h"

namespace tv::dev {
namespace {

// Register offsets (8250 datasheet, Table II).
constexpr unsigned kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6,
                   kScr = 7;

// IER bits.
constexpr uint8_t kIerErbfi = 0x01, kIerEtbei = 0x02, kIerElsi = 0x04, kIerEdssi = 0x08;
// IIR interrupt identification codes, highest priority first.
constexpr uint8_t kIirNone = 0x01, kIirLineStatus = 0x06, kIirRxData = 0x04, kIirThre = 0x02,
                  kIirModem = 0x00, kIirFifoEnabled = 0xC0;
// FCR bits.
constexpr uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02, kFcrTrigger = 0xC0;
// MCR bits.
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
// LSR bits. THRE and TEMT are constant: transmission is instant.
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
// MSR bits: deltas in the low nibble, line states in the high nibble.
constexpr uint8_t kMsrDcts = 0x01, kMsrDdsr = 0x02, kMsrTeri = 0x04, kMsrDdcd = 0x08,
                  kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

constexpr unsigned kRegs = 8;

}  // namespace

Uart16550::Uart16550(IrqSink& irq, unsigned irq_line, std::function<void(uint8_t)> transmit,
                     IrqGate gate)
    : irq_(irq), irq_line_(irq_line), gate_(gate), transmit_(std::move(transmit)) {
  // At reset the modem inputs are sampled without reporting deltas.
  msr_ = modem_inputs();
}

// The ISA bus splits wider accesses into byte cycles at consecutive ports.
uint64_t Uart16550::read(uint64_t offset, unsigned size) {
  if (size != 1 && !logged_wide_access_) {
    logged_wide_access_ = true;
    log::get("dev.uart")
        ->debug("guest used a {}-byte access at offset {} (logged once)", size, offset);
  }
  uint64_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint8_t byte = offset + i < kRegs ? read_reg(unsigned(offset + i)) : 0xFF;
    value |= uint64_t(byte) << (8 * i);
  }
  return value;
}

void Uart16550::write(uint64_t offset, unsigned size, uint64_t value) {
  if (size != 1 && !logged_wide_access_) {
    logged_wide_access_ = true;
    log::get("dev.uart")
        ->debug("guest used a {}-byte access at offset {} (logged once)", size, offset);
  }
  for (unsigned i = 0; i < size && offset + i < kRegs; ++i)
    write_reg(unsigned(offset + i), uint8_t(value >> (8 * i)));
}

uint8_t Uart16550::read_reg(unsigned reg) {
  switch (reg) {
    case kRbrThr: return dlab() ? dll_ : read_rbr();
    case kIer: return dlab() ? dlm_ : ier_;
    case kIirFcr: return read_iir();
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: return read_lsr();
    case kMsr: return read_msr();
    default: return scr_;
  }
}

void Uart16550::write_reg(unsigned reg, uint8_t value) {
  switch (reg) {
    case kRbrThr:
      if (dlab())
        dll_ = value;
      else
        write_thr(value);
      break;
    case kIer:
      if (dlab())
        dlm_ = value;
      else
        write_ier(value);
      break;
    case kIirFcr: write_fcr(value); break;
    case kLcr: lcr_ = value; break;
    case kMcr: write_mcr(value); break;
    case kLsr: break;  // factory test register on real parts; writes ignored
    case kMsr: break;  // read-only
    default: scr_ = value; break;
  }
}

uint8_t Uart16550::read_rbr() {
  if (rx_count_ == 0) return 0;
  uint8_t byte = rx_[rx_head_];
  rx_head_ = (rx_head_ + 1) % kFifoSize;
  --rx_count_;
  update_irq();
  return byte;
}

// 8250 datasheet, IIR: reading IIR while it reports THRE clears that
// interrupt; the other sources are cleared by servicing their registers.
uint8_t Uart16550::read_iir() {
  uint8_t id = interrupt_id();
  if (id == kIirThre) {
    thr_pending_ = false;
    update_irq();
  }
  return id | ((fcr_ & kFcrEnable) ? kIirFifoEnabled : 0);
}

// 8250 datasheet, LSR: reading LSR clears the error bits (OE here).
uint8_t Uart16550::read_lsr() {
  uint8_t lsr = lsr_errors_ | kLsrThre | kLsrTemt | (rx_count_ ? kLsrDr : 0);
  if (lsr_errors_) {
    lsr_errors_ = 0;
    update_irq();
  }
  return lsr;
}

// 8250 datasheet, MSR: reading MSR clears the delta bits.
uint8_t Uart16550::read_msr() {
  uint8_t msr = msr_;
  if (msr_ & 0x0F) {
    msr_ &= 0xF0;
    update_irq();
  }
  return msr;
}

// Writing THR clears the THRE interrupt; the byte leaves at once, so THR is
// empty again and THRE re-arms. The IRQ line drops and rises around the
// write, which gives an edge-triggered PIC a fresh request just as a real
// UART does one character time later.
void Uart16550::write_thr(uint8_t value) {
  thr_pending_ = false;
  update_irq();
  if (loopback()) {
    rx_push(value);
  } else {
    transmit_(value);
  }
  thr_pending_ = (ier_ & kIerEtbei) != 0;
  update_irq();
}

// Enabling ETBEI while THR is empty raises THRE at once, even if a read of
// IIR cleared it before; Linux's startup checks this (UART_BUG_THRE), and
// QEMU and Bochs behave the same way.
void Uart16550::write_ier(uint8_t value) {
  uint8_t changed = (ier_ ^ value) & 0x0F;
  ier_ = value & 0x0F;
  if (changed & kIerEtbei) thr_pending_ = (ier_ & kIerEtbei) != 0;
  update_irq();
}

// 8250 datasheet, FCR: changing FCR0 clears both FIFOs; the other bits are
// only programmed while FCR0 is (being) set. TX clear is a no-op here.
void Uart16550::write_fcr(uint8_t value) {
  bool was_enabled = fcr_ & kFcrEnable;
  bool enable = value & kFcrEnable;
  if (enable != was_enabled) rx_clear();
  if (enable) {
    if (value & kFcrClearRx) rx_clear();
    fcr_ = value & (kFcrEnable | kFcrTrigger);
  } else {
    fcr_ = 0;
  }
  update_irq();
}

void Uart16550::write_mcr(uint8_t value) {
  mcr_ = value & 0x1F;
  update_msr();
  update_irq();
}

bool Uart16550::loopback() const { return (mcr_ & kMcrLoop) != 0; }

// In 16450 mode (FIFOs off) the receiver holds a single character.
size_t Uart16550::rx_capacity() const { return (fcr_ & kFcrEnable) ? kFifoSize : 1; }

size_t Uart16550::rx_space() const { return loopback() ? 0 : rx_capacity() - rx_count_; }

void Uart16550::receive(uint8_t byte) {
  if (loopback()) return;
  rx_push(byte);
}

// 8250 datasheet, LSR bit 1: on overrun the character in the shift register
// is lost and the FIFO contents stay as they were.
void Uart16550::rx_push(uint8_t byte) {
  if (rx_count_ == rx_capacity()) {
    lsr_errors_ |= kLsrOe;
    if (!logged_overrun_) {
      logged_overrun_ = true;
      log::get("dev.uart")->debug("RX overrun: guest did not drain the FIFO (logged once)");
    }
  } else {
    rx_[(rx_head_ + rx_count_) % kFifoSize] = byte;
    ++rx_count_;
  }
  update_irq();
}

// 8250 datasheet, MCR bit 4: in loopback the modem outputs feed the modem
// inputs (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD). Otherwise a terminal is
// always attached and ready: CTS, DSR and DCD are asserted.
uint8_t Uart16550::modem_inputs() const {
  if (!loopback()) return kMsrCts | kMsrDsr | kMsrDcd;
  return ((mcr_ & kMcrDtr) ? kMsrDsr : 0) | ((mcr_ & kMcrRts) ? kMsrCts : 0) |
         ((mcr_ & kMcrOut1) ? kMsrRi : 0) | ((mcr_ & kMcrOut2) ? kMsrDcd : 0);
}

// 8250 datasheet, MSR: DCTS/DDSR/DDCD flag any change, TERI only the
// trailing (1 -> 0) edge of RI. Deltas accumulate until MSR is read.
void Uart16550::update_msr() {
  uint8_t now = modem_inputs();
  uint8_t changed = uint8_t((msr_ ^ now) & 0xF0);
  uint8_t deltas = 0;
  if (changed & kMsrCts) deltas |= kMsrDcts;
  if (changed & kMsrDsr) deltas |= kMsrDdsr;
  if (changed & kMsrDcd) deltas |= kMsrDdcd;
  if ((changed & kMsrRi) && !(now & kMsrRi)) deltas |= kMsrTeri;
  msr_ = uint8_t(now | (msr_ & 0x0F) | deltas);
}

// 8250 datasheet, IIR table: line status > RX data > THRE > modem status.
// RX data is reported as soon as one byte is present; the FIFO trigger
// level and character timeout (IIR 0x0C) are not modelled.
uint8_t Uart16550::interrupt_id() const {
  if ((ier_ & kIerElsi) && lsr_errors_) return kIirLineStatus;
  if ((ier_ & kIerErbfi) && rx_count_) return kIirRxData;
  if ((ier_ & kIerEtbei) && thr_pending_) return kIirThre;
  if ((ier_ & kIerEdssi) && (msr_ & 0x0F)) return kIirModem;
  return kIirNone;
}

// The PC gates INTRPT through the OUT2 pin. In loopback the chip forces
// OUT2 inactive at the pin, so the line is not driven then either.
void Uart16550::update_irq() {
  bool gated = gate_ == IrqGate::kOut2 && !(mcr_ & kMcrOut2);
  bool level = interrupt_id() != kIirNone && !gated && !loopback();
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_irq(irq_line_, level);
}

}  // namespace tv::dev
