#include <utility>  // before boost/asio.hpp (GCC 12 + Boost 1.74 + C++20)

#include "drivers/card_source.hpp"

#include <array>
#include <deque>
#include <set>
#include <system_error>

#include <boost/asio.hpp>

#include "labgate/common/log.hpp"

namespace asio = boost::asio;

namespace lg::terminal {

// ---------------------------------------------------------------- LineSplitter

void LineSplitter::finish(std::vector<std::string>& out) {
  if (!overlong_) {
    const auto b = cur_.find_first_not_of(" \t");
    if (b != std::string::npos) {
      const auto e = cur_.find_last_not_of(" \t");
      out.push_back(cur_.substr(b, e - b + 1));
    }
  }
  cur_.clear();
  overlong_ = false;
}

std::vector<std::string> LineSplitter::feed(std::string_view bytes) {
  std::vector<std::string> out;
  for (char ch : bytes) {
    switch (ch) {
      case '\x02':  // STX: a new frame starts
        cur_.clear();
        overlong_ = false;
        break;
      case '\x03':
      case '\n':
      case '\r':
        finish(out);
        break;
      default:
        if (overlong_) break;
        if (cur_.size() >= max_) {
          overlong_ = true;
          cur_.clear();
          break;
        }
        cur_.push_back(ch);
    }
  }
  return out;
}

namespace {

constexpr std::string_view kComponent = "card";

// ---------------------------------------------------------------- socket source

class SocketConnection : public std::enable_shared_from_this<SocketConnection> {
 public:
  SocketConnection(asio::local::stream_protocol::socket sock, CardHandler& handler)
      : sock_(std::move(sock)), handler_(handler) {}

  void start() { read(); }
  void close() {
    boost::system::error_code ec;
    sock_.close(ec);
  }

 private:
  void read() {
    auto self = shared_from_this();
    sock_.async_read_some(asio::buffer(buf_), [this, self](boost::system::error_code ec, std::size_t n) {
      if (ec) return;  // closed by the client or by stop()
      for (auto& line : splitter_.feed(std::string_view(buf_.data(), n))) {
        std::weak_ptr<SocketConnection> weak = self;
        handler_(line, [weak](const std::string& json) {
          if (auto c = weak.lock()) c->send(json + "\n");
        });
      }
      read();
    });
  }

  void send(std::string data) {
    const bool idle = queue_.empty();
    queue_.push_back(std::move(data));
    if (idle) write_next();
  }

  void write_next() {
    auto self = shared_from_this();
    asio::async_write(sock_, asio::buffer(queue_.front()), [this, self](boost::system::error_code ec, std::size_t) {
      if (ec) {
        queue_.clear();
        return;
      }
      queue_.pop_front();
      if (!queue_.empty()) write_next();
    });
  }

  asio::local::stream_protocol::socket sock_;
  CardHandler& handler_;
  std::array<char, 512> buf_{};
  LineSplitter splitter_;
  std::deque<std::string> queue_;
};

class SocketSource : public CardSource {
 public:
  SocketSource(asio::io_context& io, std::filesystem::path path) : io_(io), path_(std::move(path)), acceptor_(io) {}
  ~SocketSource() override { stop(); }

  Status start(CardHandler handler) override {
    handler_ = std::move(handler);
    std::error_code fec;
    if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), fec);
    std::filesystem::remove(path_, fec);  // stale socket from a previous run
    boost::system::error_code ec;
    asio::local::stream_protocol::endpoint ep(path_.string());
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) {
      // Only the agent's user and group may inject swipes (a reader daemon joins the group).
      std::filesystem::permissions(path_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                              std::filesystem::perms::group_read | std::filesystem::perms::group_write,
                                   fec);
      if (fec) ec = boost::system::error_code(fec.value(), boost::system::generic_category());
    }
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error::from(std::error_code(ec.value(), std::generic_category()),
                         "card socket " + path_.string() + ": " + ec.message());
    }
    log::info(kComponent, "listening on unix socket " + path_.string());
    accept();
    return {};
  }

  void stop() override {
    if (!acceptor_.is_open()) return;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& w : conns_)
      if (auto c = w.lock()) c->close();
    conns_.clear();
    std::error_code fec;
    std::filesystem::remove(path_, fec);
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::local::stream_protocol::socket sock) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        auto c = std::make_shared<SocketConnection>(std::move(sock), handler_);
        std::erase_if(conns_, [](const auto& w) { return w.expired(); });
        conns_.push_back(c);
        c->start();
      }
      accept();
    });
  }

  asio::io_context& io_;
  std::filesystem::path path_;
  asio::local::stream_protocol::acceptor acceptor_;
  CardHandler handler_;
  std::vector<std::weak_ptr<SocketConnection>> conns_;
};

// ---------------------------------------------------------------- serial source

class SerialSource : public CardSource {
 public:
  SerialSource(asio::io_context& io, std::string device, int baud)
      : io_(io), device_(std::move(device)), baud_(baud), port_(io), retry_(io) {}
  ~SerialSource() override { stop(); }

  Status start(CardHandler handler) override {
    handler_ = std::move(handler);
    running_ = true;
    auto s = open();
    if (!s) return s;
    read();
    return {};
  }

  void stop() override {
    running_ = false;
    retry_.cancel();
    boost::system::error_code ec;
    port_.close(ec);
  }

 private:
  Status open() {
    boost::system::error_code ec;
    port_.open(device_, ec);
    if (!ec) port_.set_option(asio::serial_port_base::baud_rate(static_cast<unsigned>(baud_)), ec);
    if (!ec) port_.set_option(asio::serial_port_base::character_size(8), ec);
    if (!ec) port_.set_option(asio::serial_port_base::parity(asio::serial_port_base::parity::none), ec);
    if (!ec) port_.set_option(asio::serial_port_base::stop_bits(asio::serial_port_base::stop_bits::one), ec);
    if (!ec) port_.set_option(asio::serial_port_base::flow_control(asio::serial_port_base::flow_control::none), ec);
    if (ec) {
      boost::system::error_code ignored;
      port_.close(ignored);
      return Error::from(std::error_code(ec.value(), std::generic_category()),
                         "card reader " + device_ + ": " + ec.message());
    }
    log::info(kComponent, "reading serial card reader " + device_);
    splitter_ = LineSplitter{};
    return {};
  }

  void read() {
    port_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
      if (!running_) return;
      if (ec) {
        log::warn(kComponent, "serial " + device_ + ": " + ec.message() + "; reopening in 2 s");
        boost::system::error_code ignored;
        port_.close(ignored);
        schedule_reopen();
        return;
      }
      for (auto& line : splitter_.feed(std::string_view(buf_.data(), n))) handler_(line, [](const std::string&) {});
      read();
    });
  }

  void schedule_reopen() {
    retry_.expires_after(std::chrono::seconds(2));
    retry_.async_wait([this](boost::system::error_code ec) {
      if (ec || !running_) return;
      if (auto s = open(); !s) {
        schedule_reopen();
        return;
      }
      read();
    });
  }

  asio::io_context& io_;
  std::string device_;
  int baud_;
  asio::serial_port port_;
  asio::steady_timer retry_;
  CardHandler handler_;
  std::array<char, 256> buf_{};
  LineSplitter splitter_;
  bool running_ = false;
};

}  // namespace

std::unique_ptr<CardSource> make_socket_source(asio::io_context& io, std::filesystem::path path) {
  return std::make_unique<SocketSource>(io, std::move(path));
}

std::unique_ptr<CardSource> make_serial_source(asio::io_context& io, std::string device, int baud) {
  return std::make_unique<SerialSource>(io, std::move(device), baud);
}

}  // namespace lg::terminal
