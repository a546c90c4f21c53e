#include "server/settlement/http.hpp"

#include "labgate/common/csv.hpp"
#include "labgate/common/money.hpp"
#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/core/sheet.hpp"
#include "server/identity/rules.hpp"
#include "server/ledger/http.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::settlement {

using namespace http;

namespace {

constexpr int32_t kMaxRows = 10000;

json posting_json(const Posting& p, const ApiContext& ctx) {
  return json{{"charge", p.charge},
              {"user", p.user},
              {"instrument", p.instrument},
              {"category", p.category},
              {"currency", p.currency},
              {"charged_fen", p.charged_fen},
              {"amount_fen", p.amount_fen},
              {"amount", money::format(p.amount_fen)},
              {"account", p.account},
              {"revenue", p.revenue},
              {"state", to_string(p.state)},
              {"end", ctx.time(p.end_ms)},
              {"month", p.month},
              {"review_until", ctx.time(p.review_until_ms)},
              {"adjusted_by", p.adjusted_by},
              {"reason", p.reason},
              {"confirmed", ctx.time_or_null(p.confirmed_ms)},
              {"posted", ctx.time_or_null(p.posted_ms)}};
}

json statement_json(const Statement& s, const ApiContext& ctx) {
  return json{{"id", s.id},
              {"account", s.account},
              {"month", s.month},
              {"currency", s.currency},
              {"project_code", s.project_code},
              {"total_fen", s.total_fen},
              {"total", money::format(s.total_fen)},
              {"charges", s.charges},
              {"closed", ctx.time(s.closed_ms)},
              {"paid", ctx.time_or_null(s.paid_ms)},
              {"paid_ref", s.paid_ref}};
}

json match_json(const MatchResult& m) {
  return json{{"line", m.row.line},
              {"ref", m.row.ref},
              {"statement", m.row.statement},
              {"amount_fen", m.row.amount_fen},
              {"outcome", to_string(m.outcome)},
              {"expected_fen", m.expected_fen},
              {"detail", m.detail}};
}

/// Whether the caller holds right r over a posting: its instrument's and its user's place.
bool may_posting(const ApiContext& ctx, const Request& req, identity::Right r, const Posting& p) {
  using identity::Kind;
  if (p.user.empty()) return ctx.may(req, r, {{Kind::instrument, p.instrument}});
  return ctx.may(req, r, {{Kind::instrument, p.instrument}, {Kind::user, p.user}});
}


/// A posting the caller may work on as an instrument admin (instrument_write on its instrument).
std::optional<Posting> editable(const ApiContext& ctx, const Request& req, Store& store, const std::string& charge,
                                Response& bad) {
  auto p = store.posting(charge);
  if (!p) {
    bad = failure(p.error());
    return std::nullopt;
  }
  if (!*p || (!may_posting(ctx, req, identity::Right::money_read, **p) &&
                 !ctx.may(req, identity::Right::instrument_write, {{identity::Kind::instrument, (*p)->instrument}}))) {
    bad = error(404, "not found");
    return std::nullopt;
  }
  if (!ctx.may(req, identity::Right::instrument_write, {{identity::Kind::instrument, (*p)->instrument}})) {
    bad = error(403, "forbidden: the charge's instrument is not yours to review");
    return std::nullopt;
  }
  return **p;
}

/// ?format=json (default), csv or xlsx.
Response sheet_reply(const Request& req, const sheet::Sheet& s, const json& as_json, const std::string& file) {
  const std::string format = query(req, "format");
  if (format.empty() || format == "json") return reply(200, as_json);
  if (format == "csv") {
    Response r(200, sheet::to_csv(s));
    r.headers.emplace_back("Content-Type", "text/csv; charset=utf-8");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + ".csv\"");
    return r;
  }
  if (format == "xlsx") {
    auto bytes = sheet::to_xlsx(s);
    if (!bytes) return failure(bytes.error());
    Response r(200, std::move(*bytes));
    r.headers.emplace_back("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + ".xlsx\"");
    return r;
  }
  return error(422, "invalid query: format: must be json, csv or xlsx");
}

/// Parses the finance system's CSV: a header naming ref, statement and amount (yuan, "1234.50")
/// in any order; one row per transfer booked.
Result<std::vector<FinanceRow>> finance_rows(std::string_view text) {
  auto rows = csv::parse(text);
  if (!rows) return rows.error();
  if (rows->empty()) return Error::invalid("the file is empty: a header row ref,statement,amount is needed");
  const auto& head = rows->front().fields;
  int ref = -1, st = -1, amount = -1;
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == "ref") ref = static_cast<int>(i);
    if (head[i] == "statement") st = static_cast<int>(i);
    if (head[i] == "amount") amount = static_cast<int>(i);
  }
  if (ref < 0 || st < 0 || amount < 0) return Error::invalid("line 1: the header must name ref, statement and amount");
  std::vector<FinanceRow> out;
  for (std::size_t i = 1; i < rows->size(); ++i) {
    const auto& r = (*rows)[i];
    const auto need = static_cast<std::size_t>(std::max({ref, st, amount}));
    if (r.fields.size() <= need) return Error::invalid("line " + std::to_string(r.line) + ": too few fields");
    auto fen = money::parse(r.fields[static_cast<std::size_t>(amount)]);
    if (!fen) return Error::invalid("line " + std::to_string(r.line) + ": amount: must be yuan such as 1234.50");
    out.push_back(FinanceRow{static_cast<int64_t>(r.line), r.fields[static_cast<std::size_t>(ref)],
                             r.fields[static_cast<std::size_t>(st)], *fen});
  }
  return out;
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Service& service, Store& store, ledger::Store& accounts,
                UnitOfWork& uow, audit::Store& audit) {
  using identity::Right;
  router.add({"GET", "/api/postings", Access::any(Right::money_read),
              [&](const Request& req, const PathParams&) {
                PostingFilter f;
                if (const auto s = query(req, "state"); !s.empty()) {
                  f.state = posting_state_from(s);
                  if (!f.state) return error(422, "invalid query: state: must be review, confirmed or posted");
                }
                f.account = query(req, "account");
                f.instrument = query(req, "instrument");
                f.user = query(req, "user");
                f.month = query(req, "month");
                auto rows = store.postings(f, kMaxRows);
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const auto& p : *rows)
                  if (may_posting(ctx, req, Right::money_read, p)) out.push_back(posting_json(p, ctx));
                return reply(200, out);
              },
              "Charges on their way to the ledger (?state=review|confirmed|posted ?account= ?instrument= ?user= "
              "?month=), newest first, those the caller may see"});
  router.add({"PUT", "/api/postings/{charge}/adjustment", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto p = editable(ctx, req, store, pp.at("charge"), bad);
                if (!p) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"amount_fen", "reason"});
                const int64_t amount = f.integer("amount_fen", 0, 100'000'000'000);
                const std::string reason = f.text("reason");
                if (!f.ok()) return f.response();
                std::optional<Posting> after;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.adjust(p->charge, amount, reason, req.who().actor(), ctx.now());
                                         if (!r) return r.error();
                                         after = *r;
                                         return audit::changed(audit::Change{"adjust", "charge", p->charge,
                                                                             posting_json(*p, ctx).dump(),
                                                                             posting_json(*r, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, posting_json(*after, ctx));
              },
              "Adjust a charge in its review window to amount_fen with a reason (the instrument's admins)"});
  router.add({"PUT", "/api/postings/{charge}/account", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto p = editable(ctx, req, store, pp.at("charge"), bad);
                if (!p) return bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"account"});
                const std::string account = f.id("account");
                if (!f.ok()) return f.response();
                std::optional<Posting> after;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.set_account(p->charge, account, req.who().actor(), ctx.now());
                                         if (!r) return r.error();
                                         after = *r;
                                         return audit::changed(audit::Change{"set_account", "charge", p->charge,
                                                                             posting_json(*p, ctx).dump(),
                                                                             posting_json(*r, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, posting_json(*after, ctx));
              },
              "Name the account a charge in review is paid from (one its user may charge)"});
  router.add({"POST", "/api/postings/{charge}/confirm", Access::any(Right::instrument_write),
              [&](const Request& req, const PathParams& pp) {
                Response bad;
                auto p = editable(ctx, req, store, pp.at("charge"), bad);
                if (!p) return bad;
                std::optional<Posting> after;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.confirm(p->charge, req.who().actor(), ctx.now());
                                         if (!r) return r.error();
                                         after = *r;
                                         return audit::changed(audit::Change{"confirm", "charge", p->charge,
                                                                             posting_json(*p, ctx).dump(),
                                                                             posting_json(*r, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(200, posting_json(*after, ctx));
              },
              "Confirm a charge before its review window ends (a prepaid payer is charged at once)"});
  router.add({"POST", "/api/settlements", Access::site(Right::money_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"month"});
                const std::string month = f.text("month", true, 7);
                if (!f.ok()) return f.response();
                std::optional<Settled> done;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.settle(month, req.who().actor(), ctx.now());
                                         if (!r) return r.error();
                                         done = *r;
                                         return audit::changed(audit::Change{
                                             "settle", "month", month, "",
                                             json{{"charges", r->close.charges}, {"total_fen", r->close.total_fen},
                                                  {"statements", r->close.statements}}
                                                 .dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(201, json{{"month", month},
                                       {"charges", done->close.charges},
                                       {"total_fen", done->close.total_fen},
                                       {"total", money::format(done->close.total_fen)},
                                       {"statements", done->close.statements}});
              },
              "Settle a month that has ended (site zone): its confirmed charges posted per payer and lab, a "
              "statement per account, the month closed"});
  router.add({"GET", "/api/settlements", Access::any(Right::money_read),
              [&](const Request&, const PathParams&) {
                auto rows = store.months();
                if (!rows) return failure(rows.error());
                json out = json::array();
                for (const auto& m : *rows)
                  out.push_back(json{{"month", m.month}, {"closed", ctx.time(m.closed_ms)}, {"by", m.by},
                                     {"charges", m.charges}, {"total_fen", m.total_fen}, {"statements", m.statements}});
                return reply(200, out);
              },
              "The settled (closed) months, newest first"});
  router.add({"GET", "/api/statements", Access::any(Right::money_read),
              [&](const Request& req, const PathParams&) {
                const std::string month = query(req, "month");
                auto rows = store.statements(month, query(req, "account"), kMaxRows);
                if (!rows) return failure(rows.error());
                json out = json::array();
                sheet::Sheet sh{"statements " + month,
                                {"statement", "account", "project_code", "month", "currency", "charges", "total_fen",
                                 "total", "paid", "paid_ref"},
                                {}};
                for (const auto& s : *rows) {
                  auto a = accounts.account(s.account);
                  if (!a) return failure(a.error());
                  if (!*a || !ledger::may_on(ctx, req, Right::money_read, **a)) continue;
                  out.push_back(statement_json(s, ctx));
                  sh.rows.push_back({s.id, s.account, s.project_code, s.month, s.currency, s.charges, s.total_fen,
                                     money::format(s.total_fen), s.paid_ms ? ctx.time(*s.paid_ms) : std::string(),
                                     s.paid_ref});
                }
                return sheet_reply(req, sh, out, "statements-" + (month.empty() ? std::string("all") : month));
              },
              "Statements (?month= ?account=) of the accounts the caller may see; ?format=csv or xlsx to download"});
  router.add({"GET", "/api/settlements/{month}/vouchers", Access::any(Right::money_read),
              [&](const Request& req, const PathParams& pp) {
                const std::string& month = pp.at("month");
                auto parts = store.parts(month);
                if (!parts) return failure(parts.error());
                auto st = store.statements(month, "", kMaxRows);
                if (!st) return failure(st.error());
                std::map<std::string, const Statement*> by_id;
                for (const auto& s : *st) by_id[s.id] = &s;
                json out = json::array();
                sheet::Sheet sh{"vouchers " + month,
                                {"account", "project_code", "amount_fen", "amount", "counter_account", "summary"},
                                {}};
                for (const auto& p : *parts) {
                  const Statement* s = by_id.count(p.statement) ? by_id[p.statement] : nullptr;
                  if (!s) continue;
                  auto a = accounts.account(s->account);
                  if (!a) return failure(a.error());
                  if (!*a || !ledger::may_on(ctx, req, Right::money_read, **a)) continue;
                  const std::string summary = "instrument use " + month + " (" + std::to_string(p.charges) + " charges)";
                  out.push_back(json{{"account", s->account}, {"project_code", s->project_code},
                                     {"amount_fen", p.total_fen}, {"amount", money::format(p.total_fen)},
                                     {"counter_account", p.revenue}, {"summary", summary}});
                  sh.rows.push_back({s->account, s->project_code, p.total_fen, money::format(p.total_fen), p.revenue, summary});
                }
                return sheet_reply(req, sh, out, "vouchers-" + month);
              },
              "The finance hand-over of a settled month: voucher lines (account, project code, amount, counter "
              "account, summary); ?format=csv or xlsx"});
  router.add({"POST", "/api/reconciliations", Access::site(Right::money_write),
              [&](const Request& req, const PathParams&) {
                if (req.body.empty()) return error(400, "missing body: the finance system's CSV (ref,statement,amount)");
                auto rows = finance_rows(req.body);
                if (!rows) return error(422, "invalid CSV: " + rows.error().reason);
                std::optional<std::pair<std::string, std::vector<MatchResult>>> done;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.reconcile(*rows, req.who().actor(), ctx.now());
                                         if (!r) return r.error();
                                         done = *r;
                                         int matched = 0;
                                         for (const auto& m : r->second) matched += m.outcome == MatchOutcome::matched;
                                         return audit::changed(audit::Change{
                                             "reconcile", "reconciliation", r->first, "",
                                             json{{"rows", r->second.size()}, {"matched", matched}}.dump()});
                                       });
                if (!s) return failure(s.error());
                json list = json::array();
                int matched = 0;
                for (const auto& m : done->second) {
                  matched += m.outcome == MatchOutcome::matched;
                  list.push_back(match_json(m));
                }
                return reply(201, json{{"id", done->first},
                                       {"rows", list},
                                       {"matched", matched},
                                       {"mismatches", static_cast<int>(done->second.size()) - matched}});
              },
              "平账: the finance system's records (CSV with ref, statement, amount in yuan) matched to statements; "
              "matched statements are marked paid, the rest listed with why"});
  router.add({"GET", "/api/reconciliations/{id}", Access::site(Right::money_read),
              [&](const Request&, const PathParams& pp) {
                auto rows = store.reconciliation(pp.at("id"));
                if (!rows) return failure(rows.error());
                if (rows->empty()) return error(404, "not found");
                json list = json::array();
                for (const auto& m : *rows) list.push_back(match_json(m));
                return reply(200, json{{"id", pp.at("id")}, {"rows", list}});
              },
              "One reconciliation's rows with their outcomes"});
  router.add({"POST", "/api/allocations", Access::site(Right::money_write),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Fields f(*body, {"ref"});
                const std::string ref = f.id("ref");
                if (!f.ok()) return f.response();
                std::optional<std::vector<Allocated>> done;
                auto s = audit::record(uow, audit, audit::request_context(req), ctx.now(),
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto r = service.allocate(ref, req.who().actor(), ctx.now());
                                         if (!r) return r.error();
                                         done = *r;
                                         return audit::changed(audit::Change{"allocate", "allocation", ref, "",
                                                                             json{{"labs", r->size()}}.dump()});
                                       });
                if (!s) return failure(s.error());
                json labs = json::array();
                std::map<std::string, json> units;
                for (const auto& a : *done) {
                  json shares = json::array();
                  for (const auto& sh : a.shares) shares.push_back(json{{"to", sh.to}, {"amount_fen", sh.amount_fen}});
                  labs.push_back(json{{"lab_account", a.lab_account}, {"unit", a.unit}, {"collected_fen", a.collected_fen},
                                      {"kept_fen", a.kept_fen}, {"shares", shares}, {"replayed", a.replayed}});
                  json& u = units[a.unit];
                  if (u.is_null()) u = json{{"unit", a.unit}, {"collected_fen", 0}, {"to_unit_fen", 0},
                                            {"to_platform_fen", 0}, {"kept_by_labs_fen", 0}};
                  u["collected_fen"] = u["collected_fen"].get<int64_t>() + a.collected_fen;
                  u["kept_by_labs_fen"] = u["kept_by_labs_fen"].get<int64_t>() + a.kept_fen;
                  for (const auto& sh : a.shares) {
                    const char* k = sh.to == kPlatformAccount ? "to_platform_fen" : "to_unit_fen";
                    u[k] = u[k].get<int64_t>() + sh.amount_fen;
                  }
                }
                json per_unit = json::array();
                for (auto& [k, v] : units) per_unit.push_back(v);
                return reply(201, json{{"ref", ref}, {"labs", labs}, {"units", per_unit}});
              },
              "拨款: allocate what each lab's revenue account holds by the [settlement] shares (to the unit, to the "
              "platform; the rest stays with the lab) under a reference (e.g. the month); a report per unit"});
}

}  // namespace lg::server::settlement
