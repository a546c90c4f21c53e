// LG_INVARIANT and LG_ASSERT: a failed check logs one line naming the place and aborts (death
// tests in a forked child); a check that holds does nothing; LG_ASSERT is on in the test build.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <string>

#include "labgate/common/assert.hpp"

namespace {

struct Death {
  bool aborted = false;  ///< the child ended by SIGABRT
  std::string err;       ///< what it wrote on stderr
};

/// Runs f in a forked child with stderr on a pipe; reports how the child ended.
template <typename F>
Death in_child(F f) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);  // not doctest's crash report: the parent judges the death
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    f();
    ::_exit(0);
  }
  ::close(fds[1]);
  Death d;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) d.err.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  d.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return d;
}

int64_t next_seq(int64_t last, int64_t got) {
  LG_INVARIANT(got == last + 1, "seq must grow by one");
  return got;
}

}  // namespace

TEST_CASE("LG_INVARIANT: holds -> nothing, fails -> one log line naming file, line and condition, then abort") {
  CHECK(next_seq(41, 42) == 42);
  const Death d = in_child([] { (void)next_seq(41, 40); });
  CHECK(d.aborted);
  CHECK(d.err.find("ERROR invariant: ") != std::string::npos);
  CHECK(d.err.find("assert_test.cpp:") != std::string::npos);
  CHECK(d.err.find("got == last + 1: seq must grow by one") != std::string::npos);
  CHECK(d.err.find('\n') == d.err.size() - 1);  // one line
}

TEST_CASE("LG_ASSERT is on in the test build and fires like LG_INVARIANT") {
  // The default preset (which runs the tests) and Debug builds set LABGATE_ASSERTS=ON.
  REQUIRE_MESSAGE(lg::kAssertsOn, "configure with -DLABGATE_ASSERTS=ON (the default preset does)");
  int evaluated = 0;
  LG_ASSERT(++evaluated == 1, "evaluated once");
  CHECK(evaluated == 1);
  const int64_t amount_fen = -5;
  const Death d = in_child([&] { LG_ASSERT(amount_fen >= 0, "a charge is never negative"); });
  CHECK(d.aborted);
  CHECK(d.err.find("ERROR assert: ") != std::string::npos);
  CHECK(d.err.find("amount_fen >= 0: a charge is never negative") != std::string::npos);
}

TEST_CASE("a check that holds leaves the process running") {
  const Death d = in_child([] {
    LG_INVARIANT(1 + 1 == 2, "");
    LG_ASSERT(true, "never shown");
  });
  CHECK_FALSE(d.aborted);
  CHECK(d.err.empty());
}
