#include "server/directory/import.hpp"

#include <algorithm>
#include <array>

#include "labgate/common/card_uid.hpp"
#include "labgate/common/csv.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"
#include "server/core/errors.hpp"

namespace lg::server::directory {

namespace {

/// The columns of each kind: required first, then optional.
struct Columns {
  std::string_view kind;
  std::vector<std::string_view> required;
  std::vector<std::string_view> optional;
};
const std::array<Columns, 5> kKinds{
    {{"units", {"id", "name"}, {"parent"}},
     {"users", {"id", "name", "category"}, {"unit", "email", "phone", "id_number", "organisation"}},
     {"groups", {"id", "name", "pi"}, {"unit"}},
     {"members", {"group", "user"}, {}},
     {"cards", {"uid", "user"}, {"valid_until"}}}};

/// Rows of one file as column -> value, with the line of each.
struct Table {
  const ImportFile* file = nullptr;
  std::vector<std::pair<std::size_t, std::map<std::string, std::string, std::less<>>>> rows;
};

Result<Table> read_table(const ImportFile& f) {
  const Columns* cols = nullptr;
  for (const auto& k : kKinds)
    if (k.kind == f.kind) cols = &k;
  if (!cols) return Error::invalid(f.name + ": kind must be units, users, groups, members or cards, not '" + f.kind + "'");
  auto rows = csv::parse(f.text);
  if (!rows) return Error::invalid(f.name + " " + rows.error().reason);
  if (rows->empty()) return Error::invalid(f.name + ": no header row");
  Table t;
  t.file = &f;
  std::vector<std::string> header;
  for (auto h : rows->front().fields) {
    auto b = h.find_first_not_of(" \t");
    auto e = h.find_last_not_of(" \t");
    h = b == std::string::npos ? "" : h.substr(b, e - b + 1);
    const bool known = std::find(cols->required.begin(), cols->required.end(), h) != cols->required.end() ||
                       std::find(cols->optional.begin(), cols->optional.end(), h) != cols->optional.end();
    if (!known) return Error::invalid(f.name + " line 1: unknown column '" + h + "'");
    if (std::find(header.begin(), header.end(), h) != header.end())
      return Error::invalid(f.name + " line 1: column '" + h + "' twice");
    header.push_back(h);
  }
  for (auto req : cols->required)
    if (std::find(header.begin(), header.end(), req) == header.end())
      return Error::invalid(f.name + " line 1: missing column '" + std::string(req) + "'");
  for (std::size_t r = 1; r < rows->size(); ++r) {
    const auto& row = (*rows)[r];
    if (row.fields.size() != header.size())
      return Error::invalid(f.name + " line " + std::to_string(row.line) + ": " + std::to_string(row.fields.size()) +
                            " fields, the header has " + std::to_string(header.size()));
    std::map<std::string, std::string, std::less<>> values;
    for (std::size_t c = 0; c < header.size(); ++c) values[header[c]] = row.fields[c];
    t.rows.emplace_back(row.line, std::move(values));
  }
  return t;
}

const std::string& get(const std::map<std::string, std::string, std::less<>>& m, std::string_view k) {
  static const std::string kEmpty;
  auto it = m.find(k);
  return it == m.end() ? kEmpty : it->second;
}

/// The value of column k, nullopt when the file has no such column.
std::optional<std::string> opt(const std::map<std::string, std::string, std::less<>>& m, std::string_view k) {
  auto it = m.find(k);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

/// Checks an id field: the protocol's id rule (1..64 of [A-Za-z0-9_.:-]).
Status id_field(const ImportFile& f, std::size_t line, std::string_view col, const std::string& v, bool required) {
  if (v.empty() && !required) return {};
  if (!proto::valid_id(v)) return Error::invalid(f.name + " line " + std::to_string(line) + ": " + std::string(col) +
                                                 " must be 1..64 of [A-Za-z0-9_.:-]");
  return {};
}

Status text_field(const ImportFile& f, std::size_t line, std::string_view col, const std::string& v) {
  if (v.empty() || v.size() > 200)
    return Error::invalid(f.name + " line " + std::to_string(line) + ": " + std::string(col) + " must be 1..200 characters");
  for (unsigned char c : v)
    if (c < 0x20) return Error::invalid(f.name + " line " + std::to_string(line) + ": " + std::string(col) +
                                        " must not contain control characters");
  return {};
}

/// A store error of a row, named by file and line (the store's reason kept).
Error row_error(const ImportFile& f, std::size_t line, const Error& e) {
  Error out = e;
  out.reason = f.name + " line " + std::to_string(line) + ": " + e.reason;
  return out;
}

}  // namespace

bool ImportSummary::changed() const {
  for (const auto& [kind, by] : counts) {
    for (const auto& [what, n] : by)
      if (what != "unchanged" && n > 0) return true;
  }
  return false;
}

Result<ImportSummary> import_csv(UnitOfWork& uow, Store& store, const std::vector<ImportFile>& files, bool dry_run,
                                 int64_t now_ms, const Snapshot& snapshot) {
  std::vector<Table> tables;
  for (const auto& k : kKinds) {
    for (const auto& f : files) {
      if (f.kind != k.kind) continue;
      auto t = read_table(f);
      if (!t) return t.error();
      tables.push_back(std::move(t).value());
    }
  }
  for (const auto& f : files) {
    if (std::none_of(kKinds.begin(), kKinds.end(), [&](const Columns& c) { return c.kind == f.kind; }))
      return Error::invalid(f.name + ": kind must be units, users, groups, members or cards, not '" + f.kind + "'");
  }
  ImportSummary sum;
  static const Error kDryRun = Error::invalid("dry run: rolled back");
  Status s = uow.run([&]() -> Status {
    sum = ImportSummary{};  // the unit of work may run again (PostgreSQL, after a lost race)
    for (const auto& t : tables) {
      const ImportFile& f = *t.file;
      auto& counts = sum.counts[f.kind];
      for (const auto& [line, v] : t.rows) {
        // The entity this row writes, and what it was before (for the audit).
        const std::string_view entity = f.kind == "units"     ? "unit"
                                        : f.kind == "users"   ? "user"
                                        : f.kind == "groups"  ? "group"
                                        : f.kind == "members" ? "group_member"
                                                              : "card";
        std::string key = f.kind == "members" ? get(v, "group") + "/" + get(v, "user")
                          : f.kind == "cards" ? get(v, "uid")
                                              : get(v, "id");
        if (f.kind == "cards") {
          if (auto uid = CardUid::parse(key)) key = uid->str();
        }
        std::string before;
        if (snapshot && !dry_run) {
          auto b = snapshot(entity, key);
          if (!b) return row_error(f, line, b.error());
          before = std::move(b).value();
        }
        Result<Change> done = Change::unchanged;
        if (f.kind == "units") {
          LG_TRY(id_field(f, line, "id", get(v, "id"), true));
          LG_TRY(text_field(f, line, "name", get(v, "name")));
          LG_TRY(id_field(f, line, "parent", get(v, "parent"), false));
          done = store.upsert_unit(Unit{get(v, "id"), get(v, "name"), get(v, "parent")}, now_ms);
        } else if (f.kind == "users") {
          LG_TRY(id_field(f, line, "id", get(v, "id"), true));
          LG_TRY(text_field(f, line, "name", get(v, "name")));
          LG_TRY(id_field(f, line, "unit", get(v, "unit"), false));
          auto cat = category_from(get(v, "category"));
          if (!cat)
            return Error::invalid(f.name + " line " + std::to_string(line) + ": category must be " + category_names());
          PersonalPatch personal;
          for (auto [col, field] :
               {std::pair{"email", &PersonalPatch::email}, std::pair{"phone", &PersonalPatch::phone},
                std::pair{"id_number", &PersonalPatch::id_number},
                std::pair{"organisation", &PersonalPatch::organisation}}) {
            auto value = opt(v, col);
            if (!value) continue;
            if (auto why = personal_field_problem(col, *value); !why.empty())
              return Error::invalid(f.name + " line " + std::to_string(line) + ": " + col + " " + why);
            personal.*field = std::move(*value);
          }
          User u;
          u.id = get(v, "id");
          u.name = get(v, "name");
          u.category = *cat;
          u.unit = get(v, "unit");
          if (!(personal.email && personal.phone && personal.id_number && personal.organisation)) {
            // A personal column the file does not have keeps what is stored.
            auto stored = store.user(u.id);
            if (!stored) return row_error(f, line, stored.error());
            if (*stored) {
              u.email = (*stored)->email;
              u.phone = (*stored)->phone;
              u.id_number = (*stored)->id_number;
              u.organisation = (*stored)->organisation;
            }
          }
          personal.apply(u);
          done = store.upsert_user(u, now_ms);
        } else if (f.kind == "groups") {
          LG_TRY(id_field(f, line, "id", get(v, "id"), true));
          LG_TRY(text_field(f, line, "name", get(v, "name")));
          LG_TRY(id_field(f, line, "pi", get(v, "pi"), true));
          LG_TRY(id_field(f, line, "unit", get(v, "unit"), false));
          done = store.upsert_group(Group{get(v, "id"), get(v, "name"), get(v, "pi"), get(v, "unit")}, now_ms);
        } else if (f.kind == "members") {
          LG_TRY(id_field(f, line, "group", get(v, "group"), true));
          LG_TRY(id_field(f, line, "user", get(v, "user"), true));
          done = store.upsert_member(get(v, "group"), get(v, "user"), now_ms);
        } else {
          auto uid = CardUid::parse(get(v, "uid"));
          if (!uid)
            return Error::invalid(f.name + " line " + std::to_string(line) + ": uid must be " +
                                  std::string(CardUid::kRule));
          LG_TRY(id_field(f, line, "user", get(v, "user"), true));
          Card c;
          c.uid = uid->str();
          c.user = get(v, "user");
          if (!get(v, "valid_until").empty()) {
            c.valid_until_ms = time::parse_utc(get(v, "valid_until"));
            if (!c.valid_until_ms)
              return Error::invalid(f.name + " line " + std::to_string(line) +
                                    ": valid_until must be an RFC 3339 time");
          }
          auto owner = store.card_owner(c.uid);
          if (!owner) return row_error(f, line, owner.error());
          if (*owner == c.user) {
            done = Change::unchanged;
          } else if (!owner->empty()) {
            return domain_error(Errc::conflict, f.name + " line " + std::to_string(line) + ": card " + c.uid +
                                                    " belongs to " + *owner + " (report it lost or replace it first)");
          } else if (auto st = store.add_card(c, now_ms); !st) {
            return row_error(f, line, st.error());
          } else {
            done = Change::created;
          }
        }
        if (!done) return row_error(f, line, done.error());
        counts[to_string(*done)] += 1;
        if (snapshot && !dry_run && *done != Change::unchanged) {
          auto after = snapshot(entity, key);
          if (!after) return row_error(f, line, after.error());
          sum.rows.push_back(ImportedRow{std::string(entity), key, *done,
                                         *done == Change::created ? std::string() : std::move(before),
                                         std::move(after).value()});
        }
      }
    }
    return dry_run ? Status(kDryRun) : Status{};
  });
  if (!s && !(dry_run && s.error().reason == kDryRun.reason)) return s.error();
  for (const auto& t : tables)
    for (const char* what : {"created", "updated", "unchanged"}) sum.counts[t.file->kind][what] += 0;
  return sum;
}

}  // namespace lg::server::directory
