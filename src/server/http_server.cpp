// The HTTP front (see http_server.h). Every socket lives on one io thread's event loop
// while it waits (for a first byte, a header, a body); a worker gets the request only once
// it is whole, runs the handler and writes the answer itself (a stream's pieces go out
// from the thread that reads them from upstream: no hand-off per piece), then gives the
// connection back to the loop for the next request.
#include "server/http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace codefleet::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono;

// ---- Request and Response ----------------------------------------------------------------

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) <
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string Request::get_header_value(const std::string& key) const {
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

std::string Request::get_param_value(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

void Response::set_header(const std::string& key, const std::string& value) {
  // CR or LF in a value would split the header: never sent.
  if (key.find_first_of("\r\n:") != std::string::npos) return;
  if (value.find_first_of("\r\n") != std::string::npos) return;
  headers.erase(key);
  headers.emplace(key, value);
}

std::string Response::get_header_value(const std::string& key) const {
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

void Response::set_content(std::string content, const std::string& content_type) {
  body = std::move(content);
  set_header("Content-Type", content_type);
  provider_ = nullptr;
  chunked_provider_ = nullptr;
}

void Response::set_content_provider(size_t length, const std::string& content_type,
                                    ContentProvider provider, Releaser releaser) {
  body.clear();
  set_header("Content-Type", content_type);
  content_length_ = length;
  provider_ = std::move(provider);
  chunked_provider_ = nullptr;
  releaser_ = std::move(releaser);
}

void Response::set_chunked_content_provider(const std::string& content_type,
                                            ChunkedProvider provider, Releaser releaser) {
  body.clear();
  set_header("Content-Type", content_type);
  provider_ = nullptr;
  chunked_provider_ = std::move(provider);
  releaser_ = std::move(releaser);
}

namespace {

// ---- URL decoding ------------------------------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX becomes its byte (a malformed escape stays as written); '+' a space in a query.
std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && c == '+' ? ' ' : c;
  }
  return out;
}

void parse_query(std::string_view q, Params& out) {
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
}

// ---- Workers -----------------------------------------------------------------------------

// Threads started as work needs them, up to `max`; a task waits while all are busy.
class WorkerPool {
 public:
  explicit WorkerPool(int max) : max_(static_cast<size_t>(std::max(1, max))) {}
  ~WorkerPool() { shutdown(); }

  // False once shutdown() began: the caller ends the work itself.
  bool post(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(fn));
    if (idle_ < queue_.size() && threads_.size() < max_) {
      try {
        threads_.emplace_back([this] { loop(); });
      } catch (const std::system_error&) {
        // No thread to be had: the ones running take it in turn.
        if (threads_.empty()) {
          queue_.pop_back();
          return false;
        }
      }
    }
    cv_.notify_one();
    return true;
  }

  // Runs what is queued, then joins every thread.
  void shutdown() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (;;) {
      std::vector<std::thread> threads;
      {
        std::lock_guard lock(mu_);
        threads.swap(threads_);
      }
      if (threads.empty()) return;
      for (auto& t : threads) t.join();
    }
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        ++idle_;
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        --idle_;
        if (queue_.empty()) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }

  const size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

struct Route {
  std::string method;
  std::regex pattern;
  Handler handler;
};

// What a connection over the limits gets before it is closed.
const std::string& too_many_connections() {
  static const std::string kAnswer = [] {
    std::string body =
        R"({"error":{"code":"unavailable","message":"too many connections: retry later"}})";
    return fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
        body.size(), body);
  }();
  return kAnswer;
}

std::string reason_phrase(int status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return r.empty() ? std::string("Unknown") : std::string(r);
}

}  // namespace

// ---- The server --------------------------------------------------------------------------

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close_if_reading() = 0;
};

struct Server::Impl {
  Options o;
  std::vector<Route> routes;
  PreRoutingHandler pre_routing;
  Handler error_handler;
  ExceptionHandler exception_handler;
  Logger logger;

  // Declared before the io_context: a session the loop still holds when it is destroyed
  // releases its slot here.
  std::mutex mu;  // connections by client, the session registry, stop
  std::condition_variable stop_cv;
  std::unordered_map<std::string, int> per_client;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  int64_t open = 0;
  bool bound = false;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> accepted{0}, refused{0}, timed_out{0}, bad_framing{0};

  std::optional<asio::ssl::context> tls;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  WorkerPool workers;  // destroyed first: joins what still runs

  explicit Impl(Options opts) : o(std::move(opts)), workers(o.worker_threads) {}

  void accept();
  void on_accept(tcp::socket socket);
  void release(const std::string& client, SessionBase* s) {
    std::lock_guard lock(mu);
    --open;
    if (auto it = per_client.find(client); it != per_client.end() && --it->second <= 0) {
      per_client.erase(it);
    }
    sessions.erase(s);
  }
  void close_reading_sessions() {
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard lock(mu);
      for (auto& [_, w] : sessions) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->close_if_reading();
  }

  // Runs the route (or the hooks) for a whole request.
  void handle(Request& req, Response& res) {
    try {
      if (!pre_routing || !pre_routing(req, res)) route(req, res);
    } catch (...) {
      auto releaser = std::move(res.releaser_);
      res = Response{};
      res.status = 500;
      if (releaser) guarded([&] { releaser(false); });  // it runs once, whatever happened
      if (exception_handler) {
        auto ep = std::current_exception();
        guarded([&] { exception_handler(req, res, ep); });
      }
    }
    if (res.status == -1) res.status = 200;
    bool streams = res.provider_ || res.chunked_provider_;
    if (res.status >= 400 && res.body.empty() && !streams && error_handler) {
      guarded([&] { error_handler(req, res); });
    }
  }

  // Runs a hook; what it throws is swallowed (a hook is never worth the process).
  template <class Fn>
  static void guarded(Fn&& fn) {
    try {
      fn();
    } catch (...) {
    }
  }

  void route(Request& req, Response& res) {
    const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
    for (const auto& r : routes) {
      if (r.method != method) continue;
      if (std::regex_match(req.path, req.matches, r.pattern)) {
        r.handler(req, res);
        return;
      }
    }
    res.status = 404;
  }

  // An answer the front gives itself (framing, limits, deadlines): the error handler
  // shapes it when there is one.
  Response front_error(Request& req, int status, const std::string& message) {
    Response res;
    res.status = status;
    res.error_message = message;
    if (error_handler) {
      try {
        error_handler(req, res);
      } catch (...) {
        res.body.clear();
      }
    }
    if (res.body.empty()) {
      res.set_content(
          fmt::format(R"({{"error":{{"code":"http_{}","message":"{}"}}}})", status, message),
          "application/json");
    }
    res.set_header("Connection", "close");
    return res;
  }
};

namespace {

// How the body's end is told: its length, chunked, or the connection's close (HTTP/1.0
// streams).
enum class Framing { kLength, kChunked, kClose };

// A header the front sends: a token name, a value without control characters.
bool sendable(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("!#$%&'*+-.^_`|~", c))
      return false;
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// The bytes of a response's status line and headers.
std::string head_of(const Response& res, bool keep_alive, Framing framing, size_t length) {
  std::string h = fmt::format("HTTP/1.1 {} {}\r\n", res.status, reason_phrase(res.status));
  for (const auto& [k, v] : res.headers) {
    if (beast::iequals(k, "Content-Length") || beast::iequals(k, "Transfer-Encoding") ||
        beast::iequals(k, "Connection") || !sendable(k, v)) {
      continue;
    }
    h += k;
    h += ": ";
    h += v;
    h += "\r\n";
  }
  if (framing == Framing::kChunked) {
    h += "Transfer-Encoding: chunked\r\n";
  } else if (framing == Framing::kLength) {
    h += fmt::format("Content-Length: {}\r\n", length);
  }
  if (!keep_alive) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, beast::tcp_stream>;

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Server::Impl& srv, Stream stream, std::string client, int port)
      : srv_(srv),
        stream_(std::move(stream)),
        client_(std::move(client)),
        port_(port),
        // What a request may buffer beyond its body: the header, and the chunk-size lines
        // and trailers the parser's body limit does not count.
        buffer_(srv.o.max_header_bytes + kChunkFramingBytes) {}

  ~Session() override { srv_.release(client_, this); }

  void start() {
    {
      std::lock_guard lock(srv_.mu);
      srv_.sessions[this] = this->shared_from_this();
    }
    // A first request's header is due within header_timeout of the accept (the TLS
    // handshake included).
    lowest().expires_after(srv_.o.header_timeout);
    if constexpr (kIsTls<Stream>) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->wait_request();
                              });
    } else {
      wait_request();
    }
  }

  auto executor() { return stream_.get_executor(); }

  void close_if_reading() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->reading_) self->close();
    });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // 1. Wait for the next request's first byte (an idle keep-alive connection waits here).
  void wait_request() {
    if (srv_.stopping) return close();
    reading_ = true;
    if (buffer_.size() > 0) return read_header();  // pipelined: already here
    if (!first_) lowest().expires_after(srv_.o.keep_alive_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->read_failed(ec);
                              self->read_header();
                            });
  }

  // 2. The header, within its deadline (counted from its first byte).
  void read_header() {
    if (!first_) lowest().expires_after(srv_.o.header_timeout);
    first_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(srv_.o.max_header_bytes));
    parser_->body_limit(srv_.o.max_body_bytes);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // 3. Framing checks the parser leaves to us, then the body.
  void on_header(beast::error_code ec) {
    if (ec) return read_failed(ec);
    const auto& h = parser_->get();
    if (h.count(bhttp::field::transfer_encoding) > 0 && !parser_->chunked()) {
      return answer_and_close(501, "only the chunked transfer coding is supported");
    }
    if (h.version() != 10 && h.version() != 11) {
      return answer_and_close(505, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    if (h.target().size() > kMaxTargetBytes) {
      return answer_and_close(
          414, fmt::format("the request target is longer than {} bytes", kMaxTargetBytes));
    }
    if (h.count(bhttp::field::host) > 1 ||
        (h.version() == 11 && h.count(bhttp::field::host) != 1)) {
      return answer_and_close(400, "a request needs exactly one Host header (HTTP/1.1)");
    }
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing; more than
    // one coding, or one before chunked, is one this server does not implement.
    if (h.count(bhttp::field::transfer_encoding) > 0) {
      if (h.version() == 10) {
        return answer_and_close(400, "Transfer-Encoding in an HTTP/1.0 request");
      }
      std::string te;
      auto [first, last] = h.equal_range(bhttp::field::transfer_encoding);
      for (auto it = first; it != last; ++it) {
        te += (te.empty() ? "" : ",") + std::string(it->value());
      }
      if (!beast::iequals(te, "chunked")) {
        return answer_and_close(501, "only the chunked transfer coding is supported");
      }
    }
    if (parser_->is_done()) return dispatch();
    lowest().expires_after(srv_.o.body_timeout);
    std::string_view expect = h[bhttp::field::expect];
    if (!expect.empty() && !beast::iequals(expect, "100-continue")) {
      return answer_and_close(417, "only Expect: 100-continue is understood");
    }
    if (!expect.empty() && h.version() == 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->read_failed(ec);
                        self->dispatch();
                      });
  }

  void read_failed(beast::error_code ec) {
    reading_ = false;
    // Past a deadline the stream has already closed the socket: nothing can be answered.
    if (ec == beast::error::timeout) {
      ++srv_.timed_out;
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return answer_and_close(
          413, fmt::format("the body is larger than {} bytes", srv_.o.max_body_bytes));
    }
    if (ec == bhttp::error::bad_version) {
      return answer_and_close(505, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    if (ec == bhttp::error::buffer_overflow) {
      return answer_and_close(431, "the request's header or chunk framing is too large");
    }
    if (ec == bhttp::error::header_limit) {
      return answer_and_close(
          431, fmt::format("the header is larger than {} bytes", srv_.o.max_header_bytes));
    }
    // The parser's own errors (bad method, target, version, field, Content-Length, chunk
    // size…) are the client's malformed framing; a client that left is not.
    bool parse_error = ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
    if (parse_error && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return answer_and_close(400, "malformed request: " + ec.message());
    }
    close();
  }

  // 4. The whole request goes to a worker.
  void dispatch() {
    reading_ = false;
    lowest().expires_never();
    auto msg = parser_->release();
    parser_.reset();
    auto req = std::make_shared<Request>();
    req->method = std::string(msg.method_string());
    req->target = std::string(msg.target());
    req->version = msg.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    for (const auto& f : msg)
      req->headers.emplace(std::string(f.name_string()), std::string(f.value()));
    split_target(req->target, *req);
    req->body = std::move(msg.body());
    req->remote_addr = client_;
    req->remote_port = port_;
    keep_alive_ = msg.keep_alive();
    if (srv_.stopping ||
        !srv_.workers.post([self = this->shared_from_this(), req] { self->serve(*req); })) {
      return close();
    }
  }

  // 5. On a worker: the handler, the answer, the log line; then the next request.
  // An answer with its body in hand goes to the loop, which writes it under write_timeout
  // (a client that does not read holds a socket, not a worker); a stream is written by this
  // worker as its pieces come.
  void serve(Request& req) {
    Response res;
    srv_.handle(req, res);
    if (beast::iequals(res.get_header_value("Connection"), "close")) keep_alive_ = false;
    if (srv_.stopping) keep_alive_ = false;
    bool head = req.method == "HEAD";
    if (!res.provider_ && !res.chunked_provider_) {
      log(req, res);
      auto bytes = std::make_shared<std::string>(
          head_of(res, keep_alive_, Framing::kLength, res.body.size()));
      if (!head) bytes->append(res.body);
      asio::post(stream_.get_executor(), [self = this->shared_from_this(), bytes] {
        self->lowest().expires_after(self->srv_.o.write_timeout);
        asio::async_write(self->stream_, asio::buffer(*bytes),
                          [self, bytes](beast::error_code ec, size_t) { self->after_answer(!ec); });
      });
      return;
    }
    bool ok = false;
    try {
      ok = send(req, res);
    } catch (...) {
      ok = false;  // a provider that throws ends the connection, never the process
    }
    if (res.releaser_) srv_.guarded([&] { res.releaser_(ok); });
    if (ok && terminator_due_) ok = write({"0\r\n\r\n"});
    terminator_due_ = false;
    log(req, res);
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), ok] { self->after_answer(ok); });
  }

  void log(const Request& req, const Response& res) {
    if (srv_.logger) srv_.guarded([&] { srv_.logger(req, res); });
  }

  // On the loop: the next request, or the end (a lingering close, so that the answer is
  // not lost to a reset when the client already sent more).
  void after_answer(bool ok) {
    if (!ok) return close();
    if (!keep_alive_ || srv_.stopping) return linger();
    wait_request();
  }

  // A streamed answer, from this worker.
  bool send(const Request& req, Response& res) {
    bool head = req.method == "HEAD";
    if (res.chunked_provider_) {
      bool chunked = req.version != "HTTP/1.0";
      if (!chunked) keep_alive_ = false;  // an HTTP/1.0 client reads to the close
      if (!write({head_of(res, keep_alive_, chunked ? Framing::kChunked : Framing::kClose, 0)}))
        return false;
      if (head) return true;
      return stream_chunks(res, chunked);
    }
    if (!write({head_of(res, keep_alive_, Framing::kLength, res.content_length_)})) return false;
    if (head) return true;
    return stream_length(res);
  }

  bool stream_chunks(Response& res, bool chunked) {
    bool done = false, ok = true;
    DataSink sink;
    sink.write = [&](const char* data, size_t n) {
      if (n == 0) return ok;
      ok = ok && (chunked ? write({fmt::format("{:x}\r\n", n), std::string_view(data, n), "\r\n"})
                          : write({std::string_view(data, n)}));
      return ok;
    };
    // The last chunk waits until the releaser ran (serve() sends it): a client that reads
    // the end of a stream and asks again sees what the releaser recorded.
    sink.done = [&] {
      if (done) return;
      done = true;
      terminator_due_ = chunked;
    };
    // `offset` counts calls (a chunked answer has no length to count bytes against); a
    // provider that writes nothing many times over is ended rather than spun on.
    int idle_calls = 0;
    for (size_t offset = 0; ok && !done; ++offset) {
      size_t before = written_;
      if (!res.chunked_provider_(offset, sink)) return false;
      idle_calls = written_ == before ? idle_calls + 1 : 0;
      if (idle_calls > 1000) return false;
    }
    return ok;
  }

  bool stream_length(Response& res) {
    size_t offset = 0;
    bool ok = true;
    DataSink sink;
    sink.write = [&](const char* data, size_t n) {
      n = std::min(n, res.content_length_ - offset);
      ok = ok && write({std::string_view(data, n)});
      offset += n;
      return ok;
    };
    sink.done = [] {};
    while (ok && offset < res.content_length_) {
      size_t before = offset;
      if (!res.provider_(offset, res.content_length_ - offset, sink)) return false;
      if (offset == before) return false;  // a provider that writes nothing would spin
    }
    return ok;
  }

  // Writes every piece before `write_timeout` passes. Plain TCP: straight from this
  // worker (no io-thread round trip per piece); TLS: on the connection's strand.
  bool write(std::initializer_list<std::string_view> pieces) {
    if constexpr (kIsTls<Stream>) {
      // Shared with the loop's handlers: a handler destroyed unrun (the loop stopped)
      // breaks the promise instead of leaving this worker waiting.
      struct Pending {
        std::string bytes;
        std::promise<bool> done;
      };
      auto p = std::make_shared<Pending>();
      for (auto piece : pieces) p->bytes.append(piece);
      written_ += p->bytes.size();
      auto result = p->done.get_future();
      asio::post(stream_.get_executor(), [self = this->shared_from_this(), p] {
        self->lowest().expires_after(self->srv_.o.write_timeout);
        asio::async_write(self->stream_, asio::buffer(p->bytes),
                          [p](beast::error_code ec, size_t) { p->done.set_value(!ec); });
      });
      if (result.wait_for(srv_.o.write_timeout + seconds(5)) != std::future_status::ready)
        return false;
      try {
        return result.get();
      } catch (const std::future_error&) {
        return false;
      }
    } else {
      std::vector<iovec> iov;
      for (auto p : pieces) {
        if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
        written_ += p.size();
      }
      return write_plain(iov);
    }
  }

  bool write_plain(std::vector<iovec>& iov) {
    int fd = lowest().socket().native_handle();
    auto deadline = steady_clock::now() + srv_.o.write_timeout;
    size_t first = 0;
    while (first < iov.size()) {
      msghdr m{};
      m.msg_iov = iov.data() + first;
      m.msg_iovlen = iov.size() - first;
      ssize_t n = ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) < 0 && errno != EINTR) {
          return false;
        }
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return false;
        continue;
      }
      auto sent = static_cast<size_t>(n);
      while (first < iov.size() && sent >= iov[first].iov_len) sent -= iov[first++].iov_len;
      if (sent > 0) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
        iov[first].iov_len -= sent;
      }
    }
    return true;
  }

  // On the io thread: an answer from the front itself, then a lingering close (what the
  // client still sends is read and dropped for a moment, so that it sees the answer
  // instead of a reset).
  void answer_and_close(int status, const std::string& message) {
    reading_ = false;
    ++srv_.bad_framing;
    Request req;
    if (parser_) {
      const auto& h = parser_->get();
      req.method = std::string(h.method_string());
      req.target = std::string(h.target());
      req.path = percent_decode(req.target.substr(0, req.target.find('?')), false);
    }
    req.remote_addr = client_;
    req.remote_port = port_;
    Response res = srv_.front_error(req, status, message);
    auto bytes = std::make_shared<std::string>(
        head_of(res, false, Framing::kLength, res.body.size()) + res.body);
    if (srv_.logger) {
      try {
        srv_.logger(req, res);
      } catch (...) {
      }
    }
    lowest().expires_after(srv_.o.write_timeout);
    asio::async_write(stream_, asio::buffer(*bytes),
                      [self = this->shared_from_this(), bytes](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        self->linger();
                      });
  }

  void linger() {
    if constexpr (kIsTls<Stream>) {
      close();
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      lowest().expires_after(seconds(2));
      drain_ = std::make_unique<char[]>(kDrainBytes);
      drain();
    }
  }

  void drain() {
    stream_.async_read_some(asio::buffer(drain_.get(), kDrainBytes),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrained) return self->close();
                              self->drain();
                            });
  }

  void close() {
    reading_ = false;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  static constexpr size_t kDrainBytes = 16 << 10;
  static constexpr size_t kChunkFramingBytes = 64 << 10;
  static constexpr size_t kMaxTargetBytes = 8 << 10;
  size_t written_ = 0;           // by the worker, for the idle-provider check
  bool terminator_due_ = false;  // a chunked answer's last chunk, sent after its releaser
  static constexpr size_t kMaxDrained = 1 << 20;

  Server::Impl& srv_;
  Stream stream_;
  std::string client_;
  int port_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::unique_ptr<char[]> drain_;
  size_t drained_ = 0;
  bool first_ = true;
  bool keep_alive_ = true;
  std::atomic<bool> reading_{false};
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) return;
      // Out of descriptors or memory: wait a little rather than spin on the error.
      accept_retry.expires_after(milliseconds(10));
      accept_retry.async_wait([this](beast::error_code) {
        if (acceptor.is_open()) accept();
      });
      return;
    }
    on_accept(std::move(socket));
    accept();
  });
}

void Server::Impl::on_accept(tcp::socket socket) {
  beast::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec || stopping) return;
  std::string client = remote.address().to_string();
  bool admit;
  {
    std::lock_guard lock(mu);
    int& mine = per_client[client];
    admit = open < o.max_connections && mine < o.max_connections_per_client;
    if (admit) {
      ++open;
      ++mine;
    } else if (mine == 0) {
      per_client.erase(client);
    }
  }
  if (!admit) {
    ++refused;
    if (!tls) {
      const std::string& answer = too_many_connections();
      ::send(socket.native_handle(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    return;
  }
  ++accepted;
  socket.set_option(tcp::no_delay(true), ec);
  int port = remote.port();
  if (tls) {
    using TlsStream = beast::ssl_stream<beast::tcp_stream>;
    auto session = std::make_shared<Session<TlsStream>>(*this, TlsStream(std::move(socket), *tls),
                                                        client, port);
    asio::dispatch(session->executor(), [session] { session->start(); });
  } else {
    auto session = std::make_shared<Session<beast::tcp_stream>>(
        *this, beast::tcp_stream(std::move(socket)), client, port);
    asio::dispatch(session->executor(), [session] { session->start(); });
  }
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() { stop(); }

void Server::Get(const std::string& p, Handler h) {
  impl_->routes.push_back({"GET", std::regex(p), std::move(h)});
}
void Server::Post(const std::string& p, Handler h) {
  impl_->routes.push_back({"POST", std::regex(p), std::move(h)});
}
void Server::Patch(const std::string& p, Handler h) {
  impl_->routes.push_back({"PATCH", std::regex(p), std::move(h)});
}
void Server::Put(const std::string& p, Handler h) {
  impl_->routes.push_back({"PUT", std::regex(p), std::move(h)});
}
void Server::Delete(const std::string& p, Handler h) {
  impl_->routes.push_back({"DELETE", std::regex(p), std::move(h)});
}
void Server::set_pre_routing_handler(PreRoutingHandler h) { impl_->pre_routing = std::move(h); }
void Server::set_error_handler(Handler h) { impl_->error_handler = std::move(h); }
void Server::set_exception_handler(ExceptionHandler h) { impl_->exception_handler = std::move(h); }
void Server::set_logger(Logger l) { impl_->logger = std::move(l); }

Result<int> Server::bind() {
  auto& o = impl_->o;
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    try {
      impl_->tls.emplace(asio::ssl::context::tls_server);
      impl_->tls->set_options(asio::ssl::context::default_workarounds |
                              asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                              asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      impl_->tls->use_certificate_chain_file(o.tls_cert);
      impl_->tls->use_private_key_file(o.tls_key, asio::ssl::context::pem);
    } catch (const std::exception&) {
      impl_->tls.reset();
      return tl::unexpected(Error{
          ErrorCode::kInvalidInput,
          "cannot load the TLS certificate or key (" + o.tls_cert + ", " + o.tls_key + ")", "tls"});
    }
  }
  auto cannot = [&](const std::string& why) {
    return tl::unexpected(Error{ErrorCode::kUnavailable,
                                fmt::format("cannot listen on {}:{}: {}", o.host, o.port, why),
                                "--listen"});
  };
  beast::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto found = resolver.resolve(o.host, std::to_string(o.port),
                                tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) return cannot(ec ? ec.message() : "no such address");
  tcp::endpoint ep = found.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(1024, ec);
  if (ec) {
    a.close();
    return cannot(ec.message());
  }
  std::lock_guard lock(impl_->mu);
  impl_->bound = true;
  return a.local_endpoint().port();
}

void Server::run() {
  auto& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (!s.bound || s.stopping) return;
  }
  auto guard = asio::make_work_guard(s.io);
  asio::post(s.io, [&s] { s.accept(); });
  std::vector<std::thread> io_threads;
  for (int i = 0; i < std::max(1, s.o.io_threads); ++i) {
    io_threads.emplace_back([&s] { s.io.run(); });
  }
  {
    std::unique_lock lock(s.mu);
    s.stop_cv.wait(lock, [&s] { return s.stopping.load(); });
  }
  // Stop accepting, end what waits for a request, let what is being served finish.
  asio::post(s.io, [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
  });
  s.close_reading_sessions();
  s.workers.shutdown();
  s.close_reading_sessions();
  guard.reset();
  // Lingering closes end within seconds; past that the loop is stopped.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 100 && !done; ++i) std::this_thread::sleep_for(milliseconds(50));
    if (!done) s.io.stop();
  });
  for (auto& t : io_threads) t.join();
  done = true;
  watchdog.join();
}

void Server::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
}

Stats Server::stats() const {
  Stats st;
  {
    std::lock_guard lock(impl_->mu);
    st.open_connections = impl_->open;
  }
  st.accepted = impl_->accepted;
  st.refused = impl_->refused;
  st.timed_out = impl_->timed_out;
  st.bad_framing = impl_->bad_framing;
  return st;
}

void split_target(std::string_view target, Request& req) {
  size_t q = target.find('?');
  req.path = percent_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) parse_query(target.substr(q + 1), req.params);
}

}  // namespace codefleet::http
