// The site terminal CA kept on this machine: ca.key (mode 0600) and ca.crt in a dir. The server
// keeps it in pki.dir unless pki.signer_url names a signer service (labgate-ca) on another machine.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "labgate/common/pki.hpp"
#include "labgate/common/result.hpp"
#include "server/terminals/model.hpp"
#include "server/terminals/signer.hpp"

namespace lg::server::terminals {

/// The site terminal CA kept in a dir on this machine: by the server in pki.dir, or by labgate-ca
/// on the CA machine.
class SiteCa final : public Signer {
 public:
  /// Opens the CA in dir, creating it (dir 0700, ca.key 0600, ca.crt valid 20 years) on first use
  /// unless create is false (then a dir without ca.key is an error). Refuses a ca.key that others
  /// may read and a certificate that does not match the key.
  static Result<std::unique_ptr<SiteCa>> open(const std::filesystem::path& dir, const std::string& site, int64_t now_ms,
                                              bool create = true);

  const std::string& certificate() const override { return cert_; }
  const std::filesystem::path& dir() const { return dir_; }

  Result<Issued> issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days, int64_t now_ms,
                       const std::vector<std::string>& hosts = {}) const override;
  /// The CRL number is the time in seconds, or one above the last number when that is not
  /// more: it always grows, also for two CRLs within a second.
  Result<std::string> crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const override;
  /// The number of the CRL signed last by this object (0: none yet).
  uint64_t last_crl_number() const { return last_crl_number_; }
  std::string describe() const override { return "the site CA in " + dir_.string(); }

 private:
  SiteCa(std::filesystem::path dir, std::string site, crypto::PrivateKey key, std::string cert)
      : dir_(std::move(dir)), site_(std::move(site)), key_(std::move(key)), cert_(std::move(cert)) {}
  std::filesystem::path dir_;
  std::string site_;
  crypto::PrivateKey key_;
  std::string cert_;
  mutable std::atomic<uint64_t> last_crl_number_{0};
};

}  // namespace lg::server::terminals
