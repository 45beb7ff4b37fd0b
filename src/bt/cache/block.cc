// Block: mapping a host PC inside a block back to its guest instruction
// (fault delivery and profiling need the guest EIP of a faulting site).
#include "bt/cache/block.h"

#include <algorithm>
#include <iterator>

namespace tv::bt {

uint32_t Block::guest_eip_at(const uint8_t* host_pc) const {
  uint32_t off = uint32_t(host_pc - host);
  auto it = std::upper_bound(insn_map.begin(), insn_map.end(), off,
                             [](uint32_t o, const auto& e) { return o < e.first; });
  return it == insn_map.begin() ? eip : std::prev(it)->second;
}

}  // namespace tv::bt
