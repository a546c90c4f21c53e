// The training store on SQLite.
#pragma once

#include <span>

#include "server/core/sqlite_db.hpp"
#include "server/training/store.hpp"

namespace lg::server::training {

/// The training area's numbered migrations (after directory's: courses name units, instruments
/// and users).
std::span<const db::Migration> migrations();

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteDb& db) : db_(db) {}
  Status insert_course(const Course& c) override;
  Result<std::optional<Course>> course(const std::string& id) override;
  Result<PageOf<Course>> courses(const Page& p) override;
  Status insert_session(const Session& s) override;
  Result<std::optional<Session>> session(const std::string& id) override;
  Result<std::optional<Session>> lock_session(const std::string& id) override;
  Status set_cancelled(const std::string& id, bool cancelled) override;
  Result<std::vector<Session>> sessions_of(const std::string& course) override;
  Result<std::vector<Session>> sessions_starting(int64_t from_ms, int64_t to_ms) override;
  Result<std::optional<Enrolment>> enrolment(const std::string& session, const std::string& user) override;
  Result<std::vector<Enrolment>> enrolments(const std::string& session) override;
  Result<std::vector<Enrolment>> enrolments_of(const std::string& user) override;
  Status put_enrolment(const Enrolment& e) override;
  Result<int64_t> next_seq(const std::string& session) override;
  Status put_record(const Record& r) override;
  Result<std::vector<Record>> records_of(const std::string& user) override;

 private:
  /// Reads the instruments and prerequisites of c (in their order).
  Status load_lists(Course& c);
  SqliteDb& db_;
};

}  // namespace lg::server::training
