/* interp: a switch-dispatched bytecode interpreter, the way small VMs and
 * emulators are written: fetch a word, decode it, jump through the switch's
 * table to the handler, loop. The program computes Fibonacci numbers and
 * folds them into a checksum. One indirect branch per bytecode, so it
 * measures how a translator handles indirect jumps. */
#include "kernels.h"

#define INTERP_OUTER 300000 /* outer-loop trips of the bytecode program */
#define INTERP_MEMORY_WORDS 256

/* Fixed 32-bit instructions: op in bits 0-7, register a in 8-11, register b
 * in 12-15, a signed 16-bit immediate in 16-31. */
/* clang-format off */
enum op {
  OP_HALT, OP_LI, OP_MOV, OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_ANDI,
  OP_SHLI, OP_SHRI, OP_ADDI, OP_LOAD, OP_STORE, OP_JNZ, OP_JMP, OP_ROLI,
};
/* clang-format on */

#define INSN(op, a, b, imm) \
  ((uint32_t)(op) | (uint32_t)(a) << 8 | (uint32_t)(b) << 12 | (uint32_t)(uint16_t)(imm) << 16)

/* r7 counts the outer loop (set by the caller), r6 is the checksum; fib(n)
 * for n = 24 + (r7 & 15) lands in r0. Branch offsets count instructions
 * from the branch itself. */
static const uint32_t program[] = {
    INSN(OP_LI, 5, 0, 0x193), /*  0: r5 = multiplier */
    INSN(OP_LI, 0, 0, 0),     /*  1: outer: r0 = fib(0) */
    INSN(OP_LI, 1, 0, 1),     /*  2: r1 = fib(1) */
    INSN(OP_MOV, 2, 7, 0),    /*  3: r2 = r7 */
    INSN(OP_ANDI, 2, 0, 15),  /*  4: */
    INSN(OP_ADDI, 2, 0, 24),  /*  5: r2 = n */
    INSN(OP_MOV, 3, 1, 0),    /*  6: inner: */
    INSN(OP_ADD, 1, 0, 0),    /*  7: r1 += r0 */
    INSN(OP_MOV, 0, 3, 0),    /*  8: r0 = old r1 */
    INSN(OP_ADDI, 2, 0, -1),  /*  9: */
    INSN(OP_JNZ, 2, 0, -4),   /* 10: to inner */
    INSN(OP_XOR, 6, 0, 0),    /* 11: fold fib(n) */
    INSN(OP_MUL, 6, 5, 0),    /* 12: */
    INSN(OP_ROLI, 6, 0, 7),   /* 13: */
    INSN(OP_STORE, 6, 7, 0),  /* 14: mem[r7] = r6 */
    INSN(OP_LOAD, 4, 6, 0),   /* 15: r4 = mem[r6] */
    INSN(OP_SHRI, 4, 0, 3),   /* 16: */
    INSN(OP_SUB, 6, 4, 0),    /* 17: */
    INSN(OP_SHLI, 4, 0, 1),   /* 18: */
    INSN(OP_ADD, 6, 4, 0),    /* 19: */
    INSN(OP_ADDI, 7, 0, -1),  /* 20: */
    INSN(OP_JNZ, 7, 0, -20),  /* 21: to outer */
    INSN(OP_JMP, 0, 0, 2),    /* 22: over the trap */
    INSN(OP_LI, 6, 0, 0xBAD), /* 23: never reached */
    INSN(OP_HALT, 0, 0, 0),   /* 24: */
};

/* Runs `code` until HALT; an unknown opcode halts too. Memory operands are
 * word indexes taken modulo the memory size. */
static void execute(const uint32_t *code, uint32_t *r, uint32_t *memory) {
  for (uint32_t pc = 0;; pc++) {
    uint32_t insn = code[pc];
    uint32_t a = (insn >> 8) & 7, b = (insn >> 12) & 7;
    int32_t imm = (int16_t)(insn >> 16);
    /* clang-format off */
    switch ((enum op)(insn & 0xFF)) {
      case OP_HALT: return;
      case OP_LI: r[a] = (uint32_t)imm; break;
      case OP_MOV: r[a] = r[b]; break;
      case OP_ADD: r[a] += r[b]; break;
      case OP_SUB: r[a] -= r[b]; break;
      case OP_MUL: r[a] *= r[b]; break;
      case OP_XOR: r[a] ^= r[b]; break;
      case OP_ANDI: r[a] &= (uint32_t)imm; break;
      case OP_SHLI: r[a] <<= imm & 31; break;
      case OP_SHRI: r[a] >>= imm & 31; break;
      case OP_ADDI: r[a] += (uint32_t)imm; break;
      case OP_LOAD: r[a] = memory[r[b] % INTERP_MEMORY_WORDS]; break;
      case OP_STORE: memory[r[b] % INTERP_MEMORY_WORDS] = r[a]; break;
      case OP_JNZ: if (r[a]) pc += (uint32_t)imm - 1; break;
      case OP_JMP: pc += (uint32_t)imm - 1; break;
      case OP_ROLI: r[a] = bench_rotl(r[a], (unsigned)imm & 31); break;
      default: return;
    }
    /* clang-format on */
  }
}

static uint32_t interp_run(void *scratch, uint32_t seed) {
  uint32_t *memory = scratch;
  for (uint32_t i = 0; i < INTERP_MEMORY_WORDS; i++) memory[i] = i * 0x9E3779B9u;
  uint32_t r[8] = {0};
  r[6] = seed;
  r[7] = INTERP_OUTER + seed % 16;
  execute(program, r, memory);
  return bench_mix(r[6], r[4]);
}

const struct bench_kernel bench_interp = {
    .name = "interp",
    .what = "switch-dispatch bytecode VM: Fibonacci checksum loop",
    .run = interp_run,
    .scratch_bytes = INTERP_MEMORY_WORDS * sizeof(uint32_t),
};
