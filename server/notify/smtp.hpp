// The SMTP client that mails notices (RFC 5321): EHLO, optional STARTTLS (RFC 3207) and AUTH
// PLAIN (RFC 4954), MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. One connection per mail,
// every step bounded by a timeout. Boost.Asio stays in smtp.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "server/notify/outbox.hpp"

namespace lg::server::notify {

struct SmtpSettings {
  std::string host;
  int port = 25;
  bool starttls = false;   ///< STARTTLS before anything else; the server's certificate is verified for host
  std::string ca_file;     ///< "" = the system's trusted CAs
  std::string username;    ///< "" = no AUTH
  std::string password;
  int64_t timeout_ms = 30'000;  ///< each step (connect, each reply, each write)
  std::string helo;        ///< the name in EHLO ("" = this host's name)
};

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpSettings s);
  /// One SMTP transaction for m. sent on 250 after the message; permanent on a 5xx to RCPT TO or
  /// to the message; transient otherwise (no connection, timeout, TLS, 4xx, 5xx before RCPT).
  Delivery send(const Mail& m) override;

 private:
  SmtpSettings s_;
};

}  // namespace lg::server::notify
