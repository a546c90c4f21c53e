// What signs for the site terminal CA: certificates for terminals and for the server side, and
// the revocation list. Two kinds: the CA kept by the server in pki.dir (SiteCa, site_ca.hpp) and
// a signer service on another machine that holds the CA key (RemoteSigner, remote_signer.hpp;
// the service is labgate-ca, server/ca). Enrolment, the broker's files and the server's own
// identities see only this interface.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "labgate/common/pki.hpp"
#include "labgate/common/result.hpp"
#include "server/terminals/model.hpp"

namespace lg::server::terminals {

/// A certificate just issued.
struct Issued {
  std::string pem;
  uint64_t serial = 0;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

/// Files of an identity the CA issued to the server side (a key that never leaves its dir).
struct IdentityFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
  bool renewed = false;  ///< issued (again) by this call
};

/// Whether the signer answers: called with false and why when a call or a probe fails, with true
/// when one succeeds again (only on a change).
using SignerWatch = std::function<void(bool reachable, const std::string& why)>;

class Signer {
 public:
  virtual ~Signer() = default;

  /// The CA certificate (PEM): what terminals and the broker trust.
  virtual const std::string& certificate() const = 0;

  /// Issues a certificate for key with subject CN = cn, valid `days` from now (back-dated 5
  /// minutes for clocks a little behind); server certificates name `hosts`. A remote signer uses
  /// its own clock; when it cannot be reached the error is Errc::unavailable, when it refuses
  /// the request Errc::not_allowed with its reason.
  virtual Result<Issued> issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days,
                               int64_t now_ms, const std::vector<std::string>& hosts = {}) const = 0;

  /// The revocation list of these certificates (those still valid), valid a year; signed anew
  /// on every change and at start. Errors as issue().
  virtual Result<std::string> crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const = 0;

  /// Who signs, for logs and errors: "the site CA in <dir>", "the signer at <url>".
  virtual std::string describe() const = 0;

  /// Starts watching whether the signer answers (a remote one probes it every period_s seconds
  /// on a thread of its own and reports every call); the local CA is always there and never
  /// calls. One watcher at a time: a second call while watched does nothing.
  virtual void watch(SignerWatch on_change, int period_s) const;
  /// Stops watching: on return on_change is not running and is never called again. Not from
  /// on_change itself.
  virtual void unwatch() const;

  /// Makes sure `<dir>/<name>.key` and `<dir>/<name>.crt` hold an identity CN = cn issued by this
  /// CA (for hosts, when a server certificate), issuing it when missing, due for renewal, for
  /// other hosts, or from another CA. The key is made here and never leaves dir. When the CA
  /// cannot issue now but the certificate it has is still valid, that one is kept (with a warning).
  Result<IdentityFiles> ensure_identity(const std::filesystem::path& dir, const std::string& name,
                                        const std::string& cn, pki::Usage usage, int64_t now_ms,
                                        const std::vector<std::string>& hosts = {}) const;
};

}  // namespace lg::server::terminals
