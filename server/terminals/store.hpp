// The terminals' store: enrolment, reported state, the contiguous acked seq.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/paging.hpp"
#include "server/terminals/model.hpp"

namespace lg::server::terminals {

class Store {
 public:
  virtual ~Store() = default;
  /// Enrols a terminal with its public key PEM; conflict if the id exists, unknown_reference
  /// when the resource is unknown.
  virtual Status add(const Terminal& t, int64_t now_ms) = 0;
  /// Terminals by (id), ascending.
  virtual Result<PageOf<Terminal>> list(const Page& p) = 0;
  /// Every enrolled terminal, by id.
  virtual Result<std::vector<Terminal>> all() = 0;
  /// One terminal, nullopt if not enrolled.
  virtual Result<std::optional<Terminal>> get(const std::string& id) = 0;
  /// Retires a terminal (kept, with every record it sent); not_found for an unknown id, conflict
  /// when retired already. Returns it as stored before.
  virtual Result<Terminal> retire(const std::string& id, int64_t now_ms) = 0;
  /// Applies a state message, atomically: an offline Will from an older boot is ignored.
  virtual Result<StateOutcome> apply_state(const StateUpdate& s) = 0;
  /// Records the terminal's contiguous acked seq (never lowered) and when it was last heard.
  virtual Status set_acked(const std::string& id, uint64_t acked_seq, int64_t seen_ms) = 0;

  /// Stores a new enrolment token; unknown_reference when the resource is unknown, conflict when
  /// the terminal id is retired (a retired id is never reused).
  virtual Status add_enrol_token(const EnrolToken& t) = 0;
  /// The token with this hash, nullopt if none.
  virtual Result<std::optional<EnrolToken>> enrol_token(const std::string& hash) = 0;
  /// Uses the token (which the caller has checked: unused, unexpired, CN = its terminal) in one
  /// transaction: marks it used (conflict if it was used meanwhile), enrols the terminal with
  /// public_key, or re-enrols it as a new epoch (its earlier certificates revoked as superseded,
  /// a revocation lifted), and records `cert` (serial; its epoch is set here).
  virtual Result<Enrolled> enrol(const std::string& token_hash, const std::string& public_key, CertRecord cert,
                                 int64_t now_ms) = 0;
  /// Records a certificate renewed for an enrolled terminal of the same key and epoch.
  virtual Status add_certificate(const CertRecord& c) = 0;
  /// The certificates issued to a terminal, newest first.
  virtual Result<std::vector<CertRecord>> certificates(const std::string& terminal) = 0;
  /// Every revoked certificate (the CRL), by serial.
  virtual Result<std::vector<CertRecord>> revoked_certificates() = 0;
  /// Revokes a terminal and all its certificates; not_found for an unknown id, conflict when it is
  /// revoked already. Returns it as stored after.
  virtual Result<Terminal> revoke(const std::string& id, const std::string& reason, int64_t now_ms) = 0;
};

}  // namespace lg::server::terminals
