// SmtpMailer over Boost.Asio: a private io_context per mail, each step an async operation run
// for at most the timeout (then the socket is closed), so a silent server costs the caller the
// timeout of one step and no more.
#include <utility>  // must precede boost/asio.hpp with GCC 12 + C++20 + Boost 1.74

#include "server/notify/smtp.hpp"

#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "server/notify/mime.hpp"

namespace lg::server::notify {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kMaxReply = 64 * 1024;

/// A step that went wrong: how to treat it and what to record.
struct Failure {
  Outcome outcome;
  std::string detail;
};

class Session {
 public:
  Session(const SmtpSettings& s) : s_(s), sock_(io_) {}

  std::optional<Failure> run(const Mail& m) {
    if (auto f = connect()) return f;
    auto greet = reply("greeting");
    if (!greet.ok) return greet.failure;
    if (greet.code != 220) return transient("greeting", greet);
    auto caps = ehlo();
    if (!caps.ok) return caps.failure;
    if (s_.starttls) {
      if (caps.text.find("STARTTLS") == std::string::npos)
        return Failure{Outcome::transient, where() + ": the server does not offer STARTTLS (smtp.starttls = true)"};
      auto r = command("STARTTLS", "STARTTLS");
      if (!r.ok) return r.failure;
      if (r.code != 220) return transient("STARTTLS", r);
      in_.clear();  // nothing read before TLS may count after it (RFC 3207 5)
      if (auto f = handshake()) return f;
      caps = ehlo();
      if (!caps.ok) return caps.failure;
    }
    if (!s_.username.empty()) {
      auto r = command("AUTH PLAIN " + auth_plain(s_.username, s_.password), "AUTH");
      if (!r.ok) return r.failure;
      if (r.code != 235) return transient("AUTH", r);
    }
    auto r = command("MAIL FROM:<" + m.from + ">", "MAIL FROM");
    if (!r.ok) return r.failure;
    if (r.code != 250) return transient("MAIL FROM", r);
    r = command("RCPT TO:<" + m.to + ">", "RCPT TO");
    if (!r.ok) return r.failure;
    if (r.code != 250 && r.code != 251) return r.code >= 500 ? permanent("RCPT TO", r) : transient("RCPT TO", r);
    r = command("DATA", "DATA");
    if (!r.ok) return r.failure;
    if (r.code != 354) return transient("DATA", r);
    if (auto f = write(dot_stuff(message_text(m)) + ".\r\n", "message")) return f;
    r = reply("message");
    if (!r.ok) return r.failure;
    if (r.code != 250) return r.code >= 500 ? permanent("message", r) : transient("message", r);
    // Taken: a failing QUIT changes nothing.
    (void)command("QUIT", "QUIT");
    return std::nullopt;
  }

  void close() {
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
  }

 private:
  struct Reply {
    bool ok = false;
    int code = 0;
    std::string text;  ///< the lines' texts, joined by "\n"
    Failure failure{Outcome::transient, ""};
  };

  std::string where() const { return "smtp " + s_.host + ":" + std::to_string(s_.port); }

  Failure transient(const std::string& step, const Reply& r) const {
    return Failure{Outcome::transient, where() + ": " + step + ": " + std::to_string(r.code) + " " + r.text};
  }
  Failure permanent(const std::string& step, const Reply& r) const {
    return Failure{Outcome::permanent, where() + ": " + step + ": " + std::to_string(r.code) + " " + r.text};
  }

  /// Runs the io_context until the started operation completes or the timeout passes (then the
  /// socket is closed and the operation ends with operation_aborted, reported as timed_out).
  template <typename Start>
  error_code wait(Start&& start) {
    std::optional<error_code> done;
    start([&done](const error_code& ec, auto&&...) { done = ec; });
    io_.restart();
    io_.run_for(std::chrono::milliseconds(s_.timeout_ms));
    if (!done) {
      close();
      io_.restart();
      io_.run();
      return net::error::timed_out;
    }
    return *done;
  }

  std::optional<Failure> connect() {
    tcp::resolver resolver(io_);
    tcp::resolver::results_type hosts;
    std::optional<error_code> done;
    resolver.async_resolve(s_.host, std::to_string(s_.port), [&](const error_code& ec, tcp::resolver::results_type r) {
      done = ec;
      hosts = std::move(r);
    });
    io_.restart();
    io_.run_for(std::chrono::milliseconds(s_.timeout_ms));
    if (!done) {
      resolver.cancel();
      io_.restart();
      io_.run();
      return Failure{Outcome::transient, where() + ": cannot resolve the host: timed out"};
    }
    if (*done) return Failure{Outcome::transient, where() + ": cannot resolve the host: " + done->message()};
    auto ec = wait([&](auto h) { net::async_connect(sock_, hosts, [h](const error_code& e, const tcp::endpoint&) mutable { h(e); }); });
    if (ec) return Failure{Outcome::transient, where() + ": cannot connect: " + ec.message()};
    return std::nullopt;
  }

  std::optional<Failure> handshake() {
    tls_ctx_.emplace(ssl::context::tls_client);
    tls_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    error_code ec;
    if (s_.ca_file.empty()) tls_ctx_->set_default_verify_paths(ec);
    else tls_ctx_->load_verify_file(s_.ca_file, ec);
    if (ec) return Failure{Outcome::transient, where() + ": STARTTLS: trusted CAs: " + ec.message()};
    tls_ctx_->set_verify_mode(ssl::verify_peer);
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(sock_, *tls_ctx_);
    tls_->set_verify_callback(ssl::host_name_verification(s_.host));
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), s_.host.c_str()))
      return Failure{Outcome::transient, where() + ": STARTTLS: cannot set the server name"};
    ec = wait([&](auto h) { tls_->async_handshake(ssl::stream_base::client, h); });
    if (ec) return Failure{Outcome::transient, where() + ": STARTTLS: handshake: " + ec.message()};
    return std::nullopt;
  }

  std::optional<Failure> write(const std::string& data, const std::string& step) {
    error_code ec;
    if (tls_) ec = wait([&](auto h) { net::async_write(*tls_, net::buffer(data), h); });
    else ec = wait([&](auto h) { net::async_write(sock_, net::buffer(data), h); });
    if (ec) return Failure{Outcome::transient, where() + ": " + step + ": cannot send: " + ec.message()};
    return std::nullopt;
  }

  /// One reply (all its lines).
  Reply reply(const std::string& step) {
    Reply r;
    for (;;) {
      error_code ec;
      auto buf = net::dynamic_buffer(in_, kMaxReply);
      if (tls_) ec = wait([&](auto h) { net::async_read_until(*tls_, buf, "\r\n", h); });
      else ec = wait([&](auto h) { net::async_read_until(sock_, buf, "\r\n", h); });
      if (ec) {
        r.failure = Failure{Outcome::transient, where() + ": " + step + ": no reply: " + ec.message()};
        return r;
      }
      const auto eol = in_.find("\r\n");
      const std::string line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      auto l = parse_reply_line(line);
      if (!l || (r.code != 0 && l->code != r.code)) {
        r.failure = Failure{Outcome::transient, where() + ": " + step + ": not an SMTP reply: '" + line.substr(0, 200) + "'"};
        return r;
      }
      r.code = l->code;
      if (!r.text.empty()) r.text += "\n";
      r.text += l->text;
      if (l->last) break;
    }
    r.ok = true;
    return r;
  }

  Reply command(const std::string& line, const std::string& step) {
    if (auto f = write(line + "\r\n", step)) {
      Reply r;
      r.failure = *f;
      return r;
    }
    return reply(step);
  }

  Reply ehlo() {
    std::string name = s_.helo;
    if (name.empty()) {
      char host[256] = {};
      name = ::gethostname(host, sizeof host - 1) == 0 && host[0] ? host : "localhost";
    }
    auto r = command("EHLO " + name, "EHLO");
    if (r.ok && r.code != 250) {
      r.ok = false;
      r.failure = transient("EHLO", r);
    }
    return r;
  }

  const SmtpSettings& s_;
  net::io_context io_;
  tcp::socket sock_;
  std::optional<ssl::context> tls_ctx_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  std::string in_;
};

}  // namespace

SmtpMailer::SmtpMailer(SmtpSettings s) : s_(std::move(s)) {}

Delivery SmtpMailer::send(const Mail& m) {
  // What goes on the command lines was checked when it was stored; a line break here would be a
  // second command (injection), so refuse it outright.
  for (const std::string* v : {&m.from, &m.to})
    if (v->find_first_of("\r\n<>") != std::string::npos)
      return Delivery{Outcome::permanent, "the address '" + v->substr(0, 100) + "' cannot go into an SMTP command"};
  Session session(s_);
  auto f = session.run(m);
  session.close();
  if (f) return Delivery{f->outcome, f->detail};
  return Delivery{Outcome::sent, ""};
}

}  // namespace lg::server::notify
