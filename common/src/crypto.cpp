// The only translation unit that includes Mbed TLS.
#include "labgate/common/crypto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

namespace lg::crypto {
namespace {

std::string mbed_error(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return std::string(buf);
}

/// Process-wide DRBG, guarded by a mutex.
class Rng {
 public:
  static Rng& instance() {
    static Rng rng;
    return rng;
  }
  int fill(unsigned char* out, std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    return mbedtls_ctr_drbg_random(&drbg_, out, n);
  }
  static int callback(void* self, unsigned char* out, std::size_t n) {
    return static_cast<Rng*>(self)->fill(out, n);
  }

 private:
  Rng() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    static const char pers[] = "labgate";
    const int rc = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                         reinterpret_cast<const unsigned char*>(pers), sizeof pers - 1);
    if (rc != 0) {
      std::fprintf(stderr, "fatal: cannot seed random generator: %s\n", mbed_error(rc).c_str());
      std::abort();
    }
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  std::mutex mutex_;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

bool is_p256(const mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return false;
  return mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

}  // namespace

Digest sha256(std::string_view data) {
  Digest d{};
  mbedtls_sha256_ret(bytes(data), data.size(), d.data(), 0);
  return d;
}

std::string to_hex(std::string_view raw) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  const Digest d = sha256(data);
  return to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Digest hmac_sha256(std::string_view key, std::string_view msg) {
  Digest d{};
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), bytes(key), key.size(), bytes(msg), msg.size(),
                  d.data());
  return d;
}

std::string hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info, std::size_t length) {
  std::string out(length, '\0');
  const int rc = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), bytes(salt), salt.size(), bytes(ikm),
                              ikm.size(), bytes(info), info.size(), reinterpret_cast<unsigned char*>(out.data()),
                              out.size());
  if (rc != 0) return {};
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string base64_encode(std::string_view raw) {
  std::size_t olen = 0;
  mbedtls_base64_encode(nullptr, 0, &olen, bytes(raw), raw.size());
  std::string out(olen, '\0');
  if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &olen, bytes(raw), raw.size()) != 0)
    return {};
  out.resize(olen);
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::size_t olen = 0;
  int rc = mbedtls_base64_decode(nullptr, 0, &olen, bytes(text), text.size());
  if (rc == MBEDTLS_ERR_BASE64_INVALID_CHARACTER) return Error::invalid("invalid base64");
  std::string out(olen, '\0');
  rc = mbedtls_base64_decode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &olen, bytes(text), text.size());
  if (rc != 0) return Error::invalid("invalid base64");
  out.resize(olen);
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (Rng::instance().fill(reinterpret_cast<unsigned char*>(out.data()), n) != 0) std::abort();
  return out;
}

std::string uuid4() {
  std::string r = random_bytes(16);
  r[6] = static_cast<char>((r[6] & 0x0f) | 0x40);
  r[8] = static_cast<char>((r[8] & 0x3f) | 0x80);
  const std::string h = to_hex(r);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::string uuid7() {
  std::string r = random_bytes(16);
  const auto ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (int i = 0; i < 6; ++i) r[static_cast<std::size_t>(i)] = static_cast<char>((ms >> (8 * (5 - i))) & 0xff);
  r[6] = static_cast<char>((r[6] & 0x0f) | 0x70);
  r[8] = static_cast<char>((r[8] & 0x3f) | 0x80);
  const std::string h = to_hex(r);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

// ------------------------------------------------------------------------- keys

struct PrivateKey::Impl {
  mbedtls_pk_context pk;
  std::mutex mutex;  // signing fills the curve's precomputed table on first use: one signer at a time
  Impl() { mbedtls_pk_init(&pk); }
  ~Impl() { mbedtls_pk_free(&pk); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

struct PublicKey::Impl {
  mbedtls_pk_context pk;
  std::mutex mutex;  // mbedtls verify is not documented as reentrant on one context
  Impl() { mbedtls_pk_init(&pk); }
  ~Impl() { mbedtls_pk_free(&pk); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

PrivateKey::PrivateKey() = default;
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

Result<PrivateKey> PrivateKey::generate() {
  PrivateKey key;
  key.impl_ = std::make_unique<Impl>();
  int rc = mbedtls_pk_setup(&key.impl_->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0)
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.impl_->pk), &Rng::callback, &Rng::instance());
  if (rc != 0) return Error::invalid("key generation failed: " + mbed_error(rc));
  return key;
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  PrivateKey key;
  key.impl_ = std::make_unique<Impl>();
  std::string buf(pem);  // mbedtls wants a NUL-terminated PEM, length including the NUL
  const int rc = mbedtls_pk_parse_key(&key.impl_->pk, reinterpret_cast<const unsigned char*>(buf.c_str()),
                                      buf.size() + 1, nullptr, 0);
  if (rc != 0) return Error::invalid("cannot parse private key: " + mbed_error(rc));
  if (!is_p256(key.impl_->pk)) return Error::invalid("private key is not an EC P-256 key");
  return key;
}

Result<PrivateKey> PrivateKey::load_or_create(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::invalid("cannot read key file " + path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    auto key = from_pem(ss.str());
    if (!key) return Error::invalid(path.string() + ": " + key.error().reason);
    return key;
  }
  auto key = generate();
  if (!key) return key;
  const std::string pem = key->to_pem();
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from(std::error_code(errno, std::generic_category()), "cannot create " + tmp);
  const bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::from(std::error_code(errno, std::generic_category()), "cannot write " + path.string());
  return key;
}

std::string PrivateKey::to_pem() const {
  if (!impl_) return {};
  unsigned char buf[1024];
  if (mbedtls_pk_write_key_pem(&impl_->pk, buf, sizeof buf) != 0) return {};
  return std::string(reinterpret_cast<char*>(buf));
}

std::string PrivateKey::public_pem() const {
  if (!impl_) return {};
  unsigned char buf[512];
  if (mbedtls_pk_write_pubkey_pem(&impl_->pk, buf, sizeof buf) != 0) return {};
  return std::string(reinterpret_cast<char*>(buf));
}

PublicKey PrivateKey::public_key() const {
  auto k = PublicKey::from_pem(public_pem());
  return k ? std::move(*k) : PublicKey{};
}

Result<std::string> PrivateKey::sign(std::string_view msg) const {
  if (!impl_) return Error::invalid("no private key");
  const Digest d = sha256(msg);
  unsigned char sig[MBEDTLS_ECDSA_MAX_LEN];
  std::size_t len = 0;
  std::lock_guard<std::mutex> lock(impl_->mutex);  // the server's committers and sync thread share its key
  const int rc = mbedtls_pk_sign(&impl_->pk, MBEDTLS_MD_SHA256, d.data(), d.size(), sig, &len, &Rng::callback,
                                 &Rng::instance());
  if (rc != 0) return Error::invalid("signing failed: " + mbed_error(rc));
  return std::string(reinterpret_cast<char*>(sig), len);
}

Result<std::string> PrivateKey::shared_secret(const PublicKey& peer) const {
  if (!impl_ || !peer.impl_) return Error::invalid("no key");
  const mbedtls_ecp_keypair* mine = mbedtls_pk_ec(impl_->pk);
  mbedtls_ecp_group grp;
  mbedtls_ecp_group_init(&grp);
  mbedtls_mpi z;
  mbedtls_mpi_init(&z);
  int rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
  if (rc == 0) {
    std::lock_guard<std::mutex> lock(peer.impl_->mutex);
    const mbedtls_ecp_keypair* theirs = mbedtls_pk_ec(peer.impl_->pk);
    rc = mbedtls_ecdh_compute_shared(&grp, &z, &theirs->Q, &mine->d, &Rng::callback, &Rng::instance());
  }
  std::string out(32, '\0');
  if (rc == 0) rc = mbedtls_mpi_write_binary(&z, reinterpret_cast<unsigned char*>(out.data()), out.size());
  mbedtls_mpi_free(&z);
  mbedtls_ecp_group_free(&grp);
  if (rc != 0) return Error::invalid("key agreement failed: " + mbed_error(rc));
  return out;
}

PublicKey::PublicKey() = default;
PublicKey::~PublicKey() = default;
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::PublicKey(const PublicKey&) = default;
PublicKey& PublicKey::operator=(const PublicKey&) = default;

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  PublicKey key;
  key.impl_ = std::make_shared<Impl>();
  std::string buf(pem);
  const int rc = mbedtls_pk_parse_public_key(&key.impl_->pk, reinterpret_cast<const unsigned char*>(buf.c_str()),
                                             buf.size() + 1);
  if (rc != 0) return Error::invalid("cannot parse public key: " + mbed_error(rc));
  if (!is_p256(key.impl_->pk)) return Error::invalid("public key is not an EC P-256 key");
  unsigned char out[512];
  if (mbedtls_pk_write_pubkey_pem(&key.impl_->pk, out, sizeof out) != 0) return Error::invalid("cannot re-encode public key");
  key.pem_ = reinterpret_cast<char*>(out);
  return key;
}

bool PublicKey::verify(std::string_view msg, std::string_view der_sig) const {
  if (!impl_) return false;
  const Digest d = sha256(msg);
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return mbedtls_pk_verify(&impl_->pk, MBEDTLS_MD_SHA256, d.data(), d.size(), bytes(der_sig), der_sig.size()) == 0;
}

std::string PublicKey::to_pem() const { return pem_; }

std::string PublicKey::fingerprint() const {
  if (!impl_) return {};
  unsigned char buf[256];
  const int len = mbedtls_pk_write_pubkey_der(&impl_->pk, buf, sizeof buf);
  if (len <= 0) return {};
  // DER is written at the end of the buffer.
  const std::string_view der(reinterpret_cast<const char*>(buf + sizeof buf - len), static_cast<std::size_t>(len));
  return sha256_hex(der).substr(0, 16);
}

}  // namespace lg::crypto
