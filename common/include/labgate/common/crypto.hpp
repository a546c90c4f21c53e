// Crypto over Mbed TLS. This header and crypto.cpp are the only places that know Mbed TLS.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::crypto {

using Digest = std::array<uint8_t, 32>;

/// SHA-256 of the bytes.
Digest sha256(std::string_view data);

/// Lower-case hex of SHA-256 of the bytes.
std::string sha256_hex(std::string_view data);

/// HMAC-SHA-256 of msg under key.
Digest hmac_sha256(std::string_view key, std::string_view msg);

/// HKDF-SHA-256 (RFC 5869): `length` bytes (at most 8,160) of key material from ikm, salt, info.
std::string hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info, std::size_t length);

/// True iff a and b hold the same bytes; the time taken depends on their lengths only, never on
/// where they differ (for comparing MACs).
bool equal_constant_time(std::string_view a, std::string_view b);

/// Lower-case hex of arbitrary bytes.
std::string to_hex(std::string_view bytes);

/// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

/// Decodes standard base64; an error names what was wrong.
Result<std::string> base64_decode(std::string_view text);

/// n random bytes from a CTR-DRBG seeded from the system entropy source. Thread-safe.
std::string random_bytes(std::size_t n);

/// A random UUID (version 4) as 36 lower-case characters.
std::string uuid4();

/// A time-ordered UUID (version 7, RFC 9562) as 36 lower-case characters: 48 bits of Unix
/// milliseconds, then 74 random bits. Ids made one after another sort (roughly) in time order,
/// so the indexes that hold them are appended to instead of written at random pages.
std::string uuid7();

class PublicKey;

/// An ECDSA P-256 private key.
class PrivateKey {
 public:
  PrivateKey();
  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;

  /// Generates a new P-256 key pair.
  static Result<PrivateKey> generate();
  /// Parses a PEM (SEC1 "EC PRIVATE KEY" or PKCS#8) private key.
  static Result<PrivateKey> from_pem(std::string_view pem);
  /// Loads the key at path, or generates one and writes it there (mode 0600, atomically).
  static Result<PrivateKey> load_or_create(const std::filesystem::path& path);

  /// The private key as PEM.
  std::string to_pem() const;
  /// The public half as PEM ("PUBLIC KEY", SubjectPublicKeyInfo).
  std::string public_pem() const;
  /// The public half as a usable key.
  PublicKey public_key() const;
  /// ECDSA-SHA256 signature over msg, DER encoded.
  Result<std::string> sign(std::string_view msg) const;
  /// The ECDH (P-256) shared secret with peer: the 32-byte x coordinate of d * Q_peer. Both
  /// sides of a pair of static keys compute the same bytes; use them only through a KDF.
  Result<std::string> shared_secret(const PublicKey& peer) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// An ECDSA P-256 public key.
class PublicKey {
 public:
  PublicKey();
  ~PublicKey();
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  PublicKey(const PublicKey&);
  PublicKey& operator=(const PublicKey&);

  /// Parses a PEM public key (SubjectPublicKeyInfo); only P-256 EC keys are accepted.
  static Result<PublicKey> from_pem(std::string_view pem);
  /// True only if der_sig is a valid ECDSA-SHA256 signature over msg by this key.
  bool verify(std::string_view msg, std::string_view der_sig) const;
  /// The key as PEM.
  std::string to_pem() const;
  /// sha256 hex of the DER SubjectPublicKeyInfo, first 16 hex chars: a short key id.
  std::string fingerprint() const;

 private:
  friend class PrivateKey;
  std::string pem_;  // canonical PEM; parsed context is rebuilt lazily per verify
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lg::crypto
