// Local passwords: Argon2id hashes in PHC string form (libargon2) and the password policy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "labgate/common/result.hpp"

namespace lg::server::identity {

/// The cost of an Argon2id hash ([auth] password_t_cost, password_m_cost_kib in the server config).
struct PasswordParams {
  uint32_t t_cost = 3;          ///< passes over the memory
  uint32_t m_cost_kib = 65536;  ///< memory in KiB (64 MiB)
  uint32_t lanes = 1;           ///< parallelism (lanes; one thread computes them all)
};

/// Hashes a password with Argon2id under p and a fresh 16-byte random salt (lg::crypto::random_bytes);
/// returns the PHC string "$argon2id$v=19$m=...,t=...,p=...$salt$hash" (32-byte hash, unpadded
/// base64). An error when the parameters are outside what Argon2 allows (t_cost >= 1, lanes >= 1,
/// m_cost_kib >= 8 * lanes) or the memory cannot be had.
Result<std::string> hash_password(std::string_view password, const PasswordParams& p = {});

/// True when password matches the PHC string phc, false for a mismatch; an error for a string that
/// is not an Argon2id PHC string (another algorithm, a malformed field) or whose cost is beyond
/// what labgate accepts to compute (m above 4 GiB, t above 64, p above 64), so that a corrupted
/// hash cannot make a sign-in exhaust the server.
Result<bool> verify_password(std::string_view password, std::string_view phc);

/// The password policy: at least 8 characters (UTF-8 code points), at most 256 bytes, valid
/// UTF-8. Returns "" when the password is acceptable, else the reason a person can act on (which
/// never repeats the password).
std::string password_problem(std::string_view password);

}  // namespace lg::server::identity
