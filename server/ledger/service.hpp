// The ledger's use cases, each one unit of work serialized on the accounts it touches (on
// PostgreSQL concurrent postings to one account queue; on SQLite writers are serialized anyway):
// open accounts, move money with an idempotency key, top up, raise a grant's budget, post a charge
// (what the payer's funds do not cover goes to its arrears), hold / post / release / expire, and
// check the invariants. Every transfer is checked by the rules before it is stored and asserted
// after (LG_INVARIANT): a wrong amount aborts before the commit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/core/unit_of_work.hpp"
#include "server/ledger/rules.hpp"
#include "server/ledger/store.hpp"

namespace lg::server::ledger {

/// One transfer asked for. The key makes it idempotent: asked again, the stored transfer is
/// returned and nothing moves; asked again with other accounts or amount, it is refused.
struct TransferRequest {
  std::string key;
  std::string debit;
  std::string credit;
  int64_t amount_fen = 0;
  TransferKind kind = TransferKind::correction;
  std::string ref{};
  std::string memo{};
  std::string actor{};
  std::optional<int64_t> timeout_ms{};  ///< holds only
};

/// A charge to post: from the payer to the revenue account, keyed by the charge id.
struct ChargePosting {
  std::string charge;
  std::string payer;
  std::string revenue;
  int64_t amount_fen = 0;
  std::string memo{};
  std::string actor{};
};

/// What an operation stored (or found stored, when replayed).
struct Moved {
  std::vector<Transfer> transfers;
  bool replayed = false;  ///< the key had been used: nothing new moved
};

class Service {
 public:
  /// currency: the site currency (the finance account of it is made on first use).
  Service(UnitOfWork& uow, Store& store, std::string currency) : uow_(uow), store_(store), currency_(std::move(currency)) {}

  /// Opens an account: floor from rules::default_floor unless given, zero balances. 422-type
  /// not_allowed with the problem for a bad account, conflict when the id exists.
  Result<Account> open_account(Account a, int64_t now_ms);
  /// Changes an account's settings (name, project code, overdraft, end date, closed). An
  /// overdraft may not drop below what the account uses of it now.
  Result<Account> change_account(const Account& changed, int64_t now_ms);

  /// The id of the finance account of a currency ("finance", or "finance-USD" for another one).
  std::string finance_id(const std::string& currency) const;

  /// One transfer of kind correction, allocation or payout (the other kinds have their own paths).
  Result<Moved> transfer(const TransferRequest& r, int64_t now_ms);
  /// A receipt from finance credited to a deposit or credit account (key "top_up:<receipt>"),
  /// then what the account owes in arrears paid off from it (key "settle:<receipt>").
  Result<Moved> top_up(const std::string& account, const std::string& receipt, int64_t amount_fen,
                       const std::string& actor, const std::string& memo, int64_t now_ms);
  /// A grant's budget raised from finance (key "budget:<ref>"), its arrears paid off after.
  Result<Moved> raise_budget(const std::string& account, const std::string& ref, int64_t amount_fen,
                             const std::string& actor, int64_t now_ms);
  /// A confirmed charge posted: the part the payer's funds cover (key "charge:<id>"), the rest
  /// from the payer's arrears account (key "arrears:<id>"). Posted at most once per charge id.
  Result<Moved> post_charge(const ChargePosting& c, int64_t now_ms);
  /// Many charges posted as post_charge posts each, in one unit of work that reads each account
  /// once and writes it once (the monthly settlement's path). A charge whose key is stored already
  /// is left as it is (replayed). Returns the transfers stored.
  Result<Moved> post_charges(const std::vector<ChargePosting>& charges, int64_t now_ms);
  /// Reserves funds (a pending transfer) until timeout_ms; refused when the payer lacks them.
  Result<Moved> hold(const TransferRequest& r, int64_t now_ms);
  /// Posts a hold: min(amount, held) posted against it (key "post:<hold>"), the rest released; an
  /// amount above the hold is posted as a charge of its own (the same split as post_charge),
  /// keyed by charge. conflict when the hold is resolved already with another outcome.
  Result<Moved> post_hold(const std::string& hold_id, int64_t amount_fen, const std::string& charge,
                          const std::string& actor, int64_t now_ms);
  /// Gives a hold back in full.
  Result<Moved> release_hold(const std::string& hold_id, const std::string& actor, int64_t now_ms);
  /// Expires the open holds whose timeout has passed (at most limit); returns how many.
  Result<int32_t> expire_holds(int64_t now_ms, int32_t limit = 500);

  /// Approves a member to charge an account (by = who approved).
  Status approve_member(const std::string& account, const std::string& user, const std::string& by, int64_t now_ms);
  /// Makes the account the user's default (they must be an active member).
  Status set_default(const std::string& user, const std::string& account);
  /// Ends a membership.
  Status revoke_member(const std::string& account, const std::string& user, int64_t now_ms);

  /// Why the payer account is blocked now, or "" (rules::blocked_reason).
  Result<std::string> blocked(const std::string& account, int64_t now_ms);
  /// Why the user may not charge the account now, or "" (rules::charge_refusal).
  Result<std::string> charge_refusal(const std::string& account, const std::string& user, int64_t now_ms);

  /// The invariant check over the whole ledger; the facts' counts and the violations.
  struct Check {
    int64_t accounts = 0;
    int64_t transfers = 0;
    std::vector<std::string> violations;
  };
  Result<Check> check();

 private:
  Result<Transfer> apply(Transfer t, bool check_funds, bool* replayed);
  Result<Account> must_account(const std::string& id, const char* field);
  Status ensure_finance(const std::string& currency, int64_t now_ms);
  Result<Account> arrears_of(const Account& payer, int64_t now_ms);
  Status settle_arrears(const Account& payer, const std::string& key, const std::string& actor, int64_t now_ms,
                        Moved& out);
  Status charge_split(const ChargePosting& c, const std::string& key_paid, const std::string& key_owed, int64_t now_ms,
                      Moved& out);
  UnitOfWork& uow_;
  Store& store_;
  std::string currency_;
};

}  // namespace lg::server::ledger
