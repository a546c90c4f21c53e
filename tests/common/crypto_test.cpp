// Crypto: known-answer tests for SHA-256 and HMAC, ECDSA sign/verify, key persistence.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "labgate/common/crypto.hpp"

using namespace lg::crypto;

namespace {
std::string hex(const Digest& d) { return to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())); }
}  // namespace

TEST_CASE("SHA-256 and HMAC-SHA-256 match published test vectors") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2
  CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("base64 round trip and rejection") {
  CHECK(base64_encode("hello") == "aGVsbG8=");
  CHECK(*base64_decode("aGVsbG8=") == "hello");
  CHECK_FALSE(base64_decode("a*b="));
}

TEST_CASE("ECDSA P-256: sign, verify, tamper, wrong key, PEM round trip") {
  auto k = PrivateKey::generate();
  REQUIRE(k);
  auto sig = k->sign("lg/v1 body");
  REQUIRE(sig);
  auto pub = PublicKey::from_pem(k->public_pem());
  REQUIRE(pub);
  CHECK(pub->verify("lg/v1 body", *sig));
  CHECK_FALSE(pub->verify("lg/v1 bodY", *sig));
  std::string bad = *sig;
  bad[bad.size() - 1] ^= 1;
  CHECK_FALSE(pub->verify("lg/v1 body", bad));
  CHECK_FALSE(pub->verify("lg/v1 body", ""));
  auto other = PrivateKey::generate();
  CHECK_FALSE(other->public_key().verify("lg/v1 body", *sig));
  auto again = PrivateKey::from_pem(k->to_pem());
  REQUIRE(again);
  CHECK(again->public_pem() == k->public_pem());
  CHECK(pub->fingerprint().size() == 16);
  CHECK_FALSE(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
}

TEST_CASE("load_or_create keeps the same key across loads and writes it 0600") {
  auto dir = std::filesystem::temp_directory_path() / ("labgate-key-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto path = dir / "sub" / "terminal.key";
  auto k1 = PrivateKey::load_or_create(path);
  REQUIRE(k1);
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto k2 = PrivateKey::load_or_create(path);
  REQUIRE(k2);
  CHECK(k1->public_pem() == k2->public_pem());
  std::filesystem::remove_all(dir);
}

TEST_CASE("uuid4 has the right shape and does not repeat") {
  const auto a = uuid4();
  const auto b = uuid4();
  CHECK(a.size() == 36);
  CHECK(a[14] == '4');
  CHECK(a != b);
}

TEST_CASE("uuid7 carries the time in its first 48 bits, so ids made later sort later") {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const auto a = uuid7();
  CHECK(a.size() == 36);
  CHECK(a[8] == '-');
  CHECK(a[14] == '7');                                   // version
  CHECK(std::string("89ab").find(a[19]) != std::string::npos);  // variant 10xx
  const std::string hex_ms = a.substr(0, 8) + a.substr(9, 4);
  const auto ms = static_cast<int64_t>(std::stoull(hex_ms, nullptr, 16));
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(ms >= before);
  CHECK(ms <= after);
  // Ids made in a later millisecond sort after earlier ones (the index is appended to).
  std::string later;
  do later = uuid7(); while (later.substr(0, 13) == a.substr(0, 13));
  CHECK(later > a);
  CHECK(uuid7() != uuid7());
}
