// The daemon's HTTP/1.1 front: an event-driven server (Boost.Asio, Boost.Beast's parser)
// that holds every waiting connection in one epoll loop and hands a worker thread only
// whole requests. What one client can hold is bounded:
//
// - a request's header must arrive within `header_timeout` of its first byte (of the
//   accept, for a connection's first request) — a deadline, not an idle timer, so a byte
//   every few seconds does not keep it open; an idle keep-alive connection is closed after
//   `keep_alive_timeout`; a body must arrive within `body_timeout`;
// - `max_connections` in all and `max_connections_per_client` per client address; a
//   connection over either is answered 503 and closed at once, never queued;
// - the body limit holds for every transfer encoding and is checked as the bytes arrive
//   (a declared Content-Length over it is refused before any body byte is read);
// - framing per RFC 9112: conflicting or malformed Content-Length, Transfer-Encoding with
//   Content-Length, or a coding other than `chunked` → 400 (501) and the connection ends;
//   pipelined requests are answered one after another, in order.
//
// Handlers see `Request`/`Response` (the shapes cpp-httplib's handlers had, so routes read
// the same); a response may stream through a content provider, which runs on the worker
// and writes straight to the socket, under `write_timeout` per write.
//
//   http::Server s({.host = "127.0.0.1", .port = 0});
//   s.Get("/healthz", [](const http::Request&, http::Response& res) {
//     res.set_content("{}", "application/json");
//   });
//   int port = *s.bind();
//   s.run();  // until s.stop()
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace codefleet::http {

struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;
using Params = std::multimap<std::string, std::string>;

struct Request {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // percent-decoded
  std::string version = "HTTP/1.1";
  Headers headers;
  Params params;  // the query string, decoded ('+' is a space)
  std::string body;
  std::string remote_addr;
  int remote_port = 0;
  std::smatch matches;  // the route's groups, over `path`

  bool has_header(const std::string& key) const { return headers.count(key) > 0; }
  std::string get_header_value(const std::string& key) const;
  bool has_param(const std::string& key) const { return params.count(key) > 0; }
  std::string get_param_value(const std::string& key) const;
};

// What a content provider writes to. `write` returns false once the client is gone.
struct DataSink {
  std::function<bool(const char* data, size_t size)> write;
  std::function<void()> done;  // the last piece (a chunked answer's terminating chunk)
};

struct Response {
  int status = -1;  // -1: 200 once a handler set content, 404 when no route matched
  Headers headers;
  std::string body;
  // Set by the front for the errors it answers itself (framing, limits, deadlines), for
  // the error handler to word them.
  std::string error_message;

  // Streams: `provider` is called until it returns false (failure: the connection ends)
  // or calls `sink.done()`; `releaser(success)` runs once afterwards, whatever happened —
  // for a chunked answer, before its last chunk goes out (what the releaser records is
  // there when the client has seen the end).
  using ContentProvider = std::function<bool(size_t offset, size_t length, DataSink& sink)>;
  using ChunkedProvider = std::function<bool(size_t offset, DataSink& sink)>;
  using Releaser = std::function<void(bool success)>;

  void set_header(const std::string& key, const std::string& value);
  std::string get_header_value(const std::string& key) const;
  bool has_header(const std::string& key) const { return headers.count(key) > 0; }
  void set_content(std::string content, const std::string& content_type);
  // A body of known length, produced piece by piece.
  void set_content_provider(size_t length, const std::string& content_type,
                            ContentProvider provider, Releaser releaser = nullptr);
  // A body of unknown length, sent with Transfer-Encoding: chunked.
  void set_chunked_content_provider(const std::string& content_type, ChunkedProvider provider,
                                    Releaser releaser = nullptr);

  // Set by the providers above; read by the server.
  size_t content_length_ = 0;
  ContentProvider provider_;
  ChunkedProvider chunked_provider_;
  Releaser releaser_;
};

// Splits a request target into `req.path` (percent-decoded) and `req.params` (the query,
// decoded, '+' a space): what the front does with every request it reads.
//
//   Request r;  split_target("/v1/tasks%2Fa?state=queued&x=a+b", r);
//   // r.path == "/v1/tasks/a", r.params == {{"state", "queued"}, {"x", "a b"}}
void split_target(std::string_view target, Request& req);

using Handler = std::function<void(const Request&, Response&)>;
// Returns true when it answered the request itself (the route is not run).
using PreRoutingHandler = std::function<bool(const Request&, Response&)>;
using ExceptionHandler = std::function<void(const Request&, Response&, std::exception_ptr)>;
using Logger = std::function<void(const Request&, const Response&)>;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;                   // 0: any free port
  std::string tls_cert, tls_key;  // both set: HTTPS
  int worker_threads = 64;        // requests handled at once (an LLM stream holds one)
  int io_threads = 1;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 64 << 10;
  int max_connections = 10'000;
  int max_connections_per_client = 512;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds keep_alive_timeout{30'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
};

// Counters since start, for metrics and tests.
struct Stats {
  int64_t open_connections = 0;
  int64_t accepted = 0;
  int64_t refused = 0;      // over max_connections or max_connections_per_client
  int64_t timed_out = 0;    // header, body or idle deadline passed
  int64_t bad_framing = 0;  // answered 4xx/5xx by the front itself
};

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes: `pattern` is a regular expression matched against the whole decoded path.
  void Get(const std::string& pattern, Handler handler);
  void Post(const std::string& pattern, Handler handler);
  void Patch(const std::string& pattern, Handler handler);
  void Put(const std::string& pattern, Handler handler);
  void Delete(const std::string& pattern, Handler handler);

  void set_pre_routing_handler(PreRoutingHandler handler);
  // Runs when the status is 400 or more and the body is empty (404 for no route, too).
  void set_error_handler(Handler handler);
  void set_exception_handler(ExceptionHandler handler);
  // After the answer is out (a stream's last byte included), on the worker that served it.
  void set_logger(Logger logger);

  // Binds and listens; returns the port. kUnavailable when the address is taken,
  // kInvalidInput for an unreadable certificate or key.
  Result<int> bind();
  void run();   // serves until stop(); returns at once if stop() came first
  void stop();  // stops accepting, closes idle connections; requests in flight finish
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace codefleet::http
