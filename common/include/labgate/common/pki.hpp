// X.509 for the site's terminal CA over Mbed TLS: certificate requests, certificates, revocation
// lists. This header and pki.cpp (with crypto.cpp) are the only places that know Mbed TLS.
// Keys are always ECDSA P-256 (crypto::PrivateKey); signatures ECDSA-SHA256.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "labgate/common/result.hpp"

namespace lg::pki {

/// What a certificate is for.
enum class Usage {
  ca,      ///< signs certificates and revocation lists (basicConstraints CA, keyCertSign, cRLSign)
  client,  ///< a TLS client: a terminal or the server on the broker (extendedKeyUsage clientAuth)
  server,  ///< a TLS server: the broker or the HTTPS listener (serverAuth, names in subjectAltName)
};

/// "ca", "client", "server" (as the site CA's signer service names them on the wire).
const char* to_string(Usage u);
/// The usage named by text; nullopt when text names none.
std::optional<Usage> usage_from(std::string_view text);

/// What to put in a certificate.
struct CertSpec {
  std::string cn;            ///< subject common name: the terminal id, the server's identity, a host
  std::string org;           ///< subject organisation (the site code); may be empty
  uint64_t serial = 0;       ///< unique per CA, 1..2^63-1 (random_serial())
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  Usage usage = Usage::client;
  std::vector<std::string> dns;  ///< subjectAltName DNS names (server certificates)
  std::vector<std::string> ips;  ///< subjectAltName IPv4 addresses, dotted (server certificates)
};

/// A random certificate serial in 1..2^63-1.
uint64_t random_serial();

/// A self-signed CA certificate (PEM) for key, described by spec (usage must be ca).
Result<std::string> self_signed(const crypto::PrivateKey& key, const CertSpec& spec);

/// A certificate (PEM) for subject's key, signed by the CA (its key and PEM certificate).
Result<std::string> issue(const crypto::PrivateKey& ca_key, std::string_view ca_cert_pem,
                          const crypto::PublicKey& subject, const CertSpec& spec);

/// A PKCS#10 certificate request (PEM) for key with subject CN = cn, signed by key.
Result<std::string> make_csr(const crypto::PrivateKey& key, std::string_view cn);

/// A parsed, self-signature-checked certificate request.
struct Csr {
  std::string cn;
  crypto::PublicKey key;
};

/// Parses a PEM certificate request and checks that its own key signed it (proof that the sender
/// holds the private key). Only P-256 keys are accepted; an error says what was wrong.
Result<Csr> read_csr(std::string_view pem);

/// What a certificate says.
struct Certificate {
  std::string cn;
  std::string issuer_cn;
  uint64_t serial = 0;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  bool ca = false;
  crypto::PublicKey key;
};

/// Parses the first certificate of a PEM text.
Result<Certificate> read_certificate(std::string_view pem);

/// Checks that cert_pem was issued by the CA in ca_pem, is within its validity now, and (when
/// crl_pem is not empty) is not on that revocation list. The error names the first problem.
Status verify(std::string_view cert_pem, std::string_view ca_pem, std::string_view crl_pem = {});

/// A revoked certificate.
struct Revoked {
  uint64_t serial = 0;
  int64_t when_ms = 0;
};

/// A version-2 CRL (PEM) signed by the CA, listing `revoked`, with CRL number `number`, valid
/// from this_update_ms until next_update_ms (after which TLS peers treat it as expired).
Result<std::string> make_crl(const crypto::PrivateKey& ca_key, std::string_view ca_cert_pem,
                             const std::vector<Revoked>& revoked, uint64_t number, int64_t this_update_ms,
                             int64_t next_update_ms);

/// Enrolment tokens are "lge_" + the terminal id + "." + 43 base64url characters (32 random
/// bytes): the device learns from its token which id to put in its certificate request.
inline constexpr std::string_view kEnrolTokenPrefix = "lge_";

/// The token for terminal id with this secret (43 base64url characters).
std::string make_enrol_token(std::string_view id, std::string_view secret);

/// The terminal id a well-shaped enrolment token names; nullopt when text is not shaped like one
/// (prefix, a valid id, ".", 43 base64url characters). Checked before any lookup.
std::optional<std::string> enrol_token_terminal(std::string_view text);

}  // namespace lg::pki
