// Import from HR and student systems: CSV files of units, users, groups, members and cards, applied in one unit
// of work as idempotent upserts by key (units and users by id, cards by uid). A bad row names its
// file and line and changes nothing; a dry run reports what would change and changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"

namespace lg::server::directory {

/// One CSV file of the import: kind "units" (id,name,parent), "users" (id,name,category,unit,
/// email,phone,id_number,organisation), "groups" (id,name,pi,unit), "members" (group,user) or
/// "cards" (uid,user,valid_until); the first row is the header, columns in any order, unknown
/// columns refused; the columns after the required ones may be left out. A user's personal
/// column that is left out keeps what is stored; one that is given sets it ("" clears it).
/// name is for messages ("users.csv line 12: ...").
struct ImportFile {
  std::string kind;
  std::string name;
  std::string text;  ///< UTF-8
};

/// The JSON text of a directory entity as the API shows it, "" when it does not exist: entity is
/// "unit", "user", "group", "group_member" (id "<group>/<user>") or "card" (id the uid).
using Snapshot = std::function<Result<std::string>(std::string_view entity, const std::string& id)>;

/// One row that an import created or updated: its entity before (always "" when created) and after.
struct ImportedRow {
  std::string entity;  ///< as Snapshot names it
  std::string id;
  Change change = Change::created;
  std::string before;
  std::string after;
};

/// Rows created, updated and left unchanged, per kind.
struct ImportSummary {
  std::map<std::string, std::map<std::string, int64_t>> counts;  ///< kind -> "created"|"updated"|"unchanged" -> n
  std::vector<ImportedRow> rows;  ///< the rows that changed, in the order applied (with a snapshot, not on a dry run)
  bool changed() const;
};

/// Applies the files in the order units, users, groups, members, cards (whatever order they came in), every row
/// in one unit of work; dry_run rolls it back after counting. Errors name file and line. With a
/// snapshot, every created or updated row is listed in rows with its entity before and after
/// (taken inside the unit of work), for the audit.
Result<ImportSummary> import_csv(UnitOfWork& uow, Store& store, const std::vector<ImportFile>& files, bool dry_run,
                                 int64_t now_ms, const Snapshot& snapshot = {});

}  // namespace lg::server::directory
