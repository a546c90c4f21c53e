#include "server/terminals/signer_wire.hpp"

#include <charconv>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>

#include "labgate/common/crypto.hpp"
#include "labgate/common/json.hpp"

namespace lg::server::terminals::wire {

using json = nlohmann::json;

namespace {

Result<json> object(std::string_view body) {
  auto j = lg::json::parse_strict(body);
  if (!j) return Error::invalid("not JSON: " + j.error().reason);
  if (!j->is_object()) return Error::invalid("not a JSON object");
  return std::move(*j);
}

Status only(const json& j, std::initializer_list<std::string_view> known, const std::string& where = "") {
  for (const auto& [k, v] : j.items()) {
    bool found = false;
    for (auto n : known) found = found || k == n;
    if (!found) return Error::invalid(where + k.substr(0, 64) + ": unknown field");
  }
  return {};
}

Result<std::string> text(const json& j, const std::string& key, std::size_t max, const std::string& where = "") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return Error::invalid(where + key + ": a string is required");
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > max) return Error::invalid(where + key + ": 1.." + std::to_string(max) + " characters");
  return s;
}

Result<int64_t> integer(const json& j, const std::string& key, int64_t min, int64_t max,
                        const std::string& where = "") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return Error::invalid(where + key + ": an integer is required");
  const int64_t v = it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                        ? INT64_MAX
                        : it->get<int64_t>();
  if (v < min || v > max) return Error::invalid(where + key + ": " + std::to_string(min) + ".." + std::to_string(max));
  return v;
}

Result<uint64_t> serial(const json& j, const std::string& key, const std::string& where = "") {
  auto s = text(j, key, 20, where);
  if (!s) return s.error();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc{} || p != s->data() + s->size() || v == 0 || v > static_cast<uint64_t>(INT64_MAX))
    return Error::invalid(where + key + ": a decimal serial 1..2^63-1 as a string");
  return v;
}

bool host_shaped(const std::string& h) {
  return !h.empty() && h.size() <= 64 &&
         h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == std::string::npos;
}

}  // namespace

std::string encode(const IssueRequest& r) {
  return json{{"public_key", r.public_key},
              {"cn", r.cn},
              {"usage", pki::to_string(r.usage)},
              {"days", r.days},
              {"hosts", r.hosts}}
      .dump();
}

Result<IssueRequest> decode_issue_request(std::string_view body) {
  auto j = object(body);
  if (!j) return j.error();
  LG_TRY(only(*j, {"public_key", "cn", "usage", "days", "hosts"}));
  IssueRequest r;
  auto pem = text(*j, "public_key", 4096);
  if (!pem) return pem.error();
  auto key = crypto::PublicKey::from_pem(*pem);
  if (!key) return Error::invalid("public_key: not a P-256 public key PEM: " + key.error().reason);
  r.public_key = key->to_pem();
  auto cn = text(*j, "cn", 64);
  if (!cn) return cn.error();
  if (lg::json::has_control_chars(*cn)) return Error::invalid("cn: holds control characters");
  r.cn = *cn;
  auto usage = text(*j, "usage", 16);
  if (!usage) return usage.error();
  auto u = pki::usage_from(*usage);
  if (!u) return Error::invalid("usage: \"client\" or \"server\", not '" + *usage + "'");
  r.usage = *u;
  auto days = integer(*j, "days", 1, 36500);
  if (!days) return days.error();
  r.days = static_cast<int>(*days);
  if (auto it = j->find("hosts"); it != j->end()) {
    if (!it->is_array()) return Error::invalid("hosts: a list of host names or IPv4 addresses");
    if (it->size() > kMaxHosts) return Error::invalid("hosts: at most " + std::to_string(kMaxHosts));
    for (const auto& h : *it) {
      if (!h.is_string() || !host_shaped(h.get<std::string>()))
        return Error::invalid("hosts: each a host name or IPv4 address (1..64 of [A-Za-z0-9.-])");
      r.hosts.push_back(h.get<std::string>());
    }
  }
  return r;
}

std::string encode(const Issued& c) {
  return json{{"certificate", c.pem},
              {"serial", std::to_string(c.serial)},
              {"not_before_ms", c.not_before_ms},
              {"not_after_ms", c.not_after_ms}}
      .dump();
}

Result<Issued> decode_issued(std::string_view body) {
  auto j = object(body);
  if (!j) return j.error();
  Issued c;
  auto pem = text(*j, "certificate", 64 * 1024);
  if (!pem) return pem.error();
  c.pem = *pem;
  auto s = serial(*j, "serial");
  if (!s) return s.error();
  c.serial = *s;
  auto from = integer(*j, "not_before_ms", 0, INT64_MAX);
  if (!from) return from.error();
  auto until = integer(*j, "not_after_ms", 0, INT64_MAX);
  if (!until) return until.error();
  c.not_before_ms = *from;
  c.not_after_ms = *until;
  return c;
}

std::string encode_crl_request(const std::vector<CertRecord>& revoked, int64_t now_ms) {
  json list = json::array();
  for (const auto& c : revoked)
    if (c.revoked_ms && c.not_after_ms > now_ms)
      list.push_back(
          json{{"serial", std::to_string(c.serial)}, {"revoked_ms", *c.revoked_ms}, {"not_after_ms", c.not_after_ms}});
  return json{{"revoked", list}}.dump();
}

Result<std::vector<CrlEntry>> decode_crl_request(std::string_view body) {
  auto j = object(body);
  if (!j) return j.error();
  LG_TRY(only(*j, {"revoked"}));
  auto it = j->find("revoked");
  if (it == j->end() || !it->is_array()) return Error::invalid("revoked: a list is required (it may be empty)");
  if (it->size() > kMaxRevoked) return Error::invalid("revoked: at most " + std::to_string(kMaxRevoked) + " entries");
  std::vector<CrlEntry> out;
  out.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    const std::string where = "revoked[" + std::to_string(i) + "].";
    if (!e.is_object()) return Error::invalid("revoked[" + std::to_string(i) + "]: an object is required");
    LG_TRY(only(e, {"serial", "revoked_ms", "not_after_ms"}, where));
    CrlEntry c;
    auto s = serial(e, "serial", where);
    if (!s) return s.error();
    c.serial = *s;
    auto when = integer(e, "revoked_ms", 1, INT64_MAX, where);
    if (!when) return when.error();
    c.revoked_ms = *when;
    auto until = integer(e, "not_after_ms", 1, INT64_MAX, where);
    if (!until) return until.error();
    c.not_after_ms = *until;
    out.push_back(c);
  }
  return out;
}

std::string encode(const SignedCrl& c) { return json{{"crl", c.pem}, {"number", std::to_string(c.number)}}.dump(); }

Result<SignedCrl> decode_signed_crl(std::string_view body) {
  auto j = object(body);
  if (!j) return j.error();
  SignedCrl c;
  auto pem = text(*j, "crl", 16 << 20);
  if (!pem) return pem.error();
  c.pem = *pem;
  auto n = serial(*j, "number");
  if (!n) return n.error();
  c.number = *n;
  return c;
}

std::string encode(const CaInfo& c) { return json{{"site", c.site}, {"certificate", c.certificate}}.dump(); }

Result<CaInfo> decode_ca_info(std::string_view body) {
  auto j = object(body);
  if (!j) return j.error();
  CaInfo c;
  auto site = text(*j, "site", 64);
  if (!site) return site.error();
  c.site = *site;
  auto pem = text(*j, "certificate", 64 * 1024);
  if (!pem) return pem.error();
  c.certificate = *pem;
  return c;
}

std::string error_body(std::string_view why) { return json{{"error", std::string(why)}}.dump(); }

std::string error_reason(std::string_view body) {
  auto j = lg::json::parse_strict(body);
  if (j && j->is_object()) {
    auto it = j->find("error");
    if (it != j->end() && it->is_string()) return it->get<std::string>();
  }
  return std::string(body.substr(0, 200));
}

}  // namespace lg::server::terminals::wire
