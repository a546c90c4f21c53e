#include "server/settlement/service.hpp"

#include "labgate/common/assert.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/time.hpp"
#include "server/core/errors.hpp"
#include "server/ledger/rules.hpp"

namespace lg::server::settlement {

namespace {
// Every unit of work that assigns months or closes them takes this key: a confirmation never
// lands in a month while it is being closed.
const std::string kMonthsKey = "settlement:months";
}  // namespace

Status Service::ensure_account(const std::string& id, ledger::AccountKind kind, const std::string& name,
                               const std::string& unit, const std::string& lab, int64_t now_ms) {
  auto a = accounts_.account(id);
  if (!a) return a.error();
  if (*a) return {};
  ledger::Account acct;
  acct.id = id;
  acct.kind = kind;
  acct.name = name;
  acct.unit = unit;
  acct.lab = lab;
  auto r = ledger_.open_account(acct, now_ms);
  if (!r) return r.error();
  return {};
}

Result<int32_t> Service::intake(int64_t now_ms, int32_t limit) {
  const int64_t from = intake_from_ms_;
  auto taken = transact<int32_t>(uow_, [&]() -> Result<int32_t> {
    auto facts = store_.untaken(from, limit);
    if (!facts) return facts.error();
    int32_t n = 0;
    for (const auto& c : *facts) {
      std::string payer;
      if (!c.user.empty()) {
        auto ch = store_.choices(c.user, now_ms);
        if (!ch) return ch.error();
        payer = payer_for(*ch);
      }
      Posting p = take_in(c, payer, policy_, now_ms);
      if (!p.revenue.empty())
        LG_TRY(ensure_account(p.revenue, ledger::AccountKind::lab_revenue, "Revenue of lab " + c.lab, c.unit, c.lab, now_ms));
      LG_INVARIANT(p.amount_fen == c.amount_fen && p.amount_fen >= 0, "a posting starts at its charge's amount");
      if (auto added = store_.add_posting(p); !added) {
        if (is(added.error(), Errc::conflict)) continue;  // another node took it in first
        return added.error();
      }
      ++n;
    }
    return n;
  });
  // Caught up (fewer than a full batch): later runs start an hour before now.
  if (taken && *taken < limit) intake_from_ms_ = now_ms - 3'600'000;
  return taken;
}

Result<Posting> Service::confirm_one(const std::string& charge, const std::string& by, int64_t now_ms, bool early) {
  const std::string keys[] = {kMonthsKey};
  return transact_serialized<Posting>(uow_, keys, [&]() -> Result<Posting> {
    auto cur = store_.posting(charge);
    if (!cur) return cur.error();
    if (!*cur) return domain_error(Errc::not_found, "posting: no charge '" + charge + "'");
    Posting p = **cur;
    if (!confirmable(p, now_ms, early)) {
      if (p.state != PostingState::review)
        return domain_error(Errc::conflict, "charge " + charge + " is " + to_string(p.state) + " already");
      return domain_error(Errc::not_allowed, "charge " + charge + " has no account to charge yet");
    }
    auto closed = store_.closed_months();
    if (!closed) return closed.error();
    auto end_month = time::local_month(p.end_ms, tz_);
    if (!end_month) return end_month.error();
    p.month = month_for(*end_month, *closed, [](const std::string& m) {
      auto n = time::next_month(m);
      return n ? *n : m + "+";
    });
    p.state = PostingState::confirmed;
    p.confirmed_ms = now_ms;
    if (p.adjusted_by.empty() && early) p.adjusted_by = by;
    auto payer = accounts_.account(p.account);
    if (!payer) return payer.error();
    if (!*payer) return domain_error(Errc::unknown_reference, "account: no account '" + p.account + "'");
    if (charged_at_once((*payer)->kind)) {
      auto moved = ledger_.post_charge(
          ledger::ChargePosting{p.charge, p.account, p.revenue, p.amount_fen, "charge " + p.charge, by}, now_ms);
      if (!moved) return moved.error();
      int64_t sum = 0;
      for (const auto& t : moved->transfers) sum += t.amount_fen;
      LG_INVARIANT(sum == p.amount_fen, "a prepaid charge posts exactly its amount");
      p.state = PostingState::posted;
      p.posted_ms = now_ms;
    }
    LG_TRY(store_.update_posting(p));
    return p;
  });
}

Result<int32_t> Service::confirm_due(int64_t now_ms, int32_t limit) {
  auto due = store_.due(now_ms, limit);
  if (!due) return due.error();
  int32_t n = 0;
  for (const auto& p : *due) {
    auto r = confirm_one(p.charge, "system", now_ms, false);
    if (!r) {
      if (is(r.error(), Errc::conflict)) continue;  // confirmed meanwhile
      return r.error();
    }
    ++n;
  }
  return n;
}

Result<Posting> Service::confirm(const std::string& charge, const std::string& by, int64_t now_ms) {
  return confirm_one(charge, by, now_ms, true);
}

Result<Posting> Service::adjust(const std::string& charge, int64_t amount_fen, const std::string& reason,
                                const std::string& by, int64_t now_ms) {
  (void)now_ms;
  return transact<Posting>(uow_, [&]() -> Result<Posting> {
    auto cur = store_.posting(charge);
    if (!cur) return cur.error();
    if (!*cur) return domain_error(Errc::not_found, "posting: no charge '" + charge + "'");
    Posting p = **cur;
    if (auto why = adjustment_refusal(p, amount_fen, reason); !why.empty()) {
      return domain_error(p.state == PostingState::review ? Errc::not_allowed : Errc::conflict, why);
    }
    p.amount_fen = amount_fen;
    p.reason = reason;
    p.adjusted_by = by;
    LG_TRY(store_.update_posting(p));
    return p;
  });
}

Result<Posting> Service::set_account(const std::string& charge, const std::string& account, const std::string& by,
                                     int64_t now_ms) {
  (void)by;
  return transact<Posting>(uow_, [&]() -> Result<Posting> {
    auto cur = store_.posting(charge);
    if (!cur) return cur.error();
    if (!*cur) return domain_error(Errc::not_found, "posting: no charge '" + charge + "'");
    Posting p = **cur;
    if (p.state != PostingState::review)
      return domain_error(Errc::conflict, "charge " + charge + " is " + to_string(p.state) + ": its account is fixed");
    auto why = ledger_.charge_refusal(account, p.user, now_ms);
    if (!why) return why.error();
    if (!why->empty()) return domain_error(Errc::not_allowed, "account: " + *why);
    p.account = account;
    LG_TRY(store_.update_posting(p));
    return p;
  });
}

Result<Settled> Service::settle(const std::string& month, const std::string& by, int64_t now_ms) {
  auto next = time::next_month(month);
  if (!next) return domain_error(Errc::not_allowed, "month: must be YYYY-MM");
  auto end = time::local_month_start(*next, tz_);
  if (!end) return domain_error(Errc::not_allowed, "month: must be YYYY-MM");
  const std::string keys[] = {kMonthsKey};
  return transact_serialized<Settled>(uow_, keys, [&]() -> Result<Settled> {
    auto closed = store_.closed_months();
    if (!closed) return closed.error();
    if (auto why = settle_refusal(month, *end, closed->count(month) > 0, now_ms); !why.empty())
      return domain_error(closed->count(month) ? Errc::conflict : Errc::not_allowed, why);
    auto totals = store_.month_totals(month);
    if (!totals) return totals.error();
    std::map<std::string, std::string> codes;
    for (const auto& t : *totals) {
      if (codes.count(t.account)) continue;
      auto a = accounts_.account(t.account);
      if (!a) return a.error();
      codes[t.account] = *a ? (*a)->project_code : std::string();
    }
    Settled out;
    out.plan = plan_month(month, *totals, codes, now_ms);
    int64_t posted = 0;
    std::map<std::string, std::string> account_of;
    for (const auto& s : out.plan.statements) account_of[s.id] = s.account;
    std::vector<ledger::ChargePosting> batch;
    batch.reserve(out.plan.parts.size());
    for (const auto& part : out.plan.parts)
      batch.push_back(ledger::ChargePosting{"statement:" + part.statement + ":" + part.revenue, account_of[part.statement],
                                            part.revenue, part.total_fen, "settlement " + month, by});
    auto moved = ledger_.post_charges(batch, now_ms);
    if (!moved) return moved.error();
    for (const auto& t : moved->transfers) posted += t.amount_fen;
    LG_INVARIANT(posted == out.plan.total_fen, "a month's settlement posts exactly its statements' totals");
    out.close = MonthClose{month, now_ms, by, out.plan.charges, out.plan.total_fen,
                           static_cast<int64_t>(out.plan.statements.size())};
    LG_TRY(store_.close_month(out.close, out.plan.statements, out.plan.parts));
    return out;
  });
}

Result<std::optional<std::string>> Service::due_month(int64_t now_ms, int32_t settle_day) {
  auto this_month = time::local_month(now_ms, tz_);
  if (!this_month) return this_month.error();
  auto start = time::local_month_start(*this_month, tz_);
  if (!start) return start.error();
  if (now_ms < *start + int64_t{settle_day - 1} * 86'400'000) return std::optional<std::string>{};
  // The month before: from the local start of this month, one day back.
  auto prev = time::local_month(*start - 1, tz_);
  if (!prev) return prev.error();
  auto closed = store_.closed_months();
  if (!closed) return closed.error();
  if (closed->count(*prev)) return std::optional<std::string>{};
  return std::optional<std::string>{*prev};
}

Result<std::pair<std::string, std::vector<MatchResult>>> Service::reconcile(const std::vector<FinanceRow>& rows,
                                                                            const std::string& by, int64_t now_ms) {
  using Out = std::pair<std::string, std::vector<MatchResult>>;
  return transact<Out>(uow_, [&]() -> Result<Out> {
    std::vector<std::string> ids;
    for (const auto& r : rows) ids.push_back(r.statement);
    auto st = store_.statements_by_id(ids);
    if (!st) return st.error();
    Out out{crypto::uuid7(), reconcile_rows(rows, *st)};
    for (const auto& m : out.second)
      if (m.outcome == MatchOutcome::matched) LG_TRY(store_.mark_paid(m.statement, m.row.ref, now_ms));
    LG_TRY(store_.add_reconciliation(out.first, by, now_ms, out.second));
    return out;
  });
}

Result<std::vector<Allocated>> Service::allocate(const std::string& ref, const std::string& by, int64_t now_ms) {
  if (ref.empty()) return domain_error(Errc::not_allowed, "ref: required (e.g. the month allocated)");
  return transact<std::vector<Allocated>>(uow_, [&]() -> Result<std::vector<Allocated>> {
    ledger::AccountFilter f;
    f.kind = ledger::AccountKind::lab_revenue;
    auto labs = accounts_.accounts(f, 100000);
    if (!labs) return labs.error();
    LG_TRY(ensure_account(kPlatformAccount, ledger::AccountKind::platform, "Platform", "", "", now_ms));
    std::vector<Allocated> out;
    for (const auto& lab : *labs) {
      Allocated a;
      a.lab_account = lab.id;
      a.unit = lab.unit;
      const std::string key0 = "alloc:" + ref + ":" + lab.id;
      auto done = accounts_.transfers_by_ref(key0);
      if (!done) return done.error();
      if (!done->empty()) {
        a.replayed = true;
        for (const auto& t : *done) a.shares.push_back(Share{t.credit, t.amount_fen});
        out.push_back(std::move(a));
        continue;
      }
      a.collected_fen = ledger::headroom(lab);
      const std::string unit_account = lab.unit.empty() ? std::string() : unit_revenue_id(lab.unit);
      if (!unit_account.empty())
        LG_TRY(ensure_account(unit_account, ledger::AccountKind::unit_revenue, "Revenue of unit " + lab.unit, lab.unit,
                              "", now_ms));
      a.shares = settlement::allocate(a.collected_fen, unit_account, policy_.allocation);
      int64_t given = 0;
      for (const auto& s : a.shares) {
        auto moved = ledger_.transfer(ledger::TransferRequest{key0 + ":" + s.to, lab.id, s.to, s.amount_fen,
                                                              ledger::TransferKind::allocation, key0,
                                                              "allocation " + ref, by},
                                      now_ms);
        if (!moved) return moved.error();
        given += s.amount_fen;
      }
      a.kept_fen = a.collected_fen - given;
      LG_INVARIANT(a.kept_fen >= 0 && given + a.kept_fen == a.collected_fen, "an allocation gives away no more than collected");
      out.push_back(std::move(a));
    }
    return out;
  });
}

}  // namespace lg::server::settlement
