#include "vmm/machine.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "base/log.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/pit8254.h"
#include "devices/rtc.h"
#include "devices/system_ports.h"
#include "devices/uart16550.h"
#include "devices/vga_crtc.h"
#include "firmware/acpi_tables.h"
#include "firmware/mp_table.h"
#include "vmm/bios_state.h"
#include "vmm/linux_loader.h"
#include "vmm/multiboot.h"
#include "vmm/pci_firmware.h"
#include "vmm/storage.h"
#include "vmm/terminal.h"

namespace tv {
namespace {

// The signal that kicks the vCPU thread out of guest code: the deadline
// timer and the input thread send it; its handler only calls Backend::kick.
constexpr int kKickSignal = SIGUSR1;
std::atomic<Backend*> g_kick_target{nullptr};

void on_kick_signal(int) {
  if (Backend* b = g_kick_target.load(std::memory_order_relaxed)) b->kick();
}

// SIGTERM, SIGINT, SIGHUP: the run ends at the next exit as if the guest
// had stopped, so serial output is written and disks are finished and
// synced on the normal path. Only the first one counts.
std::atomic<int> g_terminate_signal{0};

void on_terminate_signal(int sig) {
  int none = 0;
  g_terminate_signal.compare_exchange_strong(none, sig, std::memory_order_relaxed);
  on_kick_signal(sig);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_kick_signal;
  sigaction(kKickSignal, &sa, nullptr);
  sa.sa_handler = on_terminate_signal;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  // A closed stdout is an EPIPE from write(2) (flush_output), not a death.
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

std::vector<uint8_t> read_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("cannot read {} '{}': is a directory", what, path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(errno_message(fmt::format("cannot open {} '{}'", what, path)));
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(errno_message(fmt::format("cannot read {} '{}'", what, path)));
  return data;
}

bool is_bzimage(const std::vector<uint8_t>& image) {
  return image.size() > 0x206 && std::memcmp(image.data() + 0x202, "HdrS", 4) == 0;
}

}  // namespace

Machine::Machine(const Config& config, BackendFactory make_backend)
    : config_(config), memory_(config.mem_bytes) {
  vcpu_thread_ = pthread_self();
  add_devices();
  load_kernel();
  backend_ = make_backend(*this);
  backend_->set_boot_state(boot_);
}

Machine::~Machine() {
  storage_.reset();  // finishes every disk request while the backend still exists
  stop_input_thread();
  g_kick_target.store(nullptr);
  if (timer_created_) timer_delete(static_cast<timer_t>(timer_));
  flush_output();
}

void Machine::add_devices() {
  auto after_access = [](void* machine, const dev::IoDevice& device) {
    static_cast<Machine*>(machine)->device_accessed(device);
  };
  pio_.set_after_access(after_access, this);
  mmio_.set_after_access(after_access, this);
  platform_ = std::make_unique<Platform>(pio_, mmio_, clock_, *this, memory_.size());
  for (auto [io, timed] : platform_->timed_devices()) add_timed(io, timed);
  dev::IrqSink& isa = platform_->isa_irq();
  storage_ = std::make_unique<Storage>(
      config_, memory_, pio_, *platform_, [this] { wake_vcpu(); },
      [this] { return backend_.get(); });
  assign_pci_resources(platform_->pci());

  uart_ = std::make_shared<dev::Uart16550>(isa, 4, [this](uint8_t b) { emit(b); });
  pio_.insert(0x3F8, 8, uart_);

  pit_ = std::make_shared<dev::Pit8254>(clock_, isa);
  pio_.insert(0x40, 4, pit_);
  pio_.insert(0x61, 1, pit_->port61());
  add_timed(pit_.get(), pit_.get());

  rtc_ = std::make_shared<dev::Rtc>(clock_, isa, memory_.size());
  pio_.insert(0x70, 2, rtc_);
  add_timed(rtc_.get(), rtc_.get());

  // The port facades refer back to the controller: the machine keeps it.
  i8042_ = std::make_shared<dev::I8042>(*this, isa);
  pio_.insert(0x60, 1, i8042_->data_port());
  pio_.insert(0x64, 1, i8042_->command_port());
  pio_.insert(0x92, 1, std::make_shared<dev::ResetPort92>(*this));
  pio_.insert(0x80, 1, std::make_shared<dev::PostPort80>());
  pio_.insert(dev::VgaCrtc::kBase, dev::VgaCrtc::kLength, std::make_shared<dev::VgaCrtc>());
  pio_.insert(0xF4, 4, std::make_shared<dev::DebugExit>(*this));
  dev::FwCfgConfig fw{memory_.size(), 1, config_.append, {}};
  pio_.insert(0x510, 2, std::make_shared<dev::FwCfg>(std::move(fw)));
}

void Machine::load_kernel() {
  auto image = read_file(config_.kernel, "kernel");
  std::vector<BootModule> modules;
  for (const auto& value : config_.initrds)
    for (const InitrdSpec& spec : parse_initrd(value))
      modules.push_back({spec.cmdline, read_file(spec.path, "initrd")});
  write_bios_data_area(memory_);
  const fw::Description tables = platform_->description();
  fw::write_acpi_tables(memory_, tables);
  fw::write_mp_table(memory_, tables);
  if (has_multiboot_header(image)) {
    // The kernel's path first, as QEMU's and GRUB's multiboot loaders pass
    // it (kernels read their arguments from argv[1] on).
    boot_ = load_multiboot(memory_, image, config_.kernel + " " + config_.append, modules);
    return;
  }
  if (is_bzimage(image)) {
    boot_ = load_linux(memory_, image, config_.append, modules);
    return;
  }
  throw Error(fmt::format("'{}' has no multiboot header in its first 8 KiB and is not a bzImage",
                          config_.kernel));
}

void Machine::request_reset(std::string_view reason) {
  if (!stop_) stop_ = MachineExit{0, fmt::format("guest reset ({})", reason)};
  backend_->kick();
}

void Machine::request_power_off() {
  if (!stop_) stop_ = MachineExit{0, "guest powered off"};
  backend_->kick();
}

void Machine::request_exit(int status) {
  if (!stop_) stop_ = MachineExit{status, ""};
  backend_->kick();
}

void Machine::add_timed(const dev::IoDevice* io, dev::TimedDevice* timed) {
  timed_.push_back(timed);
  timed_io_.push_back(io);
  deadlines_.push_back(std::nullopt);
}

// Only the device just accessed can have moved its deadline (the others'
// are cached since the last full look), so one device is asked.
void Machine::device_accessed(const dev::IoDevice& device) {
  for (size_t i = 0; i < timed_io_.size(); ++i) {
    if (timed_io_[i] != &device) continue;
    deadlines_[i] = timed_[i]->next_deadline_ns();
    std::optional<uint64_t> best = output_deadline_;
    for (const auto& t : deadlines_)
      if (t && (!best || *t < *best)) best = t;
    arm_timer(best);
    return;
  }
}

std::optional<uint64_t> Machine::read_msr(uint32_t msr) const { return platform_->read_msr(msr); }

bool Machine::write_msr(uint32_t msr, uint64_t value) {
  if (!platform_->write_msr(msr, value)) return false;
  arm_timer(next_deadline());  // IA32_TSC_DEADLINE moves the local APIC's
  return true;
}

std::optional<uint64_t> Machine::next_deadline() {
  std::optional<uint64_t> best = output_deadline_;
  for (size_t i = 0; i < timed_.size(); ++i) {
    deadlines_[i] = timed_[i]->next_deadline_ns();
    if (deadlines_[i] && (!best || *deadlines_[i] < *best)) best = deadlines_[i];
  }
  return best;
}

void Machine::service_devices() {
  if (int sig = g_terminate_signal.load(std::memory_order_relaxed); sig && !stop_)
    stop_ = MachineExit{128 + sig,
                        fmt::format("terminating on signal {} (SIG{})", sig, sigabbrev_np(sig))};
  uint64_t now = clock_.now_ns();
  for (auto* d : timed_) d->advance(now);
  storage_->drain();
  if (output_deadline_ && now >= *output_deadline_) flush_output();
  take_host_input();
}

// Something for the service loop from another thread (stdin bytes, a disk
// completion; or the vCPU thread itself, for a refused disk request): wake
// a HLT sleep and make a running guest exit to the loop.
void Machine::wake_vcpu() {
  {
    std::lock_guard lock(input_mutex_);
    input_pending_ = true;
  }
  input_cv_.notify_one();
  pthread_kill(vcpu_thread_, kKickSignal);
}

void Machine::arm_timer(std::optional<uint64_t> deadline_ns) {
  if (!timer_created_ || deadline_ns == armed_) return;
  armed_ = deadline_ns;
  itimerspec spec{};
  if (deadline_ns) {
    // A zero it_value disarms the timer, so a deadline of 0 becomes 1 ns.
    uint64_t t = std::max<uint64_t>(*deadline_ns, 1);
    spec.it_value.tv_sec = time_t(t / 1'000'000'000);
    spec.it_value.tv_nsec = long(t % 1'000'000'000);
  }
  timer_settime(static_cast<timer_t>(timer_), TIMER_ABSTIME, &spec, nullptr);
}

void Machine::wait_for_interrupt() {
  ++stats_.halt_sleeps;
  flush_output();
  for (;;) {
    service_devices();
    if (stop_ || platform_->interrupt_source().interrupt_pending() || platform_->nmi_pending())
      return;
    std::unique_lock lock(input_mutex_);
    // At most kSignalPollNs at a time: a termination signal cannot wake a
    // condition variable (nothing async-signal-safe can), so the sleep
    // looks at its flag that often.
    constexpr uint64_t kSignalPollNs = 50'000'000;
    const uint64_t now = clock_.now_ns();
    uint64_t wait_ns = kSignalPollNs;
    if (auto deadline = next_deadline())
      wait_ns = *deadline > now ? std::min(*deadline - now, wait_ns) : 0;
    if (wait_ns)
      input_cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns),
                         [this] { return input_pending_; });
    input_pending_ = false;
  }
}

MachineExit Machine::run() {
  install_signal_handlers();
  g_kick_target.store(backend_.get());

  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kKickSignal;
  sev._sigev_un._tid = gettid();
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) throw Error(errno_message("timer_create"));
  timer_ = timer;
  timer_created_ = true;
  start_input_thread();

  while (!stop_) {
    service_devices();
    if (stop_) break;
    arm_timer(next_deadline());
    switch (backend_->run()) {
      case VcpuExit::kHalted:
        ++stats_.exits_halt;
        if (!backend_->interrupts_enabled()) {
          if (!stop_) stop_ = MachineExit{0, "guest halted with interrupts disabled"};
          break;
        }
        wait_for_interrupt();
        break;
      case VcpuExit::kShutdown:
        if (!stop_) stop_ = MachineExit{0, "guest triple fault: machine reset"};
        break;
      case VcpuExit::kExitRequest: ++stats_.exits_request; break;
    }
  }
  arm_timer(std::nullopt);
  storage_->finish();
  flush_output();
  return *stop_;
}

void Machine::emit(uint8_t byte) {
  output_.push_back(char(byte));
  if (byte == '\n' || output_.size() >= 4096) return flush_output();
  if (output_deadline_) return;
  // A partial line (a prompt, a progress bar) goes out within
  // kOutputDelayNs of its first byte: the host timer brings the vCPU back.
  output_deadline_ = clock_.now_ns() + kOutputDelayNs;
  arm_timer(armed_ && *armed_ < *output_deadline_ ? armed_ : output_deadline_);
}

void Machine::flush_output() {
  output_deadline_.reset();
  size_t done = 0;
  while (done < output_.size()) {
    ssize_t n = ::write(STDOUT_FILENO, output_.data() + done, output_.size() - done);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      // stdout closed (a pipe whose reader left): the run ends, cleanly.
      if (n < 0 && errno == EPIPE && !stop_) {
        stop_ = MachineExit{0, "standard output closed; stopping"};
        if (backend_) backend_->kick();
      }
      break;
    }
    done += size_t(n);
  }
  output_.clear();
}

// Host input: the escape's quit request, and queued bytes into the UART
// as far as its receive FIFO takes them.
void Machine::take_host_input() {
  std::lock_guard lock(input_mutex_);
  if (quit_requested_ && !stop_) stop_ = MachineExit{0, "quit from the terminal (Ctrl-A x)"};
  while (!input_.empty() && uart_->rx_space() > 0) {
    uart_->receive(input_.front());
    input_.pop_front();
  }
}

void Machine::start_input_thread() {
  input_stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (input_stop_fd_ < 0) throw Error(errno_message("eventfd"));
  terminal_ = std::make_unique<Terminal>();
  input_thread_ = std::thread([this] {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {input_stop_fd_, POLLIN, 0}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents) return;
      uint8_t buf[256];
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) return;  // EOF or stdin unusable: the guest just gets no input
      bool quit = false;
      auto bytes = terminal_->filter(buf, size_t(n), quit);
      {
        std::lock_guard lock(input_mutex_);
        input_.insert(input_.end(), bytes.begin(), bytes.end());
        if (quit) quit_requested_ = true;
      }
      wake_vcpu();
    }
  });
}

void Machine::stop_input_thread() {
  if (!input_thread_.joinable()) return;
  uint64_t one = 1;
  if (::write(input_stop_fd_, &one, sizeof one) < 0)
    log::get("vmm")->warn("input thread stop failed");
  input_thread_.join();
  close(input_stop_fd_);
  terminal_.reset();
}

std::string Machine::profile_report() const {
  std::string out = "transvisor profile\n";
  out += fmt::format("  backend: {}\n", backend_->name());
  out += fmt::format("  run loop: {} halts ({} sleeps), {} exit requests\n", stats_.exits_halt,
                     stats_.halt_sleeps, stats_.exits_request);
  out += "  port I/O by device:\n";
  for (const auto& [name, count] : pio_.access_counts())
    if (count) out += fmt::format("    {:<12} {}\n", name, count);
  backend_->report_profile(out);
  return out;
}

std::string Machine::profile_json() const {
  JsonWriter j;
  j.begin_object();
  j.value("schema", std::string_view("transvisor-profile-1"));
  j.value("backend_name", backend_->name());
  j.begin_object("run_loop");
  j.value("halts", stats_.exits_halt).value("halt_sleeps", stats_.halt_sleeps);
  j.value("exit_requests", stats_.exits_request);
  j.end_object();
  j.begin_object("port_io");
  for (const auto& [name, count] : pio_.access_counts()) j.value(name, count);
  j.end_object();
  j.begin_object("backend");
  backend_->report_profile_json(j);
  j.end_object();
  j.end_object();
  return j.str() + "\n";
}

}  // namespace tv
