#include "server/sync/http.hpp"

#include <array>

#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::sync {

using namespace http;

namespace {
constexpr std::array kKinds{proto::CommandKind::unlock, proto::CommandKind::lock, proto::CommandKind::resync,
                            proto::CommandKind::video};
constexpr int64_t kMaxTtlS = proto::kMaxCommandLifetimeMs / 1000;

/// "unlock|lock|resync|video": the kinds a command may have, by their wire names.
std::string kind_list() {
  std::string out;
  for (auto k : kKinds) out += (out.empty() ? "" : "|") + std::string(proto::to_string(k));
  return out;
}

/// The body's optional "args": an object of short strings (sync::check_command_args). On a
/// problem fills bad (422) and returns nullopt.
std::optional<std::map<std::string, std::string>> args_of(const json& body, Response& bad) {
  std::map<std::string, std::string> args;
  auto it = body.find("args");
  if (it == body.end() || it->is_null()) return args;
  if (!it->is_object()) {
    bad = error(422, "invalid field: args: must be an object of strings");
    return std::nullopt;
  }
  if (it->size() > proto::kMaxCommandArgs) {
    bad = error(422, "invalid field: args: at most " + std::to_string(proto::kMaxCommandArgs) + " entries");
    return std::nullopt;
  }
  for (auto a = it->begin(); a != it->end(); ++a) {
    if (!a->is_string()) {
      bad = error(422, "invalid field: args: every value must be a string");
      return std::nullopt;
    }
    args.emplace(a.key(), a->get<std::string>());
  }
  if (auto ok = check_command_args(args); !ok) {
    bad = error(422, "invalid field: " + ok.error().reason);
    return std::nullopt;
  }
  return args;
}

json command_json(const ApiContext& ctx, const proto::Command& c) {
  return json{{"id", c.id},
              {"terminal", c.terminal},
              {"kind", proto::to_string(c.kind)},
              {"issued", ctx.time(c.issued_ms)},
              {"expires", ctx.time(c.expires_ms)},
              {"args", c.args}};
}
}  // namespace

void add_command_routes(Router& router, const ApiContext& ctx, CommandService& commands, UnitOfWork& uow,
                        audit::Store& audit) {
  router.add(
      {"POST", "/api/terminals/{id}/commands",
       Access::path(identity::Right::instrument_write, identity::Kind::terminal),
       [&](const Request& req, const PathParams& pp) {
         Response bad;
         auto body = parse_body(req, bad);
         if (!body) return bad;
         Fields f(*body, {"kind", "ttl_s", "args"});
         const std::string kind_text = f.text("kind");
         const auto ttl_s = f.opt_integer("ttl_s", 1, kMaxTtlS);
         if (!f.ok()) return f.response();
         const auto kind = proto::command_kind_from(kind_text);
         if (!kind) return error(422, "invalid field: kind: must be " + kind_list());
         auto args = args_of(*body, bad);
         if (!args) return bad;
         const std::string& id = pp.at("id");
         const int64_t now = ctx.now();
         const int64_t ttl_ms = ttl_s ? *ttl_s * 1000 : kCommandTtlMs;
         // Audited before it is published: a command the broker then refuses (503) stays in
         // the log as an attempt.
         auto sent = commands.send(id, *kind, now, ttl_ms, std::move(*args), [&](const proto::Command& c) {
           return audit::record(
               uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                 return audit::changed(audit::Change{"command", "terminal", id, "", command_json(ctx, c).dump()});
               });
         });
         if (!sent) return failure(sent.error());
         return reply(202, command_json(ctx, *sent));
       },
       "Send a signed remote command (resync, unlock, lock, video) to a terminal; its answer comes on cmdres"});
  router.add({"GET", "/api/terminals/{id}/commands/last",
              Access::path(identity::Right::instrument_write, identity::Kind::terminal),
              [&](const Request&, const PathParams& pp) {
                const std::string& id = pp.at("id");
                auto a = commands.last_result(id);
                if (!a)
                  return error(404, "no answer to a command from terminal '" + id +
                                        "' since the server started (answers are kept in memory)");
                json out{{"terminal", a->result.terminal},
                         {"id", a->result.id},
                         {"kind", a->kind ? json(proto::to_string(*a->kind)) : json(nullptr)},
                         {"outcome", proto::to_string(a->result.outcome)},
                         {"reason", a->result.reason},
                         {"ts", ctx.time_or_null(a->result.ts_ms > 0 ? std::optional<int64_t>(a->result.ts_ms)
                                                                     : std::nullopt)},
                         {"received", ctx.time(a->received_ms)}};
                return reply(200, out);
              },
              "The last answer a terminal sent to a command (outcome done, refused, unsupported or failed)"});
}

}  // namespace lg::server::sync
