// The ledger's rules: pure functions over accounts, balances and transfers. The store applies
// what they decide in one transaction; ledger::Service is the glue.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/ledger/model.hpp"

namespace lg::server::ledger {

/// The floor an account of this kind gets unless finance sets another: 0 for every account that
/// holds money of its own, none (nullopt) for finance and arrears, which may go negative.
std::optional<int64_t> default_floor(AccountKind k);

/// Whether the kind may pay for use (grant, deposit, credit).
bool is_payer(AccountKind k);

/// What is wrong with a new account, or "" (id, name, currency of 3 letters, the fields its kind
/// needs: a grant its group and owner, a deposit its organisation, a lab_revenue its lab; no
/// negative overdraft or budget).
std::string account_problem(const Account& a);

/// The id of a payer account's arrears account.
std::string arrears_id(const std::string& payer);

/// Why moving `amount` from debit to credit is refused, or "" when it may go ahead: a positive
/// amount, two different open accounts of one currency, and the debit account staying at or above
/// its floor less its authorised overdraft counting what holds reserve. `rule` gets the short
/// name (amount, same_account, currency, closed, insufficient_funds).
std::string transfer_refusal(const Account& debit, const Account& credit, int64_t amount, std::string* rule = nullptr);

/// How much more the account may spend: available - (floor - overdraft), never below 0; the
/// largest int64 for an account without a floor.
int64_t headroom(const Account& a);

/// A charge of `amount` on a payer: what its funds cover and what goes to its arrears.
struct ChargeSplit {
  int64_t paid = 0;
  int64_t owed = 0;
};
ChargeSplit split_charge(const Account& payer, int64_t amount);

/// What a payer should move to its arrears account to pay off what it owes: min(owed, headroom).
int64_t settle_amount(const Account& payer, const Account& arrears);

/// The balances of the debit and credit accounts after transfer t; `hold` is the hold a
/// post/release/expire resolves (required for them). nullopt when a sum would overflow or a
/// resolution does not match its hold (amount above it, other accounts).
std::optional<std::pair<Balance, Balance>> effect(const Transfer& t, const Transfer* hold, Balance debit, Balance credit);

/// Why the payer may not be charged or book now, or "": closed, a grant past its end date, in
/// arrears (its arrears account below 0), over its limit.
std::string blocked_reason(const Account& payer, const std::optional<Account>& arrears, int64_t now_ms);

/// Why `user` may not charge `account` now, or "": not a payer, blocked, or not an approved
/// member (the members given are the account's).
std::string charge_refusal(const Account& account, const std::optional<Account>& arrears,
                           const std::vector<Member>& members, const std::string& user, int64_t now_ms);

/// A transfer whose fields differ from the one stored under its key (a key reused for another
/// transfer), or "" when the same request was simply made again.
std::string key_mismatch(const Transfer& stored, const Transfer& asked);

/// The ledger's invariants over facts the store read in one snapshot: every account's stored
/// balances equal those recomputed from its transfers; debits equal credits per currency, posted
/// and pending; no account below its floor less its overdraft; no charge posted twice (the refs
/// given). Returns one line per violation; empty when the ledger holds.
std::vector<std::string> check(const std::vector<Account>& accounts, const std::map<std::string, Balance>& recomputed,
                               const std::vector<std::string>& charges_posted_twice);

}  // namespace lg::server::ledger
