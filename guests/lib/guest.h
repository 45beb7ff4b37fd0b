/* What a guest includes: the whole guest runtime, and the entry point a
 * guest defines. Returning from kmain() ends the guest through finish(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "fw_cfg.h"
#include "gdt.h"
#include "idt.h"
#include "io.h"
#include "kstring.h"
#include "multiboot.h"
#include "printf.h"
#include "reference.h"
#include "serial.h"

/* Linker-script symbols: the guest image spans [__image_start, __image_end). */
extern char __image_start[], __image_end[];

void kmain(uint32_t magic, const struct multiboot_info *info);
