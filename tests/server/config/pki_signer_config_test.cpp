// [pki] signer_url and its files (server/config/server_config.hpp): the CA key on a separate
// machine. Together or not at all, https only, paths beside the config file; and the server's
// refusal of files it must not use (provisioning.hpp, signer_files_refusal).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "server/config/server_config.hpp"
#include "server/terminals/provisioning.hpp"
#include "support/temp_dir.hpp"

using namespace lg;
using namespace lg::server;
namespace fs = std::filesystem;

namespace {
const std::string kBase = R"(
[server]
site = "demo"
data_dir = "var/server"

[http]
listen = "127.0.0.1"

[mqtt]
uri = "ssl://127.0.0.1:8883"
)";

Result<ServerConfig> parse(const std::string& pki) {
  auto doc = config::Document::parse(kBase + "\n[pki]\n" + pki, "/etc/labgate/server.toml");
  if (!doc) return doc.error();
  return load_config(*doc);
}

std::string refusal(const std::string& pki) {
  auto c = parse(pki);
  REQUIRE_FALSE(c);
  return c.error().message();
}

const std::string kSigner =
    "signer_url = \"https://ca.lab.example:8443\"\n"
    "signer_ca_file = \"signer/ca.crt\"\n"
    "signer_cert_file = \"signer/signer-client.crt\"\n"
    "signer_key_file = \"/etc/labgate/signer/signer-client.key\"\n";
}  // namespace

TEST_CASE("pki.signer_url: off by default, on with its three files (relative to the config)") {
  auto local = parse("");
  REQUIRE_MESSAGE(local, (local ? "" : local.error().message()));
  CHECK(local->pki_signer_url.empty());
  auto c = parse(kSigner);
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message()));
  CHECK(c->pki_signer_url == "https://ca.lab.example:8443");
  CHECK(c->pki_signer_ca_file == fs::path("/etc/labgate/signer/ca.crt"));
  CHECK(c->pki_signer_cert_file == fs::path("/etc/labgate/signer/signer-client.crt"));
  CHECK(c->pki_signer_key_file == fs::path("/etc/labgate/signer/signer-client.key"));
}

TEST_CASE("pki.signer_url: https only, the files required with it and refused without it, naming the key") {
  CHECK(refusal("signer_url = \"http://ca:8443\"\nsigner_ca_file = \"a\"\nsigner_cert_file = \"b\"\nsigner_key_file = "
                "\"c\"\n")
            .find("pki.signer_url: https://") != std::string::npos);
  CHECK(refusal("signer_url = \"https://ca:8443\"\nsigner_cert_file = \"b\"\nsigner_key_file = \"c\"\n")
            .find("pki.signer_ca_file: required") != std::string::npos);
  CHECK(refusal("signer_url = \"https://ca:8443\"\nsigner_ca_file = \"a\"\nsigner_cert_file = \"b\"\n")
            .find("pki.signer_key_file: required") != std::string::npos);
  CHECK(refusal("signer_cert_file = \"b\"\n").find("pki.signer_cert_file: only with pki.signer_url") !=
        std::string::npos);
  CHECK(refusal("signer = \"https://ca:8443\"\n").find("pki.signer") != std::string::npos);
}

TEST_CASE("the server refuses signer files that are missing, or a key others may read") {
  lg::test::TempDir dir("signer-files");
  ServerConfig c;
  c.pki_signer_ca_file = dir.path() / "ca.crt";
  c.pki_signer_cert_file = dir.path() / "client.crt";
  c.pki_signer_key_file = dir.path() / "client.key";
  CHECK(terminals::signer_files_refusal(c).find("pki.signer_ca_file") == 0);
  for (const auto& p : {c.pki_signer_ca_file, c.pki_signer_cert_file, c.pki_signer_key_file}) std::ofstream(p) << "x";
  fs::permissions(c.pki_signer_key_file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                  fs::perm_options::replace);
  const std::string loose = terminals::signer_files_refusal(c);
  CHECK(loose.find("pki.signer_key_file") == 0);
  CHECK(loose.find("chmod 600") != std::string::npos);
  fs::permissions(c.pki_signer_key_file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  CHECK(terminals::signer_files_refusal(c).empty());
}
