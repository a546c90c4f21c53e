#include "labgate/common/protocol.hpp"

#include "labgate/common/card_uid.hpp"

#include <nlohmann/json.hpp>

#include "labgate/common/crypto.hpp"
#include "labgate/common/json.hpp"
#include "labgate/common/time.hpp"

namespace lg::proto {
namespace {
using json = nlohmann::json;

// ------------------------------------------------------------ enum tables

template <typename E>
struct Names {
  E value;
  const char* name;
};

constexpr Names<RecordKind> kKinds[] = {{RecordKind::access, "access"},         {RecordKind::session_start, "session_start"},
                                        {RecordKind::session_end, "session_end"}, {RecordKind::meter_sample, "meter_sample"},
                                        {RecordKind::alarm, "alarm"},           {RecordKind::video, "video"}};
constexpr Names<Decision> kDecisions[] = {{Decision::granted, "granted"}, {Decision::denied, "denied"}};
constexpr Names<Reason> kReasons[] = {
    {Reason::qualified, "qualified"},   {Reason::booked, "booked"},         {Reason::admin, "admin"},
    {Reason::fail_open, "fail_open"},   {Reason::swipe_out, "swipe_out"},   {Reason::unknown_card, "unknown_card"},
    {Reason::not_valid_now, "not_valid_now"}, {Reason::no_booking, "no_booking"}, {Reason::in_use, "in_use"},
    {Reason::cache_expired, "cache_expired"}, {Reason::no_acl, "no_acl"}, {Reason::output_fault, "output_fault"},
    {Reason::card_revoked, "card_revoked"}, {Reason::user_suspended, "user_suspended"},
    {Reason::instrument_unavailable, "instrument_unavailable"}, {Reason::not_qualified, "not_qualified"},
    {Reason::outside_hours, "outside_hours"}, {Reason::needs_staff, "needs_staff"}};
constexpr Names<Level> kLevels[] = {
    {Level::supervised, "supervised"}, {Level::independent, "independent"}, {Level::after_hours, "after_hours"}};
constexpr Names<ResourceStatus> kResourceStatuses[] = {{ResourceStatus::normal, "normal"},
                                                       {ResourceStatus::maintenance, "maintenance"},
                                                       {ResourceStatus::disabled, "disabled"},
                                                       {ResourceStatus::pending_scrap, "pending_scrap"}};
constexpr Names<Mode> kModes[] = {{Mode::online, "online"}, {Mode::offline, "offline"}};
constexpr Names<EndReason> kEndReasons[] = {
    {EndReason::swipe_out, "swipe_out"}, {EndReason::booking_end, "booking_end"}, {EndReason::max_duration, "max_duration"},
    {EndReason::admin, "admin"},         {EndReason::idle, "idle"},               {EndReason::crash_recovered, "crash_recovered"},
    {EndReason::shutdown, "shutdown"}};
constexpr Names<CardForm> kCardForms[] = {{CardForm::uid, "uid"}, {CardForm::hmac_sha256_128, "hmac-sha256-128"}};
constexpr Names<CommandKind> kCommandKinds[] = {{CommandKind::unlock, "unlock"},
                                                {CommandKind::lock, "lock"},
                                                {CommandKind::resync, "resync"},
                                                {CommandKind::video, "video"}};
constexpr Names<CommandOutcome> kCommandOutcomes[] = {{CommandOutcome::done, "done"},
                                                      {CommandOutcome::refused, "refused"},
                                                      {CommandOutcome::unsupported, "unsupported"},
                                                      {CommandOutcome::failed, "failed"}};
constexpr Names<Channel> kChannels[] = {{Channel::state, "state"}, {Channel::evt, "evt"},   {Channel::ack, "ack"},
                                        {Channel::sync, "sync"},   {Channel::cmd, "cmd"},   {Channel::cmdres, "cmdres"}};

template <typename E, std::size_t N>
const char* name_of(const Names<E> (&table)[N], E v) {
  for (const auto& n : table)
    if (n.value == v) return n.name;
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const Names<E> (&table)[N], std::string_view s) {
  for (const auto& n : table)
    if (s == n.name) return n.value;
  return std::nullopt;
}

// ------------------------------------------------------------ strict reader
// Every getter records the first problem with the JSON path of the field.

class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  bool ok() const { return err_.empty(); }
  const std::string& err() const { return err_; }
  void fail(const std::string& field, const std::string& what) {
    if (err_.empty()) err_ = where(field) + what;
  }
  void take_error(const std::string& e) {
    if (err_.empty()) err_ = e;
  }
  std::string where(const std::string& field) const { return (path_.empty() ? "" : path_ + ".") + field + ": "; }
  std::string sub(const std::string& field) const { return path_.empty() ? field : path_ + "." + field; }

  const json* field(const std::string& k, bool required) {
    auto it = j_.find(k);
    if (it == j_.end() || it->is_null()) {
      if (required) fail(k, "is required");
      return nullptr;
    }
    return &*it;
  }

  std::string str(const std::string& k, bool required = true, std::size_t max = kMaxField) {
    const json* v = field(k, required);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      fail(k, "must be a string");
      return {};
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max) fail(k, "longer than " + std::to_string(max) + " bytes");
    return s;
  }
  std::string id(const std::string& k, bool required = true) {
    std::string s = str(k, required);
    if (ok() && (!s.empty() || required) && !valid_id(s)) fail(k, "is not a valid id");
    return s;
  }
  std::string id_or_empty(const std::string& k) {
    std::string s = str(k, false);
    if (ok() && !s.empty() && !valid_id(s)) fail(k, "is not a valid id");
    return s;
  }
  /// A card uid in its canonical form (CardUid: validated and normalised here, at the edge).
  std::string card(const std::string& k) {
    std::string s = str(k);
    if (!ok()) return s;
    auto uid = CardUid::parse(s);
    if (!uid) {
      fail(k, "is not a valid card uid");
      return s;
    }
    return uid->str();
  }
  /// A bundle's card: a digest (form hmac_sha256_128) or a canonical uid (legacy form).
  std::string bundle_card(const std::string& k, CardForm form) {
    if (form == CardForm::uid) return card(k);
    std::string s = str(k);
    if (ok() && !valid_card_digest(s)) fail(k, "is not a card digest (32 lower-case hex characters)");
    return s;
  }
  uint64_t u64(const std::string& k, bool required = true) {
    const json* v = field(k, required);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned()) {
      if (v->is_number_integer() && v->get<int64_t>() >= 0) return static_cast<uint64_t>(v->get<int64_t>());
      fail(k, "must be a non-negative integer");
      return 0;
    }
    if (v->get<uint64_t>() > kMaxWireUnsigned) {
      fail(k, "out of range (at most 2^63-1)");
      return 0;
    }
    return v->get<uint64_t>();
  }
  int64_t i64(const std::string& k, bool required = true) {
    const json* v = field(k, required);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) {
      fail(k, "must be an integer");
      return 0;
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      fail(k, "is too large");
      return 0;
    }
    return v->get<int64_t>();
  }
  std::optional<int64_t> opt_i64(const std::string& k) {
    if (field(k, false) == nullptr) return std::nullopt;
    return i64(k);
  }
  bool boolean(const std::string& k, bool required = true, bool def = false) {
    const json* v = field(k, required);
    if (v == nullptr) return def;
    if (!v->is_boolean()) {
      fail(k, "must be true or false");
      return def;
    }
    return v->get<bool>();
  }
  int64_t when(const std::string& k, bool required = true) {
    const json* v = field(k, required);
    if (v == nullptr) return 0;
    if (!v->is_string()) {
      fail(k, "must be an RFC 3339 UTC time string");
      return 0;
    }
    auto t = time::parse_utc(v->get_ref<const std::string&>());
    if (!t) {
      fail(k, "is not an RFC 3339 time");
      return 0;
    }
    return *t;
  }
  std::optional<int64_t> opt_time(const std::string& k) {
    if (field(k, false) == nullptr) return std::nullopt;
    return when(k);
  }
  template <typename E, std::size_t N>
  E enumeration(const std::string& k, const Names<E> (&table)[N]) {
    std::string s = str(k);
    if (!ok()) return table[0].value;
    auto v = value_of(table, s);
    if (!v) {
      fail(k, "unknown value \"" + s + "\"");
      return table[0].value;
    }
    return *v;
  }
  const json* array(const std::string& k, std::size_t max) {
    const json* v = field(k, true);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      fail(k, "must be an array");
      return nullptr;
    }
    if (v->size() > max) {
      fail(k, "has more than " + std::to_string(max) + " entries");
      return nullptr;
    }
    return v;
  }
  const json* object(const std::string& k) {
    const json* v = field(k, true);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      fail(k, "must be an object");
      return nullptr;
    }
    return v;
  }

 private:
  const json& j_;
  std::string path_;
  std::string err_;
};

Result<json> parse_object(std::string_view text) {
  if (text.size() > kMaxPayload) return Error::invalid("payload larger than " + std::to_string(kMaxPayload) + " bytes");
  auto j = lg::json::parse_strict(text);
  if (!j) return j.error();
  if (!j->is_object()) return Error::invalid("not a JSON object");
  return std::move(j).value();
}

Status expect_type(Reader& r, std::string_view type) {
  std::string t = r.str("type");
  if (!r.ok()) return Error::invalid(r.err());
  if (t != type) return Error::invalid("type: expected \"" + std::string(type) + "\", got \"" + t + "\"");
  return {};
}

// ------------------------------------------------------------ record <-> json

json to_json(const Record& rec) {
  json j;
  j["seq"] = rec.seq;
  j["id"] = rec.id;
  j["kind"] = to_string(rec.kind());
  j["ts"] = time::format_utc(rec.ts_ms);
  j["synced"] = rec.clock_synced;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Access>) {
          j["card"] = b.card;
          j["user"] = b.user;
          j["resource"] = b.resource;
          j["output"] = b.output;
          j["decision"] = to_string(b.decision);
          j["reason"] = to_string(b.reason);
          j["mode"] = to_string(b.mode);
          j["acl_version"] = b.acl_version;
          j["booking"] = b.booking;
        } else if constexpr (std::is_same_v<T, SessionStart>) {
          j["session"] = b.session;
          j["card"] = b.card;
          j["user"] = b.user;
          j["resource"] = b.resource;
          j["booking"] = b.booking;
          if (b.meter_wh) j["meter_wh"] = *b.meter_wh;
        } else if constexpr (std::is_same_v<T, SessionEnd>) {
          j["session"] = b.session;
          j["card"] = b.card;
          j["user"] = b.user;
          j["resource"] = b.resource;
          j["booking"] = b.booking;
          j["start"] = time::format_utc(b.start_ms);
          j["end"] = time::format_utc(b.end_ms);
          j["duration_ms"] = b.duration_ms;
          if (b.energy_wh) j["energy_wh"] = *b.energy_wh;
          j["end_reason"] = to_string(b.end_reason);
          j["flags"] = b.flags;
        } else if constexpr (std::is_same_v<T, MeterSample>) {
          j["resource"] = b.resource;
          j["power_w"] = b.power_w;
          j["energy_wh"] = b.energy_wh;
        } else if constexpr (std::is_same_v<T, Alarm>) {
          j["code"] = b.code;
          j["detail"] = b.detail;
        } else {
          j["target"] = b.target;
          j["ok"] = b.ok;
          j["detail"] = b.detail;
        }
      },
      rec.body);
  return j;
}

Result<Record> record_from(const json& j, const std::string& path) {
  if (!j.is_object()) return Error::invalid(path + ": must be an object");
  Reader r(j, path);
  Record rec;
  rec.seq = r.u64("seq");
  if (r.ok() && rec.seq == 0) r.fail("seq", "must be >= 1");
  rec.id = r.id("id");
  const RecordKind kind = r.enumeration("kind", kKinds);
  rec.ts_ms = r.when("ts");
  rec.clock_synced = r.boolean("synced");
  if (!r.ok()) return Error::invalid(r.err());
  switch (kind) {
    case RecordKind::access: {
      Access a;
      a.card = r.card("card");
      a.user = r.id_or_empty("user");
      a.resource = r.id("resource");
      a.output = r.str("output", false, 64);
      a.decision = r.enumeration("decision", kDecisions);
      a.reason = r.enumeration("reason", kReasons);
      a.mode = r.enumeration("mode", kModes);
      a.acl_version = r.u64("acl_version");
      a.booking = r.id_or_empty("booking");
      rec.body = a;
      break;
    }
    case RecordKind::session_start: {
      SessionStart s;
      s.session = r.id("session");
      s.card = r.card("card");
      s.user = r.id_or_empty("user");
      s.resource = r.id("resource");
      s.booking = r.id_or_empty("booking");
      s.meter_wh = r.opt_i64("meter_wh");
      rec.body = s;
      break;
    }
    case RecordKind::session_end: {
      SessionEnd s;
      s.session = r.id("session");
      s.card = r.card("card");
      s.user = r.id_or_empty("user");
      s.resource = r.id("resource");
      s.booking = r.id_or_empty("booking");
      s.start_ms = r.when("start");
      s.end_ms = r.when("end");
      s.duration_ms = r.i64("duration_ms");
      if (r.ok() && s.duration_ms < 0) r.fail("duration_ms", "must be >= 0");
      if (r.ok() && s.duration_ms > 366LL * 24 * 3600 * 1000) r.fail("duration_ms", "longer than a year");
      s.energy_wh = r.opt_i64("energy_wh");
      s.end_reason = r.enumeration("end_reason", kEndReasons);
      if (const json* f = r.array("flags", 16)) {
        for (std::size_t i = 0; i < f->size(); ++i) {
          const json& e = (*f)[i];
          if (!e.is_string() || e.get_ref<const std::string&>().size() > 64) {
            r.fail("flags[" + std::to_string(i) + "]", "must be a short string");
            break;
          }
          s.flags.push_back(e.get<std::string>());
        }
      }
      rec.body = s;
      break;
    }
    case RecordKind::meter_sample: {
      MeterSample m;
      m.resource = r.id("resource");
      m.power_w = r.i64("power_w");
      m.energy_wh = r.i64("energy_wh");
      rec.body = m;
      break;
    }
    case RecordKind::alarm: {
      Alarm a;
      a.code = r.str("code", true, 64);
      a.detail = r.str("detail", false);
      rec.body = a;
      break;
    }
    case RecordKind::video: {
      Video v;
      v.target = r.str("target", true, 64);
      v.ok = r.boolean("ok");
      v.detail = r.str("detail", false);
      rec.body = v;
      break;
    }
  }
  if (!r.ok()) return Error::invalid(r.err());
  return rec;
}

}  // namespace

// ------------------------------------------------------------ topics

std::string topic(std::string_view site, std::string_view terminal, Channel channel) {
  std::string t = "lg/v1/";
  t += site;
  t += '/';
  t += terminal;
  t += '/';
  t += to_string(channel);
  return t;
}

std::string topic_filter(std::string_view site, Channel channel) {
  return "lg/v1/" + std::string(site) + "/+/" + to_string(channel);
}

std::optional<TopicParts> parse_topic(std::string_view t) {
  constexpr std::string_view root = "lg/v1/";
  if (t.substr(0, root.size()) != root) return std::nullopt;
  t.remove_prefix(root.size());
  std::string_view parts[3];
  for (int i = 0; i < 3; ++i) {
    const auto slash = t.find('/');
    if (i < 2) {
      if (slash == std::string_view::npos) return std::nullopt;
      parts[i] = t.substr(0, slash);
      t.remove_prefix(slash + 1);
    } else {
      if (slash != std::string_view::npos) return std::nullopt;
      parts[i] = t;
    }
  }
  if (!valid_id(parts[0]) || !valid_id(parts[1])) return std::nullopt;
  auto ch = value_of(kChannels, parts[2]);
  if (!ch) return std::nullopt;
  return TopicParts{std::string(parts[0]), std::string(parts[1]), *ch};
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const char* to_string(Channel c) { return name_of(kChannels, c); }
const char* to_string(RecordKind k) { return name_of(kKinds, k); }
const char* to_string(Decision d) { return name_of(kDecisions, d); }
const char* to_string(Reason r) { return name_of(kReasons, r); }
const char* to_string(Mode m) { return name_of(kModes, m); }
const char* to_string(EndReason r) { return name_of(kEndReasons, r); }
std::optional<Reason> reason_from(std::string_view s) { return value_of(kReasons, s); }
const char* to_string(Level l) { return name_of(kLevels, l); }
std::optional<Level> level_from(std::string_view s) { return value_of(kLevels, s); }
std::optional<EndReason> end_reason_from(std::string_view s) { return value_of(kEndReasons, s); }
const char* to_string(ResourceStatus s) { return name_of(kResourceStatuses, s); }
const char* to_string(CardForm f) { return name_of(kCardForms, f); }
const char* to_string(CommandKind k) { return name_of(kCommandKinds, k); }
std::optional<CommandKind> command_kind_from(std::string_view s) { return value_of(kCommandKinds, s); }
const char* to_string(CommandOutcome o) { return name_of(kCommandOutcomes, o); }
std::optional<ResourceStatus> resource_status_from(std::string_view s) { return value_of(kResourceStatuses, s); }

RecordKind Record::kind() const { return static_cast<RecordKind>(body.index()); }

// ------------------------------------------------------------ encode

std::string encode(const Record& r) { return to_json(r).dump(); }

std::string encode(const EventBatch& m) {
  json j;
  j["type"] = "evt";
  j["terminal"] = m.terminal;
  j["boot"] = m.boot;
  json recs = json::array();
  for (const auto& r : m.records) recs.push_back(to_json(r));
  j["records"] = std::move(recs);
  return j.dump();
}

std::string encode(const Ack& m) {
  json j;
  j["type"] = "ack";
  j["terminal"] = m.terminal;
  j["seq"] = m.seq;
  return j.dump();
}

std::string encode(const State& m) {
  json j;
  j["type"] = "state";
  j["terminal"] = m.terminal;
  j["online"] = m.online;
  j["boot"] = m.boot;
  j["firmware"] = m.firmware;
  j["board"] = m.board;
  j["resource"] = m.resource;
  j["acl_version"] = m.acl_version;
  j["outbox_depth"] = m.outbox_depth;
  j["clock_synced"] = m.clock_synced;
  j["ts"] = time::format_utc(m.ts_ms);
  return j.dump();
}

std::string encode(const SyncBundle& m) {
  json j;
  j["type"] = "sync";
  // Absent for the legacy form, which only tests and old servers produce.
  if (m.card_form != CardForm::uid) j["card_digest"] = to_string(m.card_form);
  j["terminal"] = m.terminal;
  j["version"] = m.version;
  j["issued"] = time::format_utc(m.issued_ms);
  j["resource"] = m.resource;
  j["policy"] = {{"require_booking", m.policy.require_booking},
                 {"early_start_s", m.policy.early_start_s},
                 {"grace_after_end_s", m.policy.grace_after_end_s},
                 {"offline_grace_s", m.policy.offline_grace_s},
                 {"max_session_s", m.policy.max_session_s}};
  // Absent when unset: a bundle without them reads as before (every hour staffed).
  if (!m.policy.zone.empty()) j["policy"]["zone"] = m.policy.zone;
  if (m.policy.staffed_hours) {
    json hours = json::array();
    for (const auto& h : *m.policy.staffed_hours)
      hours.push_back({{"day", h.day}, {"from_min", h.from_min}, {"to_min", h.to_min}});
    j["policy"]["staffed_hours"] = std::move(hours);
  }
  if (!m.policy.closed.empty()) {
    json closed = json::array();
    for (const auto& c : m.policy.closed)
      closed.push_back({{"start", time::format_utc(c.start_ms)}, {"end", time::format_utc(c.end_ms)}});
    j["policy"]["closed"] = std::move(closed);
  }
  json grants = json::array();
  for (const auto& g : m.grants) {
    json e{{"card", g.card}, {"user", g.user}, {"category", g.category}, {"admin", g.admin},
           {"from", time::format_utc(g.valid_from_ms)}};
    e["until"] = g.valid_until_ms ? json(time::format_utc(*g.valid_until_ms)) : json(nullptr);
    if (g.level != Level::after_hours) e["level"] = to_string(g.level);
    grants.push_back(std::move(e));
  }
  j["grants"] = std::move(grants);
  json bookings = json::array();
  for (const auto& b : m.bookings) {
    json e{{"id", b.id}, {"user", b.user}, {"start", time::format_utc(b.start_ms)}, {"end", time::format_utc(b.end_ms)}};
    if (b.staffed) e["staffed"] = true;
    bookings.push_back(std::move(e));
  }
  j["bookings"] = std::move(bookings);
  // Absent when normal and empty: a bundle without them reads as before.
  if (m.status != ResourceStatus::normal) j["status"] = to_string(m.status);
  if (!m.denials.empty()) {
    json denials = json::array();
    for (const auto& d : m.denials) denials.push_back({{"card", d.card}, {"user", d.user}, {"reason", to_string(d.reason)}});
    j["denials"] = std::move(denials);
  }
  return j.dump();
}

std::string encode(const Command& m) {
  json j;
  j["type"] = "cmd";
  j["id"] = m.id;
  j["kind"] = to_string(m.kind);
  j["terminal"] = m.terminal;
  j["issued"] = time::format_utc(m.issued_ms);
  j["expires"] = time::format_utc(m.expires_ms);
  j["args"] = json::object();
  for (const auto& [k, v] : m.args) j["args"][k] = v;
  return j.dump();
}

std::string encode(const CommandResult& m) {
  json j;
  j["type"] = "cmdres";
  j["terminal"] = m.terminal;
  j["id"] = m.id;
  j["outcome"] = to_string(m.outcome);
  j["reason"] = m.reason;
  j["ts"] = time::format_utc(m.ts_ms);
  return j.dump();
}

// ------------------------------------------------------------ decode

Result<Record> decode_record(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return j.error();
  return record_from(*j, "record");
}

Result<EventBatch> decode_event_batch(std::string_view body) {
  auto j = parse_object(body);
  if (!j) return j.error();
  Reader r(*j, "");
  if (auto s = expect_type(r, "evt"); !s) return s.error();
  EventBatch m;
  m.terminal = r.id("terminal");
  m.boot = r.u64("boot");
  const json* recs = r.array("records", kMaxBatch);
  if (!r.ok()) return Error::invalid(r.err());
  if (recs->empty()) return Error::invalid("records: must not be empty");
  uint64_t prev = 0;
  for (std::size_t i = 0; i < recs->size(); ++i) {
    auto rec = record_from((*recs)[i], "records[" + std::to_string(i) + "]");
    if (!rec) return rec.error();
    if (rec->seq <= prev) return Error::invalid("records[" + std::to_string(i) + "].seq: not ascending");
    prev = rec->seq;
    m.records.push_back(std::move(*rec));
  }
  return m;
}

Result<Ack> decode_ack(std::string_view body) {
  auto j = parse_object(body);
  if (!j) return j.error();
  Reader r(*j, "");
  if (auto s = expect_type(r, "ack"); !s) return s.error();
  Ack a;
  a.terminal = r.id("terminal");
  a.seq = r.u64("seq");
  if (!r.ok()) return Error::invalid(r.err());
  return a;
}

Result<State> decode_state(std::string_view body) {
  auto j = parse_object(body);
  if (!j) return j.error();
  Reader r(*j, "");
  if (auto s = expect_type(r, "state"); !s) return s.error();
  State m;
  m.terminal = r.id("terminal");
  m.online = r.boolean("online");
  m.boot = r.u64("boot");
  m.firmware = r.str("firmware", false, 64);
  m.board = r.str("board", false, 64);
  m.resource = r.id_or_empty("resource");
  m.acl_version = r.u64("acl_version", false);
  m.outbox_depth = r.u64("outbox_depth", false);
  m.clock_synced = r.boolean("clock_synced", false);
  m.ts_ms = r.when("ts");
  if (!r.ok()) return Error::invalid(r.err());
  return m;
}

namespace {

/// The policy's zone, staffed_hours and closed (docs/PROTOCOL.md, "Levels and staffed hours").
/// A zone the terminal's time zone database does not hold is refused with the bundle: the
/// terminal could not count the hours.
void decode_hours(Reader& pr, const json& p, Policy& policy) {
  if (!pr.ok()) return;
  constexpr std::size_t kMaxSpans = 1000;
  if (p.contains("zone")) {
    policy.zone = pr.str("zone", true, 64);
    if (pr.ok() && !time::local_time(0, policy.zone)) pr.fail("zone", "unknown time zone \"" + policy.zone + "\"");
  }
  if (pr.ok() && p.contains("staffed_hours")) {
    if (policy.zone.empty()) {
      pr.fail("staffed_hours", "needs a zone");
      return;
    }
    const json* h = pr.array("staffed_hours", kMaxSpans);
    if (h == nullptr) return;
    policy.staffed_hours.emplace();
    for (std::size_t i = 0; i < h->size() && pr.ok(); ++i) {
      const std::string path = pr.sub("staffed_hours[" + std::to_string(i) + "]");
      if (!(*h)[i].is_object()) {
        pr.take_error(path + ": must be an object");
        return;
      }
      Reader sr((*h)[i], path);
      WeekSpan w;
      w.day = static_cast<int32_t>(sr.i64("day"));
      w.from_min = static_cast<int32_t>(sr.i64("from_min"));
      w.to_min = static_cast<int32_t>(sr.i64("to_min"));
      if (sr.ok() && (w.day < 1 || w.day > 7)) sr.fail("day", "must be 1 (Monday) .. 7 (Sunday)");
      if (sr.ok() && (w.from_min < 0 || w.to_min > 1440 || w.from_min >= w.to_min))
        sr.fail("to_min", "must have 0 <= from_min < to_min <= 1440");
      if (!sr.ok()) pr.take_error(sr.err());
      policy.staffed_hours->push_back(w);
    }
  }
  if (pr.ok() && p.contains("closed")) {
    const json* c = pr.array("closed", kMaxSpans);
    if (c == nullptr) return;
    for (std::size_t i = 0; i < c->size() && pr.ok(); ++i) {
      const std::string path = pr.sub("closed[" + std::to_string(i) + "]");
      if (!(*c)[i].is_object()) {
        pr.take_error(path + ": must be an object");
        return;
      }
      Reader sr((*c)[i], path);
      Span span{sr.when("start"), sr.when("end")};
      if (sr.ok() && span.end_ms <= span.start_ms) sr.fail("end", "must be after start");
      if (!sr.ok()) pr.take_error(sr.err());
      policy.closed.push_back(span);
    }
  }
}

}  // namespace

Result<SyncBundle> decode_sync(std::string_view body) {
  auto j = parse_object(body);
  if (!j) return j.error();
  Reader r(*j, "");
  if (auto s = expect_type(r, "sync"); !s) return s.error();
  SyncBundle m;
  m.card_form = CardForm::uid;
  if (j->contains("card_digest")) {
    const std::string form = r.str("card_digest", true, 32);
    const auto f = value_of(kCardForms, form);
    if (r.ok() && (!f || *f == CardForm::uid))
      r.fail("card_digest", "unknown \"" + form + "\" (this terminal reads " + std::string(kCardDigestName) + ")");
    if (!r.ok()) return Error::invalid(r.err());
    m.card_form = *f;
  }
  m.terminal = r.id("terminal");
  m.version = r.u64("version");
  if (r.ok() && m.version == 0) r.fail("version", "must be >= 1");
  m.issued_ms = r.when("issued");
  m.resource = r.id("resource");
  if (const json* p = r.object("policy")) {
    Reader pr(*p, "policy");
    m.policy.require_booking = pr.boolean("require_booking");
    m.policy.early_start_s = pr.i64("early_start_s");
    m.policy.grace_after_end_s = pr.i64("grace_after_end_s");
    m.policy.offline_grace_s = pr.i64("offline_grace_s");
    m.policy.max_session_s = pr.i64("max_session_s");
    if (pr.ok() && (m.policy.early_start_s < 0 || m.policy.grace_after_end_s < 0 || m.policy.offline_grace_s < 0 ||
                    m.policy.max_session_s < 0))
      pr.fail("*", "durations must be >= 0");
    decode_hours(pr, *p, m.policy);
    if (!pr.ok()) r.take_error(pr.err());
  }
  constexpr std::size_t kMaxEntries = 200000;
  if (const json* g = r.array("grants", kMaxEntries)) {
    for (std::size_t i = 0; i < g->size() && r.ok(); ++i) {
      const std::string path = "grants[" + std::to_string(i) + "]";
      if (!(*g)[i].is_object()) {
        r.take_error(path + ": must be an object");
        break;
      }
      Reader gr((*g)[i], path);
      Grant e;
      e.card = gr.bundle_card("card", m.card_form);
      e.user = gr.id("user");
      e.category = gr.str("category", true, 32);
      e.admin = gr.boolean("admin");
      e.valid_from_ms = gr.when("from");
      e.valid_until_ms = gr.opt_time("until");
      if (gr.ok() && (*g)[i].contains("level")) {
        const std::string level = gr.str("level", true, 32);
        if (auto l = level_from(level)) e.level = *l;
        else if (gr.ok()) gr.fail("level", "must be supervised, independent or after_hours");
      }
      if (!gr.ok()) r.take_error(gr.err());
      m.grants.push_back(std::move(e));
    }
  }
  if (const json* b = r.array("bookings", kMaxEntries)) {
    for (std::size_t i = 0; i < b->size() && r.ok(); ++i) {
      const std::string path = "bookings[" + std::to_string(i) + "]";
      if (!(*b)[i].is_object()) {
        r.take_error(path + ": must be an object");
        break;
      }
      Reader br((*b)[i], path);
      BookingSlot s;
      s.id = br.id("id");
      s.user = br.id("user");
      s.start_ms = br.when("start");
      s.end_ms = br.when("end");
      if (br.ok() && s.end_ms <= s.start_ms) br.fail("end", "must be after start");
      s.staffed = br.boolean("staffed", false);
      if (!br.ok()) r.take_error(br.err());
      m.bookings.push_back(std::move(s));
    }
  }
  if (r.ok() && j->contains("status")) {
    const std::string st = r.str("status", true, 32);
    if (auto v = resource_status_from(st)) m.status = *v;
    else if (r.ok()) r.fail("status", "must be one of normal, maintenance, disabled, pending_scrap");
  }
  if (r.ok() && j->contains("denials")) {
    if (const json* d = r.array("denials", kMaxEntries)) {
      for (std::size_t i = 0; i < d->size() && r.ok(); ++i) {
        const std::string path = "denials[" + std::to_string(i) + "]";
        if (!(*d)[i].is_object()) {
          r.take_error(path + ": must be an object");
          break;
        }
        Reader dr((*d)[i], path);
        Denial e;
        e.card = dr.bundle_card("card", m.card_form);
        e.user = dr.id("user");
        const std::string why = dr.str("reason", true, 32);
        const auto reason = reason_from(why);
        if (dr.ok() && (!reason || (*reason != Reason::card_revoked && *reason != Reason::user_suspended)))
          dr.fail("reason", "must be card_revoked or user_suspended");
        if (reason) e.reason = *reason;
        if (!dr.ok()) r.take_error(dr.err());
        m.denials.push_back(std::move(e));
      }
    }
  }
  if (!r.ok()) return Error::invalid(r.err());
  return m;
}

Result<Command> decode_command(std::string_view body) {
  auto j = parse_object(body);
  if (!j) return j.error();
  Reader r(*j, "");
  if (auto s = expect_type(r, "cmd"); !s) return s.error();
  Command m;
  m.id = r.id("id");
  m.kind = r.enumeration("kind", kCommandKinds);
  m.terminal = r.id("terminal");
  m.issued_ms = r.when("issued");
  m.expires_ms = r.when("expires");
  if (r.ok() && m.expires_ms <= m.issued_ms) r.fail("expires", "must be after issued");
  if (r.ok() && m.expires_ms - m.issued_ms > kMaxCommandLifetimeMs) r.fail("expires", "more than 24 h after issued");
  if (r.ok() && j->contains("args")) {
    if (const json* a = r.object("args")) {
      if (a->size() > kMaxCommandArgs) r.fail("args", "has more than " + std::to_string(kMaxCommandArgs) + " entries");
      for (auto it = a->begin(); it != a->end() && r.ok(); ++it) {
        if (it.key().empty() || it.key().size() > 64 || !it->is_string() ||
            it->get_ref<const std::string&>().size() > kMaxField) {
          r.fail("args." + it.key().substr(0, 64), "must be a short string");
          break;
        }
        m.args.emplace(it.key(), it->get<std::string>());
      }
    }
  }
  if (!r.ok()) return Error::invalid(r.err());
  return m;
}

Result<CommandResult> decode_command_result(std::string_view body) {
  auto j = parse_object(body);
  if (!j) return j.error();
  Reader r(*j, "");
  if (auto s = expect_type(r, "cmdres"); !s) return s.error();
  CommandResult m;
  m.terminal = r.id("terminal");
  m.id = r.id_or_empty("id");
  m.outcome = r.enumeration("outcome", kCommandOutcomes);
  m.reason = r.str("reason", false, kMaxField);
  m.ts_ms = r.when("ts");
  if (!r.ok()) return Error::invalid(r.err());
  return m;
}

// ------------------------------------------------------------ card digests, pseudonyms

namespace {
std::string hex_prefix(const crypto::Digest& d, std::size_t bytes) {
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), bytes));
}
bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
constexpr std::string_view kPseudonymPrefix = "p-";
}  // namespace

std::string card_digest(std::string_view card_key, const CardUid& card) {
  return hex_prefix(crypto::hmac_sha256(card_key, card.str()), kCardDigestHex / 2);
}

bool valid_card_digest(std::string_view s) { return s.size() == kCardDigestHex && lower_hex(s); }

Result<std::string> pseudonym_key(const crypto::PrivateKey& server_key, std::string_view site,
                                  std::string_view terminal) {
  auto secret = server_key.shared_secret(server_key.public_key());
  if (!secret) return secret.error();
  const std::string info = "user\0" + std::string(site) + '\0' + std::string(terminal);
  std::string k = crypto::hkdf_sha256(*secret, "labgate pseudonym v1", info, 32);
  if (k.size() != 32) return Error::invalid("pseudonym key derivation failed");
  return k;
}

std::string user_pseudonym(std::string_view pseudonym_key, std::string_view user) {
  return std::string(kPseudonymPrefix) + hex_prefix(crypto::hmac_sha256(pseudonym_key, user), 16);
}

bool looks_like_pseudonym(std::string_view s) {
  return s.size() == kPseudonymPrefix.size() + 32 && s.substr(0, kPseudonymPrefix.size()) == kPseudonymPrefix &&
         lower_hex(s.substr(kPseudonymPrefix.size()));
}

// ------------------------------------------------------------ envelope

const char* to_string(Auth a) { return a == Auth::mac ? "hs256" : "es256"; }

Result<LinkKeys> link_keys(const crypto::PrivateKey& mine, const crypto::PublicKey& peer, std::string_view site,
                           std::string_view terminal) {
  auto secret = mine.shared_secret(peer);
  if (!secret) return secret.error();
  const std::string ctx = std::string(site) + '\0' + std::string(terminal);
  LinkKeys k;
  k.up = crypto::hkdf_sha256(*secret, "labgate link v1", "up\0" + ctx, 32);
  k.down = crypto::hkdf_sha256(*secret, "labgate link v1", "down\0" + ctx, 32);
  k.card = crypto::hkdf_sha256(*secret, "labgate link v1", "card\0" + ctx, 32);
  if (k.up.size() != 32 || k.down.size() != 32 || k.card.size() != 32)
    return Error::invalid("link key derivation failed");
  return k;
}

Result<std::string> seal(std::string_view body, std::string_view kid, const crypto::PrivateKey& key) {
  auto sig = key.sign(body);
  if (!sig) return sig.error();
  json j;
  j["v"] = kVersion;
  j["kid"] = kid;
  j["body"] = body;
  j["sig"] = crypto::base64_encode(*sig);
  return j.dump();
}

std::string seal_mac(std::string_view body, std::string_view kid, std::string_view mac_key) {
  const crypto::Digest d = crypto::hmac_sha256(mac_key, body);
  json j;
  j["v"] = kVersion;
  j["kid"] = kid;
  j["alg"] = to_string(Auth::mac);
  j["body"] = body;
  j["sig"] = crypto::base64_encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
  return j.dump();
}

Result<Envelope> open(std::string_view wire) {
  auto j = parse_object(wire);
  if (!j) return j.error();
  Reader r(*j, "");
  Envelope e;
  const json* v = r.field("v", true);
  if (!r.ok()) return Error::invalid(r.err());
  if (!v->is_number_integer()) return Error::invalid("v: must be an integer");
  e.v = v->get<int>();
  if (e.v != kVersion) return Error::invalid("v: unsupported protocol version " + std::to_string(e.v));
  e.kid = r.id("kid");
  const std::string alg = r.str("alg", false, 16);
  e.body = r.str("body", true, kMaxPayload);
  const std::string sig64 = r.str("sig", true, 256);
  if (!r.ok()) return Error::invalid(r.err());
  if (alg.empty() || alg == "es256") e.alg = Auth::signature;
  else if (alg == "hs256") e.alg = Auth::mac;
  else return Error::invalid("alg: unknown \"" + alg.substr(0, 16) + "\" (es256 or hs256)");
  auto sig = crypto::base64_decode(sig64);
  if (!sig || sig->empty()) return Error::invalid("sig: not valid base64");
  if (e.alg == Auth::mac && sig->size() != 32) return Error::invalid("sig: an hs256 MAC is 32 bytes");
  e.sig = std::move(*sig);
  return e;
}

bool verify(const Envelope& env, const crypto::PublicKey& key) {
  return env.alg == Auth::signature && key.verify(env.body, env.sig);
}

bool verify_mac(const Envelope& env, std::string_view mac_key) {
  if (env.alg != Auth::mac || mac_key.size() != 32) return false;
  const crypto::Digest d = crypto::hmac_sha256(mac_key, env.body);
  return crypto::equal_constant_time(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()), env.sig);
}

}  // namespace lg::proto
