// Every area's store and the unit of work, as the app sees them: interfaces only, so the app,
// the services and the tests do not care which backend holds the data.
#pragma once

#include "server/audit/store.hpp"
#include "server/billing/store.hpp"
#include "server/booking/store.hpp"
#include "server/conduct/store.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"
#include "server/identity/store.hpp"
#include "server/ledger/store.hpp"
#include "server/settlement/store.hpp"
#include "server/orders/store.hpp"
#include "server/notify/store.hpp"
#include "server/qualification/store.hpp"
#include "server/reports/store.hpp"
#include "server/sync/store.hpp"
#include "server/terminals/store.hpp"
#include "server/training/store.hpp"
#include "server/usage/store.hpp"

namespace lg::server {

struct Stores {
  UnitOfWork& uow;
  directory::Store& directory;
  qualification::Store& qualification;
  booking::Store& booking;
  billing::Store& billing;
  terminals::Store& terminals;
  usage::Store& usage;
  sync::Store& sync;
  reports::Store& reports;
  audit::Store& audit;
  identity::Store& identity;
  notify::Store& notify;
  orders::Store& orders;
  training::Store& training;
  conduct::Store& conduct;
  ledger::Store& ledger;
  settlement::Store& settlement;
};

}  // namespace lg::server
