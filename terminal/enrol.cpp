#include "enrol.hpp"

#include <nlohmann/json.hpp>

#include "labgate/common/files.hpp"
#include "labgate/common/http_client.hpp"
#include "labgate/common/log.hpp"
#include "labgate/common/pki.hpp"
#include "labgate/common/time.hpp"

namespace lg::terminal {

using json = nlohmann::json;

namespace {
constexpr std::string_view kLog = "enrol";

std::string trim_slash(std::string u) {
  while (!u.empty() && u.back() == '/') u.pop_back();
  return u;
}

/// The quoted TOML string of s (our values: ids, URIs, times).
std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Result<json> post(const std::string& url, const json& body, const std::string& ca_file) {
  http_client::Options o;
  o.ca_file = ca_file;
  o.user_agent = "labgate-terminal";
  auto r = http_client::request("POST", url, body.dump(), "application/json", o);
  if (!r) return r.error();
  json j = json::parse(r->body, nullptr, false);
  if (r->status / 100 != 2) {
    const std::string why = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                          : r->body.substr(0, 300);
    return Error::invalid("the server refused (HTTP " + std::to_string(r->status) + "): " + why);
  }
  if (!j.is_object()) return Error::invalid("the server's answer is not JSON");
  return j;
}

std::string field(const json& j, const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; }

/// Checks the answer against what was asked and writes the files: certificate and CA first, the
/// enrolment file last (it is what makes the device believe it is enrolled).
Result<EnrolOutcome> store_answer(const std::filesystem::path& dir, const json& a, const crypto::PrivateKey& key,
                                  const std::string& id, const std::string& server_url, bool write_enrolled) {
  const std::string cert = field(a, "certificate"), ca = field(a, "ca_certificate");
  EnrolOutcome out;
  out.id = field(a, "terminal");
  out.resource = field(a, "resource");
  out.epoch = a.contains("epoch") && a["epoch"].is_number_unsigned() ? a["epoch"].get<uint64_t>() : 0;
  out.replaced = a.contains("replaced") && a["replaced"].is_boolean() && a["replaced"].get<bool>();
  out.not_after = field(a, "not_after");
  if (out.id != id) return Error::invalid("the server answered for '" + out.id + "', not '" + id + "'");
  if (cert.empty()) return out;  // a renewal that was not due
  auto info = pki::read_certificate(cert);
  if (!info) return Error::invalid("the server's certificate: " + info.error().reason);
  if (info->cn != id || info->key.to_pem() != key.public_pem())
    return Error::invalid("the server's certificate is not for this device's key and id");
  if (auto v = pki::verify(cert, ca); !v) return Error::invalid("the server's certificate: " + v.error().reason);
  LG_TRY(files::write_atomic(dir / "ca.crt", ca, 0644));
  LG_TRY(files::write_atomic(dir / "terminal.crt", cert, 0644));
  if (!write_enrolled) {
    out.renewed = true;
    return out;
  }
  const std::string server_key = field(a, "server_public_key");
  if (!crypto::PublicKey::from_pem(server_key)) return Error::invalid("the server's public key is not a P-256 key");
  LG_TRY(files::write_atomic(dir / "server.pub", server_key, 0644));
  const std::string enrolled =
      "# Written by labgate-terminal enrol: who this device is. Enrol again to change it.\n"
      "[enrolled]\n"
      "id = " + toml_string(out.id) + "\n" +
      "site = " + toml_string(field(a, "site")) + "\n" +
      "resource = " + toml_string(out.resource) + "\n" +
      "epoch = " + std::to_string(out.epoch) + "\n" +
      "seq_start = " + std::to_string(a.contains("seq_start") && a["seq_start"].is_number_unsigned() ? a["seq_start"].get<uint64_t>() : 1) + "\n" +
      "broker_uri = " + toml_string(field(a, "broker_uri")) + "\n" +
      "server_url = " + toml_string(server_url) + "\n" +
      "enrolled_at = " + toml_string(time::format_utc(time::now_utc_ms())) + "\n";
  LG_TRY(files::write_atomic(dir / kEnrolledFile, enrolled, 0644));
  return out;
}
}  // namespace

Result<EnrolOutcome> enrol(const TerminalConfig& base, const EnrolOptions& o) {
  auto id = pki::enrol_token_terminal(o.token);
  if (!id) return Error::invalid("--token: not an enrolment token (lge_<terminal>.<secret>, from labgatectl terminal enrol-token)");
  if (o.server_url.rfind("http://", 0) != 0 && o.server_url.rfind("https://", 0) != 0)
    return Error::invalid("--server: an http:// or https:// URL of the labgate server");
  auto made = files::ensure_private_dir(base.data_dir);
  if (!made) return made.error();
  if (*made) log::info(kLog, "restricted " + base.data_dir.string() + " to its owner (mode 0700)");
  // A device keeps its key across enrolments (the server tells a new device by its new key).
  auto key = crypto::PrivateKey::load_or_create(base.data_dir / "terminal.key");
  if (!key) return key.error();
  auto csr = pki::make_csr(*key, *id);
  if (!csr) return csr.error();
  const std::string server = trim_slash(o.server_url);
  auto answer = post(server + "/api/enrol", json{{"token", o.token}, {"csr", *csr}}, o.ca_file);
  if (!answer) return answer.error();
  auto out = store_answer(base.data_dir, *answer, *key, *id, server, true);
  if (out) log::info(kLog, "enrolled as " + out->id + " (epoch " + std::to_string(out->epoch) + ") for " + out->resource);
  return out;
}

Result<EnrolOutcome> renew_if_due(const TerminalConfig& cfg, const crypto::PrivateKey& key, int64_t now_ms,
                                  const std::string& ca_file) {
  EnrolOutcome nothing;
  nothing.id = cfg.id;
  if (cfg.server_url.empty()) return nothing;
  auto pem = files::read_text(cfg.mqtt_cert_file, 64 * 1024);
  if (!pem) return pem.error();
  auto info = pki::read_certificate(*pem);
  if (!info) return Error::invalid(cfg.mqtt_cert_file.string() + ": " + info.error().reason);
  // Due when less than a third of its life is left (the server applies the same rule).
  if (info->not_after_ms - now_ms >= (info->not_after_ms - info->not_before_ms) / 3) return nothing;
  auto csr = pki::make_csr(key, cfg.id);
  if (!csr) return csr.error();
  auto answer = post(cfg.server_url + "/api/enrol/renew", json{{"csr", *csr}}, ca_file);
  if (!answer) return answer.error();
  auto out = store_answer(cfg.data_dir, *answer, key, cfg.id, cfg.server_url, false);
  if (out && out->renewed) log::info(kLog, "certificate renewed until " + out->not_after + " (used from the next connection)");
  return out;
}

}  // namespace lg::terminal
