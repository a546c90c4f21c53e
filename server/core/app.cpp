#include "server/core/app.hpp"

#include "labgate/common/log.hpp"
#include "labgate/common/protocol.hpp"
#include "labgate/common/time.hpp"
#include "server/core/errors.hpp"
#include "server/qualification/rules.hpp"

#include <map>
#include "server/conduct/http.hpp"
#include "server/ledger/http.hpp"
#include "server/settlement/http.hpp"
#include "server/orders/http.hpp"
#include "server/notify/http.hpp"
#include "server/notify/rules.hpp"
#include "server/sync/http.hpp"
#include "server/terminals/http.hpp"
#include "server/training/http.hpp"
#include "server/transport/http/api.hpp"

namespace lg::server {

namespace {
constexpr std::string_view kLog = "server";
}

App::App(Stores stores, const crypto::PrivateKey& key, const ServerConfig& cfg, Publisher& publisher,
         std::function<int64_t()> now, std::string version)
    : stores_(stores),
      publisher_(publisher),
      now_(std::move(now)),
      site_(cfg.site),
      time_zone_(cfg.time_zone),
      usage_(usage::BatchStores{stores.uow, stores.usage, stores.terminals, stores.directory, stores.billing,
                                &stores.booking, cfg.time_zone},
             cfg.currency),
      ingest_(usage_, stores.usage, stores.terminals, key, cfg.site, &metrics_),
      booking_(stores.uow, stores.booking, stores.directory, stores.qualification, cfg.time_zone),
      sync_(stores.uow, stores.sync, stores.terminals, stores.usage, key, cfg.site, publisher, cfg.time_zone),
      commands_(stores.terminals, key, cfg.site, publisher, &dirty_, &stores.usage),
      outbox_(stores.uow, stores.notify, stores.directory, cfg.site),
      orders_(stores.uow, stores.orders, orders::Settings{cfg.data_dir, cfg.orders_attachment_limit}),
      training_(stores.uow, stores.training, stores.qualification, &outbox_, cfg.time_zone),
      conduct_(stores.uow, stores.conduct, &outbox_, cfg.conduct, cfg.time_zone),
      ledger_(stores.uow, stores.ledger, cfg.currency),
      settlement_(stores.uow, stores.settlement, ledger_, stores.ledger, cfg.settlement, cfg.time_zone) {
  http::ApiSettings s{cfg.site, std::move(version), cfg.admin_token, cfg.time_zone, cfg.currency,
                      int64_t{cfg.max_ingest_lag_s} * 1000, auth_settings(cfg.auth)};
  api_ = std::make_unique<http::Api>(stores_, booking_, dirty_, health_, std::move(s), now_, &metrics_);
  api_->extend([this](http::Router& r, const http::ApiContext& ctx) {
    sync::add_command_routes(r, ctx, commands_, stores_.uow, stores_.audit);
    orders::add_routes(r, ctx, orders_, stores_.uow, stores_.audit);
    training::add_routes(r, ctx, training_, stores_.uow, stores_.audit);
    conduct::add_routes(r, ctx, conduct_, stores_.uow, stores_.audit);
    ledger::add_routes(r, ctx, ledger_, stores_.ledger, stores_.directory, stores_.uow, stores_.audit);
    settlement::add_routes(r, ctx, settlement_, stores_.settlement, stores_.ledger, stores_.uow, stores_.audit);
    notify::add_routes(r, ctx, outbox_, stores_.uow, stores_.notify, stores_.audit);
  });
  // A booking's user hears of it by mail: made (confirmed, or waiting for approval), approved,
  // refused, expired, cancelled by maintenance. The notice is enqueued in the booking's own unit
  // of work, so it exists exactly when the change does.
  auto notice = [this, tz = cfg.time_zone](const Booking& b, notify::Kind kind, int64_t at_ms) -> Status {
    auto where = booking_.place(b.instrument);
    if (!where) return where.error();
    auto when = [&](int64_t ms) {
      auto t = time::format_local_offset(ms, tz);
      return t ? *t : time::format_utc(ms);
    };
    notify::Fields fields{{"instrument", where->instrument},
                          {"lab", where->lab.empty() ? std::string("-") : where->lab},
                          {"start", when(b.start_ms)}, {"end", when(b.end_ms)}, {"booking", b.id},
                          {"reason", b.cancel_reason.empty() ? std::string("-") : b.cancel_reason}};
    // one notice per booking and change (a unit of work run again does not mail twice)
    const std::string dedupe = kind == notify::Kind::booking_confirmed
                                ? notify::booking_confirmed_key(b.id)
                                : std::string(notify::to_string(kind)) + ":" + b.id + ":" + std::to_string(at_ms);
    auto r = outbox_.enqueue(notify::NoticeRequest{b.user, kind, std::move(fields), dedupe}, at_ms);
    if (!r) return r.error();
    return {};
  };
  booking_.on_created([notice](const Booking& b, int64_t at_ms) -> Status {
    switch (b.status) {
      case BookingStatus::active:
        return notice(b, notify::Kind::booking_confirmed, at_ms);
      case BookingStatus::pending:
        return notice(b, notify::Kind::booking_pending, at_ms);
      case BookingStatus::cancelled:
      case BookingStatus::refused:
      case BookingStatus::expired:
        break;
    }
    return {};
  });
  // The owner of a sample order hears of each change of its state, in the change's unit of work.
  orders_.on_changed([this](const orders::Change& c) -> Status {
    const std::string state = orders::to_string(c.event.to);
    auto r = outbox_.enqueue(
        notify::NoticeRequest{c.after.user, notify::Kind::order_state, notify::Fields{{"order", c.after.id}, {"state", state}},
                              "order_state:" + c.after.id + ":" + std::to_string(c.event.seq)},
        c.event.at_ms);
    if (!r) return r.error();
    return {};
  });
  // A user blocked for their conduct books nothing until the block ends (credit, server/conduct).
  booking_.blocked_by([this, tz = cfg.time_zone](const std::string& user, int64_t now_ms) -> Result<std::optional<std::string>> {
    auto b = conduct_.block_in_force(user, now_ms);
    if (!b) return b.error();
    if (!*b) return std::optional<std::string>{};
    auto until = time::format_local_offset((*b)->until_ms, tz);
    return std::optional<std::string>{(*b)->reason + " (blocked until " + (until ? *until : time::format_utc((*b)->until_ms)) + ")"};
  });
  // The first in line on a waiting list is booked when a slot frees up, and told so.
  booking_.on_promoted([notice](const WaitEntry&, const Booking& b, int64_t at_ms) -> Status {
    return notice(b, notify::Kind::waitlist_promoted, at_ms);
  });
  booking_.on_decided([notice](const Booking& b, int64_t at_ms) -> Status {
    switch (b.status) {
      case BookingStatus::active:
        return notice(b, notify::Kind::booking_approved, at_ms);
      case BookingStatus::refused:
      case BookingStatus::expired:
        return notice(b, notify::Kind::booking_refused, at_ms);
      case BookingStatus::cancelled:
        return notice(b, notify::Kind::booking_cancelled_maintenance, at_ms);
      case BookingStatus::pending:
        break;
    }
    return {};
  });
}

App::~App() = default;

Status App::enable_provisioning(const terminals::Provisioning& p) {
  if (enrolment_) return Error::invalid("provisioning is enabled already");
  enrolment_ = std::make_unique<terminals::Enrolment>(stores_.uow, stores_.terminals, stores_.audit, *p.ca, p.settings);
  api_->extend([this](http::Router& r, const http::ApiContext& ctx) { terminals::add_enrolment_routes(r, ctx, *enrolment_); });
  // A remote signer (pki.signer_url) is watched: /api/health says when it does not answer.
  enrolment_->watch_signer([this](bool reachable, const std::string& why) { health_.signer(reachable, why); }, 30);
  auto told = enrolment_->refresh_broker(now_());
  // A signer that does not answer now only delays the CRL (retried by tick()); anything else stops the start.
  if (!told && is(told.error(), Errc::unavailable)) log::warn(kLog, "broker files: " + told.error().message());
  else if (!told) return Error::invalid("broker files: " + told.error().message());
  return {};
}

notify::WorkerSettings notice_settings(const SmtpConfig& s) {
  notify::WorkerSettings w;
  w.from = s.from;
  w.from_name = s.from_name;
  w.retry.max_attempts = s.max_attempts;
  w.retry.base_ms = int64_t{s.retry_base_s} * 1000;
  w.retry.max_delay_ms = int64_t{s.retry_max_s} * 1000;
  w.batch = s.batch;
  // Longer than a whole conversation (about a dozen steps, each within timeout_s) can take.
  w.lease_ms = int64_t{s.timeout_s} * 1000 * 20;
  return w;
}

void App::enable_notices(notify::Mailer& mailer, const notify::WorkerSettings& s) {
  notices_ = std::make_unique<notify::Worker>(stores_.notify, mailer, s, now_);
}

int App::send_notices() {
  if (!notices_) return 0;
  auto r = notices_->run_once();
  if (!r) {
    log::error(kLog, "notices: " + r.error().message());
    return 0;
  }
  return r->sent;
}

identity::AuthSettings auth_settings(const AuthConfig& a) {
  identity::AuthSettings s;
  s.session_ttl_ms = a.session_hours * 3600 * 1000;
  s.personal_max_ttl_ms = a.personal_token_max_days * 24 * 3600 * 1000;
  s.password.t_cost = static_cast<uint32_t>(a.password_t_cost);
  s.password.m_cost_kib = static_cast<uint32_t>(a.password_m_cost_kib);
  s.ldap_default_unit = a.default_unit;
  if (!a.ldap_url.empty()) {
    identity::LdapConfig l;
    l.url = a.ldap_url;
    l.bind_dn = a.ldap_bind_dn;
    l.bind_password = a.ldap_bind_password;
    l.base_dn = a.ldap_base_dn;
    l.user_filter = a.ldap_user_filter;
    l.attr_name = a.ldap_attr_name;
    l.attr_mail = a.ldap_attr_mail;
    l.attr_unit = a.ldap_attr_unit;
    l.attr_category = a.ldap_attr_category;
    s.ldap = l;
  }
  if (!a.cas_url.empty()) {
    identity::CasConfig c;
    c.base_url = a.cas_url;
    c.v3 = a.cas_v3;
    s.cas = c;
    s.cas_services = a.cas_services;
  }
  return s;
}

void App::start() {
  if (auto s = sync_.refresh_all(now_(), true); !s) log::error(kLog, "initial sync: " + s.error().message());
}

void App::on_sync_topic(const std::string& terminal, const std::string& payload) {
  if (auto r = sync_.on_retained(terminal, payload, now_()); !r)
    log::error(kLog, "sync topic of " + terminal + ": " + r.error().message());
}

void App::on_mqtt_message(const std::string& topic, const std::string& payload) {
  auto parts = proto::parse_topic(topic);
  if (parts && parts->channel == proto::Channel::sync && parts->site == site_) {
    on_sync_topic(parts->terminal, payload);
    return;
  }
  if (parts && parts->channel == proto::Channel::cmdres) {
    (void)commands_.on_result(topic, payload, now_());  // logged and kept, or refused and counted there
    return;
  }
  if (parts && parts->channel == proto::Channel::state) {
    auto r = ingest_.on_state(topic, payload, now_());
    if (r.verdict == usage::Verdict::accepted && r.needs_resync) {
      log::info(kLog, r.terminal + " reports an older acl_version: publishing its bundle again");
      dirty_.republish(r.terminal);
    }
    return;
  }
  // evt and everything else (malformed topics are rejected and counted there)
  auto r = ingest_.on_event(topic, payload, now_());
  if (r.verdict != usage::Verdict::accepted || !r.ack) return;
  if (auto s = publisher_.publish(r.ack->topic, r.ack->payload, r.ack->qos, r.ack->retained); !s) {
    log::warn(kLog, "ack to " + r.terminal + " not sent (the terminal publishes the batch again after its resend_s): " + s.error().message());
    return;
  }
  if (auto s = stores_.usage.count("acks", 1); !s) log::error(kLog, "count ack: " + s.error().message());
}

void App::on_mqtt_connected() {
  log::info(kLog, "MQTT connected; republishing sync bundles");
  if (auto s = sync_.refresh_all(now_(), true); !s) log::error(kLog, "sync: " + s.error().message());
}

void App::tick() {
  if (enrolment_) enrolment_->retry_pending(now_());  // a CRL the signer could not sign before
  expire_booking_holds();
  send_training_reminders();
  scan_conduct();
  run_settlement();
  warn_lapsing();
  if (auto s = sync_.refresh_all(now_(), false); !s) log::error(kLog, "periodic sync: " + s.error().message());
  sync_.repair_held_back();
}

void App::expire_booking_holds() {
  if (auto w = booking_.expire_waits(now_()); !w) log::error(kLog, "waiting lists: " + w.error().message());
  if (auto h = ledger_.expire_holds(now_()); !h) {
    log::error(kLog, "ledger holds: " + h.error().message());
  } else if (*h > 0) {
    log::info(kLog, "ledger: " + std::to_string(*h) + " hold(s) timed out and were released");
  }
  auto gone = booking_.expire_holds(now_());
  if (!gone) {
    log::error(kLog, "pending bookings: " + gone.error().message());
    return;
  }
  for (const auto& c : *gone) {
    // a pending booking opened nothing, so no bundle changes
    log::info(kLog, "booking " + c.after.id + " on " + c.after.instrument + " expired: not approved by its hold time");
  }
}

void App::warn_lapsing() {
  const int64_t now = now_();
  std::map<std::pair<std::string, std::string>, int64_t> due;  // (user, instrument) -> end
  auto ending = stores_.qualification.ending(now, now + qualification::kEndingNoticeMs);
  if (!ending) {
    log::error(kLog, "lapsing qualifications: " + ending.error().message());
    return;
  }
  for (const auto& q : *ending)
    if (auto end = qualification::ends_soon(q, std::nullopt, now)) due[{q.user, q.instrument}] = *end;
  auto policies = stores_.booking.lapsing_policies();
  if (!policies) {
    log::error(kLog, "lapsing qualifications: " + policies.error().message());
    return;
  }
  for (const auto& p : *policies) {
    auto quals = stores_.qualification.on_instrument(p.instrument);
    if (!quals) {
      log::error(kLog, "lapsing qualifications: " + quals.error().message());
      return;
    }
    for (const auto& q : *quals) {
      auto used = stores_.qualification.last_use(q.user, q.instrument);
      if (!used) return log::error(kLog, "lapsing qualifications: " + used.error().message());
      auto lapse = qualification::lapses_at(q, *used, p.lapse_months, time_zone_);
      if (!lapse) continue;
      if (auto end = qualification::ends_soon(q, *lapse, now)) due[{q.user, q.instrument}] = *end;
    }
  }
  int told = 0;
  for (const auto& [who, end] : due) {
    auto where = booking_.place(who.second);
    auto at = time::format_local_offset(end, time_zone_);
    auto r = outbox_.enqueue(
        notify::NoticeRequest{who.first, notify::Kind::qualification_lapsing,
                              notify::Fields{{"instrument", where ? where->instrument : who.second},
                                             {"valid_until", at ? *at : time::format_utc(end)}},
                              "qualification_lapsing:" + who.first + ":" + who.second + ":" + std::to_string(end)},
        now);
    if (!r) log::error(kLog, "lapsing qualifications: " + r.error().message());
    else if (*r) ++told;
  }
  if (told > 0) log::info(kLog, std::to_string(told) + " holder(s) told their qualification ends within two weeks");
}

void App::run_settlement() {
  const int64_t now = now_();
  if (auto n = settlement_.intake(now); !n) {
    log::error(kLog, "settlement intake: " + n.error().message());
  } else if (*n > 0) {
    log::debug(kLog, "settlement: " + std::to_string(*n) + " charge(s) taken in for review");
  }
  if (auto n = settlement_.confirm_due(now); !n) log::error(kLog, "settlement confirm: " + n.error().message());
  if (settlement_.policy().settle_day <= 0) return;
  auto due = settlement_.due_month(now, settlement_.policy().settle_day);
  if (!due) {
    log::error(kLog, "settlement: " + due.error().message());
    return;
  }
  if (!*due) return;
  auto done = settlement_.settle(**due, "system", now);
  if (!done) {
    if (is(done.error(), Errc::conflict)) return;  // another node closed it first
    log::error(kLog, "settlement of " + **due + ": " + done.error().message());
    return;
  }
  log::info(kLog, "settlement: month " + **due + " closed: " + std::to_string(done->close.charges) + " charges, " +
                      std::to_string(done->close.statements) + " statements");
}

void App::scan_conduct() {
  const int64_t now = now_();
  auto r = conduct_.scan(now);
  if (!r) {
    log::error(kLog, "conduct: " + r.error().message());
    return;
  }
  for (const auto& e : r->recorded)
    log::debug(kLog, "conduct: " + std::string(conduct::to_string(e.kind)) + " of " + e.user + " on booking " + e.booking);
  for (const auto& b : r->blocks) log::info(kLog, "conduct: " + b.user + " blocked from booking: " + b.reason);
  auto ended = conduct_.notify_ended(now);
  if (!ended) log::error(kLog, "conduct: " + ended.error().message());
  else
    for (const auto& b : *ended) log::info(kLog, "conduct: the block of " + b.user + " ended");
}

void App::send_training_reminders() {
  auto n = training_.send_reminders(now_());
  if (!n) {
    log::error(kLog, "training reminders: " + n.error().message());
    return;
  }
  if (*n > 0) log::info(kLog, std::to_string(*n) + " training reminder(s) enqueued");
}

int App::flush_dirty() {
  auto n = sync_.flush_dirty(dirty_, now_());
  if (!n) {
    log::error(kLog, "sync: " + n.error().message());
    return 0;
  }
  return *n;
}

http::Response App::handle_http(const http::Request& req) { return api_->handle(req); }

}  // namespace lg::server
