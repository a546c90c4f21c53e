// The SQLite backend: one database file, every area's SqliteStore over it.
#pragma once

#include <memory>
#include <string>

#include "server/audit/sqlite_store.hpp"
#include "server/identity/sqlite_store.hpp"
#include "server/conduct/sqlite_store.hpp"
#include "server/ledger/sqlite_store.hpp"
#include "server/settlement/sqlite_store.hpp"
#include "server/orders/sqlite_store.hpp"
#include "server/notify/sqlite_store.hpp"
#include "server/billing/sqlite_store.hpp"
#include "server/booking/sqlite_store.hpp"
#include "server/core/backend.hpp"
#include "server/core/sqlite_db.hpp"
#include "server/core/stores.hpp"
#include "server/directory/sqlite_store.hpp"
#include "server/qualification/sqlite_store.hpp"
#include "server/reports/sqlite_store.hpp"
#include "server/sync/sqlite_store.hpp"
#include "server/terminals/sqlite_store.hpp"
#include "server/training/sqlite_store.hpp"
#include "server/usage/sqlite_store.hpp"

namespace lg::server {

class SqliteBackend final : public Backend {
 public:
  /// Opens (creating and migrating) the database at path. report_hold_ms: see
  /// reports::SqliteStore (0 outside tests).
  /// connections: see SqliteDb::open (one per thread that uses the database).
  static Result<std::unique_ptr<SqliteBackend>> open(const std::string& path, int64_t report_hold_ms = 0,
                                                     std::size_t connections = 1);

  /// The stores (valid as long as this object).
  Stores stores() override {
    return Stores{*db_, directory_, qualification_, booking_, billing_, terminals_, usage_, sync_, reports_, audit_, identity_, notify_, orders_, training_, conduct_, ledger_, settlement_};
  }
  std::string_view kind() const override { return "sqlite"; }
  SqliteDb& db() { return *db_; }

 private:
  SqliteBackend(std::unique_ptr<SqliteDb> db, int64_t hold_ms)
      : db_(std::move(db)),
        directory_(*db_),
        qualification_(*db_),
        booking_(*db_),
        billing_(*db_),
        terminals_(*db_),
        usage_(*db_),
        sync_(*db_),
        reports_(*db_, hold_ms),
        audit_(*db_),
        identity_(*db_),
        notify_(*db_),
        orders_(*db_),
        training_(*db_),
        conduct_(*db_),
        ledger_(*db_),
        settlement_(*db_) {}

  std::unique_ptr<SqliteDb> db_;
  directory::SqliteStore directory_;
  qualification::SqliteStore qualification_;
  booking::SqliteStore booking_;
  billing::SqliteStore billing_;
  terminals::SqliteStore terminals_;
  usage::SqliteStore usage_;
  sync::SqliteStore sync_;
  reports::SqliteStore reports_;
  audit::SqliteStore audit_;
  identity::SqliteStore identity_;
  notify::SqliteStore notify_;
  orders::SqliteStore orders_;
  training::SqliteStore training_;
  conduct::SqliteStore conduct_;
  ledger::SqliteStore ledger_;
  settlement::SqliteStore settlement_;
};

}  // namespace lg::server
