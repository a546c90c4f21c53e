#include "server/terminals/site_ca.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"

namespace lg::server::terminals {

namespace fs = std::filesystem;

namespace {
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kSkewMs = 5 * 60'000;

bool is_ip(const std::string& h) { return !h.empty() && h.find_first_not_of("0123456789.") == std::string::npos; }

pki::CertSpec spec(const std::string& cn, const std::string& site, pki::Usage usage, int64_t from, int64_t until,
                   const std::vector<std::string>& hosts) {
  pki::CertSpec s;
  s.cn = cn;
  s.org = site;
  s.serial = pki::random_serial();
  s.not_before_ms = from;
  s.not_after_ms = until;
  s.usage = usage;
  for (const auto& h : hosts) (is_ip(h) ? s.ips : s.dns).push_back(h);
  return s;
}
}  // namespace

Result<std::unique_ptr<SiteCa>> SiteCa::open(const fs::path& dir, const std::string& site, int64_t now_ms,
                                             bool create) {
  std::error_code exists_ec;
  if (!create && !fs::exists(dir / "ca.key", exists_ec))
    return Error::invalid((dir / "ca.key").string() + ": no CA key here (labgate-ca init --dir " + dir.string() +
                          " --site " + site + " makes one)");
  auto made = files::ensure_private_dir(dir);
  if (!made) return made.error();
  const fs::path key_path = dir / "ca.key", cert_path = dir / "ca.crt";
  std::error_code ec;
  if (fs::exists(key_path, ec)) {
    struct stat st{};
    if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 0777));  // octal, as chmod takes it
      return Error::invalid(key_path.string() + ": the CA key may be read by others (mode " + mode + "); chmod 600 it");
    }
    auto pem = files::read_text(key_path, 16 * 1024);
    if (!pem) return pem.error();
    auto key = crypto::PrivateKey::from_pem(*pem);
    if (!key) return Error::invalid(key_path.string() + ": " + key.error().reason);
    auto cert = files::read_text(cert_path, 64 * 1024);
    if (!cert) return Error::invalid(cert_path.string() + ": the CA key is there but its certificate is not");
    auto info = pki::read_certificate(*cert);
    if (!info) return Error::invalid(cert_path.string() + ": " + info.error().reason);
    if (info->key.to_pem() != key->public_pem())
      return Error::invalid(cert_path.string() + ": does not belong to " + key_path.string());
    return std::unique_ptr<SiteCa>(new SiteCa(dir, site, std::move(*key), std::move(*cert)));
  }
  auto key = crypto::PrivateKey::generate();
  if (!key) return key.error();
  auto cert = pki::self_signed(*key, spec("labgate " + site + " terminal CA", site, pki::Usage::ca, now_ms - kSkewMs,
                                          now_ms + 20 * 365 * kDayMs, {}));
  if (!cert) return cert.error();
  // The key first (owner only), then the certificate: a crash between leaves a key and no
  // certificate, which open() refuses with a clear reason rather than making a second CA.
  LG_TRY(files::write_atomic(key_path, key->to_pem(), 0600));
  LG_TRY(files::write_atomic(cert_path, *cert, 0644));
  log::info("pki", "created the site terminal CA in " + dir.string() + " (keep ca.key safe: it admits terminals)");
  return std::unique_ptr<SiteCa>(new SiteCa(dir, site, std::move(*key), std::move(*cert)));
}

Result<Issued> SiteCa::issue(const crypto::PublicKey& key, const std::string& cn, pki::Usage usage, int days,
                             int64_t now_ms, const std::vector<std::string>& hosts) const {
  const pki::CertSpec s = spec(cn, site_, usage, now_ms - kSkewMs, now_ms + days * kDayMs, hosts);
  auto pem = pki::issue(key_, cert_, key, s);
  if (!pem) return pem.error();
  return Issued{std::move(*pem), s.serial, s.not_before_ms, s.not_after_ms};
}

Result<std::string> SiteCa::crl(const std::vector<CertRecord>& revoked, int64_t now_ms) const {
  std::vector<pki::Revoked> list;
  list.reserve(revoked.size());
  for (const auto& c : revoked)
    if (c.revoked_ms && c.not_after_ms > now_ms) list.push_back({c.serial, *c.revoked_ms});  // expired ones need no entry
  // The CRL number only grows: the time of making it, in seconds, or one more than the last.
  uint64_t last = last_crl_number_.load(), number = 0;
  do {
    number = std::max(static_cast<uint64_t>(now_ms / 1000), last + 1);
  } while (!last_crl_number_.compare_exchange_weak(last, number));
  return pki::make_crl(key_, cert_, list, number, now_ms - kSkewMs, now_ms + 365 * kDayMs);
}

}  // namespace lg::server::terminals
