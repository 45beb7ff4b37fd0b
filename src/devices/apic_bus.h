// The APIC bus (SDM Vol. 3A 11.6, 11.11): interrupt messages that the I/O
// APIC, MSI writes and the local APICs' ICRs send, and the EOI broadcast
// back to the I/O APIC for level-triggered vectors. One vCPU runs today,
// but messages carry full destinations so that several local APICs can sit
// on one bus.
#pragma once

#include <cstdint>

namespace tv::dev {

// ICR / redirection-entry / MSI-data delivery modes (SDM Vol. 3A 11.6.1).
enum class DeliveryMode : uint8_t {
  kFixed = 0,
  kLowestPriority = 1,
  kSmi = 2,
  kNmi = 4,
  kInit = 5,
  kStartup = 6,
  kExtInt = 7,
};

// ICR destination shorthands (SDM Vol. 3A 11.6.1); messages from the I/O
// APIC and MSIs always use kNone.
enum class Shorthand : uint8_t {
  kNone = 0,
  kSelf = 1,
  kAllIncludingSelf = 2,
  kAllExcludingSelf = 3
};

struct ApicMessage {
  uint8_t vector = 0;
  DeliveryMode mode = DeliveryMode::kFixed;
  bool logical = false;  // destination mode: false = physical APIC ID
  uint32_t dest = 0;     // APIC ID (0xFF: broadcast) or logical destination mask
  bool level = false;    // trigger mode: true = level
  bool assert = true;    // level messages: assert (INIT de-assert has false)
  Shorthand shorthand = Shorthand::kNone;
  uint32_t source_id = 0;  // APIC ID of the sender, for kSelf / kAllExcludingSelf
};

// Where messages go: the machine's set of local APICs.
class ApicBus {
 public:
  virtual ~ApicBus() = default;
  virtual void send(const ApicMessage& message) = 0;
};

// Told of an EOI of a level-triggered vector (the I/O APIC clears the
// remote IRR of the entries with that vector, SDM Vol. 3A 11.8.5).
class EoiSink {
 public:
  virtual ~EoiSink() = default;
  virtual void eoi(uint8_t vector) = 0;
};

}  // namespace tv::dev
