#include "bt/exec/device_step.h"

#include <cstring>

#include "arch/x86.h"
#include "bt/exec/host_insn.h"

namespace tv::bt {
namespace {

constexpr uint64_t kHostTrapFlag = 1u << 8;  // RFLAGS.TF (SDM Vol. 3A 17.3.1.4)

// The memory operand whose access faulted: the only one, or for string
// instructions (two operands) the one written on a write fault and the
// one read otherwise.
const ZydisDecodedOperand* faulting_operand(const ZydisDecodedOperand* ops, unsigned count,
                                            bool write_fault) {
  const ZydisDecodedOperand* first = nullptr;
  for (unsigned i = 0; i < count; ++i) {
    const ZydisDecodedOperand& op = ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || op.mem.type == ZYDIS_MEMOP_TYPE_AGEN ||
        !(op.actions & (ZYDIS_OPERAND_ACTION_MASK_READ | ZYDIS_OPERAND_ACTION_MASK_WRITE)))
      continue;
    const bool writes = op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
    if (writes == write_fault) return &op;
    if (!first) first = &op;
  }
  return first;
}

// A bus access split into the sizes a device takes (8, 4, 2, 1 bytes).
template <typename Fn>
void for_each_chunk(unsigned size, Fn fn) {
  for (unsigned done = 0; done < size;) {
    unsigned left = size - done;
    unsigned chunk = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    fn(done, chunk);
    done += chunk;
  }
}

void set_trap_flag(ucontext_t* uc, bool on) {
  greg_t& efl = uc->uc_mcontext.gregs[REG_EFL];
  efl = on ? greg_t(uint64_t(efl) | kHostTrapFlag) : greg_t(uint64_t(efl) & ~kHostTrapFlag);
}

}  // namespace

StepStart begin_device_step(DeviceStep& step, mmu::ShadowMmu& mmu, dev::Bus& bus,
                            const mmu::WindowAddress& at, GuestPhys phys, ucontext_t* uc,
                            mmu::HostStatus& host) {
  if (step.active) return StepStart::kNotSteppable;
  auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  HostInsn h;
  if (!decode_host_insn(pc, h)) return StepStart::kNotSteppable;
  const ZydisDecodedInstruction& insn = h.insn;
  const ZydisDecodedOperand* ops = h.ops;
  const bool write_fault = (uc->uc_mcontext.gregs[REG_ERR] & x86::kPfWrite) != 0;
  const ZydisDecodedOperand* op = faulting_operand(ops, insn.operand_count_visible, write_fault);
  if (!op) op = faulting_operand(ops, insn.operand_count, write_fault);  // implicit (string) ones
  if (!op) return StepStart::kNotSteppable;
  const unsigned size = op->size / 8;
  const unsigned offset = unsigned(page_offset(at.linear()));
  if (size == 0 || size > DeviceStep::kMaxBytes || offset + size > kPageSize)
    return StepStart::kNotSteppable;

  uint8_t* page = mmu.scratch();
  std::memset(page, 0xFF, kPageSize);  // what an open bus reads
  if (op->actions & ZYDIS_OPERAND_ACTION_MASK_READ)
    for_each_chunk(size, [&](unsigned at_byte, unsigned chunk) {
      uint64_t v = bus.read(phys.value + at_byte, chunk);
      std::memcpy(page + offset + at_byte, &v, chunk);
    });
  if (host = mmu.begin_scratch(at.view, at.linear()); !host.ok()) return StepStart::kHostError;
  step.active = true;
  step.view = at.view;
  step.linear = at.linear();
  step.phys = phys;
  step.size = size;
  step.writes = op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
  step.conditional = !(op->actions & ZYDIS_OPERAND_ACTION_WRITE);
  std::memcpy(step.before, page + offset, size);
  set_trap_flag(uc, true);
  return StepStart::kStarted;
}

mmu::HostStatus finish_device_step(DeviceStep& step, mmu::ShadowMmu& mmu, dev::Bus& bus,
                                   ucontext_t* uc) {
  const uint8_t* bytes = mmu.scratch() + page_offset(step.linear);
  const bool changed = std::memcmp(bytes, step.before, step.size) != 0;
  if (step.writes && (changed || !step.conditional))
    for_each_chunk(step.size, [&](unsigned at_byte, unsigned chunk) {
      uint64_t v = 0;
      std::memcpy(&v, bytes + at_byte, chunk);
      bus.write(step.phys.value + at_byte, chunk, v);
    });
  return cancel_device_step(step, mmu, uc);
}

mmu::HostStatus cancel_device_step(DeviceStep& step, mmu::ShadowMmu& mmu, ucontext_t* uc) {
  step.active = false;
  set_trap_flag(uc, false);
  return mmu.end_scratch(step.view, step.linear);
}

}  // namespace tv::bt
