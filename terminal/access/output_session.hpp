// One board output and what is happening on it: a latching output (instrument power) with its
// open session, or a momentary one (door strike, video contact) with its pulse. The agent holds
// one OutputSession per output it drives, so a door pulse and an instrument session on the same
// board never share state. Everything here runs on the access loop: write before acting (the
// record is committed to SQLite, synchronous=FULL, before the relay moves), then the relay.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "labgate/common/board.hpp"
#include "labgate/common/card_uid.hpp"
#include "labgate/common/protocol.hpp"

#include "access/decision.hpp"
#include "access/swipe_plan.hpp"
#include "drivers/io.hpp"
#include "ports.hpp"
#include "store.hpp"

namespace lg::terminal {

/// The answer to one swipe, also written to the card socket as one JSON line.
struct SwipeReply {
  std::string card;
  proto::Decision decision = proto::Decision::denied;
  proto::Reason reason = proto::Reason::unknown_card;
  std::string user;
  std::string session;
  std::string action = "none";  ///< start | end | pulse | none
  std::string error;            ///< set instead of a decision when the line was unusable
  /// {"card":..,"decision":..,"reason":..,"user":..,"session":..,"action":..} or {"card":..,"error":..}.
  std::string to_json() const;
};

/// What the OutputSessions of one agent share (all used on the access loop only).
struct AccessContext {
  std::string resource;
  Store& store;            ///< the access loop's connection
  Coils& coils;
  EnergyMeter* meter;      ///< nullptr = no metering
  Clock& clock;
  Scheduler& scheduler;
  std::function<void()> committed;  ///< records were committed: let the uplink publish them
};

/// Decides for a card now (the agent's decide() over its current ACL and link state).
using DecideNow = std::function<DecisionResult(const CardUid& card, int64_t now_ms)>;

class OutputSession {
 public:
  /// `out` must outlive this object (it points into the agent's board).
  OutputSession(const board::Output& out, board::FailMode fail_mode, AccessContext& ctx);

  const std::string& name() const { return out_.name; }
  /// True for a momentary output (pulse_ms > 0).
  bool momentary() const { return out_.pulse_ms > 0; }
  board::FailMode fail_mode() const { return fail_mode_; }
  /// The card holding the open session, if any.
  std::optional<CardUid> holder() const;
  const std::optional<OpenSession>& session() const { return open_; }

  /// Carries out a swipe's plan (start, end, pulse or deny) for `card`.
  SwipeReply act(const SwipePlan& plan, const CardUid& card);

  /// Start-up: a session row of this output found open. Continues it (relay on and the grant
  /// still holds) or closes it as crash_recovered.
  void recover(OpenSession s, const DecideNow& decide_now);
  /// Start-up, after recovery: a latching coil on without a session, or a momentary output
  /// caught mid-pulse, is switched off.
  void settle_coil_at_start();
  /// Every second: settles a pending reboot gap, ends the session past its limits.
  void tick();
  /// Every heartbeat_s: checkpoints the open session, or switches off a latching coil that is
  /// on without one.
  void heartbeat();
  /// Clean stop: checkpoints the open session (the relay stays as it is).
  void shutdown();

 private:
  SwipeReply start_session(const CardUid& card, const DecisionResult& d);
  SwipeReply pulse(const CardUid& card, const DecisionResult& d);
  bool end_session(proto::EndReason why, const std::optional<DecisionResult>& access, const CardUid& card);
  void record_output_fault(const DecisionResult& d, const CardUid& card, const std::string& detail,
                           const std::optional<std::string>& drop_session);
  void settle_clock();
  void checkpoint(const char* when);

  const board::Output& out_;
  board::FailMode fail_mode_;
  AccessContext& ctx_;
  std::optional<OpenSession> open_;
  uint64_t pulse_gen_ = 0;
};

/// Records an Alarm relay_fault (logged at error).
void record_relay_fault(AccessContext& ctx, const std::string& detail);

/// Closes a session found open at start-up: SessionEnd crash_recovered at its last checkpoint
/// (flag crash_closed) and the row removal in one commit, then switches `out`'s coil off when it
/// was on (out = nullptr: an output this terminal no longer drives; nothing is switched).
void close_crashed(AccessContext& ctx, const OpenSession& s, const board::Output* out, bool coil_on);

/// The meter's cumulative total as read (kWh); nullopt without a meter or on a failed or invalid
/// read (problem says why).
std::optional<double> read_meter_kwh(EnergyMeter* meter, std::string& problem);

}  // namespace lg::terminal
