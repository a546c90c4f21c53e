// labgate-sim: seeded deterministic simulation of terminals, broker and server in one process
// (docs/SIMULATION.md). One seed = one run; the same seed replays the same run.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

#include "labgate/common/log.hpp"
#include "labgate/common/result.hpp"

#include "world.hpp"

namespace fs = std::filesystem;

namespace {

struct Cli {
  uint64_t seed = 1;
  uint64_t seeds = 1;
  int steps = 300;
  int terminals = 3;
  std::string dir;
  bool verbose = false;
  bool check_replay = false;
  std::string log_level = "info";
  int tail = 60;
  std::string canary;
  std::vector<std::string> without;
  int jobs = 1;
};

/// Where a seed's files go when --dir is not given: tmpfs when there is one (SQLite commits
/// with synchronous=FULL cost an fsync each on a disk), else the system temp directory.
fs::path default_base() {
  if (const char* env = std::getenv("LABGATE_SIM_TMP"); env && *env) return env;
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

/// Creates the directory for one seed: <dir>/seed-N (emptied first) or a fresh temp directory.
lg::Result<fs::path> seed_dir(const Cli& cli, uint64_t seed, bool& temporary) {
  std::error_code ec;
  if (!cli.dir.empty()) {
    temporary = false;
    fs::path p = fs::path(cli.dir) / ("seed-" + std::to_string(seed));
    fs::remove_all(p, ec);
    fs::create_directories(p, ec);
    if (ec) return lg::Error::from(ec, "--dir: cannot create " + p.string());
    return p;
  }
  temporary = true;
  std::string templ = (default_base() / ("labgate-sim-" + std::to_string(seed) + "-XXXXXX")).string();
  if (!::mkdtemp(templ.data()))
    return lg::Error::from(std::error_code(errno, std::generic_category()), "cannot create a directory like " + templ);
  return fs::path(templ);
}

/// Sends the product's log (stderr) to a file while one seed runs.
class StderrToFile {
 public:
  explicit StderrToFile(const fs::path& file) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 2);
      ::close(fd);
    }
  }
  ~StderrToFile() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
    }
  }
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;

 private:
  int saved_ = -1;
};

std::string replay_cmd(const Cli& cli, uint64_t seed) {
  std::string cmd = "labgate-sim --seed " + std::to_string(seed) + " --steps " + std::to_string(cli.steps) +
                    " --terminals " + std::to_string(cli.terminals);
  for (std::size_t i = 0; i < cli.without.size(); ++i) cmd += (i == 0 ? " --without " : ",") + cli.without[i];
  if (!cli.canary.empty()) cmd += " --canary " + cli.canary;
  return cmd + " --verbose";
}

std::string vclock(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(ms / 60'000),
                static_cast<long long>((ms / 1000) % 60));
  return buf;
}

struct SeedResult {
  bool ok = true;
  std::string line;  // one-line summary
  uint64_t replaced = 0;  // devices replaced in the run (terminal_replace)
};

/// What a range of seeds did: failures and devices replaced (in how many seeds).
struct Tally {
  uint64_t failed = 0;
  uint64_t replaced = 0;
  uint64_t seeds_replacing = 0;
};

SeedResult run_seed(const Cli& cli, uint64_t seed, bool single) {
  SeedResult res;
  bool temporary = true;
  auto dir = seed_dir(cli, seed, temporary);
  if (!dir) {
    res.ok = false;
    res.line = "seed " + std::to_string(seed) + ": " + dir.error().message();
    std::printf("%s\n", res.line.c_str());
    return res;
  }
  lg::sim::Options o;
  o.seed = seed;
  o.steps = cli.steps;
  o.terminals = cli.terminals;
  o.dir = *dir;
  o.canary = cli.canary;
  o.without = cli.without;
  if (cli.verbose) o.live_trace = [](const std::string& l) { std::printf("%s\n", l.c_str()); };

  const auto t0 = std::chrono::steady_clock::now();
  lg::sim::Outcome out;
  {
    StderrToFile redirect(*dir / "product.log");
    out = lg::sim::run(o);
  }
  if (cli.check_replay) {
    // The same seed again, in a fresh directory: the trace must be the same line for line.
    bool tmp2 = true;
    Cli fresh = cli;
    fresh.dir.clear();
    auto dir2 = seed_dir(fresh, seed, tmp2);
    if (dir2) {
      lg::sim::Options o2 = o;
      o2.dir = *dir2;
      o2.live_trace = nullptr;
      lg::sim::Outcome again;
      {
        StderrToFile redirect(*dir2 / "product.log");
        again = lg::sim::run(o2);
      }
      std::error_code ec;
      fs::remove_all(*dir2, ec);
      if (again.digest != out.digest || again.trace.size() != out.trace.size()) {
        std::size_t i = 0;
        while (i < out.trace.size() && i < again.trace.size() && out.trace[i] == again.trace[i]) ++i;
        const std::string why = "the second run of the seed differs at trace line " + std::to_string(i + 1) + ": \"" +
                                (i < out.trace.size() ? out.trace[i] : "<end>") + "\" vs \"" +
                                (i < again.trace.size() ? again.trace[i] : "<end>") + "\"";
        if (out.ok) {
          out.invariant = "replay";
          out.detail = why;
        } else {
          out.detail += " -- and " + why;
        }
        out.ok = false;
      } else if (!out.ok) {
        out.detail += " (replayed: same trace)";
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const auto& c = out.counters;
  res.replaced = c.replacements;
  char stats[500];
  std::snprintf(stats, sizeof stats,
                "%d steps, %s virtual, %llu swipes, %llu records, %llu sessions, %lld fen (relay on unbilled %lld s), "
                "crashes %llu terminal / %llu server, "
                "%llu replaced (%llu of their messages refused after, own bundle after <= %lld s), "
                "%llu partitions, %llu outages, net %llu delivered %llu dropped %llu duplicated %llu delayed, %.2f s",
                cli.steps, vclock(out.virtual_ms).c_str(), static_cast<unsigned long long>(c.swipes),
                static_cast<unsigned long long>(c.records), static_cast<unsigned long long>(c.sessions_ended),
                static_cast<long long>(c.charged_fen), static_cast<long long>(c.unbilled_relay_ms / 1000),
                static_cast<unsigned long long>(c.terminal_crashes), static_cast<unsigned long long>(c.server_crashes),
                static_cast<unsigned long long>(c.replacements), static_cast<unsigned long long>(c.old_device_refused),
                static_cast<long long>(c.own_bundle_wait_ms / 1000), static_cast<unsigned long long>(c.partitions),
                static_cast<unsigned long long>(c.outages), static_cast<unsigned long long>(c.delivered),
                static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(c.duplicated),
                static_cast<unsigned long long>(c.delayed), secs);

  if (out.ok) {
    if (single) std::printf("seed %llu: ok (%s)\n", static_cast<unsigned long long>(seed), stats);
    if (temporary) {
      std::error_code ec;
      fs::remove_all(*dir, ec);
    }
    return res;
  }

  res.ok = false;
  res.line = "seed " + std::to_string(seed) + ": FAIL " + out.invariant + " at step " + std::to_string(out.step) + ": " +
             out.detail;
  {
    std::ofstream f(*dir / "trace.txt");
    for (const auto& l : out.trace) f << l << '\n';
  }
  if (single || cli.verbose) {
    std::printf("seed %llu FAILED\n  invariant: %s\n  step:      %lld\n  detail:    %s\n  profile:   %s\n  run:       %s\n",
                static_cast<unsigned long long>(seed), out.invariant.c_str(), static_cast<long long>(out.step),
                out.detail.c_str(), out.profile.c_str(), stats);
    if (!cli.verbose) {
      const std::size_t n = out.trace.size();
      const std::size_t from = n > static_cast<std::size_t>(cli.tail) ? n - static_cast<std::size_t>(cli.tail) : 0;
      std::printf("  trace (last %zu of %zu lines):\n", n - from, n);
      for (std::size_t i = from; i < n; ++i) std::printf("    %s\n", out.trace[i].c_str());
    }
    std::printf("  files kept in %s (trace.txt, product.log, *.db)\n  replay:    %s\n", dir->c_str(),
                replay_cmd(cli, seed).c_str());
  } else {
    std::printf("%s  [files: %s; replay: %s]\n", res.line.c_str(), dir->c_str(), replay_cmd(cli, seed).c_str());
  }
  std::fflush(stdout);
  return res;
}

/// Runs seeds first..first+count-1 in this process.
Tally run_range(const Cli& cli, uint64_t first, uint64_t count, bool single) {
  Tally t;
  for (uint64_t i = 0; i < count; ++i) {
    const SeedResult r = run_seed(cli, first + i, single);
    if (!r.ok) ++t.failed;
    t.replaced += r.replaced;
    if (r.replaced > 0) ++t.seeds_replacing;
  }
  return t;
}

/// Splits the seeds into `jobs` contiguous slices, one child process each (forked before any
/// thread exists; every seed is independent and its output is one line, flushed). A child that
/// died counts its whole slice as failed.
Tally run_forked(const Cli& cli, int jobs) {
  struct Child {
    pid_t pid;
    int fd;
    uint64_t first, count;
  };
  std::vector<Child> kids;
  const uint64_t per = (cli.seeds + static_cast<uint64_t>(jobs) - 1) / static_cast<uint64_t>(jobs);
  Tally total;
  uint64_t& failed = total.failed;
  std::fflush(stdout);
  std::fflush(stderr);
  for (uint64_t first = cli.seed; first < cli.seed + cli.seeds; first += per) {
    const uint64_t count = std::min(per, cli.seed + cli.seeds - first);
    int fds[2];
    if (::pipe(fds) != 0) {
      std::perror("labgate-sim: pipe");
      failed += count;
      continue;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("labgate-sim: fork");
      ::close(fds[0]);
      ::close(fds[1]);
      failed += count;
      continue;
    }
    if (pid == 0) {
      ::close(fds[0]);
      const Tally f = run_range(cli, first, count, false);
      std::fflush(stdout);
      const bool wrote = ::write(fds[1], &f, sizeof f) == static_cast<ssize_t>(sizeof f);
      ::_exit(wrote ? 0 : 1);
    }
    ::close(fds[1]);
    kids.push_back({pid, fds[0], first, count});
  }
  for (auto& k : kids) {
    Tally f;
    const bool got = ::read(k.fd, &f, sizeof f) == static_cast<ssize_t>(sizeof f);
    ::close(k.fd);
    int status = 0;
    ::waitpid(k.pid, &status, 0);
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::printf("seeds %llu..%llu: the process running them died (status %d); run them alone to see why\n",
                  static_cast<unsigned long long>(k.first), static_cast<unsigned long long>(k.first + k.count - 1),
                  status);
      f = Tally{k.count, 0, 0};
    }
    failed += f.failed;
    total.replaced += f.replaced;
    total.seeds_replacing += f.seeds_replacing;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  CLI::App app{"labgate-sim: seeded deterministic simulation of terminals, broker and server (docs/SIMULATION.md)"};
  app.add_option("--seed", cli.seed, "Seed (with --seeds: the first one)")->required();
  app.add_option("--seeds", cli.seeds, "Run this many seeds: seed .. seed+S-1")->check(CLI::PositiveNumber);
  app.add_option("--steps", cli.steps, "Workload steps per seed (about 2 virtual s each)")->check(CLI::Range(1, 10'000'000));
  app.add_option("--terminals", cli.terminals, "Terminals per seed")->check(CLI::Range(1, 64));
  app.add_option("--dir", cli.dir,
                 "Keep each seed's files in DIR/seed-N (default: a temp dir, removed after a passing seed)");
  app.add_flag("--verbose,-v", cli.verbose, "Print the trace as the run goes");
  app.add_flag("--check-replay", cli.check_replay, "Run every seed twice and fail if the two traces differ");
  app.add_option("--log-level", cli.log_level, "Level of the product's log, written to <dir>/product.log")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--canary", cli.canary,
                 "Self-test: plant a fault the invariants must catch (ack-ahead | server-forgets | "
                 "stranger-after-swap); the run must fail")
      ->check(CLI::IsMember({"ack-ahead", "server-forgets", "stranger-after-swap"}));
  app.add_option(
         "--without", cli.without,
         "Fault kinds never to inject (comma-separated): terminal_crash, terminal_crash_at_io, terminal_restart, "
         "terminal_reboot, server_crash, server_crash_at_io, partition_terminal, partition_server, broker_outage, "
         "admin_change, clock_trouble, meter_outage, retained_tamper, terminal_replace")
      ->delimiter(',')
      ->check(CLI::IsMember({"terminal_crash", "terminal_crash_at_io", "terminal_restart", "terminal_reboot",
                             "server_crash", "server_crash_at_io", "partition_terminal", "partition_server",
                             "broker_outage", "admin_change", "clock_trouble", "meter_outage", "retained_tamper",
                             "terminal_replace"}));
  app.add_option("--jobs,-j", cli.jobs,
                 "With --seeds: run the seeds in this many processes (contiguous slices; output lines interleave)")
      ->check(CLI::Range(1, 256));
  app.add_option("--tail", cli.tail, "Trace lines printed with a failure (without --verbose)")->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  lg::log::Level level = lg::log::Level::info;
  (void)lg::log::parse_level(cli.log_level, level);
  lg::log::set_level(level);

  const bool single = cli.seeds == 1;
  const auto t0 = std::chrono::steady_clock::now();
  const int jobs = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(cli.jobs), cli.seeds));
  const Tally tally = jobs > 1 && !cli.verbose ? run_forked(cli, jobs) : run_range(cli, cli.seed, cli.seeds, single);
  const uint64_t failed = tally.failed;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!single) {
    std::printf(
        "%llu seeds (%llu..%llu), %llu failed, %llu replaced (devices, in %llu seeds), %.1f s (%.0f ms per seed, %d "
        "process%s)\n",
        static_cast<unsigned long long>(cli.seeds), static_cast<unsigned long long>(cli.seed),
        static_cast<unsigned long long>(cli.seed + cli.seeds - 1), static_cast<unsigned long long>(failed),
        static_cast<unsigned long long>(tally.replaced), static_cast<unsigned long long>(tally.seeds_replacing), secs,
        1000.0 * secs / static_cast<double>(cli.seeds), jobs > 1 && !cli.verbose ? jobs : 1,
        jobs > 1 && !cli.verbose ? "es" : "");
  }
  return failed == 0 ? 0 : 1;
}
