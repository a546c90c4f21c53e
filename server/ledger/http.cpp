#include "server/ledger/http.hpp"

#include "labgate/common/money.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::ledger {

using namespace http;

namespace {

constexpr int64_t kMaxAmount = 100'000'000'000;  // fen (one billion yuan): one transfer at most
constexpr int32_t kMaxRows = 1000;

json balance_json(const Account& a) {
  return json{{"balance_fen", balance_of(a.balance)},
              {"balance", money::format(balance_of(a.balance))},
              {"available_fen", available_of(a.balance)},
              {"held_fen", a.balance.debits_pending},
              {"debits_fen", a.balance.debits_posted},
              {"credits_fen", a.balance.credits_posted}};
}

json account_json(const Account& a, const ApiContext& ctx) {
  json j{{"id", a.id},
         {"kind", to_string(a.kind)},
         {"name", a.name},
         {"currency", a.currency},
         {"unit", a.unit},
         {"group", a.group},
         {"owner", a.owner},
         {"organisation", a.organisation},
         {"lab", a.lab},
         {"project_code", a.project_code},
         {"parent", a.parent},
         {"floor_fen", int_or_null(a.floor_fen)},
         {"overdraft_fen", a.overdraft_fen},
         {"budget_fen", a.budget_fen},
         {"end", ctx.time_or_null(a.end_ms)},
         {"closed", ctx.time_or_null(a.closed_ms)},
         {"created", ctx.time(a.created_ms)}};
  j.update(balance_json(a));
  return j;
}

json transfer_json(const Transfer& t, const ApiContext& ctx) {
  return json{{"id", t.id},
              {"key", t.key},
              {"debit", t.debit},
              {"credit", t.credit},
              {"amount_fen", t.amount_fen},
              {"amount", money::format(t.amount_fen)},
              {"currency", t.currency},
              {"kind", to_string(t.kind)},
              {"hold", t.pending_id.empty() ? json(nullptr) : json(t.pending_id)},
              {"timeout", ctx.time_or_null(t.timeout_ms)},
              {"ref", t.ref},
              {"memo", t.memo},
              {"actor", t.actor},
              {"at", ctx.time(t.created_ms)}};
}

json moved_json(const Moved& m, const ApiContext& ctx) {
  json ts = json::array();
  for (const auto& t : m.transfers) ts.push_back(transfer_json(t, ctx));
  return json{{"replayed", m.replayed}, {"transfers", std::move(ts)}};
}


/// The account named by the path if the caller may use right r on it; else the reply to give
/// (404 when the caller may not even read it, 403 when they may read but not do this).
std::optional<Account> located(const ApiContext& ctx, const Request& req, Store& store, const std::string& id,
                               identity::Right r, Response& bad) {
  auto a = store.account(id);
  if (!a) {
    bad = failure(a.error());
    return std::nullopt;
  }
  if (!*a || !may_on(ctx, req, identity::Right::money_read, **a)) {
    bad = error(404, "not found");
    return std::nullopt;
  }
  if (!may_on(ctx, req, r, **a)) {
    bad = error(403, std::string("forbidden: needs ") + identity::to_string(r) + " over account " + id);
    return std::nullopt;
  }
  return **a;
}

std::string actor_of(const Request& req) { return req.who().actor(); }

/// Runs a money operation inside an audited unit of work; the change records the transfers.
Response audited(const ApiContext& ctx, UnitOfWork& uow, audit::Store& audit, const Request& req, const char* action,
                 const std::string& id, const std::function<Result<Moved>()>& op, int status = 201) {
  std::optional<Moved> moved;
  auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                         [&]() -> Result<std::optional<audit::Change>> {
                           auto m = op();
                           if (!m) return m.error();
                           moved = *m;
                           if (m->replayed) return std::optional<audit::Change>{};
                           return audit::changed(audit::Change{action, "ledger", id, "", moved_json(*m, ctx).dump()});
                         });
  if (!s) return failure(s.error());
  return reply(moved->replayed ? 200 : status, moved_json(*moved, ctx));
}

}  // namespace

bool may_on(const ApiContext& ctx, const Request& req, identity::Right r, const Account& a) {
  using identity::Kind;
  if (!a.unit.empty() && !a.group.empty()) return ctx.may(req, r, {{Kind::unit, a.unit}, {Kind::group, a.group}});
  if (!a.group.empty()) return ctx.may(req, r, {{Kind::group, a.group}});
  if (!a.unit.empty()) return ctx.may(req, r, {{Kind::unit, a.unit}});
  return identity::allows(req.who(), r, identity::Place{});  // a site account: site grants only
}

void add_routes(Router& router, const ApiContext& ctx, Service& service, Store& store, directory::Store& directory,
                UnitOfWork& uow, audit::Store& audit) {
  using identity::Right;
  router.add({"POST", "/api/accounts", Access::any(Right::money_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"id", "kind", "name", "currency", "unit", "group", "owner", "organisation", "lab",
                                 "project_code", "overdraft_fen", "end"});
                Account a;
                a.id = f.id("id");
                const std::string kind = f.text("kind");
                a.name = f.text("name");
                a.currency = f.opt_text("currency");
                a.unit = f.id("unit", false);
                a.group = f.id("group", false);
                a.owner = f.id("owner", false);
                a.organisation = f.opt_text("organisation");
                a.lab = f.id("lab", false);
                a.project_code = f.opt_text("project_code");
                a.overdraft_fen = f.opt_integer("overdraft_fen", 0, kMaxAmount).value_or(0);
                a.end_ms = f.time("end", false);
                if (!f.ok()) return f.response();
                auto k = account_kind_from(kind);
                if (!k) return error(422, "invalid field: kind: must be grant, deposit, credit, lab_revenue, unit_revenue or platform");
                a.kind = *k;
                if (!may_on(ctx, req, Right::money_write, a))
                  return error(403, "forbidden: no right to open accounts in this unit or group");
                std::optional<Account> made;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.open_account(a, ctx.now());
                                         if (!r) return r.error();
                                         made = *r;
                                         return audit::changed(audit::Change{"create", "account", a.id, "",
                                                                             account_json(*r, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(201, account_json(*made, ctx));
              },
              "Open an account (finance): grant (group, owner = PI, project_code, end), deposit (organisation), "
              "credit (group, overdraft_fen = the credit line), lab_revenue (lab), unit_revenue, platform"});
  router.add({"GET", "/api/accounts", Access::any(Right::money_read),
              [&](const Request& req, const PathParams&) {
                AccountFilter f;
                if (const auto k = query(req, "kind"); !k.empty()) {
                  f.kind = account_kind_from(k);
                  if (!f.kind) return error(422, "invalid query: kind: unknown account kind");
                }
                f.group = query(req, "group");
                f.unit = query(req, "unit");
                f.owner = query(req, "owner");
                auto rows = store.accounts(f, kMaxRows);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const auto& a : *rows)
                  if (may_on(ctx, req, Right::money_read, a)) out.push_back(account_json(a, ctx));
                return reply(200, out);
              },
              "Accounts with their balances (?kind= ?group= ?unit= ?owner=), those the caller may see, by id"});
  router.add({"GET", "/api/accounts/{id}", Access::any(Right::money_read),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::money_read, bad);
                if (!a) return bad;
                json j = account_json(*a, ctx);
                auto why = service.blocked(a->id, ctx.now());
                if (!why) return failure(why.error());
                j["blocked"] = why->empty() ? json(nullptr) : json(*why);
                auto m = store.members(a->id);
                if (!m) return failure(m.error());
                json members = json::array();
                for (const auto& x : *m)
                  members.push_back(json{{"user", x.user}, {"approved_by", x.approved_by},
                                         {"approved", ctx.time(x.approved_ms)}, {"revoked", ctx.time_or_null(x.revoked_ms)}});
                j["members"] = std::move(members);
                auto ar = store.account(arrears_id(a->id));
                if (!ar) return failure(ar.error());
                j["owes_fen"] = *ar ? -balance_of((*ar)->balance) : 0;
                return reply(200, j);
              },
              "One account: balances, what it owes in arrears, whether it is blocked and why, its members"});
  router.add({"PATCH", "/api/accounts/{id}", Access::any(Right::money_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::money_write, bad);
                if (!a) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"name", "project_code", "overdraft_fen", "end", "closed"});
                Account next = *a;
                if (body->contains("name")) next.name = f.text("name");
                if (body->contains("project_code")) next.project_code = f.opt_text("project_code");
                if (auto o = f.opt_integer("overdraft_fen", 0, kMaxAmount)) next.overdraft_fen = *o;
                if (body->contains("end")) next.end_ms = f.time("end", false);
                if (auto c = f.opt_flag("closed")) next.closed_ms = *c ? std::optional<int64_t>{ctx.now()} : std::nullopt;
                if (!f.ok()) return f.response();
                std::optional<Account> after;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.change_account(next, ctx.now());
                                         if (!r) return r.error();
                                         after = *r;
                                         return audit::changed(audit::Change{"update", "account", a->id,
                                                                             account_json(*a, ctx).dump(),
                                                                             account_json(*r, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, account_json(*after, ctx));
              },
              "Change an account (finance): name, project_code, overdraft_fen (not below what it uses), end, closed"});
  router.add({"POST", "/api/accounts/{id}/members", Access::any(Right::account_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::account_write, bad);
                if (!a) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"user"});
                const std::string user = f.id("user");
                if (!f.ok()) return f.response();
                auto known = directory.user(user);
                if (!known) return failure(known.error());
                if (!*known) return error(422, "invalid field: user: no user '" + user + "'");
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(service.approve_member(a->id, user, actor_of(req), ctx.now()));
                                         return audit::changed(audit::Change{"approve", "account_member",
                                                                             a->id + "/" + user, "",
                                                                             json{{"user", user}}.dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(201, json{{"account", a->id}, {"user", user}});
              },
              "Approve a member to charge the account (the group's PI, or finance)"});
  router.add({"DELETE", "/api/accounts/{id}/members/{user}", Access::any(Right::account_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::account_write, bad);
                if (!a) return bad;
                const std::string& user = pp.at("user");
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(service.revoke_member(a->id, user, ctx.now()));
                                         return audit::changed(audit::Change{"revoke", "account_member",
                                                                             a->id + "/" + user,
                                                                             json{{"user", user}}.dump(), ""});
                                       });
                if (!s) return failure(s.error());
                return reply(200, json{{"account", a->id}, {"user", user}, {"revoked", true}});
              },
              "End a member's approval to charge the account"});
  router.add({"POST", "/api/accounts/{id}/top-ups", Access::any(Right::money_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::money_write, bad);
                if (!a) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"receipt", "amount_fen", "memo"});
                const std::string receipt = f.id("receipt");
                const int64_t amount = f.integer("amount_fen", 1, kMaxAmount);
                const std::string memo = f.opt_text("memo");
                if (!f.ok()) return f.response();
                return audited(ctx, uow, audit, req, "top_up", a->id, [&]() {
                  return service.top_up(a->id, receipt, amount, actor_of(req), memo, ctx.now());
                });
              },
              "Record a finance receipt on a deposit or credit account (idempotent by receipt); what the "
              "account owes in arrears is paid off from it"});
  router.add({"POST", "/api/accounts/{id}/budget", Access::any(Right::money_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::money_write, bad);
                if (!a) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"ref", "amount_fen"});
                const std::string ref = f.id("ref");
                const int64_t amount = f.integer("amount_fen", 1, kMaxAmount);
                if (!f.ok()) return f.response();
                return audited(ctx, uow, audit, req, "budget", a->id, [&]() {
                  return service.raise_budget(a->id, ref, amount, actor_of(req), ctx.now());
                });
              },
              "Credit a grant's budget from finance (idempotent by ref)"});
  router.add({"GET", "/api/accounts/{id}/transfers", Access::any(Right::money_read),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto a = located(ctx, req, store, pp.at("id"), Right::money_read, bad);
                if (!a) return bad;
                auto rows = store.transfers_of(a->id, kMaxRows);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const auto& t : *rows) out.push_back(transfer_json(t, ctx));
                return reply(200, out);
              },
              "The account's transfers, newest first (at most 1000)"});
  router.add({"POST", "/api/transfers", Access::any(Right::money_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"key", "debit", "credit", "amount_fen", "kind", "ref", "memo"});
                TransferRequest r;
                r.key = f.text("key", true, 128);
                r.debit = f.id("debit");
                r.credit = f.id("credit");
                r.amount_fen = f.integer("amount_fen", 1, kMaxAmount);
                const std::string kind = f.text("kind");
                r.ref = f.opt_text("ref");
                r.memo = f.text("memo");
                if (!f.ok()) return f.response();
                auto k = transfer_kind_from(kind);
                if (!k) return error(422, "invalid field: kind: must be correction, allocation or payout");
                r.kind = *k;
                r.actor = actor_of(req);
                for (const std::string& id : {r.debit, r.credit}) {
                  auto a = located(ctx, req, store, id, Right::money_write, bad);
                  if (!a) return bad;  // 404 for an account the caller may not see (or none), 403 read-only
                }
                return audited(ctx, uow, audit, req, "transfer", r.key,
                               [&]() { return service.transfer(r, ctx.now()); });
              },
              "A correction, allocation or payout between two accounts (finance, over both; idempotent by key; "
              "memo required)"});
  router.add({"POST", "/api/holds", Access::any(Right::money_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"key", "account", "revenue", "amount_fen", "until", "ref", "memo"});
                TransferRequest r;
                r.key = f.text("key", true, 128);
                r.debit = f.id("account");
                r.credit = f.id("revenue");
                r.amount_fen = f.integer("amount_fen", 1, kMaxAmount);
                r.timeout_ms = f.time("until", true);
                r.ref = f.opt_text("ref");
                r.memo = f.opt_text("memo");
                if (!f.ok()) return f.response();
                r.kind = TransferKind::hold;
                r.actor = actor_of(req);
                auto a = located(ctx, req, store, r.debit, Right::money_write, bad);
                if (!a) return bad;
                return audited(ctx, uow, audit, req, "hold", r.key, [&]() { return service.hold(r, ctx.now()); });
              },
              "Reserve funds on a payer account until a time (idempotent by key); refused when they are lacking"});
  router.add({"POST", "/api/holds/{id}/post", Access::any(Right::money_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"amount_fen", "charge"});
                const int64_t amount = f.integer("amount_fen", 0, kMaxAmount);
                const std::string charge = f.text("charge", true, 128);
                if (!f.ok()) return f.response();
                auto h = store.transfer(pp.at("id"));
                if (!h) return failure(h.error());
                if (!*h || (*h)->kind != TransferKind::hold) return error(404, "not found");
                auto a = located(ctx, req, store, (*h)->debit, Right::money_write, bad);
                if (!a) return bad;
                return audited(ctx, uow, audit, req, "post", pp.at("id"), [&]() {
                  return service.post_hold(pp.at("id"), amount, charge, actor_of(req), ctx.now());
                }, 200);
              },
              "Post a hold: what was used (up to the hold) posted, the rest released; more than held is charged too"});
  router.add({"POST", "/api/holds/{id}/release", Access::any(Right::money_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto h = store.transfer(pp.at("id"));
                if (!h) return failure(h.error());
                if (!*h || (*h)->kind != TransferKind::hold) return error(404, "not found");
                auto a = located(ctx, req, store, (*h)->debit, Right::money_write, bad);
                if (!a) return bad;
                return audited(ctx, uow, audit, req, "release", pp.at("id"), [&]() {
                  return service.release_hold(pp.at("id"), actor_of(req), ctx.now());
                }, 200);
              },
              "Give a hold back in full"});
  router.add({"GET", "/api/holds", Access::any(Right::money_read),
              [&](const Request& req, const PathParams&) {
                auto rows = store.open_holds(query(req, "account"), std::nullopt, kMaxRows);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const auto& t : *rows) {
                  auto a = store.account(t.debit);
                  if (!a) return failure(a.error());
                  if (*a && may_on(ctx, req, Right::money_read, **a)) out.push_back(transfer_json(t, ctx));
                }
                return reply(200, out);
              },
              "Open holds (?account=), oldest first, those on accounts the caller may see"});
  router.add({"GET", "/api/me/accounts", Access::signed_in(),
              [&](const Request& req, const PathParams&) {
                if (req.who().user.empty()) return reply(200, json::array());
                auto m = store.memberships(req.who().user);
                if (!m) return failure(m.error());
                json out = json::array();
                for (const auto& x : *m) {
                  auto a = store.account(x.account);
                  if (!a) return failure(a.error());
                  if (!*a) continue;
                  auto why = service.charge_refusal(x.account, req.who().user, ctx.now());
                  if (!why) return failure(why.error());
                  json j{{"id", (*a)->id}, {"kind", to_string((*a)->kind)}, {"name", (*a)->name},
                         {"currency", (*a)->currency}, {"project_code", (*a)->project_code},
                         {"available_fen", available_of((*a)->balance)},
                         {"blocked", why->empty() ? json(nullptr) : json(*why)}};
                  out.push_back(std::move(j));
                }
                return reply(200, out);
              },
              "The accounts the caller may charge, with what is available and whether each is blocked"});
  router.add({"PUT", "/api/me/default-account", Access::signed_in(),
              [&](const Request& req, const PathParams&) {
                if (req.who().user.empty()) return error(404, "not found");
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"account"});
                const std::string account = f.id("account");
                if (!f.ok()) return f.response();
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         LG_TRY(service.set_default(req.who().user, account));
                                         return audit::changed(audit::Change{"set_default", "account_member",
                                                                             account + "/" + req.who().user, "",
                                                                             json{{"default", true}}.dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, json{{"user", req.who().user}, {"default_account", account}});
              },
              "Choose the account your charges go to by default (one you are an approved member of)"});
  router.add({"GET", "/api/ledger/check", Access::site(Right::money_read),
              [&](const Request&, const PathParams&) {
                auto c = service.check();
                if (!c) return failure(c.error());
                return reply(200, json{{"ok", c->violations.empty()},
                                       {"accounts", c->accounts},
                                       {"transfers", c->transfers},
                                       {"violations", c->violations}});
              },
              "The ledger's invariants: stored balances equal their transfers, debits equal credits per "
              "currency, no account below its floor, no charge posted twice"});
}

}  // namespace lg::server::ledger
