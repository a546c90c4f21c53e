// X.509 over Mbed TLS 2.28: requests, certificates and revocation lists for the site terminal CA.
// Mbed TLS 2.28 writes certificates and requests but not CRLs, nor subjectAltName or
// extendedKeyUsage: those few DER structures are written here with its asn1write functions.
#include "labgate/common/pki.hpp"

#include "labgate/common/protocol.hpp"

#include <cstring>
#include <ctime>
#include <memory>

#include <mbedtls/asn1write.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

namespace lg::pki {

namespace {
struct UsageName {
  Usage value;
  const char* name;
};
constexpr UsageName kUsages[] = {{Usage::ca, "ca"}, {Usage::client, "client"}, {Usage::server, "server"}};
}  // namespace

const char* to_string(Usage u) {
  for (const auto& n : kUsages)
    if (n.value == u) return n.name;
  return "?";
}

std::optional<Usage> usage_from(std::string_view text) {
  for (const auto& n : kUsages)
    if (text == n.name) return n.value;
  return std::nullopt;
}

namespace {

std::string mbed_error(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return std::string(buf);
}

int rng(void*, unsigned char* out, std::size_t n) {
  const std::string r = crypto::random_bytes(n);
  std::memcpy(out, r.data(), n);
  return 0;
}

/// An owned mbedtls key context parsed from our key's PEM (the key class keeps its context private).
struct Pk {
  mbedtls_pk_context ctx;
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
};

Status load_private(Pk& pk, const crypto::PrivateKey& key) {
  const std::string pem = key.to_pem();
  if (pem.empty()) return Error::invalid("no private key");
  const int rc = mbedtls_pk_parse_key(&pk.ctx, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1,
                                      nullptr, 0);
  if (rc != 0) return Error::invalid("cannot use private key: " + mbed_error(rc));
  return {};
}

Status load_public(Pk& pk, const crypto::PublicKey& key) {
  const std::string pem = key.to_pem();
  if (pem.empty()) return Error::invalid("no public key");
  const int rc = mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                             pem.size() + 1);
  if (rc != 0) return Error::invalid("cannot use public key: " + mbed_error(rc));
  return {};
}

struct Crt {
  mbedtls_x509_crt ctx;
  Crt() { mbedtls_x509_crt_init(&ctx); }
  ~Crt() { mbedtls_x509_crt_free(&ctx); }
  Crt(const Crt&) = delete;
  Crt& operator=(const Crt&) = delete;
};

Status parse_crt(Crt& c, std::string_view pem) {
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos)
    return Error::invalid("not a PEM certificate");
  const std::string buf(pem);
  const int rc = mbedtls_x509_crt_parse(&c.ctx, reinterpret_cast<const unsigned char*>(buf.c_str()), buf.size() + 1);
  if (rc != 0) return Error::invalid("cannot parse certificate: " + mbed_error(rc));
  return {};
}

/// "YYYYMMDDhhmmss" in UTC, as Mbed TLS's certificate writer wants validity times.
std::string x509_time(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

int64_t ms_of(const mbedtls_x509_time& t) {
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.mon - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.min;
  tm.tm_sec = t.sec;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

/// Names are built from our own ids; refuse anything that could change the name's structure.
bool safe_name_part(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ' ' || c == ':'))
      return false;
  return true;
}

Result<std::string> subject_name(const CertSpec& spec) {
  if (!safe_name_part(spec.cn)) return Error::invalid("cn: 1 to 64 letters, digits, '-', '_', '.', ':' or spaces");
  if (!spec.org.empty() && !safe_name_part(spec.org)) return Error::invalid("org: 1 to 64 letters, digits, '-', '_', '.', ':' or spaces");
  std::string n = "CN=" + spec.cn;
  if (!spec.org.empty()) n += ",O=" + spec.org;
  return n;
}

std::string cn_of(const mbedtls_x509_name* name) {
  for (const mbedtls_x509_name* n = name; n != nullptr; n = n->next)
    if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
      return std::string(reinterpret_cast<const char*>(n->val.p), n->val.len);
  return {};
}

uint64_t serial_of(const mbedtls_x509_buf& s) {
  if (s.len == 0 || s.len > 9) return 0;
  uint64_t v = 0;
  for (std::size_t i = 0; i < s.len; ++i) {
    if (i == 0 && s.len == 9 && s.p[0] != 0) return 0;
    v = (v << 8) | s.p[i];
  }
  return v;
}

/// Writes DER backwards (Mbed TLS's asn1write convention) into a fixed buffer.
class DerWriter {
 public:
  explicit DerWriter(std::size_t size) : buf_(size), p_(buf_.data() + size) {}
  unsigned char** p() { return &p_; }
  unsigned char* start() { return buf_.data(); }
  std::string_view written() const {
    return {reinterpret_cast<const char*>(p_), static_cast<std::size_t>(buf_.data() + buf_.size() - p_)};
  }

 private:
  std::vector<unsigned char> buf_;
  unsigned char* p_;
};

#define LG_ASN1(total, expr)  \
  do {                        \
    const int r_ = (expr);    \
    if (r_ < 0) return r_;    \
    (total) += static_cast<std::size_t>(r_); \
  } while (0)

int write_seq_header(unsigned char** p, unsigned char* start, std::size_t len) {
  std::size_t n = 0;
  LG_ASN1(n, mbedtls_asn1_write_len(p, start, len));
  LG_ASN1(n, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return static_cast<int>(n);
}

/// subjectAltName: SEQUENCE { [2] dNSName..., [7] iPAddress... }
Result<std::string> san_der(const CertSpec& spec) {
  DerWriter w(1024);
  std::size_t len = 0;
  auto body = [&]() -> int {
    for (auto it = spec.ips.rbegin(); it != spec.ips.rend(); ++it) {
      unsigned a, b, c, d;
      char tail;
      if (std::sscanf(it->c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 ||
          d > 255)
        return MBEDTLS_ERR_ASN1_INVALID_DATA;
      const unsigned char ip[4] = {static_cast<unsigned char>(a), static_cast<unsigned char>(b),
                                   static_cast<unsigned char>(c), static_cast<unsigned char>(d)};
      LG_ASN1(len, mbedtls_asn1_write_tagged_string(w.p(), w.start(), MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7,
                                                    reinterpret_cast<const char*>(ip), 4));
    }
    for (auto it = spec.dns.rbegin(); it != spec.dns.rend(); ++it) {
      if (!safe_name_part(*it)) return MBEDTLS_ERR_ASN1_INVALID_DATA;
      LG_ASN1(len, mbedtls_asn1_write_tagged_string(w.p(), w.start(), MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, it->data(),
                                                    it->size()));
    }
    LG_ASN1(len, write_seq_header(w.p(), w.start(), len));
    return 0;
  };
  if (body() != 0) return Error::invalid("subjectAltName: names must be host names or dotted IPv4 addresses");
  return std::string(w.written());
}

/// extendedKeyUsage: SEQUENCE { OID }
std::string eku_der(bool server) {
  const std::string_view oid = server ? std::string_view(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))
                                      : std::string_view(MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
  DerWriter w(64);
  std::size_t len = 0;
  auto body = [&]() -> int {
    LG_ASN1(len, mbedtls_asn1_write_oid(w.p(), w.start(), oid.data(), oid.size()));
    LG_ASN1(len, write_seq_header(w.p(), w.start(), len));
    return 0;
  };
  body();
  return std::string(w.written());
}

std::string pem_of(std::string_view der, const char* header, const char* footer) {
  std::vector<unsigned char> out(der.size() * 2 + 256);
  std::size_t olen = 0;
  if (mbedtls_pem_write_buffer(header, footer, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                               out.data(), out.size(), &olen) != 0)
    return {};
  return std::string(reinterpret_cast<const char*>(out.data()));
}

/// The certificate writer, filled from spec; the caller sets keys and signs.
Result<std::string> write_crt(mbedtls_pk_context* subject, mbedtls_pk_context* issuer_key, const std::string& issuer_name,
                              const CertSpec& spec) {
  auto subject_dn = subject_name(spec);
  if (!subject_dn) return subject_dn.error();
  if (spec.serial == 0 || spec.serial > 0x7fffffffffffffffULL) return Error::invalid("serial: 1..2^63-1");
  if (spec.not_after_ms <= spec.not_before_ms) return Error::invalid("validity: not_after must be after not_before");
  mbedtls_x509write_cert w;
  mbedtls_x509write_crt_init(&w);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  std::unique_ptr<mbedtls_x509write_cert, void (*)(mbedtls_x509write_cert*)> wguard(&w, mbedtls_x509write_crt_free);
  std::unique_ptr<mbedtls_mpi, void (*)(mbedtls_mpi*)> sguard(&serial, mbedtls_mpi_free);

  mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&w, subject);
  mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
  int rc = mbedtls_mpi_lset(&serial, 0);
  for (int i = 7; rc == 0 && i >= 0; --i) {
    rc = mbedtls_mpi_shift_l(&serial, 8);
    if (rc == 0) rc = mbedtls_mpi_add_int(&serial, &serial, static_cast<int>((spec.serial >> (8 * i)) & 0xff));
  }
  if (rc == 0) rc = mbedtls_x509write_crt_set_serial(&w, &serial);
  const std::string nb = x509_time(spec.not_before_ms), na = x509_time(spec.not_after_ms);
  if (rc == 0) rc = mbedtls_x509write_crt_set_validity(&w, nb.c_str(), na.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_name(&w, subject_dn->c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&w, issuer_name.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_key_identifier(&w);
  if (rc == 0) rc = mbedtls_x509write_crt_set_authority_key_identifier(&w);
  if (rc == 0) {
    switch (spec.usage) {
      case Usage::ca:
        rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0);
        if (rc == 0) rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
        break;
      case Usage::client:
      case Usage::server: {
        rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1);
        if (rc == 0) rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
        const std::string eku = eku_der(spec.usage == Usage::server);
        if (rc == 0)
          rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                   MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                                   reinterpret_cast<const unsigned char*>(eku.data()), eku.size());
        if (rc == 0 && (!spec.dns.empty() || !spec.ips.empty())) {
          auto san = san_der(spec);
          if (!san) return san.error();
          rc = mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                   MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                   reinterpret_cast<const unsigned char*>(san->data()), san->size());
        }
        break;
      }
    }
  }
  if (rc != 0) return Error::invalid("cannot build certificate: " + mbed_error(rc));
  std::vector<unsigned char> out(4096);
  rc = mbedtls_x509write_crt_pem(&w, out.data(), out.size(), rng, nullptr);
  if (rc != 0) return Error::invalid("cannot sign certificate: " + mbed_error(rc));
  return std::string(reinterpret_cast<const char*>(out.data()));
}

}  // namespace

uint64_t random_serial() {
  for (;;) {
    const std::string r = crypto::random_bytes(8);
    uint64_t v = 0;
    for (const char c : r) v = (v << 8) | static_cast<unsigned char>(c);
    v &= 0x7fffffffffffffffULL;
    if (v != 0) return v;
  }
}

Result<std::string> self_signed(const crypto::PrivateKey& key, const CertSpec& spec) {
  if (spec.usage != Usage::ca) return Error::invalid("a self-signed certificate here is a CA certificate");
  Pk pk;
  LG_TRY(load_private(pk, key));
  auto name = subject_name(spec);
  if (!name) return name.error();
  return write_crt(&pk.ctx, &pk.ctx, *name, spec);
}

Result<std::string> issue(const crypto::PrivateKey& ca_key, std::string_view ca_cert_pem, const crypto::PublicKey& subject,
                          const CertSpec& spec) {
  if (spec.usage == Usage::ca) return Error::invalid("the site CA issues end-entity certificates only");
  Crt ca;
  LG_TRY(parse_crt(ca, ca_cert_pem));
  Pk issuer, subj;
  LG_TRY(load_private(issuer, ca_key));
  LG_TRY(load_public(subj, subject));
  // The CA's key must be the one in its certificate, or the result would never verify.
  if (mbedtls_pk_check_pair(&ca.ctx.pk, &issuer.ctx) != 0) return Error::invalid("the CA key does not match the CA certificate");
  char issuer_name[512];
  if (mbedtls_x509_dn_gets(issuer_name, sizeof issuer_name, &ca.ctx.subject) < 0) return Error::invalid("CA subject unreadable");
  return write_crt(&subj.ctx, &issuer.ctx, issuer_name, spec);
}

Result<std::string> make_csr(const crypto::PrivateKey& key, std::string_view cn) {
  CertSpec spec;
  spec.cn = std::string(cn);
  auto name = subject_name(spec);
  if (!name) return name.error();
  Pk pk;
  LG_TRY(load_private(pk, key));
  mbedtls_x509write_csr w;
  mbedtls_x509write_csr_init(&w);
  mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_csr_set_key(&w, &pk.ctx);
  int rc = mbedtls_x509write_csr_set_subject_name(&w, name->c_str());
  std::vector<unsigned char> out(2048);
  if (rc == 0) rc = mbedtls_x509write_csr_pem(&w, out.data(), out.size(), rng, nullptr);
  mbedtls_x509write_csr_free(&w);
  if (rc != 0) return Error::invalid("cannot write certificate request: " + mbed_error(rc));
  return std::string(reinterpret_cast<const char*>(out.data()));
}

Result<Csr> read_csr(std::string_view pem) {
  if (pem.size() > 8192) return Error::invalid("csr: longer than 8192 bytes");
  if (pem.find("-----BEGIN CERTIFICATE REQUEST-----") == std::string_view::npos)
    return Error::invalid("csr: not a PEM certificate request");
  mbedtls_x509_csr csr;
  mbedtls_x509_csr_init(&csr);
  std::unique_ptr<mbedtls_x509_csr, void (*)(mbedtls_x509_csr*)> guard(&csr, mbedtls_x509_csr_free);
  const std::string buf(pem);
  int rc = mbedtls_x509_csr_parse(&csr, reinterpret_cast<const unsigned char*>(buf.c_str()), buf.size() + 1);
  if (rc != 0) return Error::invalid("csr: cannot parse: " + mbed_error(rc));
  if (mbedtls_pk_get_type(&csr.pk) != MBEDTLS_PK_ECKEY || mbedtls_pk_ec(csr.pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
    return Error::invalid("csr: the key must be EC P-256");
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(csr.sig_md);
  if (md == nullptr || csr.sig_md != MBEDTLS_MD_SHA256) return Error::invalid("csr: must be signed with ECDSA-SHA256");
  unsigned char hash[32];
  rc = mbedtls_md(md, csr.cri.p, csr.cri.len, hash);
  if (rc == 0) rc = mbedtls_pk_verify(&csr.pk, csr.sig_md, hash, sizeof hash, csr.sig.p, csr.sig.len);
  if (rc != 0) return Error::invalid("csr: its signature does not match its key");
  Csr out;
  out.cn = cn_of(&csr.subject);
  if (out.cn.empty()) return Error::invalid("csr: no common name");
  unsigned char pub[512];
  if (mbedtls_pk_write_pubkey_pem(&csr.pk, pub, sizeof pub) != 0) return Error::invalid("csr: key unreadable");
  auto key = crypto::PublicKey::from_pem(reinterpret_cast<const char*>(pub));
  if (!key) return Error::invalid("csr: " + key.error().reason);
  out.key = std::move(*key);
  return out;
}

Result<Certificate> read_certificate(std::string_view pem) {
  Crt c;
  LG_TRY(parse_crt(c, pem));
  Certificate out;
  out.cn = cn_of(&c.ctx.subject);
  out.issuer_cn = cn_of(&c.ctx.issuer);
  out.serial = serial_of(c.ctx.serial);
  out.not_before_ms = ms_of(c.ctx.valid_from);
  out.not_after_ms = ms_of(c.ctx.valid_to);
  out.ca = c.ctx.ca_istrue != 0;
  unsigned char pub[512];
  if (mbedtls_pk_write_pubkey_pem(&c.ctx.pk, pub, sizeof pub) != 0) return Error::invalid("certificate key unreadable");
  auto key = crypto::PublicKey::from_pem(reinterpret_cast<const char*>(pub));
  if (!key) return Error::invalid("certificate: " + key.error().reason);
  out.key = std::move(*key);
  return out;
}

Status verify(std::string_view cert_pem, std::string_view ca_pem, std::string_view crl_pem) {
  Crt cert, ca;
  LG_TRY(parse_crt(cert, cert_pem));
  LG_TRY(parse_crt(ca, ca_pem));
  mbedtls_x509_crl crl;
  mbedtls_x509_crl_init(&crl);
  std::unique_ptr<mbedtls_x509_crl, void (*)(mbedtls_x509_crl*)> guard(&crl, mbedtls_x509_crl_free);
  if (!crl_pem.empty()) {
    const std::string buf(crl_pem);
    const int rc = mbedtls_x509_crl_parse(&crl, reinterpret_cast<const unsigned char*>(buf.c_str()), buf.size() + 1);
    if (rc != 0) return Error::invalid("cannot parse revocation list: " + mbed_error(rc));
  }
  uint32_t flags = 0;
  const int rc = mbedtls_x509_crt_verify(&cert.ctx, &ca.ctx, crl_pem.empty() ? nullptr : &crl, nullptr, &flags, nullptr,
                                         nullptr);
  if (rc == 0) return {};
  char why[512];
  mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
  std::string text(why);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (auto& c : text)
    if (c == '\n') c = ';';
  return Error::invalid("certificate not valid: " + (text.empty() ? mbed_error(rc) : text));
}

Result<std::string> make_crl(const crypto::PrivateKey& ca_key, std::string_view ca_cert_pem,
                             const std::vector<Revoked>& revoked, uint64_t number, int64_t this_update_ms,
                             int64_t next_update_ms) {
  Crt ca;
  LG_TRY(parse_crt(ca, ca_cert_pem));
  Pk key;
  LG_TRY(load_private(key, ca_key));
  if (mbedtls_pk_check_pair(&ca.ctx.pk, &key.ctx) != 0) return Error::invalid("the CA key does not match the CA certificate");
  if (next_update_ms <= this_update_ms) return Error::invalid("next update must be after this update");

  auto write_time = [](unsigned char** p, unsigned char* start, int64_t ms) -> int {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
    const bool utc = tm.tm_year + 1900 < 2050;
    std::strftime(buf, sizeof buf, utc ? "%y%m%d%H%M%SZ" : "%Y%m%d%H%M%SZ", &tm);
    return mbedtls_asn1_write_tagged_string(p, start, utc ? MBEDTLS_ASN1_UTC_TIME : MBEDTLS_ASN1_GENERALIZED_TIME, buf,
                                            std::strlen(buf));
  };
  auto write_serial = [](unsigned char** p, unsigned char* start, uint64_t v) -> int {
    mbedtls_mpi m;
    mbedtls_mpi_init(&m);
    int rc = 0;
    for (int i = 7; rc == 0 && i >= 0; --i) {
      rc = mbedtls_mpi_shift_l(&m, 8);
      if (rc == 0) rc = mbedtls_mpi_add_int(&m, &m, static_cast<int>((v >> (8 * i)) & 0xff));
    }
    const int n = rc == 0 ? mbedtls_asn1_write_mpi(p, start, &m) : rc;
    mbedtls_mpi_free(&m);
    return n;
  };
  auto write_sig_alg = [](unsigned char** p, unsigned char* start) -> int {
    std::size_t n = 0;
    LG_ASN1(n, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256, MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
    LG_ASN1(n, write_seq_header(p, start, n));
    return static_cast<int>(n);
  };

  DerWriter tbs(64 + revoked.size() * 48 + ca.ctx.subject_raw.len + 256);
  auto build_tbs = [&]() -> int {
    unsigned char** p = tbs.p();
    unsigned char* s = tbs.start();
    std::size_t total = 0;
    // crlExtensions [0] EXPLICIT SEQUENCE { Extension { cRLNumber, OCTET STRING { INTEGER } } }
    {
      std::size_t ext = 0, inner = 0;
      LG_ASN1(inner, write_serial(p, s, number));
      LG_ASN1(inner, mbedtls_asn1_write_len(p, s, inner));
      LG_ASN1(inner, mbedtls_asn1_write_tag(p, s, MBEDTLS_ASN1_OCTET_STRING));
      ext += inner;
      LG_ASN1(ext, mbedtls_asn1_write_oid(p, s, MBEDTLS_OID_CRL_NUMBER, MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER)));
      LG_ASN1(ext, write_seq_header(p, s, ext));   // Extension
      LG_ASN1(ext, write_seq_header(p, s, ext));   // Extensions
      LG_ASN1(ext, mbedtls_asn1_write_len(p, s, ext));
      LG_ASN1(ext, mbedtls_asn1_write_tag(p, s, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
      total += ext;
    }
    if (!revoked.empty()) {
      std::size_t list = 0;
      for (auto it = revoked.rbegin(); it != revoked.rend(); ++it) {
        std::size_t entry = 0;
        LG_ASN1(entry, write_time(p, s, it->when_ms));
        LG_ASN1(entry, write_serial(p, s, it->serial));
        LG_ASN1(entry, write_seq_header(p, s, entry));
        list += entry;
      }
      LG_ASN1(list, write_seq_header(p, s, list));
      total += list;
    }
    LG_ASN1(total, write_time(p, s, next_update_ms));
    LG_ASN1(total, write_time(p, s, this_update_ms));
    LG_ASN1(total, mbedtls_asn1_write_raw_buffer(p, s, ca.ctx.subject_raw.p, ca.ctx.subject_raw.len));
    LG_ASN1(total, write_sig_alg(p, s));
    LG_ASN1(total, mbedtls_asn1_write_int(p, s, 1));  // v2
    LG_ASN1(total, write_seq_header(p, s, total));
    return 0;
  };
  if (const int rc = build_tbs(); rc != 0) return Error::invalid("cannot build revocation list: " + mbed_error(rc));
  const std::string tbs_der(tbs.written());
  auto sig = ca_key.sign(tbs_der);
  if (!sig) return sig.error();

  DerWriter all(tbs_der.size() + sig->size() + 64);
  auto build_all = [&]() -> int {
    unsigned char** p = all.p();
    unsigned char* s = all.start();
    std::size_t total = 0;
    LG_ASN1(total, mbedtls_asn1_write_bitstring(p, s, reinterpret_cast<const unsigned char*>(sig->data()), sig->size() * 8));
    LG_ASN1(total, write_sig_alg(p, s));
    LG_ASN1(total, mbedtls_asn1_write_raw_buffer(p, s, reinterpret_cast<const unsigned char*>(tbs_der.data()), tbs_der.size()));
    LG_ASN1(total, write_seq_header(p, s, total));
    return 0;
  };
  if (const int rc = build_all(); rc != 0) return Error::invalid("cannot build revocation list: " + mbed_error(rc));
  std::string pem = pem_of(all.written(), "-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n");
  if (pem.empty()) return Error::invalid("cannot encode revocation list");
  return pem;
}

std::string make_enrol_token(std::string_view id, std::string_view secret) {
  return std::string(kEnrolTokenPrefix) + std::string(id) + "." + std::string(secret);
}

std::optional<std::string> enrol_token_terminal(std::string_view text) {
  constexpr std::size_t kSecret = 43;
  const std::size_t pre = kEnrolTokenPrefix.size();
  if (text.size() < pre + 2 + kSecret || text.substr(0, pre) != kEnrolTokenPrefix) return std::nullopt;
  if (text[text.size() - kSecret - 1] != '.') return std::nullopt;
  for (const char c : text.substr(text.size() - kSecret))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return std::nullopt;
  const std::string_view id = text.substr(pre, text.size() - kSecret - 1 - pre);
  if (!proto::valid_id(id)) return std::nullopt;
  return std::string(id);
}

}  // namespace lg::pki
