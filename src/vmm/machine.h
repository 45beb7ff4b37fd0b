// The machine: guest RAM, the port-I/O and MMIO buses with the PC devices,
// one CPU backend, and the backend-neutral run loop. Devices, the run loop
// and the backend all run on the vCPU thread; a host timer and the stdin
// reader thread only kick the vCPU (see DESIGN.md "Devices and time").
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/guest_memory.h"
#include "devices/bus.h"
#include "devices/clock.h"
#include "vmm/backend.h"
#include "vmm/config.h"
#include "vmm/platform.h"

namespace tv {

class Terminal;
class Storage;

namespace dev {
class Uart16550;
class Pit8254;
class Rtc;
class I8042;
}  // namespace dev

struct MachineExit {
  int status;          // the process exit status
  std::string reason;  // one line for the user; empty for a debug-exit
};

// Counters the run loop keeps for the profile.
struct RunStats {
  uint64_t exits_halt = 0, exits_request = 0, halt_sleeps = 0;
};

class Machine final : public dev::MachineControl {
 public:
  // Builds RAM and devices, loads the kernel and creates the CPU backend
  // with `make_backend` (the layer above the machine chooses it); throws
  // tv::Error.
  using BackendFactory = std::unique_ptr<Backend> (*)(Machine&);
  Machine(const Config& config, BackendFactory make_backend);
  ~Machine() override;

  // Runs the guest until it exits, resets, shuts down or halts for good.
  MachineExit run();

  const Config& config() const { return config_; }
  GuestMemory& memory() { return memory_; }
  dev::Bus& pio() { return pio_; }
  dev::Bus& mmio() { return mmio_; }
  Platform& platform() { return *platform_; }
  // The platform's MSRs (the local APIC's); a write re-arms the host timer.
  std::optional<uint64_t> read_msr(uint32_t msr) const;
  bool write_msr(uint32_t msr, uint64_t value);
  const dev::Clock& clock() const { return clock_; }
  Backend& backend() { return *backend_; }

  // dev::MachineControl
  void request_reset(std::string_view reason) override;
  void request_exit(int status) override;
  void request_power_off() override;
  bool stop_requested() const { return stop_.has_value(); }

  // The profile text and JSON for --profile / --profile-json.
  std::string profile_report() const;
  std::string profile_json() const;

 private:
  void add_devices();
  void load_kernel();
  void service_devices();
  std::optional<uint64_t> next_deadline();
  void add_timed(const dev::IoDevice* io, dev::TimedDevice* timed);
  void device_accessed(const dev::IoDevice& device);
  void arm_timer(std::optional<uint64_t> deadline_ns);
  void wait_for_interrupt();
  void start_input_thread();
  void stop_input_thread();
  void take_host_input();
  void wake_vcpu();
  void emit(uint8_t byte);
  void flush_output();

  Config config_;
  GuestMemory memory_;
  dev::HostClock clock_;
  dev::Bus pio_{dev::BusKind::kPio};
  dev::Bus mmio_{dev::BusKind::kMmio};
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<Storage> storage_;  // disks, virtio-rng: after the platform they plug into
  std::shared_ptr<dev::Uart16550> uart_;
  std::shared_ptr<dev::Pit8254> pit_;
  std::shared_ptr<dev::Rtc> rtc_;
  std::shared_ptr<dev::I8042> i8042_;
  std::vector<dev::TimedDevice*> timed_;
  std::vector<const dev::IoDevice*> timed_io_;      // the bus device of each
  std::vector<std::optional<uint64_t>> deadlines_;  // each one's, at the last look
  std::unique_ptr<Backend> backend_;
  BootState boot_;
  std::optional<MachineExit> stop_;
  RunStats stats_;

  // Guest serial output, flushed at line ends, kOutputDelayNs after the
  // first byte of a partial line, and whenever the vCPU stops.
  static constexpr uint64_t kOutputDelayNs = 5'000'000;
  std::string output_;
  std::optional<uint64_t> output_deadline_;

  // Host input: the reader thread appends, the vCPU thread drains into the UART.
  std::mutex input_mutex_;
  std::condition_variable input_cv_;
  std::deque<uint8_t> input_;
  bool input_pending_ = false;
  std::thread input_thread_;
  std::unique_ptr<Terminal> terminal_;
  bool quit_requested_ = false;  // Ctrl-A x; guarded by input_mutex_
  int input_stop_fd_ = -1;

  void* timer_ = nullptr;  // timer_t (kernel ids start at 0, hence the flag)
  bool timer_created_ = false;
  std::optional<uint64_t> armed_;  // the deadline the host timer is set for
  pthread_t vcpu_thread_;
};

}  // namespace tv
