#include "server/ca/service.hpp"

#include <nlohmann/json.hpp>

#include "labgate/common/log.hpp"

namespace lg::server::ca {

namespace wire = terminals::wire;

namespace {
constexpr std::string_view kLog = "ca";

http::Response answer(int status, std::string body) {
  http::Response r(status, std::move(body));
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

http::Response refuse(int status, const std::string& why) { return answer(status, wire::error_body(why)); }

std::vector<CertRecord> records(const std::vector<wire::CrlEntry>& entries) {
  std::vector<CertRecord> out;
  out.reserve(entries.size());
  for (const auto& e : entries) {
    CertRecord c;
    c.serial = e.serial;
    c.revoked_ms = e.revoked_ms;
    c.not_after_ms = e.not_after_ms;
    out.push_back(c);
  }
  return out;
}

/// The serials a CRL made at now_ms lists (SiteCa::crl leaves out the expired).
std::vector<uint64_t> listed_serials(const std::vector<CertRecord>& revoked, int64_t now_ms) {
  std::vector<uint64_t> out;
  for (const auto& c : revoked)
    if (c.revoked_ms && c.not_after_ms > now_ms) out.push_back(c.serial);
  return out;
}
}  // namespace

http::Response Service::handle(const http::Request& req) {
  const Requester who{req.peer_cn, req.remote};
  if (const std::string why = requester_refusal(policy_, req.peer_cn); !why.empty()) {
    log::warn(kLog, "refused " + req.method + " " + req.path + " from " + req.remote + ": " + why);
    return refuse(403, why);
  }
  const bool get = req.method == "GET", post = req.method == "POST";
  if (req.path == wire::kCaPath || req.path == wire::kHealthPath) {
    if (!get) return refuse(405, req.path + ": GET only");
    if (req.path == wire::kHealthPath) return answer(200, nlohmann::json{{"ok", true}, {"site", site_}}.dump());
    return answer(200, wire::encode(wire::CaInfo{site_, ca_.certificate()}));
  }
  if (req.path == wire::kCertificatesPath) {
    if (!post) return refuse(405, req.path + ": POST only");
    return issue(req, who);
  }
  if (req.path == wire::kCrlPath) {
    if (!post) return refuse(405, req.path + ": POST only");
    return crl(req, who);
  }
  return refuse(404, "no such path: " + req.path.substr(0, 100) + " (the signer serves /v1/ca, /v1/health, " +
                         "/v1/certificates, /v1/crl)");
}

http::Response Service::issue(const http::Request& req, const Requester& who) {
  auto r = wire::decode_issue_request(req.body);
  if (!r) return refuse(400, r.error().reason);
  if (const std::string why = issue_refusal(policy_, *r); !why.empty()) {
    log::warn(kLog, "refused a certificate for '" + r->cn + "' asked by " + who.cn + " (" + who.address + "): " + why);
    return refuse(422, why);
  }
  auto key = crypto::PublicKey::from_pem(r->public_key);
  if (!key) return refuse(400, "public_key: " + key.error().reason);
  std::lock_guard lock(sign_m_);
  const int64_t now = now_();
  auto issued = ca_.issue(*key, r->cn, r->usage, r->days, now, r->hosts);
  if (!issued) return refuse(500, "cannot issue: " + issued.error().message());
  // Recorded before it is handed out: a certificate the log does not hold is never answered.
  if (auto s = log_.append(certificate_line(*issued, *r, who, now)); !s) {
    log::error(kLog, s.error().message() + ": the certificate for '" + r->cn + "' is not handed out");
    return refuse(500, "the signing log cannot be written; nothing was issued");
  }
  log::info(kLog, "issued " + std::string(pki::to_string(r->usage)) + " certificate " + std::to_string(issued->serial) +
                      " for '" + r->cn + "' to " + who.cn + " (" + who.address + ")");
  return answer(201, wire::encode(*issued));
}

http::Response Service::crl(const http::Request& req, const Requester& who) {
  auto entries = wire::decode_crl_request(req.body);
  if (!entries) return refuse(400, entries.error().reason);
  std::lock_guard lock(sign_m_);
  const int64_t now = now_();
  if (const std::string why = crl_refusal(*entries, now); !why.empty()) {
    log::warn(kLog, "refused a CRL asked by " + who.cn + " (" + who.address + "): " + why);
    return refuse(422, why);
  }
  const auto revoked = records(*entries);
  auto pem = ca_.crl(revoked, now);
  if (!pem) return refuse(500, "cannot sign the CRL: " + pem.error().message());
  const uint64_t number = ca_.last_crl_number();  // the one just signed (sign_m_ is held)
  const auto serials = listed_serials(revoked, now);
  if (auto s = log_.append(crl_line(number, serials, who, now)); !s) {
    log::error(kLog, s.error().message() + ": the CRL is not handed out");
    return refuse(500, "the signing log cannot be written; nothing was signed");
  }
  log::info(kLog, "signed CRL " + std::to_string(number) + " (" + std::to_string(serials.size()) + " revoked) for " +
                      who.cn + " (" + who.address + ")");
  return answer(200, wire::encode(wire::SignedCrl{std::move(*pem), number}));
}

Result<terminals::Issued> LoggedCa::issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage,
                                          int days, int64_t now_ms, const std::vector<std::string>& hosts) const {
  auto issued = ca_.issue(key, cn, usage, days, now_ms, hosts);
  if (!issued) return issued;
  const wire::IssueRequest r{key.to_pem(), cn, usage, days, hosts};
  LG_TRY(log_.append(certificate_line(*issued, r, who_, now_ms)));
  return issued;
}

Result<std::string> LoggedCa::crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const {
  auto pem = ca_.crl(revoked, now_ms);
  if (!pem) return pem;
  LG_TRY(log_.append(crl_line(ca_.last_crl_number(), listed_serials(revoked, now_ms), who_, now_ms)));
  return pem;
}

}  // namespace lg::server::ca
