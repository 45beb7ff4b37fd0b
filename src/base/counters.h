// Counters as fixed fields (Blink's stats.inc): an X-macro list gives an
// enum, a table of names and a fixed array, so counting never allocates,
// is safe in a signal handler, and every counter's name is in one place.
//
//   #define MY_EXITS(X) X(kIo, "io") X(kHlt, "hlt")
//   TV_COUNTER_LIST(MyExit, MY_EXITS)   // enum class MyExit, kMyExitNames, kMyExitCount
//   CounterArray<MyExit, kMyExitCount> exits;  ++exits[MyExit::kIo];
#pragma once

#include <cstddef>
#include <cstdint>

namespace tv {

#define TV_COUNTER_ENUM_ENTRY(id, name) id,
#define TV_COUNTER_NAME_ENTRY(id, name) name,
#define TV_COUNTER_LIST(Enum, LIST)                                              \
  enum class Enum : uint8_t { LIST(TV_COUNTER_ENUM_ENTRY) kCount };              \
  inline constexpr const char* k##Enum##Names[] = {LIST(TV_COUNTER_NAME_ENTRY)}; \
  inline constexpr size_t k##Enum##Count = size_t(Enum::kCount);

// One counter per enum value.
template <typename Enum, size_t N>
struct CounterArray {
  uint64_t value[N] = {};
  uint64_t& operator[](Enum e) { return value[size_t(e)]; }
  uint64_t operator[](Enum e) const { return value[size_t(e)]; }
};

}  // namespace tv
