// A deterministic PRNG for the case generator. std::uniform_*_distribution
// is implementation-defined, so a seed would not mean the same cases on
// another standard library; this one is SplitMix64 (Steele, Lea, Flood,
// "Fast splittable pseudorandom number generators", OOPSLA 2014).
#pragma once

#include <cstdint>
#include <initializer_list>

namespace tv::difftest {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // The generator of case `index` under `seed`: each case is reproducible
  // on its own, whatever the count.
  static Rng for_case(uint64_t seed, uint32_t index) {
    Rng mix(seed);
    return Rng(mix.next() ^ (0x9E3779B97F4A7C15ull * (uint64_t{index} + 1)));
  }

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  uint32_t u32() { return static_cast<uint32_t>(next() >> 32); }
  // Uniform enough in [0, n) for n far below 2^32.
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((next() >> 32) % n); }
  int32_t range(int32_t lo, int32_t hi) {  // inclusive
    return lo + static_cast<int32_t>(below(static_cast<uint32_t>(hi - lo + 1)));
  }
  bool percent(uint32_t p) { return below(100) < p; }

  template <typename T>
  T pick(std::initializer_list<T> items) {
    return items.begin()[below(static_cast<uint32_t>(items.size()))];
  }

 private:
  uint64_t state_;
};

}  // namespace tv::difftest
