/* The runner's case loop and report format, common to the native program
 * (native_main.c) and the guest kernel (guest_main.c). A report line is
 *
 *   case N: eax=... ecx=... edx=... ebx=... ebp=... esi=... edi=...
 *           eflags=VVV/MMM mem=OO:VV,...
 *
 * on one line: registers after the case (the base register as its offset
 * into the buffer, "B+80"), EFLAGS masked to the flags the SDM defines
 * (value/mask), and the data-buffer bytes that differ from their initial
 * value (buffer offset:new value), or "mem=-". */
#include "diff_runner.h"

#ifdef DIFF_GUEST
#include "kstring.h"
#include "printf.h"
#else
#include <stdio.h>
#include <string.h>
#endif

#define RET_OPCODE 0xC3
#define LINE_MAX 2048

static const char *const reg_names[DIFF_NREGS] = {"eax", "ecx", "edx", "ebx",
                                                  "esp", "ebp", "esi", "edi"};

static uint8_t data[DIFF_DATA_SIZE] __attribute__((aligned(16)));

int diff_check_file(const void *file, uint32_t size, const char **error) {
  const struct diff_header *header = file;
  if (size < sizeof *header || memcmp(header->magic, DIFF_MAGIC, sizeof header->magic) != 0) {
    *error = "not a diffgen case file";
    return -1;
  }
  if (header->record_size != sizeof(struct diff_case)) {
    *error = "case record size differs from this runner's";
    return -1;
  }
  if (header->count > (size - sizeof *header) / sizeof(struct diff_case)) {
    *error = "case file is truncated";
    return -1;
  }
  return (int)header->count;
}

static size_t append_mem(char *out, size_t size, const struct diff_case *c) {
  size_t n = (size_t)snprintf(out, size, " mem=");
  int changed = 0;
  for (int i = 0; i < DIFF_DATA_SIZE && n < size; ++i) {
    if (data[i] == c->data[i]) continue;
    n += (size_t)snprintf(out + n, size - n, "%s%02x:%02x", changed ? "," : "", i, data[i]);
    changed = 1;
  }
  if (!changed && n < size) n += (size_t)snprintf(out + n, size - n, "-");
  return n;
}

static void format_line(char *out, size_t size, uint32_t index, const struct diff_case *c,
                        const struct regs *after) {
  size_t n = (size_t)snprintf(out, size, "case %u:", index);
  for (int r = 0; r < DIFF_NREGS && n < size; ++r) {
    if (r == DIFF_ESP) continue;
    if (r == c->base_reg) {
      /* The buffer's address differs between runners; its offset not. */
      n += (size_t)snprintf(out + n, size - n, " %s=B+%x", reg_names[r],
                            after->gpr[r] - (uint32_t)(uintptr_t)data);
    } else {
      n += (size_t)snprintf(out + n, size - n, " %s=%08x", reg_names[r], after->gpr[r]);
    }
  }
  if (n < size) {
    n += (size_t)snprintf(out + n, size - n, " eflags=%03x/%03x", after->eflags & c->flags_mask,
                          c->flags_mask);
  }
  if (n < size) append_mem(out + n, size - n, c);
}

static void run_one(const struct diff_case *c, uint8_t *slot, struct regs *regs) {
  memcpy(data, c->data, sizeof data);
  memcpy(regs->gpr, c->regs, sizeof regs->gpr);
  regs->gpr[c->base_reg] = (uint32_t)(uintptr_t)data + DIFF_BASE_OFFSET;
  /* Bit 1 of EFLAGS is always 1 (SDM Vol. 1 3.4.3). */
  regs->eflags = (c->eflags & DIFF_CASE_FLAGS) | 0x2;
  memcpy(slot, c->code, c->code_len);
  slot[c->code_len] = RET_OPCODE;
  run_regs(regs, (void (*)(void))slot);
}

void diff_run_all(const void *file, uint8_t *code_area, void (*emit)(const char *line)) {
  const struct diff_header *header = file;
  const struct diff_case *cases = (const struct diff_case *)(header + 1);
  static char line[LINE_MAX];
  for (uint32_t i = 0; i < header->count; ++i) {
    struct regs regs;
    run_one(&cases[i], code_area + (size_t)i * DIFF_SLOT_SIZE, &regs);
    format_line(line, sizeof line, i, &cases[i], &regs);
    emit(line);
  }
}
