#include "devices/vga_crtc.h"

#include <gtest/gtest.h>

namespace tv::dev {
namespace {

TEST(VgaCrtc, CursorRegistersReadBackWhatWasWritten) {
  VgaCrtc crtc;
  crtc.write(0, 1, VgaCrtc::kCursorHigh);
  crtc.write(1, 1, 0x07);
  crtc.write(0, 1, VgaCrtc::kCursorLow);
  crtc.write(1, 1, 0xD0);
  EXPECT_EQ(crtc.cursor(), 0x07D0);
  crtc.write(0, 1, VgaCrtc::kCursorHigh);
  EXPECT_EQ(crtc.read(0, 1), VgaCrtc::kCursorHigh);
  EXPECT_EQ(crtc.read(1, 1), 0x07u);
}

TEST(VgaCrtc, WordWriteSetsIndexThenData) {
  VgaCrtc crtc;
  crtc.write(0, 2, 0x3F00 | VgaCrtc::kCursorLow);  // outw 0x3D4, 0x3F0F
  EXPECT_EQ(crtc.cursor() & 0xFF, 0x3Fu);
  EXPECT_EQ(crtc.read(0, 2), uint64_t(0x3F) << 8 | VgaCrtc::kCursorLow);
}

TEST(VgaCrtc, UnknownRegistersKeepTheirValue) {
  VgaCrtc crtc;
  crtc.write(0, 1, 0x80);
  crtc.write(1, 1, 0x5A);
  crtc.write(0, 1, 0x81);
  crtc.write(1, 1, 0xA5);
  crtc.write(0, 1, 0x80);
  EXPECT_EQ(crtc.read(1, 1), 0x5Au);
}

TEST(VgaCrtc, ResetStateIsTextMode) {
  VgaCrtc crtc;
  crtc.write(0, 1, VgaCrtc::kCursorStart);
  EXPECT_EQ(crtc.read(1, 1), 14u);
  EXPECT_EQ(crtc.cursor(), 0u);
}

TEST(VgaCrtc, RetraceBitToggles) {
  VgaCrtc crtc;
  uint64_t a = crtc.read(6, 1), b = crtc.read(6, 1);
  EXPECT_NE(a & 0x08, b & 0x08);
  EXPECT_EQ(crtc.read(2, 1), 0xFFu);  // 0x3D6: nothing there
}

}  // namespace
}  // namespace tv::dev
