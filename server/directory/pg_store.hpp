// The directory's store on PostgreSQL.
#pragma once

#include <span>

#include "server/core/pg.hpp"
#include "server/core/pg_db.hpp"
#include "server/directory/store.hpp"

namespace lg::server::directory {

/// The directory's numbered PostgreSQL migrations.
std::span<const db::Migration> pg_migrations();

class PgStore final : public Store {
 public:
  explicit PgStore(PgDb& db) : db_(db) {}

  Status add_unit(const Unit& u, int64_t now_ms) override;
  Status add_lab(const Lab& l, int64_t now_ms) override;
  Status add_instrument(const Instrument& i, int64_t now_ms) override;
  Result<Instrument> update_instrument_policy(const std::string& id, const InstrumentPolicyPatch& p,
                                              int64_t now_ms) override;
  Status add_user(const User& u, int64_t now_ms) override;
  Status add_card(const Card& c, int64_t now_ms) override;
  Result<User> set_user_status(const std::string& id, UserStatus to, const std::string& reason,
                               int64_t now_ms) override;
  Result<Card> end_card(const std::string& uid, CardStatus why, int64_t now_ms) override;
  Result<Card> set_card_valid_until(const std::string& uid, std::optional<int64_t> valid_until_ms) override;
  Status add_group(const Group& g, int64_t now_ms) override;
  Status add_member(const std::string& group, const std::string& user, int64_t now_ms) override;
  Status remove_member(const std::string& group, const std::string& user) override;
  Result<std::vector<GroupMember>> members(const std::string& group) override;
  Result<PageOf<Group>> groups(const Page& p) override;
  Result<Group> update_group(const std::string& id, const GroupPatch& p, int64_t now_ms) override;
  Result<Change> upsert_unit(const Unit& u, int64_t now_ms) override;
  Result<Change> upsert_user(const User& u, int64_t now_ms) override;
  Result<Unit> update_unit(const std::string& id, const PlacePatch& p, int64_t now_ms) override;
  Result<Lab> update_lab(const std::string& id, const PlacePatch& p, int64_t now_ms) override;
  Result<User> update_user(const std::string& id, const PlacePatch& p, int64_t now_ms) override;
  Result<std::vector<Move>> moves(const std::string& entity, const std::string& id) override;
  Status retire(const std::string& entity, const std::string& id, int64_t now_ms) override;
  Result<Change> upsert_group(const Group& g, int64_t now_ms) override;
  Result<Change> upsert_member(const std::string& group, const std::string& user, int64_t now_ms) override;
  Result<PageOf<Unit>> units(const Page& p) override;
  Result<PageOf<Lab>> labs(const Page& p) override;
  Result<PageOf<Instrument>> instruments(const Page& p) override;
  Result<PageOf<User>> users(const Page& p) override;
  Result<PageOf<Card>> cards(const Page& p) override;
  Result<std::optional<Unit>> unit(const std::string& id) override;
  Result<std::optional<Lab>> lab(const std::string& id) override;
  Result<std::optional<Group>> group(const std::string& id) override;
  Result<std::optional<Instrument>> instrument(const std::string& id) override;
  Result<std::optional<User>> user(const std::string& id) override;
  Result<std::optional<Card>> last_card(const std::string& uid) override;
  Result<std::string> card_owner(const std::string& uid) override;

 private:
  PgDb& db_;
};


/// Row readers other areas' PostgreSQL stores share (same tables, same columns).
namespace pgrows {
/// Columns read by instrument(), in its order.
inline constexpr std::string_view kInstrumentCols =
    "id, name, lab, kind, asset_no, require_booking, early_start_s, grace_after_end_s, offline_grace_s, "
    "max_session_s, status";
/// Columns read by user(), in its order.
inline constexpr std::string_view kUserCols = "id, name, category, COALESCE(unit, ''), admin, status, status_reason";
/// kUserCols and the personal fields, in the order user_full() reads them.
inline constexpr std::string_view kUserFullCols =
    "id, name, category, COALESCE(unit, ''), admin, status, status_reason, email, phone, id_number, organisation";
Instrument instrument(const pg::Rows& r, int i);
/// The columns of kUserCols (the personal fields left "").
User user(const pg::Rows& r, int i);
/// The columns of kUserFullCols.
User user_full(const pg::Rows& r, int i);
/// Columns uid, user_id, active, status, valid_until_ms, ended_ms.
Card card(const pg::Rows& r, int i);
}  // namespace pgrows

}  // namespace lg::server::directory
