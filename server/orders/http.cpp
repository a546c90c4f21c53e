#include "server/orders/http.hpp"

#include "server/audit/http.hpp"
#include "server/audit/record.hpp"
#include "server/identity/rules.hpp"
#include "server/transport/http/json_api.hpp"

namespace lg::server::orders {

using namespace http;
using identity::Kind;
using identity::Right;

namespace {

json attachment_json(const Attachment& a, const ApiContext& ctx) {
  return json{{"id", a.id},       {"name", a.name},     {"content_type", a.content_type}, {"size", a.size},
              {"sha256", a.sha256}, {"result", a.result}, {"uploaded_by", a.uploaded_by},   {"created", ctx.time(a.created_ms)}};
}

json order_json(const Order& o, const ApiContext& ctx) {
  json params = json::object();
  for (const auto& p : o.parameters) params[p.key] = p.value;
  json lines = json::array();
  for (const auto& l : o.fee_lines) lines.push_back(json{{"code", l.code}, {"quantity", l.quantity}});
  return json{{"id", o.id},
              {"instrument", o.instrument},
              {"user", o.user},
              {"state", to_string(o.state)},
              {"samples",
               {{"count", o.sample_count}, {"names", o.sample_names}, {"form", to_string(o.form)}, {"hazards", o.hazards}}},
              {"tests", o.tests},
              {"parameters", params},
              {"delivery", to_string(o.delivery)},
              {"account", o.account},
              {"fee_lines", lines},
              {"session", o.session.empty() ? json(nullptr) : json(o.session)},
              {"reason", o.reason},
              {"created", ctx.time(o.created_ms)},
              {"updated", ctx.time(o.updated_ms)}};
}

json event_json(const Event& e, const ApiContext& ctx) {
  return json{{"seq", e.seq},
              {"from", e.from ? json(to_string(*e.from)) : json(nullptr)},
              {"to", to_string(e.to)},
              {"action", to_string(e.action)},
              {"actor", e.actor},
              {"at", ctx.time(e.at_ms)},
              {"reason", e.reason}};
}

/// What the caller is to order o.
struct Standing {
  bool visible = false;  ///< usage_read over the order's instrument and user: may read it
  Actor actor;
};

Standing standing(const Request& req, const ApiContext& ctx, const Order& o) {
  Standing s;
  s.visible = ctx.may(req, Right::usage_read, {{Kind::instrument, o.instrument}, {Kind::user, o.user}});
  s.actor.owner = ctx.may(req, Right::self, {{Kind::user, o.user}});
  s.actor.admin = ctx.may(req, Right::instrument_write, {{Kind::instrument, o.instrument}});
  return s;
}

Response not_found(const std::string& id) { return error(404, "order: no order '" + id + "'"); }

/// The order the caller may see or act on, or the answer that says why not (404 for both an
/// unknown order and one the caller may not know of).
std::optional<Order> visible_order(const Request& req, const ApiContext& ctx, Service& service, const std::string& id,
                                   Standing& st, Response& bad) {
  auto o = service.get(id);
  if (!o) {
    bad = failure(o.error());
    return std::nullopt;
  }
  if (!*o) {
    bad = not_found(id);
    return std::nullopt;
  }
  st = standing(req, ctx, **o);
  if (!st.visible && !st.actor.owner && !st.actor.admin) {
    bad = not_found(id);
    return std::nullopt;
  }
  return **o;
}

/// A refused verdict: 403 (role), 409 (state), 422 (facts), with the rule in the body.
Response refusal(const Verdict& v) {
  int status = 422;
  switch (v.refusal) {
    case Refusal::role:
      status = 403;
      break;
    case Refusal::state:
      status = 409;
      break;
    case Refusal::facts:
    case Refusal::none:
      status = 422;
      break;
  }
  return reply(status, json{{"error", v.reason}, {"rule", v.rule}});
}

/// Reads the order body of POST /api/orders into o; the first problem in bad.
bool read_order(const json& body, const Request& req, Order& o, Response& bad) {
  Fields f(body, {"instrument", "user", "samples", "tests", "parameters", "delivery", "account", "fee_lines"});
  o.instrument = f.id("instrument");
  o.user = f.id("user", false);
  if (o.user.empty()) o.user = req.who().user;
  o.tests = f.text("tests", true, kMaxText);
  o.account = f.id("account");
  const std::string delivery = f.one_of("delivery", {"in_person", "courier", "internal_mail"});
  if (!f.ok()) {
    bad = f.response();
    return false;
  }
  o.delivery = delivery_from(delivery).value_or(Delivery::in_person);
  if (o.user.empty()) {
    bad = error(422, "invalid field: user: the caller is no user (the bootstrap token): name the order's user");
    return false;
  }
  auto samples = body.find("samples");
  if (samples == body.end() || samples->is_null()) {
    bad = error(400, "missing field: samples");
    return false;
  }
  if (!samples->is_object()) {
    bad = error(422, "invalid field: samples: must be an object {count, names, form, hazards}");
    return false;
  }
  Fields s(*samples, {"count", "names", "form", "hazards"});
  o.sample_count = s.integer("count", 1, kMaxSamples);
  const std::string form = s.one_of("form", {"solid", "liquid", "powder", "gas", "film", "other"});
  o.hazards = s.opt_text("hazards", kMaxText);
  if (!s.ok()) {
    bad = s.response();
    return false;
  }
  o.form = sample_form_from(form).value_or(SampleForm::other);
  if (auto names = samples->find("names"); names != samples->end() && !names->is_null()) {
    if (!names->is_array()) {
      bad = error(422, "invalid field: samples.names: must be an array of names");
      return false;
    }
    for (const auto& n : *names) {
      if (!n.is_string() || n.get<std::string>().empty() || n.get<std::string>().size() > proto::kMaxField ||
          lg::json::has_control_chars(n.get<std::string>())) {
        bad = error(422, "invalid field: samples.names: each name 1.." + std::to_string(proto::kMaxField) +
                             " characters without control characters");
        return false;
      }
      o.sample_names.push_back(n.get<std::string>());
    }
  }
  if (auto params = body.find("parameters"); params != body.end() && !params->is_null()) {
    if (!params->is_object()) {
      bad = error(422, "invalid field: parameters: must be an object of texts");
      return false;
    }
    for (auto it = params->begin(); it != params->end(); ++it) {
      if (!proto::valid_id(it.key()) || !it->is_string() || it->get<std::string>().size() > kMaxText ||
          lg::json::has_control_chars(it->get<std::string>())) {
        bad = error(422, "invalid field: parameters: keys of [A-Za-z0-9_.:-], values texts without control characters");
        return false;
      }
      o.parameters.push_back(Param{it.key(), it->get<std::string>()});
    }
  }
  if (auto lines = body.find("fee_lines"); lines != body.end() && !lines->is_null()) {
    if (!lines->is_array()) {
      bad = error(422, "invalid field: fee_lines: must be an array of {code, quantity}");
      return false;
    }
    for (const auto& l : *lines) {
      if (!l.is_object()) {
        bad = error(422, "invalid field: fee_lines: must be an array of {code, quantity}");
        return false;
      }
      Fields lf(l, {"code", "quantity"});
      FeeLine line{lf.id("code"), lf.integer("quantity", 1, 1'000'000)};
      if (!lf.ok()) {
        bad = lf.response();
        return false;
      }
      o.fee_lines.push_back(std::move(line));
    }
  }
  if (auto why = validate(o)) {
    bad = error(422, "invalid field: " + *why);
    return false;
  }
  return true;
}

/// `Content-Disposition: attachment` with the file's name: an ASCII fallback and the UTF-8 name.
std::string disposition(const std::string& name) {
  std::string ascii, encoded;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : name) {
    ascii.push_back(c < 0x80 ? static_cast<char>(c) : '_');
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '-' || c == '_';
    if (plain) {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded.push_back('%');
      encoded.push_back(hex[c >> 4]);
      encoded.push_back(hex[c & 15]);
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

/// A state change route (accept, refuse, receive, session, complete, confirm, cancel).
Route transition(std::string path, Access access, Action a, const ApiContext& ctx, Service& service, UnitOfWork& uow,
                 audit::Store& audit, std::string summary) {
  return Route{
      "POST", std::move(path), std::move(access),
      [&ctx, &service, &uow, &audit, a](const Request& req, const PathParams& pp) {
        const std::string& id = pp.at("id");
        Input in;
        if (!req.body.empty()) {
          Response bad;
          auto body = parse_body(req, bad);
          if (!body) return bad;
          Fields f(*body, {"reason", "session"});
          in.reason = f.opt_text("reason", kMaxText);
          if (a == Action::start_testing) in.session = f.id("session");
          else if (body->contains("session")) f.invalid("session", "only POST /api/orders/{id}/session links a session");
          if (!f.ok()) return f.response();
        } else if (a == Action::start_testing) {
          return error(400, "missing field: session");
        }
        Standing st;
        Response bad;
        auto o = visible_order(req, ctx, service, id, st, bad);
        if (!o) return bad;
        const int64_t now = ctx.now();
        std::optional<Outcome> out;
        auto s = audit::record(uow, audit, audit::request_context(req), now,
                               [&]() -> Result<std::optional<audit::Change>> {
                                 auto r = service.act(id, a, st.actor, in, req.who().actor(), now);
                                 if (!r) return r.error();
                                 out = std::move(*r);
                                 if (!out->change) return audit::unchanged();  // refused: nothing written
                                 return audit::changed(audit::Change{to_string(a), "order", id,
                                                                     order_json(out->change->before, ctx).dump(),
                                                                     order_json(out->change->after, ctx).dump()});
                               });
        if (!s) return failure(s.error());
        if (!out->change) return refusal(out->verdict);
        return reply(200, order_json(out->change->after, ctx));
      },
      std::move(summary)};
}

}  // namespace

void add_routes(Router& router, const ApiContext& ctx, Service& service, UnitOfWork& uow, audit::Store& audit) {
  // The submitter: Right::self over the order's user (the caller by default). The instrument is
  // in the public catalogue: anyone may send samples to any instrument's service.
  router.add({"POST", "/api/orders", Access::any(Right::self),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto body = parse_body(req, bad);
                if (!body) return bad;
                Order o;
                if (!read_order(*body, req, o, bad)) return bad;
                if (!ctx.may(req, Right::self, {{Kind::user, o.user}}))
                  return error(403, "forbidden: orders are submitted by their user (Right::self over user " + o.user + ")");
                const int64_t now = ctx.now();
                std::optional<Change> made;
                auto s = audit::record(uow, audit, audit::request_context(req), now,
                                       [&]() -> Result<std::optional<audit::Change>> {
                                         auto c = service.submit(o, req.who().actor(), now);
                                         if (!c) return c.error();
                                         made = std::move(*c);
                                         return audit::changed(audit::Change{"submit", "order", made->after.id, "",
                                                                             order_json(made->after, ctx).dump()});
                                       });
                if (!s) return failure(s.error());
                return reply(201, order_json(made->after, ctx));
              },
              "Submit a sample order to an instrument's service (samples, tests, delivery, account, fee lines)"});
  router.add({"GET", "/api/orders", Access::any(Right::usage_read),
              [&](const Request& req, const PathParams&) {
                Response bad;
                auto page = page_param(req, "orders", ctx, bad);
                if (!page) return bad;
                Filter f;
                f.instrument = query(req, "instrument");
                f.user = query(req, "user");
                f.state = query(req, "state");
                if (!f.state.empty() && !state_from(f.state)) return error(422, "invalid query: state: unknown state '" + f.state + "'");
                f.page = *page;
                return page_reply<Order>(req, "orders", ctx, page->limit, service.list(f), [&](const Order& o) {
                  if (!ctx.may(req, Right::usage_read, {{Kind::instrument, o.instrument}, {Kind::user, o.user}}))
                    return json(nullptr);
                  return order_json(o, ctx);
                });
              },
              "Sample orders the caller may see, newest first; ?instrument= ?user= ?state= filter"});
  router.add({"GET", "/api/orders/{id}", Access::any(Right::usage_read),
              [&](const Request& req, const PathParams& pp) {
                Standing st;
                Response bad;
                auto o = visible_order(req, ctx, service, pp.at("id"), st, bad);
                if (!o) return bad;
                auto events = service.events(o->id);
                if (!events) return failure(events.error());
                auto atts = service.attachments(o->id);
                if (!atts) return failure(atts.error());
                json j = order_json(*o, ctx);
                j["events"] = json::array();
                for (const auto& e : *events) j["events"].push_back(event_json(e, ctx));
                j["attachments"] = json::array();
                for (const auto& a : *atts) j["attachments"].push_back(attachment_json(a, ctx));
                return reply(200, j);
              },
              "One sample order with its history (events) and attachments"});
  router.add(transition("/api/orders/{id}/accept", Access::any(Right::instrument_write), Action::accept, ctx, service,
                        uow, audit, "Accept a submitted order (instrument admin)"));
  router.add(transition("/api/orders/{id}/refuse", Access::any(Right::instrument_write), Action::refuse, ctx, service,
                        uow, audit, "Refuse a submitted order with a reason (instrument admin)"));
  router.add(transition("/api/orders/{id}/receive", Access::any(Right::instrument_write), Action::receive, ctx,
                        service, uow, audit, "Record an accepted order's samples as received (instrument admin)"));
  router.add(transition("/api/orders/{id}/session", Access::any(Right::instrument_write), Action::start_testing, ctx,
                        service, uow, audit,
                        "Link the operator's usage session on the instrument: the order is in testing (instrument admin)"));
  router.add(transition("/api/orders/{id}/complete", Access::any(Right::instrument_write), Action::complete, ctx,
                        service, uow, audit, "Complete an order whose results are uploaded (instrument admin)"));
  router.add(transition("/api/orders/{id}/confirm", Access::any(Right::self), Action::confirm, ctx, service, uow, audit,
                        "Confirm a completed order (its submitter)"));
  // The submitter (self) or an instrument admin; decide() says who may when.
  router.add(transition("/api/orders/{id}/cancel", Access::signed_in(), Action::cancel, ctx, service, uow, audit,
                        "Cancel an order: its submitter while submitted or accepted, an instrument admin until in "
                        "testing with a reason"));
  // Raw body upload: ?name= the file name, ?result=true a result (instrument admin, in testing).
  router.add({"POST", "/api/orders/{id}/attachments", Access::signed_in(),
              [&](const Request& req, const PathParams& pp) {
                const std::string& id = pp.at("id");
                const std::string result_q = query(req, "result");
                if (result_q != "" && result_q != "true" && result_q != "false")
                  return error(422, "invalid query: result: must be true or false");
                const bool result = result_q == "true";
                // Who and when first (404/403/409), then what the file is (413/415/422).
                Standing st;
                Response bad;
                auto o = visible_order(req, ctx, service, id, st, bad);
                if (!o) return bad;
                if (auto v = attachment_verdict(o->state, st.actor, result); !v.ok()) return refusal(v);
                const AttachmentCheck check =
                    check_attachment(req.content_type, query(req, "name"), req.body, service.settings().attachment_limit);
                if (check.status != 0) return error(check.status, check.reason);
                auto file = service.keep_file(*o, req.body);
                if (!file) return failure(file.error());
                const int64_t now = ctx.now();
                std::optional<Attached> out;
                auto s = audit::record(
                    uow, audit, audit::request_context(req), now, [&]() -> Result<std::optional<audit::Change>> {
                      auto r = service.attach(id, *file, check, result, st.actor, req.who().actor(), now);
                      if (!r) return r.error();
                      out = std::move(*r);
                      if (!out->attachment) return audit::unchanged();
                      json after{{"attachment", attachment_json(*out->attachment, ctx)}};
                      if (out->change) after["order"] = order_json(out->change->after, ctx);
                      return audit::changed(audit::Change{result ? "upload_result" : "attach", "order_attachment",
                                                          id + "/" + file->id, "", after.dump()});
                    });
                if (!s || !out->attachment) service.discard_file(o->id, file->id);
                if (!s) return failure(s.error());
                if (!out->attachment) return refusal(out->verdict);
                json j = attachment_json(*out->attachment, ctx);
                j["state"] = to_string(out->change ? out->change->after.state : o->state);
                return reply(201, j);
              },
              "Upload a file to an order (raw body, Content-Type pdf/png/jpeg/csv/txt/zip, ?name=, ?result=true for "
              "a result)"});
  router.add({"GET", "/api/orders/{id}/attachments/{attachment}", Access::any(Right::usage_read),
              [&](const Request& req, const PathParams& pp) {
                Standing st;
                Response bad;
                auto o = visible_order(req, ctx, service, pp.at("id"), st, bad);
                if (!o) return bad;
                auto a = service.attachment(o->id, pp.at("attachment"));
                if (!a) return failure(a.error());
                if (!*a) return error(404, "attachment: no attachment '" + pp.at("attachment") + "' of order " + o->id);
                auto bytes = service.read_file(**a);
                if (!bytes) return failure(bytes.error());
                Response r(200, std::move(*bytes));
                r.headers.emplace_back("Content-Type", (*a)->content_type);
                r.headers.emplace_back("Content-Disposition", disposition((*a)->name));
                return r;
              },
              "Download an order's attachment (its recorded type, Content-Disposition: attachment)"});
}

}  // namespace lg::server::orders
