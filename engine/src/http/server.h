// A small bounded HTTP/1.1 server (Boost.Beast/Asio) for the engine's /metrics, /healthz,
// /readyz and /status. It runs one io_context on its own thread; the handler is called on that
// thread and must only read published data (metrics.h SnapshotHub), never block.
//
// Bounds, so a slow or hostile client cannot hold resources or delay anything else:
//  - at most `max_connections` connections; further ones are accepted and closed at once;
//  - a request's header is at most `max_header_bytes`, its body at most `max_body_bytes`
//    (larger: 431/413 and close);
//  - every read and write must complete within `io_timeout` (a slowloris client trickling a
//    header byte by byte is cut off), and a connection serves at most `max_requests` requests.
// Boost throws on some paths: every exception is caught on the server thread and logged; none
// escapes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "walreader/status.h"

namespace pgt::engine::http {

struct Request {
  std::string method;
  std::string target;   // path + query, e.g. "/metrics"
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct Limits {
  size_t max_connections = 32;
  size_t max_header_bytes = 8192;
  size_t max_body_bytes = 1024;
  std::chrono::milliseconds io_timeout{5000};
  int max_requests = 100;
};

// Splits "ADDR:PORT" ("127.0.0.1:9187", "[::1]:9187", "0.0.0.0:9187", ":9187"). Port 0 = any.
Status ParseListen(const std::string& s, std::string* addr, uint16_t* port);

class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(const std::string& listen, Handler handler, Limits limits = {});
  ~Server();   // stops the thread; open connections are closed
  uint16_t port() const;
  std::string address() const;

  struct Impl;
 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgt::engine::http
