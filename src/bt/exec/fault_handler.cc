#include "bt/exec/fault_handler.h"

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <Zydis/Zydis.h>

#include "bt/exec/mmio_emulation.h"
#include "bt/exec/runtime.h"
#include "vmm/terminal.h"
#include "vmm/machine.h"

extern "C" void tv_bt_exit_saved();

namespace tv::bt {
namespace {

BtRuntime* g_runtime = nullptr;
constexpr int kSignals[] = {SIGSEGV, SIGFPE, SIGILL, SIGBUS};

[[noreturn]] void die(int sig, const siginfo_t* si, const ucontext_t* uc) {
  char msg[256];
  const greg_t* g = uc->uc_mcontext.gregs;
  int n = snprintf(msg, sizeof msg,
                   "transvisor: internal error: signal %d at host pc %#llx, address %p (last block entered at guest "
                   "EIP %#x; rsp %#llx r13 %#llx r14 %#llx)\n",
                   sig, static_cast<unsigned long long>(g[REG_RIP]), si->si_addr,
                   g_runtime ? g_runtime->last_entered_eip() : 0u, static_cast<unsigned long long>(g[REG_RSP]),
                   static_cast<unsigned long long>(g[REG_R13]), static_cast<unsigned long long>(g[REG_R14]));
  restore_terminal();
  if (write(STDERR_FILENO, msg, size_t(n)) < 0) {
  }
  signal(sig, SIG_DFL);
  raise(sig);
  _exit(128 + sig);
}

void save_guest_state(CpuState& cpu, const ucontext_t* uc) {
  const greg_t* g = uc->uc_mcontext.gregs;
  cpu.gpr[kEax] = uint32_t(g[REG_RAX]);
  cpu.gpr[kEcx] = uint32_t(g[REG_RCX]);
  cpu.gpr[kEdx] = uint32_t(g[REG_RDX]);
  cpu.gpr[kEbx] = uint32_t(g[REG_RBX]);
  cpu.gpr[kEsp] = uint32_t(g[REG_R12]);
  cpu.gpr[kEbp] = uint32_t(g[REG_RBP]);
  cpu.gpr[kEsi] = uint32_t(g[REG_RSI]);
  cpu.gpr[kEdi] = uint32_t(g[REG_RDI]);
  cpu.host_flags = (uint64_t(g[REG_EFL]) & kHostFlags) | kHostRflagsBase;
}

// SIGFPE: integer divide errors are #DE; floating-point exceptions are #MF
// from x87 instructions (reported at the next waiting x87 instruction, as
// on hardware) and #XM from SSE ones, or #UD if CR4.OSXMMEXCPT is clear.
uint8_t fp_exception_vector(BtRuntime& rt, const siginfo_t* si, const uint8_t* pc) {
  if (si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF) return kDE;
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, nullptr, pc, ZYDIS_MAX_INSTRUCTION_LENGTH, &insn)))
    return kMF;
  bool sse = insn.meta.isa_set == ZYDIS_ISA_SET_SSE || insn.meta.isa_set == ZYDIS_ISA_SET_SSE2;
  if (!sse) return kMF;
  return (rt.cpu().cr4 & kCr4Osxmmexcpt) ? kXM : kUD;
}

// How many bytes the faulting host instruction writes at the fault address:
// its memory operand's size, or a whole page for string instructions and
// anything not understood.
uint32_t write_length(const uint8_t* pc) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, pc, ZYDIS_MAX_INSTRUCTION_LENGTH, &insn, ops)) ||
      insn.meta.category == ZYDIS_CATEGORY_STRINGOP)
    return 0x1000;
  for (unsigned i = 0; i < insn.operand_count; ++i)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        ops[i].size >= 8)
      return ops[i].size / 8;
  return 0x1000;
}

// What the fault means for the guest; false if it is not a guest event.
bool classify(BtRuntime& rt, int sig, const siginfo_t* si, const ucontext_t* uc, PendingFault& out,
              bool& is_gate, bool& retry) {
  is_gate = false;
  retry = false;
  auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  out = {};
  switch (sig) {
    case SIGFPE: {
      out.kind = PendingFault::Kind::kException;
      uint8_t v = fp_exception_vector(rt, si, pc);
      out.event = Event{v, EventKind::kException};
      ++rt.stats().faults[v == kDE ? FaultKind::kDe : v == kMF ? FaultKind::kMf : v == kXM ? FaultKind::kXm : FaultKind::kUd];
      return true;
    }
    case SIGILL:
      out.kind = PendingFault::Kind::kException;
      out.event = Event{kUD, EventKind::kException};
      ++rt.stats().faults[FaultKind::kUd];
      return true;
    case SIGSEGV:
      break;
    default:
      return false;
  }
  if (rt.area().is_gate(si->si_addr)) {
    is_gate = true;
    return true;
  }
  if (si->si_code == SI_KERNEL) {  // a #GP in the host, e.g. a misaligned SSE operand
    out.kind = PendingFault::Kind::kException;
    out.event = Event{kGP, EventKind::kException, true, 0};
    ++rt.stats().faults[FaultKind::kGp];
    return true;
  }
  mmu::View view;
  uint64_t off;
  if (!rt.mmu().locate(si->si_addr, view, off)) return false;
  if (off >= (1ull << 32)) {  // the guards: a string instruction ran off the window
    out.kind = PendingFault::Kind::kUnhandled;
    out.address = off;
    return true;
  }
  bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  mmu::FaultOutcome r = rt.mmu().handle_fault(view, uint32_t(off), write);
  switch (r.kind) {
    case mmu::FaultOutcome::Kind::kRetry:
      retry = true;
      ++rt.stats().faults[FaultKind::kHidden];
      return true;
    case mmu::FaultOutcome::Kind::kPageFault:
      out.kind = PendingFault::Kind::kException;
      out.event = Event{kPF, EventKind::kException, true, r.error_code};
      out.address = off;
      ++rt.stats().faults[FaultKind::kPf];
      return true;
    case mmu::FaultOutcome::Kind::kCodeWrite:
      out.kind = PendingFault::Kind::kCodeWrite;
      out.frame = r.phys;
      out.address = off;
      out.view = view;
      out.write_len = write_length(pc);
      ++rt.stats().faults[FaultKind::kCodePageWrite];
      return true;
    case mmu::FaultOutcome::Kind::kNotRam:
      // Nothing decodes there: reads see all-ones through an open-bus page.
      if (!write && !rt.machine().mmio().claimed(r.phys)) {
        rt.mmu().map_open_bus(view, uint32_t(off));
        retry = true;
        ++rt.stats().faults[FaultKind::kOpenBus];
        return true;
      }
      // SAFETY: device models run here, in the signal handler, but only
      // ever with translated code (never C++) interrupted.
      if (emulate_device_access(const_cast<ucontext_t*>(uc), rt.machine().mmio(), r.phys)) {
        rt.note_device_access(pc);
        retry = true;
        ++rt.stats().faults[FaultKind::kDeviceMemory];
        return true;
      }
      out.kind = PendingFault::Kind::kUnhandled;
      out.address = r.phys;
      ++rt.stats().faults[FaultKind::kUnmapped];
      return true;
  }
  return true;
}

void on_fault(int sig, siginfo_t* si, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  BtRuntime* rt = g_runtime;
  auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  PendingFault pending;
  bool is_gate = false, retry = false;
  if (!rt || !rt->cache().holds(pc) || !classify(*rt, sig, si, uc, pending, is_gate, retry))
    die(sig, si, uc);
  if (retry) return;  // a hidden fault: the page is mapped now
  Block* block = rt->cache().block_at_host(pc);
  if (!block) die(sig, si, uc);
  CpuState& cpu = rt->cpu();
  save_guest_state(cpu, uc);
  cpu.eip = block->guest_eip_at(pc);
  cpu.exit_reason = uint32_t(is_gate ? ExitReason::kExitRequest : ExitReason::kFault);
  rt->pending_fault() = pending;
  // SAFETY: resumes the interrupted thread at tv_bt_exit_saved with R15
  // still pointing at the CpuState; that routine resets RSP from
  // cpu.host_rsp, so the translated code's stack position does not matter.
  uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(&tv_bt_exit_saved);
}

}  // namespace

void install_fault_handler(BtRuntime* runtime) {
  g_runtime = runtime;
  struct sigaction sa {};
  if (runtime) {
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  } else {
    sa.sa_handler = SIG_DFL;
  }
  sigemptyset(&sa.sa_mask);
  for (int sig : kSignals) sigaction(sig, &sa, nullptr);
}

}  // namespace tv::bt
