// Provisioning terminals: one-time enrolment tokens, enrolment by certificate request (the key
// never leaves the device), renewal, revocation; and keeping the broker's ACL and CRL in step.
// One unit of work per change, each audited.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "labgate/common/result.hpp"
#include "server/audit/model.hpp"
#include "server/audit/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/terminals/broker.hpp"
#include "server/terminals/signer.hpp"
#include "server/terminals/store.hpp"

namespace lg::server::terminals {

struct EnrolmentSettings {
  std::string site;
  int cert_days = 397;
  int token_hours = 24;
  std::string broker_uri;         ///< what terminals are told to connect to
  std::string server_public_key;  ///< PEM of the key that signs bundles and commands
  std::vector<std::string> server_identities{"server"};
  BrokerPlace broker;             ///< dir "" = the broker's files are not written here
};

/// A token just issued (the only time its text exists outside the device that uses it).
struct IssuedToken {
  std::string token;
  std::string terminal;
  std::string resource;
  int64_t expires_ms = 0;
};

/// What a device receives when it enrols or renews.
struct Credentials {
  Terminal terminal;
  Issued certificate;
  std::string ca_certificate;
  bool replaced = false;  ///< a new device under an enrolled id (a new epoch)
  uint64_t seq_start = 0;  ///< enrolment: the first sequence number the device uses
};

class Enrolment {
 public:
  Enrolment(UnitOfWork& uow, Store& store, audit::Store& audit, const Signer& ca, EnrolmentSettings s)
      : uow_(uow), store_(store), audit_(audit), ca_(ca), s_(std::move(s)) {}
  /// Stops watching the signer (watch_signer) before anything it reports to goes away.
  ~Enrolment();
  Enrolment(const Enrolment&) = delete;
  Enrolment& operator=(const Enrolment&) = delete;

  /// Reports to on_change whether the CA's signer answers (a remote one: Signer::watch, probed
  /// every period_s) until this Enrolment is destroyed.
  void watch_signer(SignerWatch on_change, int period_s);

  /// Issues a one-time token for terminal id on resource, valid ttl_s (0 = the configured hours).
  Result<IssuedToken> issue_token(const std::string& id, const std::string& resource, int64_t ttl_s,
                                  const audit::Context& who, int64_t now_ms);
  /// Enrols the device that holds the key of csr_pem with a token: issues its certificate. A
  /// known id becomes a new epoch (its earlier certificates revoked as superseded). When the CA
  /// (a remote signer) cannot issue, nothing is stored and the token stays unused.
  Result<Credentials> enrol(const std::string& token, const std::string& csr_pem, const audit::Context& who,
                            int64_t now_ms);
  /// Renews the certificate of an enrolled terminal whose request is signed by its enrolled key;
  /// nothing new when it is not due yet (the current certificate's end is returned).
  Result<Credentials> renew(const std::string& csr_pem, const audit::Context& who, int64_t now_ms);
  /// Revokes a terminal: its certificates go on the CRL, the broker denies it every topic, the
  /// server refuses its messages.
  Result<Terminal> revoke(const std::string& id, const std::string& reason, const audit::Context& who, int64_t now_ms);
  /// Writes the broker's files (CRL and ACL from the store) and tells the broker; at start and
  /// after every change. Returns whether the broker was told to reload. When the CA cannot sign
  /// the CRL now (a remote signer down), the ACL is still written (it denies revoked terminals
  /// every topic), the old crl.pem is kept, the CRL is marked pending and the error returned.
  Result<bool> refresh_broker(int64_t now_ms);
  /// Signs the CRL that is pending (see refresh_broker), if one is; called periodically.
  void retry_pending(int64_t now_ms);
  /// The certificates issued to terminal id, newest first; not_found for an unknown id.
  Result<std::vector<CertRecord>> certificates(const std::string& id);

  const EnrolmentSettings& settings() const { return s_; }

 private:
  UnitOfWork& uow_;
  Store& store_;
  audit::Store& audit_;
  const Signer& ca_;
  EnrolmentSettings s_;
  std::mutex broker_mutex_;  // one writer of the broker's files at a time
  std::atomic<bool> crl_pending_{false};
  bool watching_ = false;
};

}  // namespace lg::server::terminals
