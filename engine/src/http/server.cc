// Boost.Beast implementation of http::Server (server.h). One thread runs the io_context; each
// connection is a Session kept alive by shared_ptr captures in its pending async operations.
#include "http/server.h"

#include <array>
#include <atomic>
#include <charconv>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "log.h"

namespace pgt::engine::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Status ParseListen(const std::string& s, std::string* addr, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--http-listen: expected ADDR:PORT, got \"" + s + "\"");
  std::string a = s.substr(0, colon), p = s.substr(colon + 1);
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  if (a.empty()) a = "0.0.0.0";
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || v > 65535)
    return Status::InvalidArgument("--http-listen: bad port in \"" + s + "\"");
  boost::system::error_code bec;
  asio::ip::make_address(a, bec);
  if (bec) return Status::InvalidArgument("--http-listen: \"" + a + "\" is not an IP address");
  *addr = a;
  *port = static_cast<uint16_t>(v);
  return Status::Ok();
}

struct Server::Impl {
  // Declared before ioc: destroying ioc destroys pending sessions, which use these.
  std::atomic<size_t> connections{0};
  Handler handler;
  Limits limits;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  void Accept();
  void RunThread();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& s, Server::Impl* srv)
      : stream_(std::move(s)), srv_(srv), buffer_(srv->limits.max_header_bytes + srv->limits.max_body_bytes + 4096) {
    ++srv_->connections;
  }
  ~Session() { --srv_->connections; }

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(srv_->limits.max_header_bytes));
    parser_->body_limit(srv_->limits.max_body_bytes);
    stream_.expires_after(srv_->limits.io_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) return Fail(431, "request header too large\n");
    if (ec == bhttp::error::body_limit) return Fail(413, "request body too large\n");
    if (ec) return Close();   // timeout, peer closed, bad request bytes
    const auto& req = parser_->get();
    Request r{std::string(req.method_string()), std::string(req.target())};
    Response resp;
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
      resp = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
    } else {
      try {
        resp = srv_->handler(r);
      } catch (const std::exception& e) {
        resp = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
      }
    }
    ++served_;
    bool keep = req.keep_alive() && served_ < srv_->limits.max_requests;
    Send(resp, keep, req.method() == bhttp::verb::head, req.version());
  }

  void Fail(int status, const std::string& body) {
    lingering_ = true;
    Send({status, "text/plain; charset=utf-8", body}, false, false, 11);
  }

  // After an error answer the client may still be sending (a huge header): closing with unread
  // bytes makes the kernel send RST, which can destroy our answer in the client's buffer. So
  // shut down our side and drain what comes, for at most one second and 1 MiB.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(1));
    Drain();
  }
  void Drain() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (1u << 20)) return self->Close();
      self->Drain();
    });
  }

  void Send(const Response& r, bool keep, bool head, unsigned version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version);
    res->set(bhttp::field::server, "pgtrickle-engine");
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    res->keep_alive(keep);
    if (head) {
      res->content_length(r.body.size());
    } else {
      res->body() = r.body;
      res->prepare_payload();
    }
    stream_.expires_after(srv_->limits.io_timeout);
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, size_t) {
      if (!ec && self->lingering_) return self->Linger();
      if (ec || !keep) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  Server::Impl* srv_;
  beast::flat_buffer buffer_;   // bounded: header + body limits
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  int served_ = 0;
  bool lingering_ = false;
  size_t drained_ = 0;
  std::array<char, 4096> drain_{};
};

}  // namespace

void Server::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted) return;   // stopping
    if (!ec) {
      if (connections.load() >= limits.max_connections) {
        beast::error_code ignore;
        sock.close(ignore);   // over the limit: refuse by closing, costs nothing to keep
      } else {
        std::make_shared<Session>(std::move(sock), this)->Read();
      }
    }
    Accept();
  });
}

void Server::Impl::RunThread() {
  for (;;) {
    try {
      ioc.run();
      return;   // stopped
    } catch (const std::exception& e) {
      // A handler threw past its own guard: log and keep serving.
      PGT_LOG_ERROR("http: ", e.what());
    } catch (...) {
      PGT_LOG_ERROR("http: unknown exception");
    }
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (!impl_) return;
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::string Server::address() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? "" : ep.address().to_string();
}

Result<std::unique_ptr<Server>> Server::Start(const std::string& listen, Handler handler, Limits limits) {
  std::string addr;
  uint16_t port = 0;
  PGT_RETURN_IF_ERROR(ParseListen(listen, &addr, &port));
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->limits = limits;
  beast::error_code ec;
  tcp::endpoint ep(asio::ip::make_address(addr, ec), port);
  if (!ec) impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(64, ec);
  if (ec) return Status::InvalidArgument("--http-listen " + listen + ": " + ec.message());
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->RunThread(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace pgt::engine::http
