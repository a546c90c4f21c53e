#include "server/ledger/rules.hpp"

#include <array>
#include <limits>
#include <set>

#include "labgate/common/money.hpp"

namespace lg::server::ledger {

namespace {

constexpr std::array<const char*, 8> kAccountKinds{"grant",        "deposit",  "credit",  "arrears",
                                                   "lab_revenue",  "unit_revenue", "platform", "finance"};
constexpr std::array<const char*, 12> kTransferKinds{"budget", "top_up",  "charge",     "arrears",
                                                     "settle", "hold",    "post",       "release",
                                                     "expire", "correction", "allocation", "payout"};

bool add(int64_t& x, int64_t a) { return !__builtin_add_overflow(x, a, &x); }
bool sub(int64_t& x, int64_t a) { return !__builtin_sub_overflow(x, a, &x); }

/// The lowest "available" the account may reach; nullopt = no limit.
std::optional<int64_t> limit_of(const Account& a) {
  if (!a.floor_fen) return std::nullopt;
  int64_t l = *a.floor_fen;
  if (!sub(l, a.overdraft_fen)) return std::numeric_limits<int64_t>::min();
  return l;
}

}  // namespace

int64_t balance_of(const Balance& b) { return b.credits_posted - b.debits_posted; }
int64_t available_of(const Balance& b) { return balance_of(b) - b.debits_pending; }

const char* to_string(AccountKind k) { return kAccountKinds[static_cast<std::size_t>(k)]; }
std::optional<AccountKind> account_kind_from(std::string_view s) {
  for (std::size_t i = 0; i < kAccountKinds.size(); ++i)
    if (s == kAccountKinds[i]) return static_cast<AccountKind>(i);
  return std::nullopt;
}
const char* to_string(TransferKind k) { return kTransferKinds[static_cast<std::size_t>(k)]; }
std::optional<TransferKind> transfer_kind_from(std::string_view s) {
  for (std::size_t i = 0; i < kTransferKinds.size(); ++i)
    if (s == kTransferKinds[i]) return static_cast<TransferKind>(i);
  return std::nullopt;
}

std::optional<int64_t> default_floor(AccountKind k) {
  if (k == AccountKind::finance || k == AccountKind::arrears) return std::nullopt;
  return 0;
}

bool is_payer(AccountKind k) {
  return k == AccountKind::grant || k == AccountKind::deposit || k == AccountKind::credit;
}

std::string account_problem(const Account& a) {
  if (a.id.empty()) return "id: required";
  if (a.name.empty()) return "name: required";
  if (a.currency.size() != 3) return "currency: must be a 3-letter code";
  if (a.overdraft_fen < 0) return "overdraft_fen: must not be negative";
  if (a.budget_fen < 0) return "budget_fen: must not be negative";
  switch (a.kind) {
    case AccountKind::grant:
      if (a.group.empty()) return "group: a grant account belongs to a research group";
      if (a.owner.empty()) return "owner: a grant account has a PI";
      break;
    case AccountKind::deposit:
      if (a.organisation.empty()) return "organisation: a deposit account belongs to an organisation";
      break;
    case AccountKind::credit:
      if (a.group.empty()) return "group: a credit line belongs to a research group";
      break;
    case AccountKind::lab_revenue:
      if (a.lab.empty()) return "lab: a lab revenue account names its lab";
      break;
    case AccountKind::arrears:
      if (a.parent.empty()) return "parent: an arrears account belongs to a payer account";
      break;
    case AccountKind::unit_revenue:
      if (a.unit.empty()) return "unit: a unit revenue account names its unit";
      break;
    case AccountKind::platform:
    case AccountKind::finance:
      break;
  }
  return "";
}

std::string arrears_id(const std::string& payer) { return payer + ".arrears"; }

int64_t headroom(const Account& a) {
  const auto l = limit_of(a);
  if (!l) return std::numeric_limits<int64_t>::max();
  int64_t h = available_of(a.balance);
  if (!sub(h, *l)) return std::numeric_limits<int64_t>::max();
  return h < 0 ? 0 : h;
}

std::string transfer_refusal(const Account& debit, const Account& credit, int64_t amount, std::string* rule) {
  auto refuse = [&](const char* r, std::string why) {
    if (rule) *rule = r;
    return why;
  };
  if (amount <= 0) return refuse("amount", "amount_fen: must be above 0");
  if (debit.id == credit.id) return refuse("same_account", "debit and credit are the same account");
  if (debit.currency != credit.currency)
    return refuse("currency", "currency: " + debit.id + " holds " + debit.currency + ", " + credit.id + " holds " +
                                  credit.currency);
  if (debit.closed_ms) return refuse("closed", "account " + debit.id + " is closed");
  if (credit.closed_ms) return refuse("closed", "account " + credit.id + " is closed");
  if (headroom(debit) < amount)
    return refuse("insufficient_funds", "account " + debit.id + " has " + money::format(headroom(debit)) + " " +
                                            debit.currency + " available, " + money::format(amount) + " asked");
  return "";
}

ChargeSplit split_charge(const Account& payer, int64_t amount) {
  const int64_t h = headroom(payer);
  ChargeSplit s;
  s.paid = amount < h ? amount : h;
  s.owed = amount - s.paid;
  return s;
}

int64_t settle_amount(const Account& payer, const Account& arrears) {
  const int64_t owed = -balance_of(arrears.balance) - arrears.balance.debits_pending;
  if (owed <= 0) return 0;
  const int64_t h = headroom(payer);
  return owed < h ? owed : h;
}

std::optional<std::pair<Balance, Balance>> effect(const Transfer& t, const Transfer* hold, Balance d, Balance c) {
  const bool resolves = t.kind == TransferKind::post || t.kind == TransferKind::release || t.kind == TransferKind::expire;
  if (resolves) {
    if (!hold || hold->kind != TransferKind::hold || hold->debit != t.debit || hold->credit != t.credit) return std::nullopt;
    if (t.amount_fen < 0 || t.amount_fen > hold->amount_fen) return std::nullopt;
    if (t.kind != TransferKind::post && t.amount_fen != 0) return std::nullopt;
    if (!sub(d.debits_pending, hold->amount_fen) || !sub(c.credits_pending, hold->amount_fen)) return std::nullopt;
    if (!add(d.debits_posted, t.amount_fen) || !add(c.credits_posted, t.amount_fen)) return std::nullopt;
    return std::pair{d, c};
  }
  if (t.amount_fen <= 0) return std::nullopt;
  if (t.kind == TransferKind::hold) {
    if (!add(d.debits_pending, t.amount_fen) || !add(c.credits_pending, t.amount_fen)) return std::nullopt;
  } else {
    if (!add(d.debits_posted, t.amount_fen) || !add(c.credits_posted, t.amount_fen)) return std::nullopt;
  }
  return std::pair{d, c};
}

std::string blocked_reason(const Account& payer, const std::optional<Account>& arrears, int64_t now_ms) {
  if (payer.closed_ms) return "account " + payer.id + " is closed";
  if (payer.end_ms && *payer.end_ms <= now_ms) return "account " + payer.id + " has ended";
  if (arrears && balance_of(arrears->balance) < 0)
    return "account " + payer.id + " is in arrears: owes " + money::format(-balance_of(arrears->balance)) + " " +
           payer.currency;
  const auto l = limit_of(payer);
  if (l && available_of(payer.balance) < *l) return "account " + payer.id + " is over its limit";
  return "";
}

std::string charge_refusal(const Account& account, const std::optional<Account>& arrears,
                           const std::vector<Member>& members, const std::string& user, int64_t now_ms) {
  if (!is_payer(account.kind)) return "account " + account.id + " is not an account one pays from";
  if (auto why = blocked_reason(account, arrears, now_ms); !why.empty()) return why;
  for (const auto& m : members)
    if (m.account == account.id && m.user == user && !m.revoked_ms) return "";
  return "user " + user + " is not an approved member of account " + account.id;
}

std::string key_mismatch(const Transfer& s, const Transfer& a) {
  if (s.debit != a.debit || s.credit != a.credit || s.amount_fen != a.amount_fen || s.kind != a.kind ||
      s.pending_id != a.pending_id)
    return "key " + a.key + " was used for another transfer (" + s.debit + " -> " + s.credit + ", " +
           money::format(s.amount_fen) + ", " + to_string(s.kind) + ")";
  return "";
}

std::vector<std::string> check(const std::vector<Account>& accounts, const std::map<std::string, Balance>& recomputed,
                               const std::vector<std::string>& charges_posted_twice) {
  std::vector<std::string> out;
  std::map<std::string, Balance> per_currency;
  for (const auto& a : accounts) {
    const auto it = recomputed.find(a.id);
    const Balance r = it == recomputed.end() ? Balance{} : it->second;
    if (!(r == a.balance))
      out.push_back("account " + a.id + ": stored balances differ from its transfers (debits " +
                    std::to_string(a.balance.debits_posted) + "/" + std::to_string(r.debits_posted) + ", credits " +
                    std::to_string(a.balance.credits_posted) + "/" + std::to_string(r.credits_posted) + ", pending " +
                    std::to_string(a.balance.debits_pending) + "/" + std::to_string(r.debits_pending) + ")");
    Balance& c = per_currency[a.currency];
    c.debits_posted += r.debits_posted;
    c.credits_posted += r.credits_posted;
    c.debits_pending += r.debits_pending;
    c.credits_pending += r.credits_pending;
    const auto l = limit_of(a);
    if (l && available_of(r) < *l)
      out.push_back("account " + a.id + ": below its floor (" + money::format(available_of(r)) + " available, limit " +
                    money::format(*l) + ")");
  }
  std::set<std::string> ids;
  for (const auto& a : accounts) ids.insert(a.id);
  for (const auto& [id, b] : recomputed)
    if (!ids.count(id)) out.push_back("transfers name an unknown account " + id);
  for (const auto& [currency, b] : per_currency) {
    if (b.debits_posted != b.credits_posted)
      out.push_back(currency + ": posted debits " + std::to_string(b.debits_posted) + " != credits " +
                    std::to_string(b.credits_posted));
    if (b.debits_pending != b.credits_pending)
      out.push_back(currency + ": pending debits " + std::to_string(b.debits_pending) + " != credits " +
                    std::to_string(b.credits_pending));
  }
  for (const auto& ref : charges_posted_twice) out.push_back("charge " + ref + " posted more than once");
  return out;
}

}  // namespace lg::server::ledger
