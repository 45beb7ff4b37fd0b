#include "bt/exec/fault_handler.h"

#include <Zydis/Zydis.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include "bt/exec/host_insn.h"
#include "bt/exec/mmio_emulation.h"
#include "bt/exec/runtime.h"
#include "vmm/machine.h"
#include "vmm/terminal.h"

extern "C" void tv_bt_exit_saved();

namespace tv::bt {
namespace {

BtRuntime* g_runtime = nullptr;
constexpr int kSignals[] = {SIGSEGV, SIGFPE, SIGILL, SIGBUS, SIGTRAP};
constexpr int kHostErrorStatus = 2;  // the CLI's exit status for a tv::Error

[[noreturn]] void die(int sig, const siginfo_t* si, const ucontext_t* uc) {
  char msg[256];
  const greg_t* g = uc->uc_mcontext.gregs;
  int n = snprintf(
      msg, sizeof msg,
      "transvisor: internal error: signal %d at host pc %#llx, address %p (last block entered at "
      "guest EIP %#x; rsp %#llx r13 %#llx r14 %#llx)\n",
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

// A line built without snprintf (not async-signal-safe).
struct Line {
  char text[256];
  size_t len = 0;
  Line& operator<<(const char* s) {
    while (s && *s && len < sizeof text - 1) text[len++] = *s++;
    return *this;
  }
};

// A host failure in the handler: what the CLI prints for a tv::Error, and
// its exit status, without unwinding.
[[noreturn]] void fatal_host_error(const mmu::HostStatus& s) {
  const char* why = strerrordesc_np(s.error);  // a static string, unlike strerror's
  Line line;
  line << "transvisor: error: " << (s.what ? s.what : "host call failed") << ": "
       << (why ? why : "unknown error") << " (in the fault handler)\n";
  restore_terminal();
  if (write(STDERR_FILENO, line.text, line.len) < 0) {
  }
  _exit(kHostErrorStatus);
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
  HostInsn h;
  if (!decode_host_insn(pc, h)) return kMF;
  bool sse = h.insn.meta.isa_set == ZYDIS_ISA_SET_SSE || h.insn.meta.isa_set == ZYDIS_ISA_SET_SSE2;
  if (!sse) return kMF;
  return (rt.cpu().cr4 & kCr4Osxmmexcpt) ? kXM : kUD;
}

// How many bytes the faulting host instruction writes at the fault address:
// its memory operand's size, or a whole page for string instructions and
// anything not understood.
uint32_t write_length(const uint8_t* pc) {
  HostInsn h;
  if (!decode_host_insn(pc, h) || h.insn.meta.category == ZYDIS_CATEGORY_STRINGOP) return kPage4K;
  for (unsigned i = 0; i < h.insn.operand_count; ++i)
    if (h.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
        (h.ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && h.ops[i].size >= 8)
      return h.ops[i].size / 8;
  return kPage4K;
}

// What a host signal means for the guest.
struct Classified {
  enum class Kind {
    kNotGuest,     // not raised by the guest: a VMM bug (crash)
    kRetry,        // dealt with (a hidden fault, open bus, emulated MMIO): rerun the instruction
    kExitRequest,  // the exit gate, closed by a kick
    kGuestEvent,   // leave translated code for the dispatcher to act on `pending`
    kHostError,    // a host call failed: fatal
  } kind;
  PendingFault pending{};
  mmu::HostStatus host{};
};

Classified retry() { return {Classified::Kind::kRetry}; }

Classified guest_exception(BtRuntime& rt, Event event, FaultKind counter, GuestLinear cr2 = {}) {
  ++rt.stats().faults[counter];
  Classified c{Classified::Kind::kGuestEvent};
  c.pending.kind = PendingFault::Kind::kException;
  c.pending.event = event;
  c.pending.linear = cr2;
  return c;
}

Classified unhandled(uint64_t address) {
  Classified c{Classified::Kind::kGuestEvent};
  c.pending.kind = PendingFault::Kind::kUnhandled;
  c.pending.unhandled_address = address;
  return c;
}

Classified code_write(BtRuntime& rt, const mmu::WindowAddress& at, GuestPhys frame,
                      const uint8_t* pc) {
  ++rt.stats().faults[FaultKind::kCodePageWrite];
  Classified c{Classified::Kind::kGuestEvent};
  c.pending.kind = PendingFault::Kind::kCodeWrite;
  c.pending.frame = frame;
  c.pending.linear = at.linear();
  c.pending.view = at.view;
  c.pending.write_len = write_length(pc);
  return c;
}

// Guest-physical memory outside RAM: an open-bus page for reads nothing
// decodes, else the device access is emulated from the host instruction.
Classified device_memory(BtRuntime& rt, const mmu::WindowAddress& at, bool write, GuestPhys phys,
                         ucontext_t* uc) {
  dev::Bus& mmio = rt.machine().mmio();
  if (!write && !mmio.claimed(phys.value)) {
    if (mmu::HostStatus s = rt.mmu().map_open_bus(at.view, at.linear()); !s.ok())
      return {Classified::Kind::kHostError, {}, s};
    ++rt.stats().faults[FaultKind::kOpenBus];
    return retry();
  }
  // The faulting instruction (emulation moves RIP past it).
  const auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  const bool emulated = emulate_device_access(uc, mmio, phys);
  if (emulated) {
    // Translate this instruction again as a device callout (adaptive
    // translation; the ring is fixed-size and the kick async-signal-safe).
    rt.note_device_access(pc);
    ++rt.stats().faults[FaultKind::kDeviceMemory];
    return retry();
  }
  // Anything else runs once against a scratch page (device_step.h).
  mmu::HostStatus host;
  const StepStart step = begin_device_step(rt.device_step(), rt.mmu(), mmio, at, phys, uc, host);
  switch (step) {
    case StepStart::kStarted: ++rt.stats().faults[FaultKind::kDeviceStep]; return retry();
    case StepStart::kHostError: return {Classified::Kind::kHostError, {}, host};
    case StepStart::kNotSteppable: break;
  }
  ++rt.stats().faults[FaultKind::kUnmapped];
  return unhandled(phys.value);
}

// The debug trap after a stepped device access.
Classified device_step_done(BtRuntime& rt, ucontext_t* uc) {
  const mmu::HostStatus s = finish_device_step(rt.device_step(), rt.mmu(), rt.machine().mmio(), uc);
  if (!s.ok()) return {Classified::Kind::kHostError, {}, s};
  return retry();
}

// A SIGSEGV in one of the active space's windows.
Classified window_fault(BtRuntime& rt, const mmu::WindowAddress& at, ucontext_t* uc) {
  if (at.in_guard()) return unhandled(at.offset);  // a string instruction ran off the window
  const bool write = (uc->uc_mcontext.gregs[REG_ERR] & kPfWrite) != 0;  // the host #PF error code
  const mmu::FaultOutcome r = rt.mmu().handle_fault(at.view, at.linear(), write);
  switch (r.kind) {
    case mmu::FaultOutcome::Kind::kRetry: ++rt.stats().faults[FaultKind::kHidden]; return retry();
    case mmu::FaultOutcome::Kind::kPageFault:
      return guest_exception(rt, Event{kPF, EventKind::kException, true, r.error_code},
                             FaultKind::kPf, at.linear());
    case mmu::FaultOutcome::Kind::kCodeWrite:
      return code_write(rt, at, r.phys,
                        reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]));
    case mmu::FaultOutcome::Kind::kNotRam: return device_memory(rt, at, write, r.phys, uc);
    case mmu::FaultOutcome::Kind::kHostError: return {Classified::Kind::kHostError, {}, r.host};
  }
  return {Classified::Kind::kNotGuest};
}

Classified classify(BtRuntime& rt, int sig, const siginfo_t* si, ucontext_t* uc) {
  auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  switch (sig) {
    case SIGFPE: {
      const uint8_t v = fp_exception_vector(rt, si, pc);
      const FaultKind k = v == kDE   ? FaultKind::kDe
                          : v == kMF ? FaultKind::kMf
                          : v == kXM ? FaultKind::kXm
                                     : FaultKind::kUd;
      return guest_exception(rt, Event{v, EventKind::kException}, k);
    }
    case SIGILL: return guest_exception(rt, Event{kUD, EventKind::kException}, FaultKind::kUd);
    case SIGSEGV: break;
    default: return {Classified::Kind::kNotGuest};
  }
  if (rt.area().is_gate(si->si_addr)) return {Classified::Kind::kExitRequest};
  if (si->si_code == SI_KERNEL)  // a #GP in the host, e.g. a misaligned SSE operand
    return guest_exception(rt, Event{kGP, EventKind::kException, true, 0}, FaultKind::kGp);
  if (std::optional<mmu::WindowAddress> at = rt.mmu().locate(si->si_addr))
    return window_fault(rt, *at, uc);
  return {Classified::Kind::kNotGuest};
}

void on_fault(int sig, siginfo_t* si, void* context) {
  // SAFETY: everything from here runs in signal context on the vCPU
  // thread, and only with translated code interrupted: a fault whose PC is
  // not in the code cache (a VMM bug, or a fault nested in this handler,
  // which SA_NODEFER lets in) dies at once. Translated code has no unwind
  // information and a signal frame cannot be unwound, so nothing below may
  // throw. Translated code holds no lock and is never inside malloc, so a
  // lock or an allocation here cannot deadlock this thread (another thread
  // holding the lock only makes it wait); but an allocation can fail, so
  // the MMU and fault-path code is allocation-free and reports host
  // failures as values. What runs here: the page walker, the shadow MMU's
  // handle_fault and map_open_bus (preallocated tables; mmap/mprotect
  // failures come back as HostStatus), the device step's scratch page
  // (SIGTRAP ends a step), Zydis decoding, read-only code-cache lookups,
  // stats counters, and the MMIO bus with its own logging deferred to the
  // dispatcher. The device models behind the bus are ordinary code: a
  // first misuse may log once (spdlog takes its registry lock), and a
  // virtio notify submits a disk request (a queue lock, an allocation).
  // That is safe by the rule above; a bad_alloc there would end the
  // process through std::terminate. The adaptive device callout makes this
  // path rare: a MOV reaches a device here once per instruction. A host
  // failure ends the process here: one line through write(2), the terminal
  // restored, _exit.
  auto* uc = static_cast<ucontext_t*>(context);
  BtRuntime* rt = g_runtime;
  auto* pc = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  if (!rt || !rt->cache().holds(pc)) die(sig, si, uc);
  // The bus only notes unclaimed accesses here; the dispatcher logs them.
  dev::Bus::DeferredLogs quiet_bus{rt->machine().mmio()};
  Classified c = sig == SIGTRAP && rt->device_step().active ? device_step_done(*rt, uc)
                                                            : classify(*rt, sig, si, uc);
  // A stepped instruction that faults for another reason does not complete.
  if (rt->device_step().active && c.kind != Classified::Kind::kRetry)
    if (mmu::HostStatus s = cancel_device_step(rt->device_step(), rt->mmu(), uc); !s.ok())
      fatal_host_error(s);
  switch (c.kind) {
    case Classified::Kind::kNotGuest: die(sig, si, uc);
    case Classified::Kind::kHostError: fatal_host_error(c.host);
    case Classified::Kind::kRetry:
      return;  // the page is mapped now, or RIP is past the emulated access
    case Classified::Kind::kExitRequest:
    case Classified::Kind::kGuestEvent: break;
  }
  Block* block = rt->cache().block_at_host(pc);
  if (!block) die(sig, si, uc);
  CpuState& cpu = rt->cpu();
  save_guest_state(cpu, uc);
  cpu.eip = block->guest_eip_at(pc);
  cpu.exit_reason = uint32_t(c.kind == Classified::Kind::kExitRequest ? ExitReason::kExitRequest
                                                                      : ExitReason::kFault);
  rt->pending_fault() = c.pending;
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
