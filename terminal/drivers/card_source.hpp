// Card sources: a Unix stream socket speaking the line protocol of docs/INTERFACES.md (one uid
// per line in, one JSON line out) and a serial ASCII reader (uid lines, optionally framed by
// STX/ETX). The agent sees only CardSource. Boost.Asio stays in card_source.cpp.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/common/result.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace lg::terminal {

/// Splits a byte stream into card lines. Line ends: LF, CR, CRLF, ETX; STX starts a new frame
/// (discarding any partial line). Surrounding spaces and tabs are trimmed, empty lines are
/// skipped, and a line longer than max_line is dropped whole (up to its line end).
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = 128) : max_(max_line) {}
  /// Feeds bytes; returns the lines completed by them.
  std::vector<std::string> feed(std::string_view bytes);

 private:
  void finish(std::vector<std::string>& out);
  std::size_t max_;
  std::string cur_;
  bool overlong_ = false;
};

/// Replies to one swipe (socket source: one JSON line to the client; serial: ignored).
using ReplyFn = std::function<void(const std::string& json_line)>;
/// Called on the io_context's thread for each card line read (raw, not yet validated).
using CardHandler = std::function<void(const std::string& card, ReplyFn reply)>;

class CardSource {
 public:
  virtual ~CardSource() = default;
  /// Starts reading; handler is invoked for every line. Fails if the source cannot be opened.
  virtual Status start(CardHandler handler) = 0;
  /// Stops reading and closes everything.
  virtual void stop() = 0;
};

/// Listens on a Unix stream socket at path (replacing a stale socket file).
std::unique_ptr<CardSource> make_socket_source(boost::asio::io_context& io, std::filesystem::path path);
/// Reads a serial device at baud; reopens it every 2 s after an error.
std::unique_ptr<CardSource> make_serial_source(boost::asio::io_context& io, std::string device, int baud);

}  // namespace lg::terminal
