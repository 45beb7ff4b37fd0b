// i8042 keyboard controller and PS/2 keyboard: see i8042.h. Register and
// command meanings follow the IBM PS/2 Hardware Interface Technical Reference
// ("Keyboard/Auxiliary Device Controller"); where PCs and that book differ we
// follow what QEMU's hw/input/pckbd.c and ps2.c do, since guests are tested
// there.
#include "devices/i8042.h"

#include <utility>

#include "base/log.h"
#include "devices/range_view.h"

namespace tv::dev {
namespace {

// Status register (port 0x64 read).
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystem = 0x04;
constexpr uint8_t kStatusCommand = 0x08;   // A2: last write went to 0x64
constexpr uint8_t kStatusUnlocked = 0x10;  // keylock switch open
constexpr uint8_t kStatusAuxData = 0x20;
constexpr uint8_t kStatusTimeout = 0x40;

// Command byte (controller RAM byte 0).
constexpr uint8_t kCtrKbdInt = 0x01;
constexpr uint8_t kCtrAuxInt = 0x02;
constexpr uint8_t kCtrSystem = 0x04;
constexpr uint8_t kCtrKbdDisabled = 0x10;
constexpr uint8_t kCtrAuxDisabled = 0x20;
constexpr uint8_t kCtrTranslate = 0x40;
// What firmware leaves behind (SeaBIOS, PC BIOSes): keyboard interrupt on,
// mouse port off, set-2 to set-1 translation on, POST passed.
constexpr uint8_t kCtrAtBoot = kCtrTranslate | kCtrAuxDisabled | kCtrSystem | kCtrKbdInt;

// Output port (commands 0xD0/0xD1).
constexpr uint8_t kOutResetHigh = 0x01;  // low = CPU held in reset
constexpr uint8_t kOutA20 = 0x02;
constexpr uint8_t kOutKbdFull = 0x10;
constexpr uint8_t kOutAuxFull = 0x20;
constexpr uint8_t kOutAtBoot = 0xcf;  // QEMU: KBD_OUT_RESET | KBD_OUT_A20 | KBD_OUT_ONES

// PS/2 device replies.
constexpr uint8_t kAck = 0xfa;
constexpr uint8_t kResend = 0xfe;
constexpr uint8_t kSelfTestPassed = 0xaa;
constexpr uint8_t kEcho = 0xee;
constexpr size_t kQueueLimit = 16;  // PS/2 device buffer (QEMU PS2_QUEUE_SIZE)

// The controller's set-2 to set-1 translation applied to the bytes a
// keyboard uses to name a scancode set (1, 2, 3) and to its ID byte 0x83.
constexpr uint8_t kTranslatedSet[4] = {0x00, 0x43, 0x41, 0x3f};
constexpr uint8_t kTranslatedId = 0x41;
constexpr uint8_t kId = 0x83;

}  // namespace

// ---- Keyboard ----

uint8_t Ps2Keyboard::pop_output() {
  const uint8_t byte = out_.front();
  out_.pop_front();
  return byte;
}

void Ps2Keyboard::send(std::initializer_list<uint8_t> bytes) {
  for (uint8_t byte : bytes) {
    if (out_.size() < kQueueLimit) out_.push_back(byte);
    last_sent_ = byte;
  }
}

// Power-on defaults (command 0xF6): 10.9 characters/s after 500 ms, set 2.
void Ps2Keyboard::set_defaults() {
  typematic_ = 0x2b;
  scancode_set_ = 2;
}

void Ps2Keyboard::receive(uint8_t byte, bool translated) {
  if (uint8_t cmd = std::exchange(awaiting_argument_for_, 0))
    return argument(cmd, byte, translated);
  command(byte, translated);
}

void Ps2Keyboard::command(uint8_t cmd, bool translated) {
  switch (cmd) {
    case 0xed:  // set LEDs
    case 0xf0:  // get/set scancode set
    case 0xf3:  // set typematic rate/delay
      awaiting_argument_for_ = cmd;
      return send({kAck});
    case 0xee: return send({kEcho});
    case 0xf2:  // identify: MF2 keyboard
      return send({kAck, 0xab, translated ? kTranslatedId : kId});
    case 0xf4:  // enable: the keyboard also empties its buffer
      out_.clear();
      scanning_ = true;
      return send({kAck});
    case 0xf5:  // default and disable
      set_defaults();
      scanning_ = false;
      return send({kAck});
    case 0xf6: set_defaults(); return send({kAck});
    case 0xfe: return send({last_sent_});
    case 0xff:  // reset: acknowledge, then report the basic assurance test
      out_.clear();
      set_defaults();
      leds_ = 0;
      scanning_ = true;
      return send({kAck, kSelfTestPassed});
    default:
      // 0xF7-0xFD set set-3 key types: nothing to change without keystrokes.
      return send({cmd >= 0xf7 && cmd <= 0xfd ? kAck : kResend});
  }
}

void Ps2Keyboard::argument(uint8_t cmd, uint8_t arg, bool translated) {
  switch (cmd) {
    case 0xed: leds_ = arg & 0x07; return send({kAck});
    case 0xf3: typematic_ = arg & 0x7f; return send({kAck});
    case 0xf0:
      if (arg == 0) return send({kAck, translated ? kTranslatedSet[scancode_set_] : scancode_set_});
      if (arg > 3) return send({kResend});
      scancode_set_ = arg;
      return send({kAck});
  }
}

// ---- Controller ----

I8042::I8042(MachineControl& machine, IrqSink& irq)
    : machine_(machine),
      irq_(irq),
      data_port_(make_range_view(*this, "i8042", &I8042::read, &I8042::write, kDataOffset)),
      command_port_(make_range_view(*this, "i8042", &I8042::read, &I8042::write, kCommandOffset)),
      output_port_(kOutAtBoot) {
  ram_[0] = kCtrAtBoot;
}

uint64_t I8042::read(uint64_t offset, unsigned /*size*/) {
  if (offset == kDataOffset) return read_data();
  if (offset == kCommandOffset) return read_status();
  return 0xff;  // 0x61-0x63 are not ours
}

void I8042::write(uint64_t offset, unsigned /*size*/, uint64_t value) {
  const auto byte = static_cast<uint8_t>(value);
  if (offset == kDataOffset) {
    last_write_was_command_ = false;
    write_data(byte);
  } else if (offset == kCommandOffset) {
    last_write_was_command_ = true;
    write_command(byte);
  } else {
    return;
  }
  refill();
  update_irqs();
}

// The input buffer is consumed at once, so IBF (bit 1) always reads 0 and a
// guest polling it never waits.
uint8_t I8042::read_status() const {
  uint8_t status = kStatusUnlocked;
  if (system_flag_) status |= kStatusSystem;
  if (last_write_was_command_) status |= kStatusCommand;
  if (out_) {
    status |= kStatusOutputFull;
    if (out_->aux) status |= kStatusAuxData;
    if (out_->timeout) status |= kStatusTimeout;
  }
  return status;
}

// An empty buffer reads as the last byte, as the latch on real controllers
// does. Emptying the buffer drops the IRQ line before the next byte raises
// it again, so the edge-triggered 8259A sees one edge per byte.
uint8_t I8042::read_data() {
  if (!out_) return last_out_;
  last_out_ = out_->value;
  out_.reset();
  update_irqs();
  refill();
  update_irqs();
  return last_out_;
}

void I8042::write_command(uint8_t cmd) {
  data_target_ = DataTarget::kKeyboard;  // a new command drops an unfinished one
  if (cmd >= 0x20 && cmd <= 0x3f) return reply(ram_[cmd & 0x1f]);
  if (cmd >= 0x60 && cmd <= 0x7f) {
    data_target_ = DataTarget::kRam;
    ram_index_ = cmd & 0x1f;
    return;
  }
  // 0xF0-0xFF pulse output port bits 0-3 for each clear bit of the low
  // nibble; only bit 0, the CPU reset line, does anything (0xFE reboots).
  if (cmd >= 0xf0) {
    if (!(cmd & kOutResetHigh)) machine_.request_reset("i8042 reset command");
    return;
  }
  if (!simple_command(cmd)) log_unknown_command(cmd);
}

bool I8042::simple_command(uint8_t cmd) {
  switch (cmd) {
    case 0xa7: ram_[0] |= kCtrAuxDisabled; break;
    case 0xa8: ram_[0] &= ~kCtrAuxDisabled; break;
    case 0xa9: reply(0x00); break;  // aux interface test: lines OK
    case 0xaa:                      // controller self-test
      system_flag_ = true;
      reply(0x55);
      break;
    case 0xab: reply(0x00); break;  // keyboard interface test: lines OK
    case 0xad: ram_[0] |= kCtrKbdDisabled; break;
    case 0xae: ram_[0] &= ~kCtrKbdDisabled; break;
    case 0xd0: {
      uint8_t port = output_port_ & ~(kOutKbdFull | kOutAuxFull);
      if (out_) port |= out_->aux ? kOutAuxFull : kOutKbdFull;
      reply(port);
      break;
    }
    case 0xd1: data_target_ = DataTarget::kOutputPort; break;
    case 0xd2: data_target_ = DataTarget::kKbdBuffer; break;
    case 0xd3: data_target_ = DataTarget::kAuxBuffer; break;
    case 0xd4: data_target_ = DataTarget::kAuxDevice; break;
    case 0xdd: write_output_port(output_port_ & ~kOutA20); break;  // A20 off, as QEMU has
    case 0xdf: write_output_port(output_port_ | kOutA20); break;   // A20 on
    default: return false;
  }
  return true;
}

void I8042::write_data(uint8_t byte) {
  switch (std::exchange(data_target_, DataTarget::kKeyboard)) {
    case DataTarget::kKeyboard:
      // Sending to the keyboard re-enables its interface (QEMU kbd_write_data).
      ram_[0] &= ~kCtrKbdDisabled;
      keyboard_.receive(byte, ram_[0] & kCtrTranslate);
      break;
    case DataTarget::kRam: write_ram(ram_index_, byte); break;
    case DataTarget::kOutputPort: write_output_port(byte); break;
    case DataTarget::kKbdBuffer: reply(byte); break;
    case DataTarget::kAuxBuffer: reply(byte, /*aux=*/true); break;
    case DataTarget::kAuxDevice:
      // No mouse is plugged in. A controller whose aux device never clocks
      // answers with 0xFE and the time-out status bit, which makes Linux's
      // libps2 abort the command at once instead of waiting for an ACK.
      ram_[0] &= ~kCtrAuxDisabled;
      if (aux_.size() < kQueueLimit) aux_.push_back(kResend);
      break;
  }
}

void I8042::write_ram(uint8_t index, uint8_t value) {
  ram_[index] = value;
  if (index == 0) system_flag_ = (value & kCtrSystem) != 0;
}

void I8042::write_output_port(uint8_t value) {
  output_port_ = value;
  if (!(value & kOutResetHigh)) machine_.request_reset("i8042 output port reset");
}

void I8042::reply(uint8_t value, bool aux, bool timeout) {
  if (replies_.size() < kQueueLimit) replies_.push_back({value, aux, timeout});
}

// Moves the next byte into the empty output buffer: controller replies
// first, then the keyboard, then the aux port, each device only while its
// interface is enabled in the command byte.
void I8042::refill() {
  if (out_) return;
  if (!replies_.empty()) {
    out_ = replies_.front();
    replies_.pop_front();
  } else if (!(ram_[0] & kCtrKbdDisabled) && keyboard_.has_output()) {
    out_ = OutByte{keyboard_.pop_output(), false, false};
  } else if (!(ram_[0] & kCtrAuxDisabled) && !aux_.empty()) {
    out_ = OutByte{aux_.front(), true, true};
    aux_.pop_front();
  }
}

// IRQ1 follows a full buffer of keyboard data, IRQ12 one of aux data, each
// gated by its enable bit in the command byte.
void I8042::update_irqs() {
  const bool kbd = out_ && !out_->aux && (ram_[0] & kCtrKbdInt);
  const bool aux = out_ && out_->aux && (ram_[0] & kCtrAuxInt);
  if (kbd != kbd_irq_) {
    kbd_irq_ = kbd;
    irq_.set_irq(kKeyboardIrq, kbd);
  }
  if (aux != aux_irq_) {
    aux_irq_ = aux;
    irq_.set_irq(kAuxIrq, aux);
  }
}

void I8042::log_unknown_command(uint8_t cmd) {
  if (logged_commands_.test(cmd)) return;
  logged_commands_.set(cmd);
  log::get("dev.i8042")->info("unimplemented: i8042 command {:#04x} ignored (logged once)", cmd);
}

}  // namespace tv::dev
