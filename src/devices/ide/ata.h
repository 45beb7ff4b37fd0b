// ATA register layout, bits and command codes (ATA/ATAPI-6, T13/1410D,
// "Register descriptions" and "Command descriptions"), shared by the
// channel state machine, the IDENTIFY builder and their tests. Values only:
// what a device does with them is in ata_channel.cc and ata_commands.cc.
#pragma once

#include <cstdint>

namespace tv::dev::ata {

constexpr unsigned kSectorSize = 512;

// Command block registers, by offset from the block's base (0x1F0/0x170).
// Reads and writes of offsets 1 and 7 reach different registers.
constexpr unsigned kRegData = 0;
constexpr unsigned kRegError = 1;  // read: Error; write: Features
constexpr unsigned kRegCount = 2;
constexpr unsigned kRegLbaLow = 3;   // CHS: sector number
constexpr unsigned kRegLbaMid = 4;   // CHS: cylinder low
constexpr unsigned kRegLbaHigh = 5;  // CHS: cylinder high
constexpr unsigned kRegDevice = 6;
constexpr unsigned kRegStatus = 7;  // read: Status; write: Command
constexpr unsigned kCommandBlockLength = 8;

// Status register.
constexpr uint8_t kStatusBsy = 0x80;
constexpr uint8_t kStatusDrdy = 0x40;
constexpr uint8_t kStatusDf = 0x20;
constexpr uint8_t kStatusDsc =
    0x10;  // "seek complete" in ATA-3; older drivers expect 0x50 when idle
constexpr uint8_t kStatusDrq = 0x08;
constexpr uint8_t kStatusErr = 0x01;

// Error register.
constexpr uint8_t kErrorUnc = 0x40;   // uncorrectable data error
constexpr uint8_t kErrorIdnf = 0x10;  // address outside the user-accessible range
constexpr uint8_t kErrorAbrt = 0x04;  // command aborted
// EXECUTE DEVICE DIAGNOSTIC and reset: "device 0 passed, device 1 passed or absent".
constexpr uint8_t kDiagnosticPassed = 0x01;

// Device control register (written at 0x3F6/0x376).
constexpr uint8_t kControlNien = 0x02;
constexpr uint8_t kControlSrst = 0x04;
constexpr uint8_t kControlHob = 0x80;  // reads of registers 1-5 return the previous contents

// Device register.
constexpr uint8_t kDeviceDev = 0x10;  // 0 = device 0 (master), 1 = device 1 (slave)
constexpr uint8_t kDeviceLba = 0x40;

// The signature a non-packet device leaves after reset or diagnostics
// (ATA/ATAPI-6, "Signature and persistence").
constexpr uint8_t kSignatureCount = 0x01, kSignatureLbaLow = 0x01;
constexpr uint8_t kSignatureLbaMid = 0x00, kSignatureLbaHigh = 0x00;

// Command codes. The "no retry" variants of ATA-1 (0x21, 0x31, 0x41, 0xC9,
// 0xCB) are obsolete but still decoded by drives, and sent by old drivers.
namespace cmd {
constexpr uint8_t kReadSectors = 0x20, kReadSectorsNoRetry = 0x21, kReadSectorsExt = 0x24;
constexpr uint8_t kReadDmaExt = 0x25, kReadMultipleExt = 0x29;
constexpr uint8_t kWriteSectors = 0x30, kWriteSectorsNoRetry = 0x31, kWriteSectorsExt = 0x34;
constexpr uint8_t kWriteDmaExt = 0x35, kWriteMultipleExt = 0x39;
constexpr uint8_t kReadVerify = 0x40, kReadVerifyNoRetry = 0x41, kReadVerifyExt = 0x42;
constexpr uint8_t kDeviceReset = 0x08;  // packet devices only
constexpr uint8_t kExecuteDiagnostic = 0x90;
constexpr uint8_t kInitializeParameters = 0x91;
constexpr uint8_t kIdentifyPacket = 0xA1;  // packet devices only
constexpr uint8_t kReadMultiple = 0xC4, kWriteMultiple = 0xC5, kSetMultiple = 0xC6;
constexpr uint8_t kReadDma = 0xC8, kReadDmaNoRetry = 0xC9;
constexpr uint8_t kWriteDma = 0xCA, kWriteDmaNoRetry = 0xCB;
constexpr uint8_t kStandbyImmediate = 0xE0, kIdleImmediate = 0xE1, kStandby = 0xE2, kIdle = 0xE3;
constexpr uint8_t kCheckPowerMode = 0xE5;
constexpr uint8_t kFlushCache = 0xE7, kFlushCacheExt = 0xEA;
constexpr uint8_t kIdentify = 0xEC;
constexpr uint8_t kSetFeatures = 0xEF;
// The ATA-3 codes of the power commands, still decoded by ATA/ATAPI-6 drives.
constexpr uint8_t kStandbyImmediateOld = 0x94, kIdleImmediateOld = 0x95;
constexpr uint8_t kStandbyOld = 0x96, kIdleOld = 0x97, kCheckPowerModeOld = 0x98;
}  // namespace cmd

// SET FEATURES subcommands (Features register).
namespace feature {
constexpr uint8_t kEnableWriteCache = 0x02, kDisableWriteCache = 0x82;
constexpr uint8_t kSetTransferMode = 0x03;
constexpr uint8_t kDisableLookAhead = 0x55, kEnableLookAhead = 0xAA;
constexpr uint8_t kDisableRevert = 0x66, kEnableRevert = 0xCC;
}  // namespace feature

// SET FEATURES 03h transfer mode values (Sector Count register): the mode
// class in bits 7:3, the mode number in bits 2:0.
constexpr uint8_t kModePioDefault = 0x00, kModePioNoIordy = 0x01;
constexpr uint8_t kModePio = 0x08, kModeMwdma = 0x20, kModeUdma = 0x40;
constexpr unsigned kMaxPioMode = 4, kMaxMwdmaMode = 2, kMaxUdmaMode = 5;

// READ/WRITE MULTIPLE: the largest DRQ block offered (IDENTIFY word 47).
constexpr unsigned kMaxMultiple = 16;

}  // namespace tv::dev::ata
