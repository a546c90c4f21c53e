// The sample-order rules over plain values: every transition of the table, every refusal with
// the rule it names, the cancellation rules per state, order validation and the attachment
// checks (size, allow-list, sniffing, file names).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/orders/rules.hpp"

using namespace lg::server::orders;

namespace {

const Actor kOwner{true, false};
const Actor kAdmin{false, true};
const Actor kBoth{true, true};
const Actor kNobody{false, false};

const std::vector<State> kAll{State::submitted,  State::accepted,         State::refused,
                              State::samples_received, State::in_testing, State::results_uploaded,
                              State::completed,  State::confirmed,        State::cancelled};

Facts with_reason(std::string r) {
  Facts f;
  f.reason = std::move(r);
  return f;
}

Facts session_ok() {
  Facts f;
  f.session_known = true;
  f.session_same_instrument = true;
  return f;
}

Facts one_result() {
  Facts f;
  f.results = 1;
  return f;
}

void allowed(State from, Action a, const Actor& who, const Facts& f, State to, const char* rule) {
  const Verdict v = decide(from, a, who, f);
  INFO(to_string(from) << " " << to_string(a) << ": " << v.reason);
  REQUIRE(v.ok());
  CHECK(*v.to == to);
  CHECK(v.refusal == Refusal::none);
  CHECK(v.rule == rule);
}

void refused(State from, Action a, const Actor& who, const Facts& f, Refusal why, const std::string& rule) {
  const Verdict v = decide(from, a, who, f);
  INFO(to_string(from) << " " << to_string(a) << " -> " << (v.ok() ? to_string(*v.to) : v.reason));
  REQUIRE_FALSE(v.ok());
  CHECK(v.refusal == why);
  CHECK(v.rule == rule);
  CHECK(v.reason.find("order rule " + rule + ": ") == 0);
}

}  // namespace

TEST_CASE("orders rules: the whole path, each step by its actor") {
  allowed(State::submitted, Action::accept, kAdmin, {}, State::accepted, "accept.by_admin");
  allowed(State::submitted, Action::refuse, kAdmin, with_reason("no such test here"), State::refused, "refuse.by_admin");
  allowed(State::accepted, Action::receive, kAdmin, {}, State::samples_received, "receive.by_admin");
  allowed(State::samples_received, Action::start_testing, kAdmin, session_ok(), State::in_testing,
          "start_testing.by_admin");
  allowed(State::in_testing, Action::upload_result, kAdmin, {}, State::results_uploaded, "upload_result.by_admin");
  allowed(State::results_uploaded, Action::upload_result, kAdmin, {}, State::results_uploaded, "upload_result.by_admin");
  allowed(State::results_uploaded, Action::complete, kAdmin, one_result(), State::completed, "complete.by_admin");
  allowed(State::completed, Action::confirm, kOwner, {}, State::confirmed, "confirm.by_owner");
}

TEST_CASE("orders rules: admin steps refuse everyone else (role) before looking at the state") {
  struct Step {
    Action a;
    const char* rule;
  };
  for (const Step s : {Step{Action::accept, "accept.admin_only"}, Step{Action::refuse, "refuse.admin_only"},
                       Step{Action::receive, "receive.admin_only"}, Step{Action::start_testing, "start_testing.admin_only"},
                       Step{Action::upload_result, "upload_result.admin_only"}, Step{Action::complete, "complete.admin_only"}}) {
    for (State from : kAll) {
      refused(from, s.a, kOwner, session_ok(), Refusal::role, s.rule);
      refused(from, s.a, kNobody, session_ok(), Refusal::role, s.rule);
    }
  }
  for (State from : kAll) {
    refused(from, Action::confirm, kAdmin, {}, Refusal::role, "confirm.owner_only");
    refused(from, Action::confirm, kNobody, {}, Refusal::role, "confirm.owner_only");
    refused(from, Action::cancel, kNobody, with_reason("x"), Refusal::role, "cancel.owner_or_admin");
  }
}

TEST_CASE("orders rules: each step only from its state (state refusals)") {
  Facts all = session_ok();
  all.reason = "because";
  all.results = 3;
  for (State from : kAll) {
    if (from != State::submitted) {
      refused(from, Action::accept, kAdmin, all, Refusal::state, "accept.from_submitted");
      refused(from, Action::refuse, kAdmin, all, Refusal::state, "refuse.from_submitted");
    }
    if (from != State::accepted) refused(from, Action::receive, kAdmin, all, Refusal::state, "receive.from_accepted");
    if (from != State::samples_received)
      refused(from, Action::start_testing, kAdmin, all, Refusal::state, "start_testing.from_samples_received");
    if (from != State::in_testing && from != State::results_uploaded)
      refused(from, Action::upload_result, kAdmin, all, Refusal::state, "upload_result.from_in_testing");
    if (from != State::results_uploaded)
      refused(from, Action::complete, kAdmin, all, Refusal::state, "complete.from_results_uploaded");
    if (from != State::completed) refused(from, Action::confirm, kOwner, all, Refusal::state, "confirm.from_completed");
    refused(from, Action::submit, kBoth, all, Refusal::state, "submit.not_a_transition");
  }
}

TEST_CASE("orders rules: facts a step needs") {
  refused(State::submitted, Action::refuse, kAdmin, {}, Refusal::facts, "refuse.reason_required");
  refused(State::samples_received, Action::start_testing, kAdmin, {}, Refusal::facts, "start_testing.session_known");
  Facts elsewhere;
  elsewhere.session_known = true;
  refused(State::samples_received, Action::start_testing, kAdmin, elsewhere, Refusal::facts,
          "start_testing.same_instrument");
  refused(State::results_uploaded, Action::complete, kAdmin, {}, Refusal::facts, "complete.result_required");
}

TEST_CASE("orders rules: cancellation per state and actor") {
  // The owner: while submitted or accepted, with or without a reason.
  allowed(State::submitted, Action::cancel, kOwner, {}, State::cancelled, "cancel.by_owner");
  allowed(State::accepted, Action::cancel, kOwner, with_reason("changed my mind"), State::cancelled, "cancel.by_owner");
  refused(State::samples_received, Action::cancel, kOwner, with_reason("x"), Refusal::state, "cancel.owner_until_accepted");
  refused(State::in_testing, Action::cancel, kOwner, with_reason("x"), Refusal::state, "cancel.owner_until_accepted");
  // An admin: until in_testing (included), always with a reason.
  for (State s : {State::submitted, State::accepted, State::samples_received, State::in_testing}) {
    allowed(s, Action::cancel, kAdmin, with_reason("instrument broken"), State::cancelled, "cancel.by_admin");
    refused(s, Action::cancel, kAdmin, {}, Refusal::facts, "cancel.admin_reason_required");
  }
  // Nobody after testing, nor from a final state.
  for (State s : {State::results_uploaded, State::completed, State::confirmed, State::refused, State::cancelled}) {
    refused(s, Action::cancel, kOwner, with_reason("x"), Refusal::state, "cancel.not_after_testing");
    refused(s, Action::cancel, kAdmin, with_reason("x"), Refusal::state, "cancel.not_after_testing");
    refused(s, Action::cancel, kBoth, with_reason("x"), Refusal::state, "cancel.not_after_testing");
  }
  // Owner and admin at once: the owner's rule first (no reason needed early), the admin's later.
  allowed(State::submitted, Action::cancel, kBoth, {}, State::cancelled, "cancel.by_owner");
  allowed(State::samples_received, Action::cancel, kBoth, with_reason("x"), State::cancelled, "cancel.by_admin");
  refused(State::in_testing, Action::cancel, kBoth, {}, Refusal::facts, "cancel.admin_reason_required");
}

TEST_CASE("orders rules: final states") {
  for (State s : kAll) {
    const bool fin = s == State::refused || s == State::confirmed || s == State::cancelled;
    CHECK(final_state(s) == fin);
  }
}

TEST_CASE("orders rules: names round-trip") {
  for (State s : kAll) CHECK(state_from(to_string(s)) == s);
  for (Action a : {Action::submit, Action::accept, Action::refuse, Action::receive, Action::start_testing,
                   Action::upload_result, Action::complete, Action::confirm, Action::cancel})
    CHECK(action_from(to_string(a)) == a);
  for (SampleForm f : {SampleForm::solid, SampleForm::liquid, SampleForm::powder, SampleForm::gas, SampleForm::film,
                       SampleForm::other})
    CHECK(sample_form_from(to_string(f)) == f);
  for (Delivery d : {Delivery::in_person, Delivery::courier, Delivery::internal_mail}) CHECK(delivery_from(to_string(d)) == d);
  CHECK_FALSE(state_from("done"));
  CHECK_FALSE(delivery_from("drone"));
}

TEST_CASE("orders rules: validate names the field") {
  Order o;
  o.sample_count = 2;
  o.sample_names = {"S1", "S2"};
  o.tests = "XRD 10-80 deg";
  o.account = "acct-1";
  o.fee_lines = {{"xrd-sample", 2}};
  o.parameters = {{"step", "0.02"}, {"range", "10-80"}};
  CHECK_FALSE(validate(o));
  auto bad = [&](auto change, const char* field) {
    Order x = o;
    change(x);
    auto why = validate(x);
    REQUIRE(why);
    CHECK(why->find(field) == 0);
  };
  bad([](Order& x) { x.sample_count = 0; }, "sample_count");
  bad([](Order& x) { x.sample_count = kMaxSamples + 1; }, "sample_count");
  bad([](Order& x) { x.sample_names = {"a", "b", "c"}; }, "sample_names");
  bad([](Order& x) { x.sample_names = {""}; }, "sample_names");
  bad([](Order& x) { x.tests.clear(); }, "tests");
  bad([](Order& x) { x.account.clear(); }, "account");
  bad([](Order& x) { x.parameters.push_back({"step", "0.01"}); }, "parameters");
  bad([](Order& x) { x.parameters.push_back({"", "0.01"}); }, "parameters");
  bad([](Order& x) { x.fee_lines.push_back({"", 1}); }, "fee_lines");
  bad([](Order& x) { x.fee_lines.push_back({"extra", 0}); }, "fee_lines");
}

TEST_CASE("orders rules: who may add a file when") {
  for (State s : {State::submitted, State::accepted, State::samples_received, State::in_testing, State::results_uploaded}) {
    CHECK(attachment_verdict(s, kOwner, false).ok());
    CHECK(attachment_verdict(s, kAdmin, false).ok());
    CHECK(*attachment_verdict(s, kOwner, false).to == s);  // a plain file moves nothing
    CHECK(attachment_verdict(s, kNobody, false).refusal == Refusal::role);
  }
  for (State s : {State::completed, State::confirmed, State::refused, State::cancelled}) {
    const Verdict v = attachment_verdict(s, kAdmin, false);
    CHECK(v.refusal == Refusal::state);
    CHECK(v.rule == "attach.open_orders");
  }
  // A result: an admin while in testing (or adding to the results), and it moves the order.
  CHECK(*attachment_verdict(State::in_testing, kAdmin, true).to == State::results_uploaded);
  CHECK(attachment_verdict(State::in_testing, kOwner, true).rule == "upload_result.admin_only");
  CHECK(attachment_verdict(State::samples_received, kAdmin, true).rule == "upload_result.from_in_testing");
}

TEST_CASE("orders rules: sniffing the allowed types") {
  CHECK(sniff("%PDF-1.7\n...") == "application/pdf");
  CHECK(sniff(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)) == "image/png");
  CHECK(sniff("\xFF\xD8\xFF\xE0 JFIF") == "image/jpeg");
  CHECK(sniff(std::string("PK\x03\x04\x14\0", 6)) == "application/zip");
  CHECK(sniff(std::string("PK\x05\x06", 4) + std::string(18, '\0')) == "application/zip");
  CHECK(sniff("sample,peak\nS1,28.4\r\n") == "text");
  CHECK(sniff("名称\t结果\n") == "text");
  CHECK(sniff("") == "text");
  CHECK(sniff(std::string("MZ\x90\0", 4)) == "");             // an executable
  CHECK(sniff(std::string("text\0with nul", 13)) == "");      // NUL is no text
  CHECK(sniff("\x1b[31mred") == "");                          // escape
  CHECK(sniff("\xC3\x28") == "");                             // not UTF-8
  CHECK(sniff("<html><script>") == "text");                   // text, but only text/plain or text/csv may say so
}

TEST_CASE("orders rules: check_attachment: size, type, content, name") {
  const std::string pdf = "%PDF-1.4 result";
  auto ok = check_attachment("application/pdf", "report.pdf", pdf, 100);
  CHECK(ok.status == 0);
  CHECK(ok.content_type == "application/pdf");
  CHECK(ok.name == "report.pdf");
  // Exactly the limit passes, one byte more is 413.
  CHECK(check_attachment("application/pdf", "r.pdf", pdf, static_cast<int64_t>(pdf.size())).status == 0);
  auto big = check_attachment("application/pdf", "r.pdf", pdf, static_cast<int64_t>(pdf.size()) - 1);
  CHECK(big.status == 413);
  CHECK(big.reason.find("attachment_limit") != std::string::npos);
  // A type outside the list, or none.
  CHECK(check_attachment("text/html", "x.html", "<p>", 100).status == 415);
  CHECK(check_attachment("application/x-msdownload", "x.exe", "MZ", 100).status == 415);
  CHECK(check_attachment("", "x.txt", "abc", 100).status == 415);
  // Parameters and case do not matter; the stored type is the bare one.
  auto csv = check_attachment("Text/CSV; charset=utf-8", "peaks.csv", "a,b\n1,2\n", 100);
  CHECK(csv.status == 0);
  CHECK(csv.content_type == "text/csv");
  // Content that is not what it says.
  auto lie = check_attachment("image/png", "x.png", "%PDF-1.4", 100);
  CHECK(lie.status == 415);
  CHECK(lie.reason.find("looks like application/pdf") != std::string::npos);
  CHECK(check_attachment("text/plain", "x.txt", std::string("MZ\x90\0", 4), 100).status == 415);
  CHECK(check_attachment("application/zip", "x.zip", "just text", 100).status == 415);
  // No usable name.
  CHECK(check_attachment("text/plain", "", "abc", 100).status == 422);
  CHECK(check_attachment("text/plain", "../..", "abc", 100).status == 422);
  CHECK(check_attachment("text/plain", "a/b/", "abc", 100).status == 422);
}

TEST_CASE("orders rules: clean_filename keeps only a harmless last segment") {
  CHECK(clean_filename("report.pdf") == "report.pdf");
  CHECK(clean_filename("../../etc/passwd") == "passwd");
  CHECK(clean_filename("C:\\Users\\a\\谱图.png") == "谱图.png");
  CHECK(clean_filename("a\"b;c\r\nd.txt") == "abcd.txt");
  CHECK(clean_filename("..") == "");
  CHECK(clean_filename("") == "");
  const std::string longname = std::string(199, 'a') + "谱";  // the 3-byte character crosses 200
  CHECK(clean_filename(longname) == std::string(199, 'a'));
}
