// Settlement use cases, each one unit of work: take charges in as postings, confirm them when
// their review window ends (a prepaid payer is charged at once), adjust or confirm one early, settle
// a month (one ledger transfer per payer and lab, a statement per account, the month locked), match
// the finance system's records to statements (平账), and allocate labs' revenue (拨款).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/core/unit_of_work.hpp"
#include "server/ledger/service.hpp"
#include "server/ledger/store.hpp"
#include "server/settlement/rules.hpp"
#include "server/settlement/store.hpp"

namespace lg::server::settlement {

/// What a month's settlement did.
struct Settled {
  MonthClose close;
  MonthPlan plan;
};

/// One lab's allocation.
struct Allocated {
  std::string lab_account;
  std::string unit;
  int64_t collected_fen = 0;
  std::vector<Share> shares;
  int64_t kept_fen = 0;
  bool replayed = false;  ///< allocated before under this reference: nothing moved now
};

class Service {
 public:
  Service(UnitOfWork& uow, Store& store, ledger::Service& ledger, ledger::Store& accounts, Policy policy,
          std::string time_zone)
      : uow_(uow), store_(store), ledger_(ledger), accounts_(accounts), policy_(std::move(policy)), tz_(std::move(time_zone)) {}

  const Policy& policy() const { return policy_; }

  /// Takes in up to limit charges that have no posting: payer (rules::payer_for), the lab's revenue
  /// account (opened on first use), review window. Returns how many. The first run reads every
  /// charge; later runs only those created since an hour before the previous run ended empty
  /// (charges are created at ingest, so the hour covers a transaction that committed late).
  Result<int32_t> intake(int64_t now_ms, int32_t limit = 1000);
  /// Confirms the postings whose review window is over (at most limit); returns how many.
  Result<int32_t> confirm_due(int64_t now_ms, int32_t limit = 1000);
  /// Confirms one posting now (an instrument admin, before its window ends).
  Result<Posting> confirm(const std::string& charge, const std::string& by, int64_t now_ms);
  /// Adjusts a posting in review to amount with a reason.
  Result<Posting> adjust(const std::string& charge, int64_t amount_fen, const std::string& reason,
                         const std::string& by, int64_t now_ms);
  /// Names the account a posting in review charges (the user must be allowed to charge it).
  Result<Posting> set_account(const std::string& charge, const std::string& account, const std::string& by,
                              int64_t now_ms);
  /// Settles month "YYYY-MM" (it must have ended, in the site zone, and not be closed): in one unit
  /// of work, the month's confirmed postings summed per (payer, lab), each sum posted to the ledger
  /// (what a grant lacks goes to its arrears), a statement per payer, the month closed.
  Result<Settled> settle(const std::string& month, const std::string& by, int64_t now_ms);
  /// The month to settle automatically at now: the previous month, once `settle_day` days of the
  /// current one have passed, if it is not closed; nullopt otherwise.
  Result<std::optional<std::string>> due_month(int64_t now_ms, int32_t settle_day);
  /// Matches the finance system's rows to statements (rules::reconcile), marks the matched ones
  /// paid, and keeps the result under a new id. Returns (id, rows).
  Result<std::pair<std::string, std::vector<MatchResult>>> reconcile(const std::vector<FinanceRow>& rows,
                                                                     const std::string& by, int64_t now_ms);
  /// Allocates what each lab's revenue account holds by the rule, under reference `ref` (e.g. a
  /// month): shares to the unit's revenue account and to the platform as ledger transfers. Again
  /// with the same ref, nothing moves (replayed).
  Result<std::vector<Allocated>> allocate(const std::string& ref, const std::string& by, int64_t now_ms);

 private:
  Result<Posting> confirm_one(const std::string& charge, const std::string& by, int64_t now_ms, bool early);
  Status ensure_account(const std::string& id, ledger::AccountKind kind, const std::string& name,
                        const std::string& unit, const std::string& lab, int64_t now_ms);
  UnitOfWork& uow_;
  Store& store_;
  ledger::Service& ledger_;
  ledger::Store& accounts_;
  Policy policy_;
  std::string tz_;
  int64_t intake_from_ms_ = 0;  ///< the created-time watermark of intake (0: read every charge)
};

}  // namespace lg::server::settlement
