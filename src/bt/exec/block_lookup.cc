// The bt runtime's side of the translation cache: finding or translating
// the block for an EIP (with the link parking a CR3 write left), flushes
// and invalidations, helper writes to code frames, and the retranslation
// of instructions that touched device memory (adaptive translation).
#include <fmt/format.h>

#include <cstdio>

#include "base/error.h"
#include "bt/exec/runtime.h"
#include "bt/profile/disasm.h"
#include "vmm/machine.h"

namespace tv::bt {

void BtRuntime::note_device_access(const uint8_t* host_pc) {
  unsigned head = device_ring_head_;
  if (head - device_ring_tail_ < kDeviceRing) {
    device_ring_[head % kDeviceRing] = host_pc;
    device_ring_head_ = head + 1;
  }
  // Leave translated code soon: to retranslate, and because the device
  // (an EOI, a TPR write) may have made an interrupt deliverable.
  kick();
}

// An instruction that reached device memory is translated again as a
// callout to the MMIO bus, so its next accesses take no host fault.
void BtRuntime::retranslate_device_accesses() {
  while (device_ring_tail_ != device_ring_head_) {
    const uint8_t* pc = device_ring_[device_ring_tail_++ % kDeviceRing];
    Block* b = cache_->block_at_host(pc);
    if (!b || !b->valid || b->pages[0] == kNoFrame) continue;
    uint32_t eip = b->guest_eip_at(pc);
    uint32_t offset = uint32_t((b->phys & 0xFFF) + (eip - b->eip));
    if (offset >= 0x1000 || !device_eips_.insert(cs_base_ + eip).second) continue;
    stats_.invalidations[InvalidationCause::kDeviceAccess] +=
        cache_->invalidate_range(b->pages[0], offset, offset + 1);
  }
}

void BtRuntime::flush_cache(InvalidationCause cause) {
  for (uint64_t frame : cache_->flush()) mmu_.untrace_frame(GuestPhys{frame});
  stats_.invalidations[cause] += 1;
}

void BtRuntime::invalidate_frame(uint64_t frame, InvalidationCause cause) {
  stats_.invalidations[cause] += cache_->invalidate_page(frame);
  mmu_.untrace_frame(GuestPhys{frame});
}

// Indirect branches to `block` will hit the jump cache from now on (until
// a CR3 write or an INVLPG of either page it was fetched from).
void BtRuntime::remember_for_indirect(const Block* block) {
  if (block->mode == mode_) cache_->jump_cache_put(block);
}

void BtRuntime::memory_written(uint64_t phys, uint64_t len) {
  if (len == 0) return;
  for (uint64_t f = phys & kPageMask; f < phys + len; f += kPageSize) note_write(f);
}

void BtRuntime::note_write(uint64_t frame) {
  if (!mmu_.traced(GuestPhys{frame})) return;  // traced == holds translated code
  invalidate_frame(frame, InvalidationCause::kHelperWrite);
  code_written_ = true;
}

Block* BtRuntime::translate(uint32_t eip, bool single) {
  TranslateRequest req{eip, mode_ | (single ? kSingleMode : 0), cs_base_, single,
                       machine_.config().profile};
  req.device_eips = &device_eips_;
  uint8_t* end = nullptr;
  if (single) {
    // One-instruction blocks run once: they reuse a scratch area instead
    // of filling the cache.
    req.code = cache_->scratch();
    auto block = translator_->translate(req, &end);
    if (!block) throw Error("a one-instruction block does not fit the scratch area");
    block->pages[0] = block->pages[1] = kNoFrame;
    return cache_->insert_scratch(std::move(block));
  }
  auto block = translator_->translate(req, &end);
  if (!block) {
    flush_cache(InvalidationCause::kCacheFull);
    block = translator_->translate(req, &end);
    if (!block) throw Error("a block does not fit in an empty translation cache; raise --tc-size");
  }
  for (uint64_t page : block->pages)
    if (page != kNoFrame) mmu_.trace_frame(GuestPhys{page});
  block->linear_page = page_of(GuestLinear{cs_base_ + eip}).value;
  if (mode_ & Mode::kPaging) {
    bool user = area_.cpu().cpl == 3;
    auto global = [&](uint32_t lin) {
      auto t = mmu_.translate(GuestLinear{lin}, mmu::AccessType::kRead, user, false);
      return t.ok && t.global && mmu_.paging().pge;
    };
    block->global = global(block->linear_page) &&
                    (block->pages[1] == kNoFrame || global(block->linear_page + kPage4K));
  }
  Block* b = cache_->insert(std::move(block), end);
  if (perf_map_)
    std::fprintf(perf_map_, "%lx %x tv:%08x\n", reinterpret_cast<unsigned long>(b->host),
                 b->host_len, b->eip);
  if (log_->should_log(spdlog::level::trace))
    log_->trace("block {:#x} mode {:#x}:\n{}  ->\n{}", b->eip, b->mode,
                disassemble_guest(*b, memory_), disassemble_host(*b));
  return b;
}

Block* BtRuntime::find_block(uint32_t eip) {
  ++stats_.block_lookups;
  const GuestLinear linear{cs_base_ + eip};
  uint64_t phys = memory_.translate(linear.value, Access::kRead).value;
  // A block whose last instruction runs into the next page is only valid
  // while that page still maps the frame it was translated from.
  auto second_page_ok = [&](const Block& b) {
    if (b.pages[1] == kNoFrame || !(mode_ & Mode::kPaging)) return true;
    return page_of(memory_.translate((page_of(linear) + kPage4K).value, Access::kRead)).value ==
           b.pages[1];
  };
  Block* b = cache_->lookup(phys, eip, mode_, second_page_ok);
  if (b) {
    ++stats_.block_hits;
  } else {
    ++stats_.block_misses;
    b = translate(eip, false);
  }
  if (!b->global && cache_->has_parked()) {
    // The links into this page that a CR3 write parked, where the current
    // tables map the same code (the walk does not set A: nothing is accessed).
    // Parked links of a page all target blocks in it (and maybe the next).
    const bool user = area_.cpu().cpl == 3;
    struct {
      bool walked = false;
      std::optional<GuestPhys> frame;  // none: the walk faults
    } frames[2];                       // b's page and the next, walked once each
    auto maps = [&](uint32_t page, uint64_t frame) {
      auto& f = frames[page != b->linear_page];
      if (!f.walked) {
        auto t = mmu_.translate(GuestLinear{page}, mmu::AccessType::kRead, user, false);
        f = {true, t.ok ? std::optional(page_of(t.phys)) : std::nullopt};
      }
      return f.frame && f.frame->value == frame;
    };
    auto mapped = [&](const Block& t) {
      return maps(t.linear_page, t.pages[0]) &&
             (t.pages[1] == kNoFrame || maps(t.linear_page + kPage4K, t.pages[1]));
    };
    cache_->unpark(*b, mode_, cs_base_, mapped);
  }
  return b;
}

}  // namespace tv::bt
