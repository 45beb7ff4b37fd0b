// The host terminal while a guest is attached: raw mode (every key goes to
// the guest's serial port, Ctrl-C included, as with QEMU's -serial stdio),
// restored on every way out, and QEMU's escape: Ctrl-A x quits, Ctrl-A
// Ctrl-A sends one Ctrl-A.
#pragma once

#include <termios.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tv {

class Terminal {
 public:
  // Puts stdin in raw mode if it is a terminal; otherwise does nothing.
  Terminal();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  bool interactive() const { return raw_; }

  // Feeds host input through the escape filter: returns the bytes for the
  // guest and sets `quit` when Ctrl-A x was typed.
  std::vector<uint8_t> filter(const uint8_t* data, size_t len, bool& quit);

 private:
  bool raw_ = false;
  bool escape_ = false;
};

// Restores the terminal if a Terminal put it in raw mode. Async-signal-safe
// (the crash path calls it).
void restore_terminal();

}  // namespace tv
