// Intel 8042 keyboard controller with a PS/2 keyboard and an empty mouse
// port, enough for firmware and Linux's i8042/atkbd probes to finish at once
// and for the 0xFE "pulse reset line" command that OSes use to reboot.
// The controller decodes ports 0x60 (data) and 0x64 (status/command); 0x61
// between them belongs to the PIT, so the bus holds two one-port facades.
// No host keystrokes yet: the keyboard only answers commands.
#pragma once

#include <bitset>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <optional>

#include "devices/device.h"

namespace tv::dev {

// The keyboard behind the controller's first port (IBM PS/2 Hardware
// Interface Technical Reference, "Keyboard commands").
class Ps2Keyboard {
 public:
  // A byte the controller sent to the keyboard: a command or its argument.
  // `translated` is the controller's XLATE bit, which changes ID replies.
  void receive(uint8_t byte, bool translated);

  bool has_output() const { return !out_.empty(); }
  uint8_t pop_output();

  bool scanning() const { return scanning_; }
  uint8_t leds() const { return leds_; }
  uint8_t typematic() const { return typematic_; }
  uint8_t scancode_set() const { return scancode_set_; }

 private:
  void command(uint8_t cmd, bool translated);
  void argument(uint8_t cmd, uint8_t arg, bool translated);
  void set_defaults();
  void send(std::initializer_list<uint8_t> bytes);

  std::deque<uint8_t> out_;
  uint8_t awaiting_argument_for_ = 0;  // 0: next byte is a command
  uint8_t last_sent_ = 0;
  bool scanning_ = true;
  uint8_t leds_ = 0;
  uint8_t typematic_ = 0;
  uint8_t scancode_set_ = 2;
};

class I8042 : public IoDevice {
 public:
  static constexpr uint64_t kDataPort = 0x60;
  static constexpr uint64_t kCommandPort = 0x64;
  // Offsets in the combined range [0x60, 0x65) seen through this class.
  static constexpr uint64_t kDataOffset = 0;
  static constexpr uint64_t kCommandOffset = 4;
  static constexpr unsigned kKeyboardIrq = 1;
  static constexpr unsigned kAuxIrq = 12;

  I8042(MachineControl& machine, IrqSink& irq);

  std::string_view name() const override { return "i8042"; }
  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // One-port views at offset 0 for the bus: port 0x60 and port 0x64. They
  // refer to this controller, which must outlive the bus holding them.
  std::shared_ptr<IoDevice> data_port() const { return data_port_; }
  std::shared_ptr<IoDevice> command_port() const { return command_port_; }

  uint8_t command_byte() const { return ram_[0]; }
  const Ps2Keyboard& keyboard() const { return keyboard_; }

 private:
  // Where the next byte written to port 0x60 goes.
  enum class DataTarget { kKeyboard, kRam, kOutputPort, kKbdBuffer, kAuxBuffer, kAuxDevice };
  struct OutByte {
    uint8_t value;
    bool aux;
    bool timeout;
  };

  uint8_t read_status() const;
  uint8_t read_data();
  void write_command(uint8_t cmd);
  bool simple_command(uint8_t cmd);
  void write_data(uint8_t byte);
  void write_ram(uint8_t index, uint8_t value);
  void write_output_port(uint8_t value);
  void reply(uint8_t value, bool aux = false, bool timeout = false);
  void refill();
  void update_irqs();
  void log_unknown_command(uint8_t cmd);

  MachineControl& machine_;
  IrqSink& irq_;
  std::shared_ptr<IoDevice> data_port_;
  std::shared_ptr<IoDevice> command_port_;

  uint8_t ram_[32] = {};  // controller RAM; byte 0 is the command byte
  uint8_t output_port_;
  bool system_flag_ = true;
  bool last_write_was_command_ = false;
  DataTarget data_target_ = DataTarget::kKeyboard;
  uint8_t ram_index_ = 0;

  std::optional<OutByte> out_;  // the output buffer the guest reads
  uint8_t last_out_ = 0;
  std::deque<OutByte> replies_;  // controller replies not yet in the buffer
  std::deque<uint8_t> aux_;      // replies from the (absent) mouse port
  Ps2Keyboard keyboard_;
  bool kbd_irq_ = false;
  bool aux_irq_ = false;
  std::bitset<256> logged_commands_;
};

}  // namespace tv::dev
