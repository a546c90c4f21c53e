// The ledger store: accounts with their balances, transfers, members. It decides nothing:
// ledger::Service applies the rules in one unit of work, and record() stores a transfer and the
// balances it leaves in that same transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/ledger/model.hpp"

namespace lg::server::ledger {

/// Which accounts to list; "" = any.
struct AccountFilter {
  std::optional<AccountKind> kind{};
  std::string group;
  std::string unit;
  std::string owner;
};

/// What the invariant check reads, in one snapshot.
struct Facts {
  std::vector<Account> accounts;
  std::map<std::string, Balance> recomputed;       ///< by account, summed from its transfers
  std::vector<std::string> charges_posted_twice;   ///< refs with more than one charge (or arrears) transfer
  int64_t transfers = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  /// Stores a new account (zero balances); conflict when the id exists.
  virtual Status add_account(const Account& a) = 0;
  /// Stores an account's changed settings (name, project code, floor, overdraft, budget, end,
  /// closed); never its balances. not_found for an unknown id.
  virtual Status update_account(const Account& a) = 0;
  /// One account; nullopt when unknown.
  virtual Result<std::optional<Account>> account(const std::string& id) = 0;
  /// Accounts matching the filter, by id, at most limit.
  virtual Result<std::vector<Account>> accounts(const AccountFilter& f, int32_t limit) = 0;
  /// The transfer stored under an idempotency key; nullopt when none.
  virtual Result<std::optional<Transfer>> by_key(const std::string& key) = 0;
  /// One transfer; nullopt when unknown.
  virtual Result<std::optional<Transfer>> transfer(const std::string& id) = 0;
  /// The transfer that resolved a hold (post, release or expire); nullopt while it is open.
  virtual Result<std::optional<Transfer>> resolution(const std::string& hold_id) = 0;
  /// Stores a new transfer with the balances it leaves on its debit and credit accounts.
  /// conflict when its key is taken or its hold resolved already (the constraints behind the rules).
  virtual Status record(const Transfer& t, const Balance& debit_after, const Balance& credit_after) = 0;
  /// Stores new transfers (none resolving a hold) and then the final sums of every account they
  /// touch, in one write: a batch that leaves each account written once. conflict when a key is
  /// taken.
  virtual Status record_batch(const std::vector<Transfer>& transfers, const std::map<std::string, Balance>& sums) = 0;
  /// The account's transfers (either side), newest first, at most limit.
  virtual Result<std::vector<Transfer>> transfers_of(const std::string& account, int32_t limit) = 0;
  /// Transfers with the given ref (a charge id, a receipt), oldest first.
  virtual Result<std::vector<Transfer>> transfers_by_ref(const std::string& ref) = 0;
  /// Open holds (unresolved), oldest first, at most limit: of one account ("" = any), or only
  /// those whose timeout is at or before due_ms when given.
  virtual Result<std::vector<Transfer>> open_holds(const std::string& account, std::optional<int64_t> due_ms,
                                                   int32_t limit) = 0;
  /// Adds (or re-approves) a member of an account.
  virtual Status put_member(const Member& m) = 0;
  /// Ends a membership; not_found when the user is not an active member.
  virtual Status revoke_member(const std::string& account, const std::string& user, int64_t now_ms) = 0;
  /// The account's members, revoked ones too, by user.
  virtual Result<std::vector<Member>> members(const std::string& account) = 0;
  /// Makes `account` the user's default account (and no other one); not_found when the user is
  /// not an active member of it.
  virtual Status set_default(const std::string& user, const std::string& account) = 0;
  /// The accounts the user is an active member of, by account.
  virtual Result<std::vector<Member>> memberships(const std::string& user) = 0;
  /// Everything the invariant check needs, read in one snapshot.
  virtual Result<Facts> facts() = 0;
};

}  // namespace lg::server::ledger
