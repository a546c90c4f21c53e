// Every notice's text, by kind. Chinese first, English second; {field} is replaced by the value
// the caller gives (templates.hpp). Greeting ({name}) and signature ({site}) are added to both
// halves by render(). Edit the wording here; tests/server/notify/templates_test.cpp renders each.
#include "server/notify/templates.hpp"

#include <array>

#include "server/notify/rules.hpp"

namespace lg::server::notify {

namespace {

struct Template {
  Kind kind;
  const char* subject_zh;
  const char* subject_en;
  const char* body_zh;
  const char* body_en;
};

constexpr std::array<Template, 18> kTemplates{{
    {Kind::booking_confirmed, "预约已确认：{instrument}", "Booking confirmed: {instrument}",
     "您预约的 {instrument}（{lab}）已确认。\n开始：{start}\n结束：{end}\n预约编号：{booking}",
     "Your booking of {instrument} ({lab}) is confirmed.\nStart: {start}\nEnd: {end}\nBooking: {booking}"},
    {Kind::booking_pending, "预约待审批：{instrument}", "Booking awaiting approval: {instrument}",
     "您预约的 {instrument} 需要审批，审批后会再通知您。\n开始：{start}\n结束：{end}\n预约编号：{booking}",
     "Your booking of {instrument} needs approval; you will hear again when it is decided.\nStart: {start}\n"
     "End: {end}\nBooking: {booking}"},
    {Kind::booking_approved, "预约已批准：{instrument}", "Booking approved: {instrument}",
     "您预约的 {instrument} 已获批准。\n开始：{start}\n结束：{end}\n预约编号：{booking}",
     "Your booking of {instrument} is approved.\nStart: {start}\nEnd: {end}\nBooking: {booking}"},
    {Kind::booking_refused, "预约未获批准：{instrument}", "Booking refused: {instrument}",
     "您预约的 {instrument} 未获批准。\n原因：{reason}\n开始：{start}\n结束：{end}\n预约编号：{booking}",
     "Your booking of {instrument} was refused.\nReason: {reason}\nStart: {start}\nEnd: {end}\nBooking: {booking}"},
    {Kind::waitlist_promoted, "候补转为预约：{instrument}", "Waiting list: your booking of {instrument}",
     "有人取消了预约，您候补的 {instrument} 时段现已为您预约。\n开始：{start}\n结束：{end}\n预约编号：{booking}",
     "A slot you were waiting for on {instrument} became free and is now booked for you.\nStart: {start}\n"
     "End: {end}\nBooking: {booking}"},
    {Kind::booking_cancelled_maintenance, "因维护取消预约：{instrument}", "Booking cancelled for maintenance: {instrument}",
     "{instrument} 需要维护，您的预约已被取消。\n原因：{reason}\n开始：{start}\n结束：{end}\n预约编号：{booking}",
     "{instrument} needs maintenance, so your booking was cancelled.\nReason: {reason}\nStart: {start}\nEnd: {end}\n"
     "Booking: {booking}"},
    {Kind::training_reminder, "培训提醒：{training}", "Training reminder: {training}",
     "提醒您参加培训“{training}”。\n时间：{start}\n地点：{place}",
     "A reminder of your training \"{training}\".\nTime: {start}\nPlace: {place}"},
    {Kind::training_enrolled, "培训报名：{training}", "Training enrolment: {training}",
     "您已报名培训“{training}”。\n状态：{status}\n时间：{start}\n地点：{place}",
     "You are enrolled in the training \"{training}\".\nStatus: {status}\nTime: {start}\nPlace: {place}"},
    {Kind::training_waitlist_promoted, "候补转为正式报名：{training}", "A seat is yours: {training}",
     "有人取消了报名，您候补的培训“{training}”现已为您保留座位。\n时间：{start}\n地点：{place}",
     "Someone cancelled, so you now hold a seat in the training \"{training}\" you were waiting for.\n"
     "Time: {start}\nPlace: {place}"},
    {Kind::training_passed, "培训通过：{training}", "Training passed: {training}",
     "您已通过培训“{training}”（{start}，{place}）。\n有效期至：{valid_until}\n获得的使用资格：{qualifications}",
     "You passed the training \"{training}\" ({start}, {place}).\nValid until: {valid_until}\n"
     "Qualifications: {qualifications}"},
    {Kind::training_cancelled, "培训取消：{training}", "Training cancelled: {training}",
     "您报名的培训“{training}”（{start}，{place}）已取消，请留意新的场次。",
     "The training \"{training}\" you enrolled in ({start}, {place}) is cancelled; watch for a new session."},
    {Kind::qualification_lapsing, "使用资格即将到期：{instrument}", "Qualification lapsing: {instrument}",
     "您使用 {instrument} 的资格将于 {valid_until} 到期，到期后门禁将不再为您开启。请及时续期。",
     "Your qualification for {instrument} lapses on {valid_until}; after that the door no longer opens for you. "
     "Please renew it in time."},
    {Kind::order_state, "订单 {order}：{state}", "Order {order}: {state}",
     "您的订单 {order} 状态已更新为：{state}。", "Your order {order} is now: {state}."},
    {Kind::blocked, "账户已被限制使用", "Your account is blocked",
     "您的账户已被限制使用仪器。\n原因：{reason}\n如有疑问，请联系实验室管理员。",
     "Your account may no longer use the instruments.\nReason: {reason}\nPlease ask the lab's administrator if "
     "this is unexpected."},
    {Kind::block_ended, "预约限制已解除", "You may book again",
     "您的预约限制已于 {end} 解除，可以重新预约仪器。\n当前信用分：{score}",
     "Your block from booking ended on {end}; you may book instruments again.\nYour credit score: {score}"},
    {Kind::user_blocked, "用户 {user} 已被限制预约", "{user} is blocked from booking",
     "用户 {user} 因信用分过低被限制预约，至 {until}。\n原因：{reason}",
     "{user} may not book until {until}.\nReason: {reason}"},
    {Kind::user_unblocked, "用户 {user} 的预约限制已解除", "{user} may book again",
     "用户 {user} 的预约限制已于 {end} 解除。当前信用分：{score}",
     "The block of {user} ended on {end}; they may book again. Credit score: {score}"},
    {Kind::other, "{subject_zh}", "{subject_en}", "{text_zh}", "{text_en}"},
}};

constexpr const char* kGreetingZh = "{name}，您好：\n\n";
constexpr const char* kGreetingEn = "Hello {name},\n\n";
constexpr const char* kSignatureZh = "\n\n—— labgate {site}（此邮件由系统自动发送，请勿回复）";
constexpr const char* kSignatureEn = "\n\n-- labgate {site} (sent automatically, please do not reply)";
constexpr const char* kSeparator = "\n\n----------------------------------------\n\n";

const Template* find(Kind k) {
  for (const auto& t : kTemplates)
    if (t.kind == k) return &t;
  return nullptr;
}

/// The {field} names in text, in order of appearance.
void names_in(std::string_view text, std::vector<std::string>& out) {
  for (std::size_t at = 0; (at = text.find('{', at)) != std::string_view::npos;) {
    const auto end = text.find('}', at);
    if (end == std::string_view::npos) break;
    std::string name(text.substr(at + 1, end - at - 1));
    bool seen = false;
    for (const auto& n : out) seen = seen || n == name;
    if (!seen) out.push_back(std::move(name));
    at = end + 1;
  }
}

/// A value as it may appear in one line (the subject): control characters become spaces.
std::string one_line(std::string v) {
  for (auto& c : v)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return v;
}

/// A value in the body: line breaks stay (as \n), other control characters become spaces.
std::string body_text(std::string v) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '\r') {
      if (i + 1 < v.size() && v[i + 1] == '\n') continue;
      out += '\n';
    } else if (c == '\n' || c == '\t') {
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> fill(std::string_view text, const Fields& fields, bool subject) {
  std::string out;
  out.reserve(text.size() + 64);
  std::size_t from = 0;
  for (std::size_t at; (at = text.find('{', from)) != std::string_view::npos;) {
    const auto end = text.find('}', at);
    if (end == std::string_view::npos) break;
    out.append(text.substr(from, at - from));
    const std::string_view name = text.substr(at + 1, end - at - 1);
    auto it = fields.find(name);
    if (it == fields.end()) return Error::invalid("notice template: the field '" + std::string(name) + "' is not given");
    out += subject ? one_line(it->second) : body_text(it->second);
    from = end + 1;
  }
  out.append(text.substr(from));
  return out;
}

}  // namespace

std::vector<std::string> template_fields(Kind k) {
  std::vector<std::string> out;
  const Template* t = find(k);
  if (!t) return out;
  for (const char* part : {kGreetingZh, t->subject_zh, t->subject_en, t->body_zh, kSignatureZh, t->body_en})
    names_in(part, out);
  return out;
}

Result<Rendered> render(Kind k, const Fields& fields) {
  const Template* t = find(k);
  if (!t) return Error::invalid(std::string("notice template: none for kind ") + to_string(k));
  auto szh = fill(t->subject_zh, fields, true);
  if (!szh) return szh.error();
  auto sen = fill(t->subject_en, fields, true);
  if (!sen) return sen.error();
  const std::string body_text = std::string(kGreetingZh) + t->body_zh + kSignatureZh + kSeparator + kGreetingEn +
                                t->body_en + kSignatureEn + "\n";
  auto body = fill(body_text, fields, false);
  if (!body) return body.error();
  return Rendered{*szh + " / " + *sen, std::move(*body)};
}

}  // namespace lg::server::notify
