// Argon2id password hashes (PHC strings) and the password policy (server/identity/password.*).
// Small costs (t=1, m=1024 KiB) keep the cases fast; one case uses the default cost.
#include "server/identity/password.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace lg::server::identity;

namespace {

const PasswordParams kFast{1, 1024, 1};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

TEST_CASE("identity.password: a hash is an Argon2id PHC string that verifies the password and no other") {
  auto phc = hash_password("correct horse battery", kFast);
  REQUIRE(phc.has_value());
  CHECK(phc->rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0) == 0);
  const auto parts = split(*phc, '$');
  REQUIRE(parts.size() == 6);
  CHECK(parts[4].size() == 22);  // 16-byte salt, unpadded base64
  CHECK(parts[5].size() == 43);  // 32-byte hash, unpadded base64

  auto good = verify_password("correct horse battery", *phc);
  REQUIRE(good.has_value());
  CHECK(*good);
  auto bad = verify_password("correct horse batterY", *phc);
  REQUIRE(bad.has_value());
  CHECK_FALSE(*bad);
  auto empty = verify_password("", *phc);
  REQUIRE(empty.has_value());
  CHECK_FALSE(*empty);
}

TEST_CASE("identity.password: every hash has its own salt") {
  auto a = hash_password("same password", kFast);
  auto b = hash_password("same password", kFast);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a != *b);
  CHECK(verify_password("same password", *a).value());
  CHECK(verify_password("same password", *b).value());
}

TEST_CASE("identity.password: UTF-8 passwords hash and verify byte for byte") {
  const std::string pw = "实验室门禁-密码2024";
  auto phc = hash_password(pw, kFast);
  REQUIRE(phc.has_value());
  CHECK(verify_password(pw, *phc).value());
  CHECK_FALSE(verify_password("实验室门禁-密码2025", *phc).value());
}

TEST_CASE("identity.password: the default cost is m=65536 KiB, t=3, p=1") {
  auto phc = hash_password("default cost password");
  REQUIRE(phc.has_value());
  CHECK(phc->rfind("$argon2id$v=19$m=65536,t=3,p=1$", 0) == 0);
  CHECK(verify_password("default cost password", *phc).value());
}

TEST_CASE("identity.password: a hash made with other costs verifies under the costs it names") {
  auto phc = hash_password("cost travels with the hash", PasswordParams{2, 2048, 2});
  REQUIRE(phc.has_value());
  CHECK(phc->rfind("$argon2id$v=19$m=2048,t=2,p=2$", 0) == 0);
  CHECK(verify_password("cost travels with the hash", *phc).value());
}

TEST_CASE("identity.password: costs Argon2 does not allow are refused") {
  CHECK_FALSE(hash_password("x", PasswordParams{0, 1024, 1}).has_value());
  CHECK_FALSE(hash_password("x", PasswordParams{1, 4, 1}).has_value());
  CHECK_FALSE(hash_password("x", PasswordParams{1, 1024, 0}).has_value());
  auto e = hash_password("x", PasswordParams{0, 1024, 1});
  CHECK(e.error().reason.find("t_cost") != std::string::npos);
}

TEST_CASE("identity.password: a malformed or foreign stored hash is an error, not a mismatch") {
  auto phc = hash_password("pw-for-malformed", kFast);
  REQUIRE(phc.has_value());
  const auto parts = split(*phc, '$');
  const std::string salt = parts[4], hash = parts[5];
  const std::vector<std::string> malformed = {
      "",
      "plain text",
      "$argon2id$v=19$m=1024,t=1,p=1$" + salt,                        // no hash
      "$argon2i$v=19$m=1024,t=1,p=1$" + salt + "$" + hash,            // another Argon2 variant
      "$2b$12$abcdefghijklmnopqrstuvCDEFGHIJKLMNOPQRSTUVWXYZ012345",  // bcrypt
      "$argon2id$v=16$m=1024,t=1,p=1$" + salt + "$" + hash,           // another version
      "$argon2id$v=19$m=1024,t=1$" + salt + "$" + hash,               // no p
      "$argon2id$v=19$m=1024,t=x,p=1$" + salt + "$" + hash,           // not a number
      "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$!!notbase64!!",     // bad hash
      "$argon2id$v=19$m=1024,t=1,p=1$$" + hash,                       // empty salt
      "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + hash + "$",     // trailing field
      "$argon2id$v=19$m=16777216,t=1,p=1$" + salt + "$" + hash,       // 16 GiB: refused, not computed
      "$argon2id$v=19$m=1024,t=1000,p=1$" + salt + "$" + hash,        // too many passes
  };
  for (const auto& m : malformed) {
    CAPTURE(m);
    auto r = verify_password("pw-for-malformed", m);
    CHECK_FALSE(r.has_value());
    if (!r) CHECK_FALSE(r.error().reason.empty());
  }
}

TEST_CASE("identity.password: the policy wants 8 to 256 bytes of UTF-8, counted in characters") {
  CHECK(password_problem("12345678") == "");
  CHECK(password_problem("一二三四五六七八") == "");  // 8 characters, 24 bytes
  CHECK(password_problem(std::string(256, 'a')) == "");
  CHECK(password_problem("") != "");
  CHECK(password_problem("1234567") != "");
  CHECK(password_problem("一二三四五六七") != "");  // 7 characters though 21 bytes
  CHECK(password_problem(std::string(257, 'a')) != "");
  CHECK(password_problem(std::string(100, '\xe4')) != "");  // not UTF-8
  CHECK(password_problem("abcdefgh\xc0\xaf") != "");        // overlong '/'
  CHECK(password_problem("abcdefgh\xed\xa0\x80") != "");    // a surrogate
  CHECK(password_problem("abcdefgh\xe4\xb8") != "");        // truncated sequence
  CHECK(password_problem("1234567").find("at least 8 characters") != std::string::npos);
  CHECK(password_problem(std::string(300, 'z')).find("at most 256 bytes") != std::string::npos);
  // The reason never repeats the password.
  CHECK(password_problem("secret7").find("secret7") == std::string::npos);
}
