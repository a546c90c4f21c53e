#include "server/terminals/http.hpp"

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/identity/rules.hpp"
#include "server/terminals/enrolment.hpp"
#include "server/terminals/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::terminals {

using namespace http;

void add_routes(Router& router, const ApiContext& ctx, UnitOfWork& uow, Store& store, audit::Store& audit) {
  router.add({"POST", "/api/terminals", Access::body(identity::Right::instrument_write, identity::Kind::instrument, "resource"), [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "resource", "public_key"});
                Terminal t;
                t.id = f.id("id");
                t.resource = f.id("resource");
                t.public_key = f.multiline("public_key", 4096);
                if (f.ok()) {
                  auto key = crypto::PublicKey::from_pem(t.public_key);
                  if (!key) {
                    f.invalid("public_key", "not a P-256 public key PEM: " + key.error().reason);
                  } else {
                    t.public_key = key->to_pem();
                  }
                }
                if (!f.ok()) return f.response();
                if (t.id == proto::kServerKid) return error(422, "invalid field: id: 'server' is reserved");
                const int64_t now = ctx.now();
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(store.add(t, now));
                                         const json after{{"id", t.id}, {"resource", t.resource},
                                                          {"public_key", t.public_key}};
                                         return audit::changed(audit::Change{"create", "terminal", t.id, "", after.dump()});
                                       });
                if (!s) return failure(s.error());
                ctx.changed(t.resource);
                log::info("http", "enrolled terminal " + t.id + " for " + t.resource);
                return reply(201, json{{"id", t.id}});
              }});
  // Retired with its records: from its next bundle the terminal opens for admins only (its instrument is
  // disabled for it); its records are still taken in, as evidence of what happened.
  router.add({"DELETE", "/api/terminals/{id}", Access::path(identity::Right::instrument_write, identity::Kind::terminal),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                const int64_t now = ctx.now();
                std::optional<Terminal> before;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto t = store.retire(id, now);
                                         if (!t) return t.error();
                                         before = *t;
                                         return audit::changed(audit::Change{
                                             "retire", "terminal", id,
                                             json{{"id", t->id}, {"resource", t->resource}}.dump(),
                                             json{{"id", t->id}, {"resource", t->resource}, {"retired", ctx.time(now)}}.dump()});
                                       });
                if (!s) return failure(s.error());
                ctx.changed(before->resource);
                log::info("http", "retired terminal " + id + " of " + before->resource);
                return reply(200, json{{"id", id}, {"resource", before->resource}, {"retired", ctx.time(now)}});
              },
              "Retire a terminal: kept with its records; from its next bundle it opens for admins only"});
  router.add({"GET", "/api/terminals", Access::any(identity::Right::instrument_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "terminals", ctx, bad);
                if (!page) return bad;
                return page_reply<Terminal>(req, "terminals", ctx, page->limit, store.list(*page), [&](const Terminal& t) {
                                    if (!ctx.may(req, identity::Right::instrument_write,
                                                 {{identity::Kind::instrument, t.resource}}))
                                      return json(nullptr);
                                    return json{{"id", t.id},
                                                {"resource", t.resource},
                                                {"online", t.online},
                                                {"boot", t.boot},
                                                {"firmware", t.firmware},
                                                {"board", t.board},
                                                {"acl_version", t.acl_version},
                                                {"sync_version", t.sync_version},
                                                {"outbox_depth", t.outbox_depth},
                                                {"clock_synced", t.clock_synced},
                                                {"acked_seq", t.acked_seq},
                                                {"last_seen", ctx.time_or_null(t.last_seen_ms)},
                                                {"retired", ctx.time_or_null(t.retired_ms)}};
                                  });
              }});
}

namespace {
json credentials_json(const ApiContext& ctx, const Enrolment& e, const Credentials& c, int64_t now) {
  const auto& s = e.settings();
  json out{{"terminal", c.terminal.id},
           {"site", s.site},
           {"resource", c.terminal.resource},
           {"epoch", c.terminal.epoch},
           {"replaced", c.replaced},
           {"serial", std::to_string(c.certificate.serial)},
           {"not_after", ctx.time(c.certificate.not_after_ms)},
           {"ca_certificate", c.ca_certificate},
           {"server_public_key", s.server_public_key},
           {"broker_uri", s.broker_uri}};
  if (!c.certificate.pem.empty()) out["certificate"] = c.certificate.pem;
  if (c.seq_start > 0) out["seq_start"] = c.seq_start;
  (void)now;
  return out;
}
}  // namespace

void add_enrolment_routes(Router& router, const ApiContext& ctx, Enrolment& enrolment) {
  router.add({"POST", "/api/terminals/enrolments",
              Access::body(identity::Right::instrument_write, identity::Kind::instrument, "resource"),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "resource", "ttl_s"});
                const std::string id = f.id("id");
                const std::string resource = f.id("resource");
                const int64_t ttl = f.opt_integer("ttl_s", 60, 30 * 86400).value_or(0);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto t = enrolment.issue_token(id, resource, ttl, audit::request_context(req), now);
                if (!t) return failure(t.error());
                return reply(201, json{{"token", t->token},
                                       {"terminal", t->terminal},
                                       {"resource", t->resource},
                                       {"expires", ctx.time(t->expires_ms)},
                                       {"use", "labgate-terminal --config terminal.toml enrol --server URL --token " + t->token}});
              },
              "Issue a one-time enrolment token for a terminal (shown once; only its hash is kept)"});
  router.add({"POST", "/api/enrol", Access::open(),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"token", "csr"});
                const std::string token = f.text("token", true, 128);
                const std::string csr = f.multiline("csr", 8192);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto c = enrolment.enrol(token, csr, audit::request_context(req), now);
                if (!c) return failure(c.error());
                ctx.changed(c->terminal.resource);
                return reply(201, credentials_json(ctx, enrolment, *c, now));
              },
              "Enrol a device with its token and certificate request: its certificate, the CA, the server key"});
  router.add({"POST", "/api/enrol/renew", Access::open(),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"csr"});
                const std::string csr = f.multiline("csr", 8192);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto c = enrolment.renew(csr, audit::request_context(req), now);
                if (!c) return failure(c.error());
                return reply(200, credentials_json(ctx, enrolment, *c, now));
              },
              "Renew a terminal's certificate: a request signed by its enrolled key"});
  router.add({"GET", "/api/terminals/{id}/certificates",
              Access::path(identity::Right::instrument_write, identity::Kind::terminal),
              [&](const Request&, const PathParams& pp) {
                auto certs = enrolment.certificates(pp.at("id"));
                if (!certs) return failure(certs.error());
                json rows = json::array();
                for (const auto& c : *certs)
                  rows.push_back(json{{"serial", std::to_string(c.serial)},
                                      {"epoch", c.epoch},
                                      {"issued", ctx.time(c.issued_ms)},
                                      {"not_after", ctx.time(c.not_after_ms)},
                                      {"revoked", c.revoked_ms ? json(ctx.time(*c.revoked_ms)) : json(nullptr)},
                                      {"reason", c.reason}});
                return reply(200, rows);
              },
              "The certificates issued to a terminal, newest first (epoch, validity, revocation)"});
  router.add({"POST", "/api/terminals/{id}/revoke",
              Access::path(identity::Right::instrument_write, identity::Kind::terminal),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"reason"});
                const std::string reason = f.text("reason", true, 200);
                if (!f.ok()) return f.response();
                const int64_t now = ctx.now();
                auto t = enrolment.revoke(pp.at("id"), reason, audit::request_context(req), now);
                if (!t) return failure(t.error());
                ctx.changed(t->resource);
                return reply(200, json{{"id", t->id}, {"resource", t->resource}, {"revoked", ctx.time(now)}, {"reason", reason}});
              },
              "Revoke a terminal: its certificates on the CRL, every topic denied at the broker, its messages refused"});
}

}  // namespace lg::server::terminals
