// The signer protocol between labgate-server (RemoteSigner) and the site CA's signer service
// (labgate-ca): JSON over HTTPS with mutual TLS. Both ends encode and decode here, so the two
// cannot drift apart. Serials travel as decimal strings (they reach 2^63-1).
//
//   GET  /v1/ca            -> 200 {"site", "certificate"}
//   GET  /v1/health        -> 200 {"ok": true, "site"}
//   POST /v1/certificates  {"public_key", "cn", "usage", "days", "hosts"}
//                          -> 201 {"certificate", "serial", "not_before_ms", "not_after_ms"}
//   POST /v1/crl           {"revoked": [{"serial", "revoked_ms", "not_after_ms"}, ...]}
//                          -> 200 {"crl", "number"}
//   any refusal            -> 4xx {"error": "..."}; nothing is issued or signed
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/pki.hpp"
#include "labgate/common/result.hpp"
#include "server/terminals/signer.hpp"

namespace lg::server::terminals::wire {

inline constexpr std::string_view kCaPath = "/v1/ca";
inline constexpr std::string_view kHealthPath = "/v1/health";
inline constexpr std::string_view kCertificatesPath = "/v1/certificates";
inline constexpr std::string_view kCrlPath = "/v1/crl";

/// Most hosts a server certificate may name, and most entries a CRL request may list.
inline constexpr std::size_t kMaxHosts = 16;
inline constexpr std::size_t kMaxRevoked = 100'000;

/// A request for a certificate.
struct IssueRequest {
  std::string public_key;  ///< PEM (SubjectPublicKeyInfo), P-256
  std::string cn;
  pki::Usage usage = pki::Usage::client;
  int days = 0;
  std::vector<std::string> hosts;
};

/// One revoked certificate the CRL is to list.
struct CrlEntry {
  uint64_t serial = 0;
  int64_t revoked_ms = 0;
  int64_t not_after_ms = 0;  ///< the signer leaves out entries already expired
};

/// What the CA says about itself.
struct CaInfo {
  std::string site;
  std::string certificate;  ///< PEM
};

/// A signed CRL.
struct SignedCrl {
  std::string pem;
  uint64_t number = 0;
};

/// The request body for POST /v1/certificates.
std::string encode(const IssueRequest& r);
/// Parses a POST /v1/certificates body; errors name the field ("cn: ...", "public_key: ...").
/// The public key must be a P-256 PEM; unknown fields are refused.
Result<IssueRequest> decode_issue_request(std::string_view body);

/// The answer to POST /v1/certificates.
std::string encode(const Issued& c);
/// Parses that answer; an error says what is missing.
Result<Issued> decode_issued(std::string_view body);

/// The request body for POST /v1/crl: the revoked certificates still valid at now_ms (revoked_ms
/// set, not_after_ms after now_ms).
std::string encode_crl_request(const std::vector<CertRecord>& revoked, int64_t now_ms);
/// Parses a POST /v1/crl body; errors name the entry ("revoked[3].serial: ...").
Result<std::vector<CrlEntry>> decode_crl_request(std::string_view body);

/// The answer to POST /v1/crl.
std::string encode(const SignedCrl& c);
/// Parses that answer.
Result<SignedCrl> decode_signed_crl(std::string_view body);

/// The answer to GET /v1/ca.
std::string encode(const CaInfo& c);
/// Parses that answer.
Result<CaInfo> decode_ca_info(std::string_view body);

/// The JSON error body {"error": why}.
std::string error_body(std::string_view why);
/// The reason of an error answer: its "error" field, else the start of the body.
std::string error_reason(std::string_view body);

}  // namespace lg::server::terminals::wire
