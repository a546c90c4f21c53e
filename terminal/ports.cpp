#include "ports.hpp"

#include "labgate/common/time.hpp"

namespace lg::terminal {

int64_t SystemClock::now_ms() { return time::now_utc_ms(); }
int64_t SystemClock::steady_ms() { return time::steady_ms(); }
std::string SystemClock::boot_id() { return time::boot_id(); }
bool SystemClock::synced() { return time::clock_synced(); }

}  // namespace lg::terminal
