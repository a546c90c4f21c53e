// What every fuzz target shares (docs/TESTING.md, "Fuzzing and sanitizers"): the libFuzzer entry
// point and FUZZ_CHECK, which reports a broken property and aborts, so that libFuzzer keeps the
// input as a crash and the replay test (replay_main.cpp) fails on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

/// Stops the run when cond is false: one line naming the file, line and condition, then abort().
#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

/// The entry point every target defines: libFuzzer calls it, and so does the replay driver.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace lg::fuzz {

/// The input bytes as text (no copy).
inline std::string_view text(const uint8_t* data, size_t size) {
  return size == 0 ? std::string_view{} : std::string_view{reinterpret_cast<const char*>(data), size};
}

}  // namespace lg::fuzz
