// The ledger store on SQLite.
#pragma once

#include <span>

#include "server/core/sqlite_db.hpp"
#include "server/ledger/store.hpp"

namespace lg::server::ledger {

/// The ledger's numbered migrations on SQLite.
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Status add_account(const Account& a) override;
  Status update_account(const Account& a) override;
  Result<std::optional<Account>> account(const std::string& id) override;
  Result<std::vector<Account>> accounts(const AccountFilter& f, int32_t limit) override;
  Result<std::optional<Transfer>> by_key(const std::string& key) override;
  Result<std::optional<Transfer>> transfer(const std::string& id) override;
  Result<std::optional<Transfer>> resolution(const std::string& hold_id) override;
  Status record(const Transfer& t, const Balance& debit_after, const Balance& credit_after) override;
  Status record_batch(const std::vector<Transfer>& transfers, const std::map<std::string, Balance>& sums) override;
  Result<std::vector<Transfer>> transfers_of(const std::string& account, int32_t limit) override;
  Result<std::vector<Transfer>> transfers_by_ref(const std::string& ref) override;
  Result<std::vector<Transfer>> open_holds(const std::string& account, std::optional<int64_t> due_ms,
                                           int32_t limit) override;
  Status put_member(const Member& m) override;
  Status revoke_member(const std::string& account, const std::string& user, int64_t now_ms) override;
  Result<std::vector<Member>> members(const std::string& account) override;
  Result<std::vector<Member>> memberships(const std::string& user) override;
  Status set_default(const std::string& user, const std::string& account) override;
  Result<Facts> facts() override;

 private:
  Result<std::vector<Transfer>> transfers_where(const std::string& where, const std::function<void(db::Statement&)>& bind);
  Status set_balance(const std::string& account, const Balance& b);
  SqliteDb& db_;
};

}  // namespace lg::server::ledger
