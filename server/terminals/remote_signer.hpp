// The site CA's key on another machine: a Signer that asks the signer service (labgate-ca) over
// HTTPS with mutual TLS ([pki] signer_url, signer_ca_file, signer_cert_file, signer_key_file).
// The server then keeps no ca.key; it caches the CA certificate in pki.dir/ca.crt.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "labgate/common/result.hpp"
#include "server/terminals/signer.hpp"

namespace lg::server::terminals {

/// Where the signer is and who the server is towards it.
struct RemoteSignerSettings {
  std::string url;                  ///< https://host:port of labgate-ca
  std::filesystem::path ca_file;    ///< the CA its TLS certificate is checked against
  std::filesystem::path cert_file;  ///< the server's client certificate (issued by the site CA)
  std::filesystem::path key_file;   ///< and its key
  std::filesystem::path cache_dir;  ///< pki.dir: ca.crt is cached here
  std::string site;                 ///< the signer must be this site's CA
  int timeout_ms = 10'000;          ///< one call at most
};

/// One HTTP exchange with the signer: method, path (e.g. "/v1/crl"), JSON body; the status and
/// body of the answer, or an error when there was none (unreachable, TLS refused).
struct SignerReply {
  int status = 0;
  std::string body;
};
using SignerTransport =
    std::function<Result<SignerReply>(std::string_view method, std::string_view path, const std::string& body)>;

/// The transport over HTTPS with the server's client certificate (common/http_client).
SignerTransport https_transport(const RemoteSignerSettings& s);

class RemoteSigner final : public Signer {
 public:
  /// Asks the signer for the CA certificate and caches it in cache_dir/ca.crt; when the signer
  /// cannot be reached, starts from the cached one (with a warning), and without one fails
  /// saying so. A signer of another site is refused. transport: empty = https_transport(s).
  static Result<std::unique_ptr<RemoteSigner>> open(const RemoteSignerSettings& s, SignerTransport transport = {});
  ~RemoteSigner() override;
  RemoteSigner(const RemoteSigner&) = delete;
  RemoteSigner& operator=(const RemoteSigner&) = delete;

  const std::string& certificate() const override { return cert_; }
  /// now_ms is not sent: the signer dates certificates by its own clock.
  Result<Issued> issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days, int64_t now_ms,
                       const std::vector<std::string>& hosts = {}) const override;
  Result<std::string> crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const override;
  std::string describe() const override { return "the site CA's signer at " + s_.url; }
  /// Probes GET /v1/health every period_s on a thread of its own (until unwatch or the destructor).
  void watch(SignerWatch on_change, int period_s) const override;
  void unwatch() const override;

  /// Whether the last call or probe got an answer.
  bool reachable() const { return reachable_; }

 private:
  RemoteSigner(RemoteSignerSettings s, SignerTransport t) : s_(std::move(s)), transport_(std::move(t)) {}
  /// One call; a failure to get an answer is Errc::unavailable, a 4xx Errc::not_allowed with the
  /// signer's reason, anything else unavailable too. Records reachability.
  Result<std::string> call(std::string_view method, std::string_view path, const std::string& body, int expect) const;
  void note(bool ok, const std::string& why) const;

  RemoteSignerSettings s_;
  SignerTransport transport_;
  std::string cert_;
  mutable std::atomic<bool> reachable_{true};
  // The watcher: its callback, and the prober thread with what stops it.
  mutable std::mutex watch_m_;
  mutable SignerWatch on_change_;
  mutable std::condition_variable stop_cv_;
  mutable bool stopping_ = false;
  mutable std::thread prober_;
};

}  // namespace lg::server::terminals
