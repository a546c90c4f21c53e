#include "server/terminals/signer.hpp"

#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"
#include "server/terminals/rules.hpp"

namespace lg::server::terminals {

namespace fs = std::filesystem;

void Signer::watch(SignerWatch, int) const {}

void Signer::unwatch() const {}

Result<IdentityFiles> Signer::ensure_identity(const fs::path& dir, const std::string& name, const std::string& cn,
                                              pki::Usage usage, int64_t now_ms,
                                              const std::vector<std::string>& hosts) const {
  IdentityFiles out{dir / (name + ".crt"), dir / (name + ".key"), false};
  auto key = crypto::PrivateKey::load_or_create(out.key);
  if (!key) return key.error();
  std::error_code ec;
  fs::permissions(out.key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  std::string now_hosts;
  for (const auto& h : hosts) now_hosts += h + "\n";
  const fs::path marker = dir / (name + ".hosts");
  bool still_valid = false;  // the certificate there is this key's, from this CA, and not expired
  if (auto pem = files::read_text(out.cert, 64 * 1024); pem) {
    auto info = pki::read_certificate(*pem);
    bool same_hosts = true;
    if (info && usage == pki::Usage::server) {
      // Reissue when the configured names changed.
      auto was = files::read_text(marker, 4096);
      same_hosts = was && *was == now_hosts;
    }
    still_valid = info && info->cn == cn && info->key.to_pem() == key->public_pem() &&
                  static_cast<bool>(pki::verify(*pem, certificate()));
    if (still_valid && same_hosts && !renewal_due(info->not_before_ms, info->not_after_ms, now_ms)) return out;
  }
  auto issued = issue(key->public_key(), cn, usage, 397, now_ms, hosts);
  if (!issued) {
    if (still_valid) {
      log::warn("pki", out.cert.string() + " is due for renewal (or for other hosts) but " + describe() +
                           " did not issue a new one: " + issued.error().message() + "; keeping the valid one for now");
      return out;
    }
    return issued.error();
  }
  LG_TRY(files::write_atomic(out.cert, issued->pem, 0644));
  if (usage == pki::Usage::server) LG_TRY(files::write_atomic(marker, now_hosts, 0644));
  out.renewed = true;
  return out;
}

}  // namespace lg::server::terminals
