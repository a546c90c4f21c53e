#include "server/audit/rules.hpp"

#include "labgate/common/crypto.hpp"

namespace lg::server::audit {

namespace {

void field(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out += ':';
  out += v;
  out += ',';
}

}  // namespace

std::string canonical(const Entry& e) {
  std::string out = "labgate-audit-v1,";
  field(out, std::to_string(e.seq));
  field(out, std::to_string(e.at_ms));
  field(out, e.actor);
  field(out, e.source);
  field(out, e.request_id);
  field(out, e.action);
  field(out, e.entity);
  field(out, e.entity_id);
  field(out, e.before);
  field(out, e.after);
  return out;
}

std::string entry_hash(const Entry& e, std::string_view prev_hash) {
  std::string bytes(prev_hash);
  bytes += canonical(e);
  return crypto::sha256_hex(bytes);
}

Entry next_entry(uint64_t head_seq, std::string_view head_hash, const Context& ctx, const Change& c, int64_t at_ms) {
  Entry e;
  e.seq = head_seq + 1;
  e.at_ms = at_ms;
  e.actor = ctx.actor;
  e.source = ctx.source;
  e.request_id = ctx.request_id;
  e.action = c.action;
  e.entity = c.entity;
  e.entity_id = c.entity_id;
  e.before = c.before;
  e.after = c.after;
  e.prev_hash = std::string(head_hash);
  e.hash = entry_hash(e, e.prev_hash);
  return e;
}

std::optional<Break> verify(std::span<const Entry> entries, ChainState& state) {
  for (const Entry& e : entries) {
    if (e.seq != state.next_seq) {
      if (e.seq > state.next_seq) {
        return Break{state.next_seq, "entry " + std::to_string(state.next_seq) + " is missing (the next stored is " +
                                         std::to_string(e.seq) + ")"};
      }
      return Break{state.next_seq, "entry " + std::to_string(e.seq) + " stands where entry " +
                                       std::to_string(state.next_seq) + " should be"};
    }
    if (e.prev_hash != state.prev_hash) {
      return Break{e.seq, "prev_hash does not match the hash of entry " + std::to_string(e.seq - 1)};
    }
    if (entry_hash(e, e.prev_hash) != e.hash) return Break{e.seq, "hash does not match the entry's contents"};
    state.next_seq = e.seq + 1;
    state.prev_hash = e.hash;
    ++state.checked;
  }
  return std::nullopt;
}

std::optional<Break> verify(std::span<const Entry> entries) {
  ChainState s;
  return verify(entries, s);
}

std::vector<std::pair<identity::Kind, std::string>> scope_objects(std::string_view entity, std::string_view entity_id) {
  using identity::Kind;
  const std::string id(entity_id);
  const auto slash = entity_id.find('/');
  const std::string first(entity_id.substr(0, slash));
  const std::string second = slash == std::string_view::npos ? std::string() : std::string(entity_id.substr(slash + 1));
  if (entity == "user" || entity == "account") return {{Kind::user, id}};
  if (entity == "registration") return {{Kind::registration, id}};
  if (entity == "card") return {{Kind::card, id}};
  if (entity == "unit") return {{Kind::unit, id}};
  if (entity == "lab") return {{Kind::lab, id}};
  if (entity == "instrument" || entity == "fee_standard") return {{Kind::instrument, id}};
  if (entity == "fee_version") return {{Kind::instrument, first}};  // "<instrument>/<version>"
  if (entity == "group") return {{Kind::group, id}};
  if (entity == "group_member") return {{Kind::group, first}, {Kind::user, second}};
  if (entity == "booking") return {{Kind::booking, id}};
  if (entity == "terminal") return {{Kind::terminal, id}};
  if (entity == "qualification") return {{Kind::user, first}, {Kind::instrument, second}};
  return {};
}

}  // namespace lg::server::audit
