/* The C side of the entry: boot.S has a stack and a zeroed .bss and calls
 * start_c with the registers the multiboot loader left (spec 3.2, "Machine
 * state": EAX = magic, EBX = physical address of the information). */
#include "check.h"
#include "guest.h"
#include "serial.h"

__attribute__((noreturn)) void start_c(uint32_t magic, const struct multiboot_info *info);

void start_c(uint32_t magic, const struct multiboot_info *info) {
  serial_init();
  kmain(magic, info);
  finish();
}
