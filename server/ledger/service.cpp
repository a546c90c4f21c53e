#include "server/ledger/service.hpp"

#include "labgate/common/assert.hpp"
#include "labgate/common/crypto.hpp"
#include "labgate/common/money.hpp"
#include "server/core/errors.hpp"

namespace lg::server::ledger {

namespace {

std::vector<std::string> lock_keys(std::initializer_list<std::string> ids) {
  std::vector<std::string> keys;
  for (const auto& id : ids)
    if (!id.empty()) keys.push_back("ledger:" + id);
  return keys;
}

bool resolves(TransferKind k) {
  return k == TransferKind::post || k == TransferKind::release || k == TransferKind::expire;
}

}  // namespace

std::string Service::finance_id(const std::string& currency) const {
  return currency == currency_ ? std::string("finance") : "finance-" + currency;
}

Result<Account> Service::must_account(const std::string& id, const char* field) {
  auto a = store_.account(id);
  if (!a) return a.error();
  if (!*a) return domain_error(Errc::unknown_reference, std::string(field) + ": no account '" + id + "'");
  return **a;
}

Status Service::ensure_finance(const std::string& currency, int64_t now_ms) {
  const std::string id = finance_id(currency);
  auto a = store_.account(id);
  if (!a) return a.error();
  if (*a) return {};
  Account f;
  f.id = id;
  f.kind = AccountKind::finance;
  f.name = "Finance office (" + currency + ")";
  f.currency = currency;
  f.created_ms = now_ms;
  return store_.add_account(f);
}

Result<Account> Service::open_account(Account a, int64_t now_ms) {
  if (a.currency.empty()) a.currency = currency_;
  if (!a.floor_fen && a.kind != AccountKind::finance && a.kind != AccountKind::arrears) a.floor_fen = default_floor(a.kind);
  if (a.kind == AccountKind::finance || a.kind == AccountKind::arrears)
    return domain_error(Errc::not_allowed, "kind: " + std::string(to_string(a.kind)) + " accounts are made by the ledger");
  if (auto why = account_problem(a); !why.empty()) return domain_error(Errc::not_allowed, why);
  a.created_ms = now_ms;
  a.balance = Balance{};
  a.closed_ms.reset();
  auto s = uow_.run([&]() -> Status { return store_.add_account(a); });
  if (!s) return s.error();
  return a;
}

Result<Account> Service::change_account(const Account& changed, int64_t now_ms) {
  (void)now_ms;
  return transact_serialized<Account>(uow_, lock_keys({changed.id}), [&]() -> Result<Account> {
    auto cur = must_account(changed.id, "account");
    if (!cur) return cur.error();
    Account next = *cur;
    next.name = changed.name;
    next.project_code = changed.project_code;
    next.overdraft_fen = changed.overdraft_fen;
    next.end_ms = changed.end_ms;
    next.closed_ms = changed.closed_ms;
    if (next.overdraft_fen < 0) return domain_error(Errc::not_allowed, "overdraft_fen: must not be negative");
    if (next.floor_fen && available_of(next.balance) < *next.floor_fen - next.overdraft_fen)
      return domain_error(Errc::not_allowed, "overdraft_fen: account " + next.id + " uses " +
                                                 money::format(*next.floor_fen - available_of(next.balance)) +
                                                 " of its overdraft now; it cannot be set lower");
    if (next.closed_ms && !cur->closed_ms && (next.balance.debits_pending > 0 || next.balance.credits_pending > 0))
      return domain_error(Errc::not_allowed, "closed: account " + next.id + " has open holds");
    LG_TRY(store_.update_account(next));
    return next;
  });
}

Result<Transfer> Service::apply(Transfer t, bool check_funds, bool* replayed) {
  if (auto stored = store_.by_key(t.key); !stored) {
    return stored.error();
  } else if (*stored) {
    if (auto why = key_mismatch(**stored, t); !why.empty()) return domain_error(Errc::conflict, why);
    if (replayed) *replayed = true;
    return **stored;
  }
  auto d = must_account(t.debit, "debit");
  if (!d) return d.error();
  auto c = must_account(t.credit, "credit");
  if (!c) return c.error();
  std::optional<Transfer> hold;
  if (resolves(t.kind)) {
    auto h = store_.transfer(t.pending_id);
    if (!h) return h.error();
    if (!*h || (*h)->kind != TransferKind::hold) return domain_error(Errc::not_found, "hold: no hold '" + t.pending_id + "'");
    hold = **h;
    auto r = store_.resolution(t.pending_id);
    if (!r) return r.error();
    if (*r) return domain_error(Errc::conflict, "hold " + t.pending_id + " is " + to_string((*r)->kind) + " already");
  } else {
    std::string rule;
    std::string why = transfer_refusal(*d, *c, t.amount_fen, &rule);
    // Without the funds check (arrears, and money from finance) only the funds rule is waived.
    if (!why.empty() && (check_funds || rule != "insufficient_funds")) return domain_error(Errc::not_allowed, rule + ": " + why);
  }
  t.currency = d->currency;
  auto after = effect(t, hold ? &*hold : nullptr, d->balance, c->balance);
  if (!after) return domain_error(Errc::not_allowed, "amount_fen: the transfer does not fit the accounts (overflow or above its hold)");
  // The money facts, asserted before the commit: nothing is created or lost by a transfer, and
  // a funds-checked debit stays at or above its limit.
  LG_INVARIANT(t.amount_fen >= 0, "a transfer never moves a negative amount");
  LG_INVARIANT((after->first.debits_posted - d->balance.debits_posted) ==
                   (after->second.credits_posted - c->balance.credits_posted),
               "a transfer debits what it credits");
  Account d_after = *d;
  d_after.balance = after->first;
  LG_INVARIANT(!check_funds || resolves(t.kind) || !d->floor_fen ||
                   available_of(d_after.balance) >= *d->floor_fen - d->overdraft_fen,
               "a funds-checked debit stays above its floor");
  t.id = crypto::uuid7();
  LG_TRY(store_.record(t, after->first, after->second));
  return t;
}

Result<Moved> Service::transfer(const TransferRequest& r, int64_t now_ms) {
  if (r.key.empty()) return domain_error(Errc::not_allowed, "key: required (it makes the transfer idempotent)");
  if (r.kind != TransferKind::correction && r.kind != TransferKind::allocation && r.kind != TransferKind::payout)
    return domain_error(Errc::not_allowed, std::string("kind: ") + to_string(r.kind) +
                                               " transfers are made through their own path (a transfer here is a "
                                               "correction, an allocation or a payout)");
  return transact_serialized<Moved>(uow_, lock_keys({r.debit, r.credit}), [&]() -> Result<Moved> {
    Transfer t;
    t.key = r.key;
    t.debit = r.debit;
    t.credit = r.credit;
    t.amount_fen = r.amount_fen;
    t.kind = r.kind;
    t.ref = r.ref;
    t.memo = r.memo;
    t.actor = r.actor;
    t.created_ms = now_ms;
    Moved out;
    auto done = apply(t, true, &out.replayed);
    if (!done) return done.error();
    out.transfers.push_back(*done);
    return out;
  });
}

Result<Account> Service::arrears_of(const Account& payer, int64_t now_ms) {
  const std::string id = arrears_id(payer.id);
  auto a = store_.account(id);
  if (!a) return a.error();
  if (*a) return **a;
  Account ar;
  ar.id = id;
  ar.kind = AccountKind::arrears;
  ar.name = payer.name + " (arrears)";
  ar.currency = payer.currency;
  ar.unit = payer.unit;
  ar.group = payer.group;
  ar.owner = payer.owner;
  ar.organisation = payer.organisation;
  ar.parent = payer.id;
  ar.created_ms = now_ms;
  LG_TRY(store_.add_account(ar));
  return ar;
}

Status Service::settle_arrears(const Account& payer_before, const std::string& key, const std::string& actor,
                               int64_t now_ms, Moved& out) {
  auto payer = must_account(payer_before.id, "account");
  if (!payer) return payer.error();
  auto ar = store_.account(arrears_id(payer->id));
  if (!ar) return ar.error();
  if (!*ar) return {};
  const int64_t amount = settle_amount(*payer, **ar);
  if (amount <= 0) return {};
  Transfer t;
  t.key = key;
  t.debit = payer->id;
  t.credit = (*ar)->id;
  t.amount_fen = amount;
  t.kind = TransferKind::settle;
  t.actor = actor;
  t.memo = "arrears paid off";
  t.created_ms = now_ms;
  auto done = apply(t, true, nullptr);
  if (!done) return done.error();
  out.transfers.push_back(*done);
  return {};
}

Result<Moved> Service::top_up(const std::string& account, const std::string& receipt, int64_t amount_fen,
                              const std::string& actor, const std::string& memo, int64_t now_ms) {
  if (receipt.empty()) return domain_error(Errc::not_allowed, "receipt: required (the finance system's receipt number)");
  auto a = must_account(account, "account");
  if (!a) return a.error();
  if (a->kind != AccountKind::deposit && a->kind != AccountKind::credit)
    return domain_error(Errc::not_allowed, "account: " + account + " is a " + to_string(a->kind) +
                                               " account; top-ups go to deposit and credit accounts");
  const std::string fin = finance_id(a->currency);
  return transact_serialized<Moved>(uow_, lock_keys({fin, account, arrears_id(account)}), [&]() -> Result<Moved> {
    LG_TRY(ensure_finance(a->currency, now_ms));
    Transfer t;
    t.key = "top_up:" + receipt;
    t.debit = fin;
    t.credit = account;
    t.amount_fen = amount_fen;
    t.kind = TransferKind::top_up;
    t.ref = receipt;
    t.memo = memo;
    t.actor = actor;
    t.created_ms = now_ms;
    Moved out;
    auto done = apply(t, false, &out.replayed);
    if (!done) return done.error();
    out.transfers.push_back(*done);
    if (!out.replayed) LG_TRY(settle_arrears(*a, "settle:" + receipt, actor, now_ms, out));
    return out;
  });
}

Result<Moved> Service::raise_budget(const std::string& account, const std::string& ref, int64_t amount_fen,
                                    const std::string& actor, int64_t now_ms) {
  if (ref.empty()) return domain_error(Errc::not_allowed, "ref: required (the grant's budget document)");
  auto a = must_account(account, "account");
  if (!a) return a.error();
  if (a->kind != AccountKind::grant)
    return domain_error(Errc::not_allowed, "account: " + account + " is not a grant account");
  const std::string fin = finance_id(a->currency);
  return transact_serialized<Moved>(uow_, lock_keys({fin, account, arrears_id(account)}), [&]() -> Result<Moved> {
    LG_TRY(ensure_finance(a->currency, now_ms));
    Transfer t;
    t.key = "budget:" + ref;
    t.debit = fin;
    t.credit = account;
    t.amount_fen = amount_fen;
    t.kind = TransferKind::budget;
    t.ref = ref;
    t.memo = "budget";
    t.actor = actor;
    t.created_ms = now_ms;
    Moved out;
    auto done = apply(t, false, &out.replayed);
    if (!done) return done.error();
    out.transfers.push_back(*done);
    if (out.replayed) return out;
    auto cur = must_account(account, "account");
    if (!cur) return cur.error();
    Account next = *cur;
    if (__builtin_add_overflow(next.budget_fen, amount_fen, &next.budget_fen))
      return domain_error(Errc::not_allowed, "amount_fen: the budget would overflow");
    LG_TRY(store_.update_account(next));
    LG_TRY(settle_arrears(next, "settle:budget:" + ref, actor, now_ms, out));
    return out;
  });
}

Status Service::charge_split(const ChargePosting& c, const std::string& key_paid, const std::string& key_owed,
                             int64_t now_ms, Moved& out) {
  auto payer = must_account(c.payer, "payer");
  if (!payer) return payer.error();
  if (!is_payer(payer->kind))
    return domain_error(Errc::not_allowed, "payer: " + c.payer + " is a " + to_string(payer->kind) + " account");
  const ChargeSplit split = split_charge(*payer, c.amount_fen);
  LG_INVARIANT(split.paid >= 0 && split.owed >= 0 && split.paid + split.owed == c.amount_fen,
               "a charge is split into what is paid and what is owed, nothing more");
  auto base = [&](const std::string& key, const std::string& debit, int64_t amount, TransferKind kind) {
    Transfer t;
    t.key = key;
    t.debit = debit;
    t.credit = c.revenue;
    t.amount_fen = amount;
    t.kind = kind;
    t.ref = c.charge;
    t.memo = c.memo;
    t.actor = c.actor;
    t.created_ms = now_ms;
    return t;
  };
  if (split.paid > 0) {
    auto done = apply(base(key_paid, payer->id, split.paid, TransferKind::charge), true, nullptr);
    if (!done) return done.error();
    out.transfers.push_back(*done);
  }
  if (split.owed > 0) {
    auto ar = arrears_of(*payer, now_ms);
    if (!ar) return ar.error();
    auto done = apply(base(key_owed, ar->id, split.owed, TransferKind::arrears), false, nullptr);
    if (!done) return done.error();
    out.transfers.push_back(*done);
  }
  return {};
}

Result<Moved> Service::post_charge(const ChargePosting& c, int64_t now_ms) {
  if (c.charge.empty()) return domain_error(Errc::not_allowed, "charge: required");
  if (c.amount_fen < 0) return domain_error(Errc::not_allowed, "amount_fen: a charge is never negative");
  return transact_serialized<Moved>(uow_, lock_keys({c.payer, arrears_id(c.payer), c.revenue}), [&]() -> Result<Moved> {
    Moved out;
    // Posted already (either part): the same charge never posts twice.
    auto before = store_.transfers_by_ref(c.charge);
    if (!before) return before.error();
    for (const auto& t : *before) {
      if (t.kind == TransferKind::charge || t.kind == TransferKind::arrears || t.kind == TransferKind::post) {
        out.transfers.push_back(t);
        out.replayed = true;
      }
    }
    if (out.replayed) return out;
    if (c.amount_fen == 0) return out;
    LG_TRY(charge_split(c, "charge:" + c.charge, "arrears:" + c.charge, now_ms, out));
    return out;
  });
}

Result<Moved> Service::post_charges(const std::vector<ChargePosting>& charges, int64_t now_ms) {
  std::vector<std::string> keys;
  for (const auto& c : charges) {
    if (c.charge.empty()) return domain_error(Errc::not_allowed, "charge: required");
    if (c.amount_fen < 0) return domain_error(Errc::not_allowed, "amount_fen: a charge is never negative");
    for (const std::string& id : {c.payer, arrears_id(c.payer), c.revenue}) keys.push_back("ledger:" + id);
  }
  return transact_serialized<Moved>(uow_, keys, [&]() -> Result<Moved> {
    Moved out;
    std::map<std::string, Account> at;  // every account touched, as it stands in this batch
    auto load = [&](const std::string& id, const char* field) -> Result<Account*> {
      if (auto it = at.find(id); it != at.end()) return &it->second;
      auto a = must_account(id, field);
      if (!a) return a.error();
      return &at.emplace(id, *a).first->second;
    };
    std::vector<Transfer> batch;
    int64_t debits = 0, credits = 0;
    auto add = [&](const std::string& key, Account& debit, Account& credit, int64_t amount, TransferKind kind,
                   const ChargePosting& c) -> Status {
      Transfer t;
      t.id = crypto::uuid7();
      t.key = key;
      t.debit = debit.id;
      t.credit = credit.id;
      t.amount_fen = amount;
      t.currency = debit.currency;
      t.kind = kind;
      t.ref = c.charge;
      t.memo = c.memo;
      t.actor = c.actor;
      t.created_ms = now_ms;
      if (debit.currency != credit.currency) return domain_error(Errc::not_allowed, "currency: " + debit.id + " and " + credit.id + " differ");
      if (debit.closed_ms || credit.closed_ms) return domain_error(Errc::not_allowed, "closed: " + debit.id + " or " + credit.id);
      auto after = effect(t, nullptr, debit.balance, credit.balance);
      if (!after) return domain_error(Errc::not_allowed, "amount_fen: the transfer does not fit the accounts (overflow)");
      debit.balance = after->first;
      credit.balance = after->second;
      debits += amount;
      credits += amount;
      batch.push_back(std::move(t));
      return {};
    };
    for (const auto& c : charges) {
      auto stored = store_.by_key("charge:" + c.charge);
      if (!stored) return stored.error();
      auto stored_owed = store_.by_key("arrears:" + c.charge);
      if (!stored_owed) return stored_owed.error();
      if (*stored || *stored_owed) {
        out.replayed = true;
        continue;
      }
      if (c.amount_fen == 0) continue;
      auto payer = load(c.payer, "payer");
      if (!payer) return payer.error();
      if (!is_payer((*payer)->kind))
        return domain_error(Errc::not_allowed, "payer: " + c.payer + " is a " + to_string((*payer)->kind) + " account");
      auto revenue = load(c.revenue, "revenue");
      if (!revenue) return revenue.error();
      const ChargeSplit split = split_charge(**payer, c.amount_fen);
      LG_INVARIANT(split.paid >= 0 && split.owed >= 0 && split.paid + split.owed == c.amount_fen,
                   "a charge is split into what is paid and what is owed, nothing more");
      if (split.paid > 0) LG_TRY(add("charge:" + c.charge, **payer, **revenue, split.paid, TransferKind::charge, c));
      if (split.owed > 0) {
        auto ar = arrears_of(**payer, now_ms);
        if (!ar) return ar.error();
        auto arrears = load(ar->id, "arrears");
        if (!arrears) return arrears.error();
        LG_TRY(add("arrears:" + c.charge, **arrears, **revenue, split.owed, TransferKind::arrears, c));
      }
    }
    LG_INVARIANT(debits == credits, "a batch debits what it credits");
    std::map<std::string, Balance> sums;
    for (const auto& [id, a] : at) {
      LG_INVARIANT(!is_payer(a.kind) || !a.floor_fen || available_of(a.balance) >= *a.floor_fen - a.overdraft_fen,
                   "a batch leaves payers at or above their floor (what they lack went to arrears)");
      sums[id] = a.balance;
    }
    LG_TRY(store_.record_batch(batch, sums));
    out.transfers = std::move(batch);
    return out;
  });
}

Result<Moved> Service::hold(const TransferRequest& r, int64_t now_ms) {
  if (r.key.empty()) return domain_error(Errc::not_allowed, "key: required (it makes the hold idempotent)");
  if (!r.timeout_ms || *r.timeout_ms <= now_ms) return domain_error(Errc::not_allowed, "timeout: a hold expires, later than now");
  return transact_serialized<Moved>(uow_, lock_keys({r.debit, r.credit}), [&]() -> Result<Moved> {
    auto payer = must_account(r.debit, "payer");
    if (!payer) return payer.error();
    if (!is_payer(payer->kind)) return domain_error(Errc::not_allowed, "payer: " + r.debit + " is not a payer account");
    auto ar = store_.account(arrears_id(r.debit));
    if (!ar) return ar.error();
    if (auto why = blocked_reason(*payer, *ar, now_ms); !why.empty())
      return domain_error(Errc::not_allowed, "account_blocked: " + why);
    Transfer t;
    t.key = r.key;
    t.debit = r.debit;
    t.credit = r.credit;
    t.amount_fen = r.amount_fen;
    t.kind = TransferKind::hold;
    t.timeout_ms = r.timeout_ms;
    t.ref = r.ref;
    t.memo = r.memo;
    t.actor = r.actor;
    t.created_ms = now_ms;
    Moved out;
    auto done = apply(t, true, &out.replayed);
    if (!done) return done.error();
    out.transfers.push_back(*done);
    return out;
  });
}

Result<Moved> Service::post_hold(const std::string& hold_id, int64_t amount_fen, const std::string& charge,
                                 const std::string& actor, int64_t now_ms) {
  if (amount_fen < 0) return domain_error(Errc::not_allowed, "amount_fen: a charge is never negative");
  if (charge.empty()) return domain_error(Errc::not_allowed, "charge: required");
  auto h = store_.transfer(hold_id);
  if (!h) return h.error();
  if (!*h || (*h)->kind != TransferKind::hold) return domain_error(Errc::not_found, "hold: no hold '" + hold_id + "'");
  const Transfer held = **h;
  return transact_serialized<Moved>(uow_, lock_keys({held.debit, arrears_id(held.debit), held.credit}),
                                    [&]() -> Result<Moved> {
    Moved out;
    Transfer t;
    t.key = "post:" + hold_id;
    t.debit = held.debit;
    t.credit = held.credit;
    t.amount_fen = amount_fen < held.amount_fen ? amount_fen : held.amount_fen;
    t.kind = TransferKind::post;
    t.pending_id = hold_id;
    t.ref = charge;
    t.actor = actor;
    t.memo = "hold posted";
    t.created_ms = now_ms;
    auto done = apply(t, false, &out.replayed);
    if (!done) return done.error();
    out.transfers.push_back(*done);
    if (out.replayed) return out;
    if (amount_fen > held.amount_fen) {
      ChargePosting extra{charge, held.debit, held.credit, amount_fen - held.amount_fen, "beyond the hold", actor};
      LG_TRY(charge_split(extra, "charge:" + charge, "arrears:" + charge, now_ms, out));
    }
    return out;
  });
}

Result<Moved> Service::release_hold(const std::string& hold_id, const std::string& actor, int64_t now_ms) {
  auto h = store_.transfer(hold_id);
  if (!h) return h.error();
  if (!*h || (*h)->kind != TransferKind::hold) return domain_error(Errc::not_found, "hold: no hold '" + hold_id + "'");
  const Transfer held = **h;
  return transact_serialized<Moved>(uow_, lock_keys({held.debit, held.credit}), [&]() -> Result<Moved> {
    Transfer t;
    t.key = "release:" + hold_id;
    t.debit = held.debit;
    t.credit = held.credit;
    t.kind = TransferKind::release;
    t.pending_id = hold_id;
    t.ref = held.ref;
    t.actor = actor;
    t.memo = "hold released";
    t.created_ms = now_ms;
    Moved out;
    auto done = apply(t, false, &out.replayed);
    if (!done) return done.error();
    out.transfers.push_back(*done);
    return out;
  });
}

Result<int32_t> Service::expire_holds(int64_t now_ms, int32_t limit) {
  auto due = store_.open_holds("", now_ms, limit);
  if (!due) return due.error();
  int32_t n = 0;
  for (const auto& held : *due) {
    auto r = transact_serialized<bool>(uow_, lock_keys({held.debit, held.credit}), [&]() -> Result<bool> {
      auto res = store_.resolution(held.id);
      if (!res) return res.error();
      if (*res) return false;  // resolved meanwhile
      Transfer t;
      t.key = "expire:" + held.id;
      t.debit = held.debit;
      t.credit = held.credit;
      t.kind = TransferKind::expire;
      t.pending_id = held.id;
      t.ref = held.ref;
      t.actor = "system";
      t.memo = "hold timed out";
      t.created_ms = now_ms;
      auto done = apply(t, false, nullptr);
      if (!done) return done.error();
      return true;
    });
    if (!r) return r.error();
    if (*r) ++n;
  }
  return n;
}

Status Service::approve_member(const std::string& account, const std::string& user, const std::string& by,
                               int64_t now_ms) {
  return uow_.run([&]() -> Status {
    auto a = must_account(account, "account");
    if (!a) return a.error();
    if (!is_payer(a->kind)) return domain_error(Errc::not_allowed, "account: only payer accounts have members");
    return store_.put_member(Member{account, user, by, now_ms, std::nullopt, false});
  });
}

Status Service::set_default(const std::string& user, const std::string& account) {
  return uow_.run([&]() -> Status { return store_.set_default(user, account); });
}

Status Service::revoke_member(const std::string& account, const std::string& user, int64_t now_ms) {
  return uow_.run([&]() -> Status { return store_.revoke_member(account, user, now_ms); });
}

Result<std::string> Service::blocked(const std::string& account, int64_t now_ms) {
  auto a = must_account(account, "account");
  if (!a) return a.error();
  auto ar = store_.account(arrears_id(account));
  if (!ar) return ar.error();
  return blocked_reason(*a, *ar, now_ms);
}

Result<std::string> Service::charge_refusal(const std::string& account, const std::string& user, int64_t now_ms) {
  auto a = must_account(account, "account");
  if (!a) return a.error();
  auto ar = store_.account(arrears_id(account));
  if (!ar) return ar.error();
  auto m = store_.members(account);
  if (!m) return m.error();
  return ledger::charge_refusal(*a, *ar, *m, user, now_ms);
}

Result<Service::Check> Service::check() {
  auto f = store_.facts();
  if (!f) return f.error();
  Check c;
  c.accounts = static_cast<int64_t>(f->accounts.size());
  c.transfers = f->transfers;
  c.violations = ledger::check(f->accounts, f->recomputed, f->charges_posted_twice);
  return c;
}

}  // namespace lg::server::ledger
