#include "server/terminals/http.hpp"

#include "labgate/common/crypto.hpp"
#include "labgate/common/log.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/identity/rules.hpp"
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

}  // namespace lg::server::terminals
