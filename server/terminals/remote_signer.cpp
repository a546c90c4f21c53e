#include "server/terminals/remote_signer.hpp"

#include <chrono>

#include "labgate/common/files.hpp"
#include "labgate/common/http_client.hpp"
#include "labgate/common/log.hpp"
#include "server/core/errors.hpp"
#include "server/terminals/signer_wire.hpp"

namespace lg::server::terminals {

namespace {
constexpr std::string_view kLog = "pki";
}

SignerTransport https_transport(const RemoteSignerSettings& s) {
  http_client::Options o;
  o.timeout_ms = s.timeout_ms;
  o.ca_file = s.ca_file.string();
  o.cert_file = s.cert_file.string();
  o.key_file = s.key_file.string();
  o.user_agent = "labgate-server";
  o.max_body = 16 << 20;  // a CRL of many revoked certificates
  std::string base = s.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return [o, base](std::string_view method, std::string_view path, const std::string& body) -> Result<SignerReply> {
    auto r = http_client::request(method, base + std::string(path), body, body.empty() ? "" : "application/json", o);
    if (!r) return r.error();
    return SignerReply{r->status, std::move(r->body)};
  };
}

Result<std::unique_ptr<RemoteSigner>> RemoteSigner::open(const RemoteSignerSettings& s, SignerTransport transport) {
  if (!transport) transport = https_transport(s);
  std::unique_ptr<RemoteSigner> out(new RemoteSigner(s, std::move(transport)));
  const auto cached = s.cache_dir / "ca.crt";
  auto answer = out->call("GET", wire::kCaPath, "", 200);
  if (!answer) {
    if (!is(answer.error(), Errc::unavailable)) return answer.error();
    auto pem = files::read_text(cached, 64 * 1024);
    if (!pem)
      return Error::invalid(answer.error().reason + "; and there is no CA certificate cached in " + cached.string() +
                            " to start with: start the signer (labgate-ca) first");
    log::warn(kLog, answer.error().reason + "; starting with the CA certificate cached in " + cached.string());
    out->cert_ = std::move(*pem);
    return out;
  }
  auto info = wire::decode_ca_info(*answer);
  if (!info) return Error::invalid(out->describe() + ": a bad answer to GET /v1/ca: " + info.error().reason);
  if (info->site != s.site)
    return Error::invalid(out->describe() + " is the CA of site '" + info->site + "', not of '" + s.site + "'");
  if (auto cert = pki::read_certificate(info->certificate); !cert || !cert->ca)
    return Error::invalid(out->describe() + ": GET /v1/ca did not answer a CA certificate");
  if (auto was = files::read_text(cached, 64 * 1024); !was || *was != info->certificate) {
    if (was) log::warn(kLog, "the site CA certificate changed: " + cached.string() + " is replaced by the signer's");
    LG_TRY(files::ensure_private_dir(s.cache_dir));
    LG_TRY(files::write_atomic(cached, info->certificate, 0644));
  }
  out->cert_ = std::move(info->certificate);
  return out;
}

RemoteSigner::~RemoteSigner() { unwatch(); }

void RemoteSigner::unwatch() const {
  std::thread prober;
  {
    std::lock_guard lock(watch_m_);
    stopping_ = true;
    prober = std::move(prober_);
  }
  stop_cv_.notify_all();
  if (prober.joinable()) prober.join();
  std::lock_guard lock(watch_m_);
  on_change_ = nullptr;  // a call under way elsewhere reports under the lock, so none runs after this
  stopping_ = false;
}

void RemoteSigner::note(bool ok, const std::string& why) const {
  if (reachable_.exchange(ok) == ok) return;
  if (ok) {
    log::info(kLog, describe() + " answers again");
  } else {
    log::warn(kLog, describe() + " cannot be reached: " + why);
  }
  std::lock_guard lock(watch_m_);
  if (on_change_) on_change_(ok, ok ? std::string() : why);
}

Result<std::string> RemoteSigner::call(std::string_view method, std::string_view path, const std::string& body,
                                       int expect) const {
  auto r = transport_(method, path, body);
  if (!r) {
    note(false, r.error().reason);
    return domain_error(Errc::unavailable,
                        describe() + " cannot be reached: " + r.error().reason + "; try again later");
  }
  if (r->status == expect) {
    note(true, "");
    return std::move(r->body);
  }
  const std::string why = wire::error_reason(r->body);
  if (r->status >= 400 && r->status < 500) {
    note(true, "");
    return domain_error(Errc::not_allowed, describe() + " refused: " + why);
  }
  note(false, "answered " + std::to_string(r->status) + ": " + why);
  return domain_error(Errc::unavailable,
                      describe() + " failed (" + std::to_string(r->status) + "): " + why + "; try again later");
}

Result<Issued> RemoteSigner::issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days,
                                   int64_t, const std::vector<std::string>& hosts) const {
  wire::IssueRequest req{key.to_pem(), cn, usage, days, hosts};
  auto body = call("POST", wire::kCertificatesPath, wire::encode(req), 201);
  if (!body) return body.error();
  auto issued = wire::decode_issued(*body);
  if (!issued) return Error::invalid(describe() + ": a bad answer: " + issued.error().reason);
  // Trust, but check: the certificate is the one asked for, from the CA this server knows.
  auto info = pki::read_certificate(issued->pem);
  if (!info || info->cn != cn || info->key.to_pem() != key.to_pem() || info->serial != issued->serial ||
      !pki::verify(issued->pem, cert_))
    return Error::invalid(describe() + " answered a certificate that is not the one asked for (CN " + cn +
                          ") or not from the site CA");
  return issued;
}

Result<std::string> RemoteSigner::crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const {
  auto body = call("POST", wire::kCrlPath, wire::encode_crl_request(revoked, now_ms), 200);
  if (!body) return body.error();
  auto signed_crl = wire::decode_signed_crl(*body);
  if (!signed_crl) return Error::invalid(describe() + ": a bad answer: " + signed_crl.error().reason);
  return std::move(signed_crl->pem);
}

void RemoteSigner::watch(SignerWatch on_change, int period_s) const {
  std::lock_guard lock(watch_m_);
  if (prober_.joinable()) return;
  on_change_ = std::move(on_change);
  if (!reachable_) on_change_(false, "not reached at start");
  prober_ = std::thread([this, period = std::chrono::seconds(std::max(1, period_s))] {
    std::unique_lock held(watch_m_);
    while (!stop_cv_.wait_for(held, period, [this] { return stopping_; })) {
      held.unlock();
      (void)call("GET", wire::kHealthPath, "", 200);  // note() reports a change
      held.lock();
    }
  });
}

}  // namespace lg::server::terminals
