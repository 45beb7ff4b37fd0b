// Register offsets and bit fields of the xAPIC register page (SDM Vol. 3A
// Table 11-1, "Local APIC Register Address Map", and the register figures
// of 11.5-11.9), shared by the files that make up LocalApic. Internal to
// the LAPIC model.
#pragma once

#include <cstdint>

namespace tv::dev::lapic {

// Offsets into the 4 KiB page; every register sits on a 16-byte boundary.
enum Reg : unsigned {
  kRegId = 0x020,
  kRegVersion = 0x030,
  kRegTpr = 0x080,
  kRegApr = 0x090,
  kRegPpr = 0x0A0,
  kRegEoi = 0x0B0,
  kRegRrd = 0x0C0,
  kRegLdr = 0x0D0,
  kRegDfr = 0x0E0,
  kRegSvr = 0x0F0,
  kRegIsr = 0x100,  // 8 registers, to 0x170
  kRegTmr = 0x180,  // to 0x1F0
  kRegIrr = 0x200,  // to 0x270
  kRegEsr = 0x280,
  kRegIcrLow = 0x300,
  kRegIcrHigh = 0x310,
  kRegLvtTimer = 0x320,  // six LVT entries, to 0x370 (LVT error)
  kRegLvtError = 0x370,
  kRegInitialCount = 0x380,
  kRegCurrentCount = 0x390,
  kRegDivide = 0x3E0,
};

// LVT entries (SDM 11.5.1).
constexpr uint32_t kLvtVector = 0xFF;
constexpr uint32_t kLvtDeliveryMode = 0x700;  // bits 8-10
constexpr uint32_t kLvtActiveLow = 1u << 13;  // LINT0/1 pin polarity
constexpr uint32_t kLvtRemoteIrr = 1u << 14;  // LINT0/1, read-only
constexpr uint32_t kLvtLevel = 1u << 15;      // LINT0/1 trigger mode
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kLvtTimerMode = 3u << 17;  // 00 one-shot, 01 periodic, 10 TSC-deadline

// LVT delivery modes (bits 8-10); 1, 3 and 6 are reserved.
enum LvtMode : unsigned { kLvtFixed = 0, kLvtSmi = 2, kLvtNmi = 4, kLvtInit = 5, kLvtExtInt = 7 };
constexpr unsigned lvt_mode(uint32_t lvt) { return (lvt & kLvtDeliveryMode) >> 8; }

// ESR (SDM 11.5.3); the checksum and accept errors exist only on the
// three-wire APIC bus, and lowest-priority IPIs are supported.
constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
constexpr uint32_t kEsrIllegalRegister = 1u << 7;

// ICR (SDM 11.6.1). Delivery status (bit 12) always reads 0: delivery is
// immediate.
constexpr uint32_t kIcrLogical = 1u << 11;
constexpr uint32_t kIcrAssert = 1u << 14;
constexpr uint32_t kIcrLevel = 1u << 15;
constexpr uint32_t kIcrLowWritable = 0x000CCFFF;  // bits 0-11, 14, 15, 18, 19
constexpr uint32_t kIcrHighWritable = 0xFF000000;

// SVR (SDM 11.9): vector 0-7 (all writable on the xAPIC), enable bit 8;
// focus checking (bit 9) and EOI-broadcast suppression (bit 12) are not
// implemented, so reserved.
constexpr uint32_t kSvrWritable = 0x1FF;

constexpr uint32_t kDfrReservedOnes = 0x0FFFFFFF;
constexpr uint32_t kIdMask = 0xFF000000;   // ID and LDR: bits 24-31
constexpr uint32_t kDivideWritable = 0xB;  // bits 0, 1, 3

}  // namespace tv::dev::lapic
