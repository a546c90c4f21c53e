// The site terminal CA, kept by the server in its pki dir: ca.key (mode 0600) and ca.crt, and
// the identities the server issues itself (its MQTT client certificate, the broker's).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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

class SiteCa {
 public:
  /// Opens the CA in dir, creating it (dir 0700, ca.key 0600, ca.crt valid 20 years) on first use.
  /// Refuses a ca.key that others may read and a certificate that does not match the key.
  static Result<std::unique_ptr<SiteCa>> open(const std::filesystem::path& dir, const std::string& site, int64_t now_ms);

  /// The CA certificate (PEM): what terminals and the broker trust.
  const std::string& certificate() const { return cert_; }
  const std::filesystem::path& dir() const { return dir_; }

  /// Issues a certificate for key with subject CN = cn, valid `days` from now (back-dated 5
  /// minutes for clocks a little behind); server certificates name `hosts`.
  Result<Issued> issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days, int64_t now_ms,
                       const std::vector<std::string>& hosts = {}) const;

  /// The revocation list of these certificates, valid a year (rewritten on every change and at start).
  Result<std::string> crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const;

  /// Makes sure `<dir>/<name>.key` and `<dir>/<name>.crt` hold an identity CN = cn issued by this
  /// CA (for hosts, when a server certificate), issuing it when missing, due for renewal, for
  /// other hosts, or from another CA.
  Result<IdentityFiles> ensure_identity(const std::filesystem::path& dir, const std::string& name, const std::string& cn,
                                        pki::Usage usage, int64_t now_ms, const std::vector<std::string>& hosts = {}) const;

 private:
  SiteCa(std::filesystem::path dir, std::string site, crypto::PrivateKey key, std::string cert)
      : dir_(std::move(dir)), site_(std::move(site)), key_(std::move(key)), cert_(std::move(cert)) {}
  std::filesystem::path dir_;
  std::string site_;
  crypto::PrivateKey key_;
  std::string cert_;
};

}  // namespace lg::server::terminals
