// labgate-ca's HTTP handler, socket-free: the signer protocol (server/terminals/signer_wire.hpp)
// over the site CA kept on this machine. Every request comes from a client certificate the TLS
// listener verified; its CN must be one of policy.clients. A certificate or CRL is signed only
// when the policy allows it, and answered only once its line is in the issue log.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "server/ca/issue_log.hpp"
#include "server/ca/policy.hpp"
#include "server/terminals/site_ca.hpp"
#include "server/transport/http/request.hpp"

namespace lg::server::ca {

class Service {
 public:
  /// ca and log must outlive the service; now is the signer's clock (UTC ms).
  Service(const terminals::SiteCa& ca, std::string site, Policy policy, IssueLog& log, std::function<int64_t()> now)
      : ca_(ca), site_(std::move(site)), policy_(std::move(policy)), log_(log), now_(std::move(now)) {}

  /// Answers one request (any thread): 200/201 with JSON, or 4xx/5xx with {"error": why}, in which
  /// case nothing was signed.
  http::Response handle(const http::Request& req);

 private:
  http::Response issue(const http::Request& req, const Requester& who);
  http::Response crl(const http::Request& req, const Requester& who);

  const terminals::SiteCa& ca_;
  std::string site_;
  Policy policy_;
  IssueLog& log_;
  std::function<int64_t()> now_;
  std::mutex sign_m_;  // one signature and its log line at a time, so the log is in signing order
};

/// The site CA on this machine for what labgate-ca issues itself (its TLS certificate, client
/// identities for the server): every certificate and CRL logged with requester `who`.
class LoggedCa final : public terminals::Signer {
 public:
  LoggedCa(const terminals::SiteCa& ca, IssueLog& log, Requester who) : ca_(ca), log_(log), who_(std::move(who)) {}
  const std::string& certificate() const override { return ca_.certificate(); }
  Result<terminals::Issued> issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days,
                                  int64_t now_ms, const std::vector<std::string>& hosts = {}) const override;
  Result<std::string> crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const override;
  std::string describe() const override { return ca_.describe(); }

 private:
  const terminals::SiteCa& ca_;
  IssueLog& log_;
  Requester who_;
};

}  // namespace lg::server::ca
