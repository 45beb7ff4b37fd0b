// Case generation: initial state, then instruction families drawn by
// weight until the case has its instruction count. Family emitters keep
// every case deterministic on any SDM-conforming x86 (builder.h).
#include "generator.h"

#include <cstring>
#include <iterator>

#include "builder.h"
#include "families.h"

namespace tv::difftest {

namespace {

struct Family {
  bool (*emit)(Builder&);
  uint32_t weight;
};

constexpr Family kFamilies[] = {
    {emit_alu, 22},     {emit_test, 4},      {emit_inc_dec, 5}, {emit_neg_not, 4},
    {emit_mov, 5},      {emit_lea, 5},       {emit_shift, 14},  {emit_double_shift, 6},
    {emit_mul, 4},      {emit_imul, 4},      {emit_div, 5},     {emit_bit_test, 6},
    {emit_bit_scan, 4}, {emit_setcc, 4},     {emit_cmov, 4},    {emit_move_extend, 4},
    {emit_xchg, 3},     {emit_cmpxchg, 3},   {emit_xadd, 3},    {emit_bswap, 2},
    {emit_convert, 2},  {emit_lahf_sahf, 3}, {emit_flag_op, 3}, {emit_push, 4},
    {emit_pop, 4},      {emit_pushf, 2},     {emit_popf, 3},
};

const Family& pick_family(Rng& rng) {
  uint32_t total = 0;
  for (const Family& f : kFamilies) total += f.weight;
  uint32_t r = rng.below(total);
  for (const Family& f : kFamilies) {
    if (r < f.weight) return f;
    r -= f.weight;
  }
  return kFamilies[0];
}

// The registers that address the buffer: a base, never ECX or EDX (shift
// templates set CL, divisions EDX), and often an index with a small value.
struct Roles {
  int base;
  int index;
  uint32_t index_value;
};

Roles pick_roles(Rng& rng) {
  Roles roles{rng.pick<int>({DIFF_EBX, DIFF_EBP, DIFF_ESI, DIFF_EDI}), -1, rng.below(16)};
  if (rng.percent(70)) {
    do {
      roles.index = rng.pick<int>({DIFF_EAX, DIFF_EDX, DIFF_EBX, DIFF_EBP, DIFF_ESI, DIFF_EDI});
    } while (roles.index == roles.base);
  }
  return roles;
}

void fill_initial_state(Rng& rng, const Roles& roles, diff_case& c) {
  for (uint32_t& reg : c.regs) reg = interesting_value(rng);
  c.regs[DIFF_ESP] = 0;
  c.regs[roles.base] = 0;
  if (roles.index >= 0) c.regs[roles.index] = roles.index_value;
  c.eflags = (rng.u32() & DIFF_STATUS_FLAGS) | (rng.percent(25) ? DIFF_DF : 0);
  for (size_t i = 0; i < DIFF_DATA_SIZE; i += 4) {
    const uint32_t word = rng.percent(30) ? interesting_value(rng) : rng.u32();
    std::memcpy(&c.data[i], &word, sizeof word);
  }
}

// One try at a case; false if the code outgrew DIFF_CODE_MAX.
bool try_case(Rng& rng, diff_case& c) {
  c = diff_case{};
  const Roles roles = pick_roles(rng);
  fill_initial_state(rng, roles, c);
  const int target = rng.range(1, 8);
  Builder b(rng, roles.base, roles.index, roles.index_value, target);
  // Some family always fits (MOV, LEA), so this ends; the bound is a guard.
  for (int tries = 0; b.insns() < target && tries < 10000; ++tries) pick_family(rng).emit(b);
  close_stack(b);
  const auto& bytes = b.code().data();
  if (bytes.size() > DIFF_CODE_MAX) return false;
  std::memcpy(c.code, bytes.data(), bytes.size());
  c.code_len = static_cast<uint8_t>(bytes.size());
  c.insn_count = static_cast<uint8_t>(b.insns());
  c.base_reg = static_cast<uint8_t>(roles.base);
  c.flags_mask = b.defined_flags() & DIFF_CASE_FLAGS;
  return true;
}

}  // namespace

diff_case generate_case(uint64_t seed, uint32_t index) {
  Rng rng = Rng::for_case(seed, index);
  diff_case c;
  while (!try_case(rng, c)) {
  }
  return c;
}

}  // namespace tv::difftest
