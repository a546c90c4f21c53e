// Argon2id through Debian's libargon2 (argon2.h); salts from lg::crypto::random_bytes.
#include "server/identity/password.hpp"

#include <argon2.h>

#include <charconv>
#include <cstddef>
#include <vector>

#include "labgate/common/crypto.hpp"

namespace lg::server::identity {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kMinChars = 8;
constexpr std::size_t kMaxBytes = 256;
// The most a stored hash may ask verify_password to spend (a corrupted or planted hash must not
// make one sign-in take the server's memory or minutes of CPU).
constexpr uint64_t kMaxVerifyMemoryKib = 4ULL * 1024 * 1024;  // 4 GiB
constexpr uint64_t kMaxVerifyPasses = 64;
constexpr uint64_t kMaxVerifyLanes = 64;

std::string argon2_text(int rc) { return argon2_error_message(rc); }

/// Parses "m=65536,t=3,p=1" into (m, t, p); false when a field is missing or not a number.
bool parse_costs(std::string_view s, uint64_t& m, uint64_t& t, uint64_t& p) {
  bool have_m = false, have_t = false, have_p = false;
  while (!s.empty()) {
    const auto comma = s.find(',');
    std::string_view field = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    if (field.size() < 3 || field[1] != '=') return false;
    uint64_t v = 0;
    const char* first = field.data() + 2;
    const char* last = field.data() + field.size();
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc{} || ptr != last) return false;
    switch (field[0]) {
      case 'm':
        m = v;
        have_m = true;
        break;
      case 't':
        t = v;
        have_t = true;
        break;
      case 'p':
        p = v;
        have_p = true;
        break;
      default: return false;
    }
  }
  return have_m && have_t && have_p;
}

/// Splits phc on '$'; the first piece (before the leading '$') is empty.
std::vector<std::string_view> split_dollar(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto d = s.find('$', start);
    out.push_back(s.substr(start, d == std::string_view::npos ? std::string_view::npos : d - start));
    if (d == std::string_view::npos) break;
    start = d + 1;
  }
  return out;
}

}  // namespace

Result<std::string> hash_password(std::string_view password, const PasswordParams& p) {
  if (p.t_cost < 1) return Error::invalid("Argon2id t_cost (password_t_cost) must be at least 1");
  if (p.lanes < 1) return Error::invalid("Argon2id lanes must be at least 1");
  if (p.m_cost_kib < 8 * p.lanes) {
    return Error::invalid("Argon2id m_cost_kib (password_m_cost_kib) must be at least 8 KiB per lane");
  }
  const std::string salt = crypto::random_bytes(kSaltBytes);
  const std::size_t len = argon2_encodedlen(p.t_cost, p.m_cost_kib, p.lanes, static_cast<uint32_t>(kSaltBytes),
                                            static_cast<uint32_t>(kHashBytes), Argon2_id);
  std::string encoded(len, '\0');
  const int rc = argon2id_hash_encoded(p.t_cost, p.m_cost_kib, p.lanes, password.data(), password.size(), salt.data(),
                                       salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Error::invalid("cannot hash the password with Argon2id: " + argon2_text(rc));
  encoded.resize(encoded.find('\0'));
  return encoded;
}

Result<bool> verify_password(std::string_view password, std::string_view phc) {
  // $argon2id$v=19$m=..,t=..,p=..$salt$hash
  const auto parts = split_dollar(phc);
  if (parts.size() != 6 || !parts[0].empty()) {
    return Error::invalid("the stored password hash is not a PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash)");
  }
  if (parts[1] != "argon2id") {
    return Error::invalid("the stored password hash is '" + std::string(parts[1].substr(0, 16)) +
                          "', not argon2id; set the password again");
  }
  if (parts[2] != "v=19") return Error::invalid("the stored password hash is not Argon2 version 19 (v=19)");
  uint64_t m = 0, t = 0, lanes = 0;
  if (!parse_costs(parts[3], m, t, lanes)) {
    return Error::invalid("the stored password hash has malformed costs (expected m=..,t=..,p=..)");
  }
  if (m > kMaxVerifyMemoryKib || t > kMaxVerifyPasses || lanes > kMaxVerifyLanes) {
    return Error::invalid(
        "the stored password hash asks for more than labgate computes (m <= 4 GiB, t <= 64, "
        "p <= 64); set the password again");
  }
  const std::string z(phc);  // argon2id_verify wants a NUL-terminated string
  const int rc = argon2id_verify(z.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  return Error::invalid("cannot check the password against the stored hash: " + argon2_text(rc));
}

std::string password_problem(std::string_view password) {
  if (password.size() > kMaxBytes) {
    return "too long: at most " + std::to_string(kMaxBytes) + " bytes (this one has " +
           std::to_string(password.size()) + ")";
  }
  // Count code points, checking UTF-8 on the way (shortest form, no surrogates, at most U+10FFFF).
  std::size_t chars = 0;
  for (std::size_t i = 0; i < password.size(); ++chars) {
    const auto b = static_cast<unsigned char>(password[i]);
    std::size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      n = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07u;
    } else {
      return "not valid UTF-8 text; type it again";
    }
    if (i + n > password.size()) return "not valid UTF-8 text; type it again";
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(password[i + k]);
      if ((c & 0xC0) != 0x80) return "not valid UTF-8 text; type it again";
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return "not valid UTF-8 text; type it again";
    i += n;
  }
  if (chars < kMinChars) {
    return "too short: at least " + std::to_string(kMinChars) + " characters (this one has " + std::to_string(chars) +
           ")";
  }
  return "";
}

}  // namespace lg::server::identity
