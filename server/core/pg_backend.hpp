// The PostgreSQL backend: one database (shared by any number of nodes), every area's PgStore over it.
#pragma once

#include <memory>
#include <string>

#include "server/audit/pg_store.hpp"
#include "server/identity/pg_store.hpp"
#include "server/conduct/pg_store.hpp"
#include "server/ledger/pg_store.hpp"
#include "server/settlement/pg_store.hpp"
#include "server/orders/pg_store.hpp"
#include "server/notify/pg_store.hpp"
#include "server/billing/pg_store.hpp"
#include "server/booking/pg_store.hpp"
#include "server/core/backend.hpp"
#include "server/core/pg_db.hpp"
#include "server/core/stores.hpp"
#include "server/directory/pg_store.hpp"
#include "server/qualification/pg_store.hpp"
#include "server/reports/pg_store.hpp"
#include "server/sync/pg_store.hpp"
#include "server/terminals/pg_store.hpp"
#include "server/training/pg_store.hpp"
#include "server/usage/pg_store.hpp"

namespace lg::server {

class PgBackend final : public Backend {
 public:
  /// Connects to the database, migrating it. report_hold_ms: see reports::PgStore (0 outside tests).
  static Result<std::unique_ptr<PgBackend>> open(const PgOptions& o, int64_t report_hold_ms = 0);

  /// The stores (valid as long as this object).
  Stores stores() override {
    return Stores{*db_, directory_, qualification_, booking_, billing_, terminals_, usage_, sync_, reports_, audit_, identity_, notify_, orders_, training_, conduct_, ledger_, settlement_};
  }
  std::string_view kind() const override { return "postgres"; }
  PgDb& db() { return *db_; }

 private:
  PgBackend(std::unique_ptr<PgDb> db, int64_t hold_ms)
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

  std::unique_ptr<PgDb> db_;
  directory::PgStore directory_;
  qualification::PgStore qualification_;
  booking::PgStore booking_;
  billing::PgStore billing_;
  terminals::PgStore terminals_;
  usage::PgStore usage_;
  sync::PgStore sync_;
  reports::PgStore reports_;
  audit::PgStore audit_;
  identity::PgStore identity_;
  notify::PgStore notify_;
  orders::PgStore orders_;
  training::PgStore training_;
  conduct::PgStore conduct_;
  ledger::PgStore ledger_;
  settlement::PgStore settlement_;
};

}  // namespace lg::server
