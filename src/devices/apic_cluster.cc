// APIC bus routing (SDM Vol. 3A 11.6.2): physical destinations by APIC ID
// (0xFF broadcast), logical destinations by each APIC's LDR under its own
// DFR model, the ICR shorthands relative to the sender, and lowest-priority
// arbitration. The bus is instantaneous: no delivery is ever pending, so
// there are no send/receive accept errors.
#include "devices/apic_cluster.h"

namespace tv::dev {
namespace {

constexpr uint8_t kBroadcast = 0xFF;

}  // namespace

void ApicCluster::send(const ApicMessage& message) {
  std::vector<LocalApic*> targets;
  for (LocalApic* apic : apics_)
    if (addressed(*apic, message)) targets.push_back(apic);
  if (message.mode == DeliveryMode::kLowestPriority) {
    if (LocalApic* chosen = lowest_priority(targets)) chosen->accept(message);
    return;
  }
  for (LocalApic* apic : targets) apic->accept(message);
}

void ApicCluster::eoi(uint8_t vector) {
  if (eoi_sink_) eoi_sink_->eoi(vector);
}

bool ApicCluster::addressed(const LocalApic& apic, const ApicMessage& message) {
  // SDM 11.4.3: a globally disabled APIC is absent from the bus.
  if (!apic.hardware_enabled()) return false;
  switch (message.shorthand) {
    case Shorthand::kSelf: return apic.id() == message.source_id;
    case Shorthand::kAllIncludingSelf: return true;
    case Shorthand::kAllExcludingSelf: return apic.id() != message.source_id;
    case Shorthand::kNone: break;
  }
  // xAPIC destinations are 8 bits (SDM 11.6.2). 0xFF is a broadcast in
  // both modes, even to an APIC whose LDR is still 0 (as KVM).
  uint8_t dest = uint8_t(message.dest);
  if (dest == kBroadcast) return true;
  if (!message.logical) return apic.id() == dest;
  return logical_match(apic, dest);
}

// SDM 11.6.2.2: flat model, a bit of LDR[31:24] in the destination;
// cluster model, the high nibble names the cluster (15: all clusters) and
// the low nibble selects members by bit.
bool ApicCluster::logical_match(const LocalApic& apic, uint8_t dest) {
  uint8_t ldr = apic.logical_id();
  if (apic.destination_model() == DestinationModel::kFlat) return (ldr & dest) != 0;
  bool cluster = (dest >> 4) == 0xF || (dest >> 4) == (ldr >> 4);
  return cluster && (dest & ldr & 0x0F) != 0;
}

// SDM 11.6.2.4: the addressed APIC with the lowest priority takes the
// interrupt; PPR stands in for arbitration priority, ties go to the APIC
// added first. Software-disabled APICs would drop it, so they take part
// only when nobody else is addressed (as KVM).
LocalApic* ApicCluster::lowest_priority(const std::vector<LocalApic*>& targets) {
  LocalApic* best = nullptr;
  for (LocalApic* apic : targets) {
    if (!apic->software_enabled()) continue;
    if (!best || apic->ppr() < best->ppr()) best = apic;
  }
  if (!best && !targets.empty()) best = targets.front();
  return best;
}

}  // namespace tv::dev
