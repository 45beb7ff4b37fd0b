/* The case file that the generator (gen/, host C++) writes and the runners
 * (runner/, 32-bit C, native and guest) read: a header, then fixed-size
 * records. Shared by C and C++, so plain C with fixed-width fields; the
 * file is little-endian like both sides. */
#pragma once

#include <stdint.h>

#define DIFF_MAGIC "TVDIFF01"
#define DIFF_CODE_MAX 120  /* case bytes; the runner appends a RET */
#define DIFF_SLOT_SIZE 128 /* one code slot per case in the runner */
#define DIFF_DATA_SIZE 256
/* The base register points this far into the data buffer, so disp8 reaches
 * the whole buffer with negative and positive displacements. */
#define DIFF_BASE_OFFSET 128

/* Register numbers as the ModRM encodes them (SDM Vol. 2A 2.1.5, Table 2-2). */
enum diff_reg {
  DIFF_EAX,
  DIFF_ECX,
  DIFF_EDX,
  DIFF_EBX,
  DIFF_ESP,
  DIFF_EBP,
  DIFF_ESI,
  DIFF_EDI,
  DIFF_NREGS
};

/* EFLAGS bits a case may set and compare (SDM Vol. 1 3.4.3): the six
 * status flags and DF. IF, TF and the system flags stay the runner's. */
#define DIFF_CF 0x001u
#define DIFF_PF 0x004u
#define DIFF_AF 0x010u
#define DIFF_ZF 0x040u
#define DIFF_SF 0x080u
#define DIFF_DF 0x400u
#define DIFF_OF 0x800u
#define DIFF_STATUS_FLAGS (DIFF_CF | DIFF_PF | DIFF_AF | DIFF_ZF | DIFF_SF | DIFF_OF)
#define DIFF_CASE_FLAGS (DIFF_STATUS_FLAGS | DIFF_DF)

struct diff_header {
  char magic[8];
  uint32_t count;
  uint32_t record_size; /* sizeof(struct diff_case), a cross-check */
};

struct diff_case {
  uint32_t regs[DIFF_NREGS]; /* initial values; ESP and the base are ignored */
  uint32_t eflags;           /* initial DIFF_CASE_FLAGS bits */
  uint32_t flags_mask;       /* flags the SDM defines after the sequence */
  uint8_t base_reg;          /* holds data + DIFF_BASE_OFFSET on entry */
  uint8_t code_len;
  uint8_t insn_count;
  uint8_t reserved;
  uint8_t code[DIFF_CODE_MAX];
  uint8_t data[DIFF_DATA_SIZE]; /* initial data buffer */
};

#ifdef __cplusplus
static_assert(sizeof(struct diff_header) == 16, "diff_header layout");
static_assert(sizeof(struct diff_case) == 420, "diff_case layout");
#else
_Static_assert(sizeof(struct diff_header) == 16, "diff_header layout");
_Static_assert(sizeof(struct diff_case) == 420, "diff_case layout");
#endif
