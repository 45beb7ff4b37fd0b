// The APIC bus of the machine (SDM Vol. 3A 11.6.2, 11.11): routes the
// messages of the I/O APIC, MSIs and the local APICs' ICRs to local APICs,
// and passes the local APICs' EOIs of level-triggered vectors on to the
// I/O APIC. It owns nothing: the machine adds each LocalApic (built with
// this cluster as its ApicBus and EoiSink) and, once it exists, the I/O
// APIC as the EoiSink.
#pragma once

#include <vector>

#include "devices/apic_bus.h"
#include "devices/lapic.h"

namespace tv::dev {

class ApicCluster final : public ApicBus, public EoiSink {
 public:
  // `apic` must outlive the cluster (or at least its last message).
  void add_apic(LocalApic* apic) { apics_.push_back(apic); }
  // Where EOI broadcasts go (the I/O APIC); null drops them.
  void set_eoi_sink(EoiSink* sink) { eoi_sink_ = sink; }

  // Delivers `message` to every local APIC it addresses; lowest priority
  // picks one of them.
  void send(const ApicMessage& message) override;
  void eoi(uint8_t vector) override;

 private:
  static bool addressed(const LocalApic& apic, const ApicMessage& message);
  static bool logical_match(const LocalApic& apic, uint8_t dest);
  static LocalApic* lowest_priority(const std::vector<LocalApic*>& targets);

  std::vector<LocalApic*> apics_;
  EoiSink* eoi_sink_ = nullptr;
};

}  // namespace tv::dev
