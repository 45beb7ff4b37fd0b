#include "vmm/terminal.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace tv {
namespace {

constexpr uint8_t kCtrlA = 0x01;
struct termios g_saved;
volatile sig_atomic_t g_saved_valid = 0;

}  // namespace

void restore_terminal() {
  if (g_saved_valid) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved);
}

Terminal::Terminal() {
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &g_saved) != 0) return;
  g_saved_valid = 1;
  std::atexit(restore_terminal);
  struct termios raw = g_saved;
  cfmakeraw(&raw);
  raw.c_oflag |= OPOST | ONLCR;  // host-side logs still start at column 0
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) raw_ = true;
}

Terminal::~Terminal() {
  restore_terminal();
  g_saved_valid = 0;
}

std::vector<uint8_t> Terminal::filter(const uint8_t* data, size_t len, bool& quit) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < len; ++i) {
    uint8_t c = data[i];
    if (!raw_) {
      out.push_back(c);
    } else if (escape_) {
      escape_ = false;
      if (c == 'x' || c == 'X')
        quit = true;
      else if (c == kCtrlA)
        out.push_back(kCtrlA);
    } else if (c == kCtrlA) {
      escape_ = true;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace tv
