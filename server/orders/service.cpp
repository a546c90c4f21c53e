#include "server/orders/service.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

#include "labgate/common/crypto.hpp"
#include "labgate/common/files.hpp"
#include "labgate/common/log.hpp"
#include "server/core/errors.hpp"

namespace lg::server::orders {

namespace {

constexpr std::string_view kLog = "orders";

/// A name the server made (uuid7: hex digits and dashes): never "..", never a separator.
bool server_made(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<Order> Service::load(const std::string& id) {
  auto got = store_.get(id);
  if (!got) return got.error();
  if (!*got) return domain_error(Errc::not_found, "order: no order '" + id + "'");
  return **got;
}

Status Service::state_changed(const Change& c) {
  log::debug(kLog, "order " + c.after.id + ": " + (c.event.from ? to_string(*c.event.from) : "-") + " -> " +
                       to_string(c.event.to) + " by " + c.event.actor);
  if (on_changed_) return on_changed_(c);
  return {};
}

Result<Change> Service::apply(const Order& before, State to, Action a, const std::string& reason,
                              const std::string& session, const std::string& actor, int64_t now_ms) {
  Order after = before;
  after.state = to;
  after.session = session;
  after.updated_ms = now_ms;
  if (to == State::refused || to == State::cancelled) after.reason = reason;
  LG_TRY(store_.update(after));
  auto history = store_.events(before.id);
  if (!history) return history.error();
  Event e{before.id, static_cast<int64_t>(history->size()) + 1, before.state, to, a, actor, now_ms, reason};
  LG_TRY(store_.add_event(e));
  Change c{before, after, e};
  LG_TRY(state_changed(c));
  return c;
}

Result<Change> Service::submit(Order o, const std::string& actor, int64_t now_ms) {
  if (auto why = validate(o)) return domain_error(Errc::not_allowed, "invalid field: " + *why);
  o.id = crypto::uuid7();
  o.state = State::submitted;
  o.session.clear();
  o.reason.clear();
  o.created_ms = now_ms;
  o.updated_ms = now_ms;
  return transact<Change>(uow_, [&]() -> Result<Change> {
    LG_TRY(store_.insert(o));
    Event e{o.id, 1, std::nullopt, State::submitted, Action::submit, actor, now_ms, ""};
    LG_TRY(store_.add_event(e));
    Change c{o, o, e};
    LG_TRY(state_changed(c));
    return c;
  });
}

Result<Outcome> Service::act(const std::string& id, Action a, const Actor& who, const Input& in,
                             const std::string& actor, int64_t now_ms) {
  return transact<Outcome>(uow_, [&]() -> Result<Outcome> {
    auto before = load(id);
    if (!before) return before.error();
    Facts f;
    f.reason = in.reason;
    if (a == Action::start_testing && !in.session.empty()) {
      auto s = store_.session(in.session);
      if (!s) return s.error();
      f.session_known = s->has_value();
      f.session_same_instrument = f.session_known && (*s)->instrument == before->instrument;
    }
    if (a == Action::complete) {
      auto atts = store_.attachments(id);
      if (!atts) return atts.error();
      for (const auto& x : *atts) f.results += x.result ? 1 : 0;
    }
    Verdict v;
    if (a == Action::upload_result) {  // only with its file: attach()
      v.refusal = Refusal::facts;
      v.rule = "upload_result.with_file";
      v.reason = "order rule upload_result.with_file: a result is uploaded as an attachment marked result";
    } else {
      v = decide(before->state, a, who, f);
    }
    if (!v.ok()) return Outcome{std::nullopt, v};
    auto c = apply(*before, *v.to, a, in.reason, a == Action::start_testing ? in.session : before->session, actor,
                   now_ms);
    if (!c) return c.error();
    return Outcome{std::move(*c), v};
  });
}

Result<std::filesystem::path> Service::file_path(const std::string& order, const std::string& id) const {
  if (settings_.data_dir.empty())
    return domain_error(Errc::unavailable, "attachments: the server has no data dir (server.data_dir)");
  if (!server_made(order) || !server_made(id))
    return domain_error(Errc::not_found, "attachment: no attachment '" + id + "' of order '" + order + "'");
  return settings_.data_dir / "attachments" / order / id;
}

Result<StoredFile> Service::keep_file(const Order& o, std::string_view bytes) {
  StoredFile f{crypto::uuid7(), crypto::sha256_hex(bytes), static_cast<int64_t>(bytes.size())};
  auto path = file_path(o.id, f.id);
  if (!path) return path.error();
  if (auto d = files::ensure_private_dir(path->parent_path()); !d) return d.error();
  LG_TRY(files::write_atomic(*path, bytes, 0600));
  return f;
}

void Service::discard_file(const std::string& order, const std::string& id) {
  auto path = file_path(order, id);
  if (!path) return;
  std::error_code ec;
  std::filesystem::remove(*path, ec);
  if (ec) log::warn(kLog, "could not remove the unrecorded attachment " + path->string() + ": " + ec.message());
}

Result<Attached> Service::attach(const std::string& id, const StoredFile& f, const AttachmentCheck& c, bool result,
                                 const Actor& who, const std::string& actor, int64_t now_ms) {
  return transact<Attached>(uow_, [&]() -> Result<Attached> {
    auto before = load(id);
    if (!before) return before.error();
    const Verdict v = attachment_verdict(before->state, who, result);
    if (!v.ok()) return Attached{std::nullopt, std::nullopt, v};
    Attachment a{f.id, id, c.name, c.content_type, f.size, f.sha256, result, actor, now_ms};
    LG_TRY(store_.add_attachment(a));
    Attached out{a, std::nullopt, v};
    if (result) {
      auto ch = apply(*before, *v.to, Action::upload_result, "", before->session, actor, now_ms);
      if (!ch) return ch.error();
      out.change = std::move(*ch);
    }
    return out;
  });
}

Result<std::string> Service::read_file(const Attachment& att) {
  auto path = file_path(att.order, att.id);
  if (!path) return path.error();
  std::ifstream in(*path, std::ios::binary);
  if (!in) return Error::invalid("attachment " + att.id + ": its file " + path->string() + " cannot be read");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (static_cast<int64_t>(bytes.size()) != att.size || crypto::sha256_hex(bytes) != att.sha256)
    return Error::invalid("attachment " + att.id + ": its file " + path->string() + " is not the file recorded");
  return bytes;
}

}  // namespace lg::server::orders
