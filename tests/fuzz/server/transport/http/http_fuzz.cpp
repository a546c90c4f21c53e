// Fuzz target "http": bytes as they arrive on the HTTP port, read as the session reads them
// (server/transport/http/http_server.cpp: Beast's request parser, header limit 16 KiB, body limit
// 8 MiB, then make_request) and answered by the real Api of an App over a SQLite store, with the
// bundle rebuild the sync thread would run after each request. Several requests may follow one
// another on the connection (keep-alive), so one input can create something and then read it.
// The store lives as long as the run: state carries over from input to input, as on a server.
// What must hold:
// - no crash, no exception, whatever the bytes (the target, the query, the token, the body);
// - every answer has a status in 100..599 and an X-Request-Id; an error (>= 400) is a JSON
//   object with an "error" string; a success under /api/ is JSON (GET /metrics is text);
// - the router's path parameters are ids: when a route pattern matches a path, every value
//   it fills in is 1..64 of [A-Za-z0-9_.:-] (handlers rely on it).
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "server/config/server_config.hpp"
#include "server/core/app.hpp"
#include "server/core/backend.hpp"
#include "server/sync/publisher.hpp"
#include "server/transport/http/api.hpp"
#include "server/transport/http/request.hpp"
#include "server/transport/http/router.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace http = lg::server::http;

namespace {

/// The admin token of the fuzzed server (the seeds carry it as "Authorization: Bearer ...").
constexpr std::string_view kAdminToken = "fuzz-admin-token-0123";

struct NullPublisher final : lg::server::Publisher {
  lg::Status publish(const std::string&, const std::string&, int, bool) override { return {}; }
};

/// An App on a migrated SQLite store in a folder of this process (removed at exit).
struct Server {
  fs::path folder = fs::temp_directory_path() / ("labgate-fuzz-http-" + std::to_string(::getpid()));
  std::unique_ptr<lg::server::Backend> backend;
  lg::crypto::PrivateKey key;
  lg::server::ServerConfig cfg;
  NullPublisher publisher;
  int64_t now = 1'767'225'600'000;  // 2026-01-01T00:00:00Z, a second later per request
  std::unique_ptr<lg::server::App> app;

  Server() {
    fs::create_directories(folder);
    lg::server::StoreSettings st;
    st.sqlite_path = (folder / "labgate.db").string();
    auto b = lg::server::open_backend(st);
    if (!b) throw std::runtime_error(b.error().message());
    backend = std::move(b).value();
    auto k = lg::crypto::PrivateKey::generate();
    if (!k) throw std::runtime_error(k.error().message());
    key = std::move(k).value();
    cfg.site = "fuzz";
    cfg.admin_token = std::string(kAdminToken);
    app = std::make_unique<lg::server::App>(backend->stores(), key, cfg, publisher, [this] { return now; }, "fuzz");
    app->health().broker(true);
  }
  ~Server() {
    app.reset();
    backend.reset();
    std::error_code ec;
    fs::remove_all(folder, ec);
  }
};

void check_answer(const http::Request& req, const http::Response& res) {
  FUZZ_CHECK(res.status >= 100 && res.status <= 599);
  bool has_id = false;
  for (const auto& [name, value] : res.headers) has_id = has_id || (name == "X-Request-Id" && !value.empty());
  FUZZ_CHECK(has_id);
  if (res.status >= 400) {
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (!(j.is_object() && j.contains("error") && j["error"].is_string()))
      std::fprintf(stderr, "%s %s -> %d %s\n", req.method.c_str(), req.target.c_str(), res.status, res.body.c_str());
    FUZZ_CHECK(j.is_object() && j.contains("error") && j["error"].is_string());
  } else if (req.path.rfind("/api/", 0) == 0 && !res.body.empty()) {
    FUZZ_CHECK(nlohmann::json::accept(res.body));
  }
}

void check_params(const http::Router& router, const std::string& path) {
  for (const auto& route : router.routes()) {
    http::PathParams params;
    if (!http::match(route.pattern, path, params)) continue;
    for (const auto& [name, value] : params) FUZZ_CHECK(lg::proto::valid_id(value));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server server;
  boost::asio::const_buffer rest(data, size);
  for (int n = 0; n < 8 && rest.size() > 0; ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(server.cfg.body_limit);
    parser.eager(true);
    beast::error_code ec;
    while (!ec && !parser.is_done() && rest.size() > 0) {
      const std::size_t used = parser.put(rest, ec);
      rest += used;
      if (ec == bhttp::error::need_more) ec = {};
      if (used == 0 && !ec) break;
    }
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;  // the session answers 400 or 413, or closes

    auto& msg = parser.get();
    http::Request req = http::make_request(std::string(msg.method_string()), std::string(msg.target()),
                                           std::string(msg[bhttp::field::authorization]), std::move(msg.body()));
    check_params(server.app->api().router(), req.path);
    server.now += 1000;
    const http::Response res = server.app->handle_http(req);
    check_answer(req, res);
    server.app->flush_dirty();
  }
  return 0;
}
