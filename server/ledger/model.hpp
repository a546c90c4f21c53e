// The ledger (issue 11): accounts and immutable double-entry transfers between them, in integer
// fen. Plain data: no I/O, no JSON, no SQL.
//
// Every transfer moves `amount_fen` from its debit account to its credit account, so the sum of
// all debits equals the sum of all credits per currency by construction. An account's balance is
// credits_posted - debits_posted; a hold (two-phase transfer) reserves funds as pending amounts
// until it is posted (in full or in part), released or expired. Corrections are new transfers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lg::server::ledger {

/// What an account is for.
enum class AccountKind {
  grant,         ///< a research grant (经费卡/项目) owned by a PI; members with approval charge it
  deposit,       ///< an external organisation's prepaid deposit (预存), topped up from finance receipts
  credit,        ///< a research group's credit line: floor 0, spending up to its authorised overdraft
  arrears,       ///< what a payer owes beyond its funds (one per payer account, made on demand)
  lab_revenue,   ///< a lab's revenue (charges on its instruments are credited here)
  unit_revenue,  ///< a unit's share of allocated revenue
  platform,      ///< the platform's share (and its maintenance fund)
  finance,       ///< the university's finance office: where budgets, top-ups and payouts come from
};

/// Why money moved.
enum class TransferKind {
  budget,      ///< finance -> grant: a grant's budget (or a raise of it)
  top_up,      ///< finance -> deposit/credit: a receipt from the finance system
  charge,      ///< payer -> lab revenue: a confirmed charge (the part the payer's funds cover)
  arrears,     ///< payer's arrears -> lab revenue: the part of a charge beyond the payer's funds
  settle,      ///< payer -> its arrears: paying off what was owed (after a top-up or a budget)
  hold,        ///< a pending transfer reserving funds (booking or sample order of an external user)
  post,        ///< the posted part of a hold
  release,     ///< a hold given back (amount 0: resolves the hold)
  expire,      ///< a hold that timed out (amount 0: resolves the hold)
  correction,  ///< a correction by finance (a new transfer, never an edit)
  allocation,  ///< revenue allocated by rule (拨款)
  payout,      ///< money leaving the system to finance (a refund of a deposit)
};

/// Pending and posted sums on each side of one account.
struct Balance {
  int64_t debits_posted = 0;
  int64_t credits_posted = 0;
  int64_t debits_pending = 0;
  int64_t credits_pending = 0;
  bool operator==(const Balance&) const = default;
};

/// credits_posted - debits_posted.
int64_t balance_of(const Balance& b);
/// The balance less what holds reserve: what the account may still spend above its floor.
int64_t available_of(const Balance& b);

struct Account {
  std::string id;
  AccountKind kind = AccountKind::grant;
  std::string name;
  std::string currency;
  std::string unit;          ///< the unit it belongs to (where rights over it are checked); "" = site
  std::string group;         ///< grant, credit: the research group ("" otherwise)
  std::string owner;         ///< grant: the PI's user id
  std::string organisation;  ///< deposit: the external organisation
  std::string lab;           ///< lab_revenue: the lab
  std::string project_code;  ///< grant: the finance system's project code (voucher lines)
  std::string parent;        ///< arrears: the payer account it belongs to
  /// The lowest balance less holds the account may reach without an overdraft; nullopt = none
  /// (finance, arrears). Defaults by kind: rules::default_floor.
  std::optional<int64_t> floor_fen{};
  int64_t overdraft_fen = 0;         ///< authorised overdraft below the floor (a credit line's limit)
  int64_t budget_fen = 0;            ///< grant: the budget credited so far (informational)
  std::optional<int64_t> end_ms{};   ///< grant: no charge for use after this
  std::optional<int64_t> closed_ms{};
  int64_t created_ms = 0;
  Balance balance{};
};

/// One immutable transfer.
struct Transfer {
  std::string id;
  std::string key;  ///< idempotency key: the same key never moves money twice
  std::string debit;
  std::string credit;
  int64_t amount_fen = 0;  ///< > 0, except release/expire (0)
  std::string currency;
  TransferKind kind = TransferKind::correction;
  std::string pending_id;            ///< post/release/expire: the hold it resolves
  std::optional<int64_t> timeout_ms{};  ///< hold: when it expires
  std::string ref;                   ///< what caused it: a charge id, a receipt number, an order id
  std::string memo;
  std::string actor;
  int64_t created_ms = 0;
};

/// A member allowed to charge an account (a grant's members, approved by the PI).
struct Member {
  std::string account;
  std::string user;
  std::string approved_by;
  int64_t approved_ms = 0;
  std::optional<int64_t> revoked_ms{};
  bool is_default = false;  ///< the member's default account: their charges go here
};

const char* to_string(AccountKind k);
std::optional<AccountKind> account_kind_from(std::string_view s);
const char* to_string(TransferKind k);
std::optional<TransferKind> transfer_kind_from(std::string_view s);

}  // namespace lg::server::ledger
