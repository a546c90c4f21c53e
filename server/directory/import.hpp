// Import from HR and student systems: CSV files of units, users, groups, members and cards, applied in one unit
// of work as idempotent upserts by key (units and users by id, cards by uid). A bad row names its
// file and line and changes nothing; a dry run reports what would change and changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/core/unit_of_work.hpp"
#include "server/directory/store.hpp"

namespace lg::server::directory {

/// One CSV file of the import: kind "units" (id,name,parent), "users" (id,name,category,unit),
/// "groups" (id,name,pi,unit), "members" (group,user) or "cards" (uid,user,valid_until); the first row is the header, columns in any order, unknown
/// columns refused. name is for messages ("users.csv line 12: ...").
struct ImportFile {
  std::string kind;
  std::string name;
  std::string text;  ///< UTF-8
};

/// Rows created, updated and left unchanged, per kind.
struct ImportSummary {
  std::map<std::string, std::map<std::string, int64_t>> counts;  ///< kind -> "created"|"updated"|"unchanged" -> n
  bool changed() const;
};

/// Applies the files in the order units, users, groups, members, cards (whatever order they came in), every row
/// in one unit of work; dry_run rolls it back after counting. Errors name file and line.
Result<ImportSummary> import_csv(UnitOfWork& uow, Store& store, const std::vector<ImportFile>& files, bool dry_run,
                                 int64_t now_ms);

}  // namespace lg::server::directory
