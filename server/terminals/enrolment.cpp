#include "server/terminals/enrolment.hpp"

#include <nlohmann/json.hpp>

#include "labgate/common/log.hpp"
#include "labgate/common/pki.hpp"
#include "server/audit/record.hpp"
#include "server/core/errors.hpp"
#include "server/terminals/rules.hpp"

namespace lg::server::terminals {

using json = nlohmann::json;

namespace {
constexpr std::string_view kLog = "pki";

std::string base64url(std::string_view bytes) {
  std::string b = crypto::base64_encode(bytes);
  while (!b.empty() && b.back() == '=') b.pop_back();
  for (auto& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return b;
}

json cert_json(const Terminal& t, const Issued& c) {
  return json{{"terminal", t.id}, {"resource", t.resource}, {"epoch", t.epoch}, {"serial", std::to_string(c.serial)}};
}
}  // namespace

Enrolment::~Enrolment() {
  if (watching_) ca_.unwatch();
}

void Enrolment::watch_signer(SignerWatch on_change, int period_s) {
  watching_ = true;
  ca_.watch(std::move(on_change), period_s);
}

Result<IssuedToken> Enrolment::issue_token(const std::string& id, const std::string& resource, int64_t ttl_s,
                                           const audit::Context& who, int64_t now_ms) {
  if (const std::string why = terminal_id_refusal(id); !why.empty()) return Error::invalid("id: " + why);
  const int64_t max_s = int64_t{s_.token_hours} * 3600;
  if (ttl_s < 0 || ttl_s > max_s)
    return Error::invalid("ttl_s: 1.." + std::to_string(max_s) + " seconds (pki.enrol_token_hours)");
  IssuedToken out;
  out.token = make_enrol_token(id, base64url(crypto::random_bytes(32)));
  out.terminal = id;
  out.resource = resource;
  out.expires_ms = now_ms + (ttl_s == 0 ? max_s : ttl_s) * 1000;
  EnrolToken t;
  t.hash = crypto::sha256_hex(out.token);
  t.terminal = id;
  t.resource = resource;
  t.created_ms = now_ms;
  t.expires_ms = out.expires_ms;
  t.created_by = who.actor;
  if (auto recorded = audit::record(uow_, audit_, who, now_ms, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(store_.add_enrol_token(t));
    // The token itself is never stored or logged; its hash's first characters name it.
    return audit::changed(audit::Change{"enrol_token", "terminal", id, "",
                                        json{{"terminal", id}, {"resource", resource}, {"token", t.hash.substr(0, 12)},
                                             {"expires_ms", out.expires_ms}}
                                            .dump()});
  }); !recorded)
    return recorded.error();
  log::info(kLog, "enrolment token for terminal " + id + " on " + resource + " issued by " + who.actor);
  return out;
}

Result<Credentials> Enrolment::enrol(const std::string& token, const std::string& csr_pem, const audit::Context& who,
                                     int64_t now_ms) {
  const std::string vague = "the enrolment token is unknown, used or expired";
  if (!enrol_token_terminal(token)) return domain_error(Errc::unauthorized, vague);
  auto csr = pki::read_csr(csr_pem);
  if (!csr) return Error::invalid(csr.error().reason);
  const std::string hash = crypto::sha256_hex(token);
  auto stored = store_.enrol_token(hash);
  if (!stored) return stored.error();
  if (const std::string why = enrol_refusal(*stored, csr->cn, now_ms); !why.empty())
    return why == vague ? domain_error(Errc::unauthorized, why) : Error::invalid(why);
  auto issued = ca_.issue(csr->key, csr->cn, pki::Usage::client, s_.cert_days, now_ms);
  if (!issued) return issued.error();
  Credentials out;
  out.certificate = *issued;
  out.ca_certificate = ca_.certificate();
  CertRecord rec;
  rec.serial = issued->serial;
  rec.issued_ms = now_ms;
  rec.not_after_ms = issued->not_after_ms;
  audit::Context ctx = who;
  if (ctx.actor.empty() || ctx.actor == "anonymous") ctx.actor = "enrolment token of " + (*stored)->created_by;
  if (auto recorded = audit::record(uow_, audit_, ctx, now_ms, [&]() -> Result<std::optional<audit::Change>> {
    auto e = store_.enrol(hash, csr->key.to_pem(), rec, now_ms);
    if (!e) return e.error();
    out.terminal = e->terminal;
    out.replaced = e->replaced;
    out.seq_start = e->seq_start;
    json after = cert_json(e->terminal, *issued);
    after["key"] = csr->key.fingerprint();
    if (!e->superseded.empty()) {
      json sup = json::array();
      for (auto s : e->superseded) sup.push_back(std::to_string(s));
      after["superseded"] = sup;
    }
    return audit::changed(audit::Change{e->replaced ? "re-enrol" : "enrol", "terminal", e->terminal.id, "", after.dump()});
  }); !recorded)
    return recorded.error();
  log::info(kLog, "terminal " + out.terminal.id + (out.replaced ? " re-enrolled (a new device, epoch " : " enrolled (epoch ") +
                      std::to_string(out.terminal.epoch) + ") for " + out.terminal.resource);
  if (out.replaced) {
    if (auto r = refresh_broker(now_ms); !r) log::error(kLog, "broker files: " + r.error().message());
  }
  return out;
}

Result<Credentials> Enrolment::renew(const std::string& csr_pem, const audit::Context& who, int64_t now_ms) {
  auto csr = pki::read_csr(csr_pem);
  if (!csr) return Error::invalid(csr.error().reason);
  auto t = store_.get(csr->cn);
  if (!t) return t.error();
  if (const std::string why = renewal_refusal(*t, csr->cn, csr->key.to_pem()); !why.empty())
    return domain_error(Errc::forbidden, why);
  const Terminal& term = **t;
  auto certs = store_.certificates(term.id);
  if (!certs) return certs.error();
  Credentials out;
  out.terminal = term;
  out.ca_certificate = ca_.certificate();
  for (const auto& c : *certs) {
    if (c.revoked_ms || c.epoch != term.epoch || c.not_after_ms <= now_ms) continue;
    if (!renewal_due(c.issued_ms, c.not_after_ms, now_ms)) {
      out.certificate.serial = c.serial;
      out.certificate.not_after_ms = c.not_after_ms;
      return out;  // not due: the caller keeps the certificate it has
    }
    break;
  }
  auto issued = ca_.issue(csr->key, term.id, pki::Usage::client, s_.cert_days, now_ms);
  if (!issued) return issued.error();
  CertRecord rec;
  rec.serial = issued->serial;
  rec.terminal = term.id;
  rec.epoch = term.epoch;
  rec.issued_ms = now_ms;
  rec.not_after_ms = issued->not_after_ms;
  audit::Context ctx = who;
  if (ctx.actor.empty() || ctx.actor == "anonymous") ctx.actor = "terminal:" + term.id;
  if (auto recorded = audit::record(uow_, audit_, ctx, now_ms, [&]() -> Result<std::optional<audit::Change>> {
    LG_TRY(store_.add_certificate(rec));
    return audit::changed(audit::Change{"renew", "terminal", term.id, "", cert_json(term, *issued).dump()});
  }); !recorded)
    return recorded.error();
  out.certificate = *issued;
  log::info(kLog, "certificate of terminal " + term.id + " renewed until " + std::to_string(issued->not_after_ms));
  return out;
}

Result<Terminal> Enrolment::revoke(const std::string& id, const std::string& reason, const audit::Context& who,
                                   int64_t now_ms) {
  Terminal after;
  if (auto recorded = audit::record(uow_, audit_, who, now_ms, [&]() -> Result<std::optional<audit::Change>> {
    auto t = store_.revoke(id, reason, now_ms);
    if (!t) return t.error();
    after = *t;
    return audit::changed(audit::Change{"revoke", "terminal", id, json{{"id", id}}.dump(),
                                        json{{"id", id}, {"revoked_ms", now_ms}, {"reason", reason}}.dump()});
  }); !recorded)
    return recorded.error();
  log::info(kLog, "terminal " + id + " revoked by " + who.actor + ": " + reason);
  if (auto r = refresh_broker(now_ms); !r) log::error(kLog, "broker files: " + r.error().message());
  return after;
}

Result<std::vector<CertRecord>> Enrolment::certificates(const std::string& id) {
  auto t = store_.get(id);
  if (!t) return t.error();
  if (!*t) return domain_error(Errc::not_found, "terminal: no terminal '" + id + "'");
  return store_.certificates(id);
}

Result<bool> Enrolment::refresh_broker(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(broker_mutex_);
  auto revoked = store_.revoked_certificates();
  if (!revoked) return revoked.error();
  auto crl = ca_.crl(*revoked, now_ms);
  crl_pending_ = !crl;
  if (!crl && s_.broker.dir.empty()) return crl.error();
  if (s_.broker.dir.empty()) return false;
  auto all = store_.all();
  if (!all) return all.error();
  BrokerSettings b;
  b.site = s_.site;
  b.server_identities = s_.server_identities;
  for (const auto& t : *all)
    if (t.revoked_ms) b.revoked.push_back(t.id);
  std::string crl_key;
  for (const auto& c : *revoked)
    if (c.not_after_ms > now_ms) crl_key += std::to_string(c.serial) + "\n";
  auto written = write_broker_files(ca_, s_.broker, b, crl ? *crl : std::string(), crl_key, now_ms);
  if (!crl) {
    // The ACL went out; the CRL follows when the signer answers again (retry_pending).
    return Error{crl.error().code,
                 "no new CRL (" + crl.error().reason + "); " +
                     (written ? std::string("the ACL is written, crl.pem stays as it was until the CA signs again")
                              : "nor are the broker's files written: " + written.error().reason)};
  }
  return written;
}

void Enrolment::retry_pending(int64_t now_ms) {
  if (!crl_pending_) return;
  if (auto r = refresh_broker(now_ms); r) {
    log::info(kLog, "the pending CRL is signed by " + ca_.describe() + " and written");
  } else {
    log::warn(kLog, "broker files: " + r.error().message());
  }
}

}  // namespace lg::server::terminals
