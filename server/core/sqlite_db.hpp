// The SQLite backend's database: one file, one connection per thread (WAL: readers never wait
// for the writer, writers queue on the write lock), migrated per area at open, and the unit of
// work over this thread's connection.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "labgate/common/sqlite.hpp"
#include "server/core/schema.hpp"
#include "server/core/unit_of_work.hpp"

namespace lg::server {

class SqliteDb final : public UnitOfWork {
 public:
  /// Opens (creating) the file and migrates every area in order. A database written by the
  /// single-list schema of earlier versions (PRAGMA user_version 1..4) is brought to its last
  /// version and adopted (each area at version 1, which is that schema's final shape).
  /// connections: how many to open now, one per thread that will use the database (HTTP workers,
  /// the ingest and sync strands, the main thread). They are opened at start-up, where a failure is
  /// a clear error, not later on a worker (where the process may be out of descriptors).
  static Result<std::unique_ptr<SqliteDb>> open(const std::string& path, std::span<const AreaSchema> areas,
                                                std::size_t connections = 1);

  /// This thread's connection: bound on first use to one opened at start-up; a thread beyond
  /// those opens its own (and failing that, ends the process: fatal). Lives as long as this object.
  db::Database& conn();
  const std::string& path() const { return path_; }

  /// BEGIN IMMEDIATE ... COMMIT on this thread's connection; joins an open transaction.
  Status run(const std::function<Status()>& body) override;

 private:
  SqliteDb(std::string path, db::Options opts) : path_(std::move(path)), opts_(opts) {}

  std::string path_;
  db::Options opts_;
  std::mutex m_;
  std::mutex write_m_;  ///< held by run() around each write transaction of this process
  std::unordered_map<std::thread::id, std::unique_ptr<db::Database>> conns_;
  std::vector<std::unique_ptr<db::Database>> spare_;  ///< opened at start-up, not yet bound to a thread
};

/// Applies every area's migrations above its recorded version (each step in its own
/// transaction with its version row). Refuses a database whose area is newer than the code.
Status migrate_areas(db::Database& d, std::span<const AreaSchema> areas);

}  // namespace lg::server
