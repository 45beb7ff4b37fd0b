// Host-side errors: a typed exception that travels up to the CLI, which
// prints its one-line message and exits non-zero. Guest misbehaviour is never
// reported this way (see STYLE.md, "Errors and logs").
#pragma once

#include <stdexcept>
#include <string>

namespace tv {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Error text for the current errno, e.g. "open foo: No such file or directory".
std::string errno_message(const std::string& what);

}  // namespace tv
