// An HTTP(S) client on libcurl for the cloud adapters: one request in, one response out,
// no retries (the ARM client decides what may be retried). Transport failures and
// timeouts are kUnavailable; `timed_out` tells a timeout apart, since a mutating request
// that timed out may still have happened.
//
//   HttpClient http;
//   auto r = http.send({"GET", "https://management.azure.com/subscriptions?api-version=2022-12-01",
//                       {{"Authorization", "Bearer " + token}}});
//   if (r && r->status == 200) ... r->header("x-ms-request-id") ...
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace codefleet {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};
  // TLS beyond the system's trust store (the Kubernetes API server): the CA to trust
  // instead, and a client certificate and key — each PEM, empty when not used.
  std::string ca_pem, client_cert_pem, client_key_pem;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  // The header's value, or "" (`name` in any case).
  std::string header(const std::string& name) const;
};

struct HttpError {
  Error error;
  bool timed_out = false;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual tl::expected<HttpResponse, HttpError> send(const HttpRequest& request);
  // (A response read as it arrives, piece by piece: HttpCall below.)
};

// A request whose answer the calling thread reads as it arrives — the status line and
// headers first, then the body piece by piece — with no other thread involved. Calls take
// their libcurl handle from a pool, by origin, where each keeps its connection alive (and
// its TLS session) for the next call to the same origin.
//
//   HttpCallPool pool;
//   HttpCall call(pool, request, std::chrono::seconds(30));  // no status line in 30 s: timeout
//   auto status = call.start();                               // blocks until the headers
//   while (true) {
//     auto piece = call.next();                                // blocks until bytes arrive
//     if (!piece) → a transport error;  if (!*piece) → the end;  else use **piece
//   }
class HttpCallPool {
 public:
  explicit HttpCallPool(size_t max_idle = 1024) : max_idle_(max_idle) {}
  ~HttpCallPool();
  HttpCallPool(const HttpCallPool&) = delete;
  HttpCallPool& operator=(const HttpCallPool&) = delete;
  struct Channel;

 private:
  friend class HttpCall;
  Channel* take(const std::string& origin);
  void give_back(const std::string& origin, Channel* c);
  size_t max_idle_;
  std::mutex mu_;
  std::map<std::string, std::vector<Channel*>> idle_;  // by origin, most recent last
  size_t idle_count_ = 0;
};

class HttpCall {
 public:
  // `request.timeout` bounds the whole exchange; `first_byte_timeout` (0 = none) the wait
  // for the status line.
  HttpCall(HttpCallPool& pool, HttpRequest request,
           std::chrono::milliseconds first_byte_timeout = std::chrono::milliseconds(0));
  ~HttpCall();  // a transfer still running is ended (its connection is not reused)
  HttpCall(const HttpCall&) = delete;
  HttpCall& operator=(const HttpCall&) = delete;

  tl::expected<int, HttpError> start();  // the status; headers() then holds the headers
  // The status once the headers arrived (0 before), even when start() reported the
  // transfer's failure: what arrived before it is still read by next().
  int status() const { return headers_done_ ? status_ : 0; }
  const std::map<std::string, std::string>& headers() const { return headers_; }
  // The next piece of the body, nullopt at its end.
  tl::expected<std::optional<std::string>, HttpError> next();
  // The rest of the body, at most `cap` bytes (more: kInvalidInput, or cut at `cap` when
  // `truncate`).
  tl::expected<std::string, HttpError> rest(size_t cap, bool truncate = false);

 private:
  void pump(int wait_ms);
  static size_t on_write(char* data, size_t size, size_t n, void* self);
  static size_t on_header_line(char* data, size_t size, size_t n, void* self);

  HttpCallPool& pool_;
  HttpCallPool::Channel* channel_ = nullptr;
  std::string origin_;
  HttpRequest request_;
  std::chrono::milliseconds first_byte_timeout_;
  std::chrono::steady_clock::time_point first_byte_deadline_{};
  void* header_list_ = nullptr;
  std::map<std::string, std::string> headers_;
  std::string buffer_;
  int status_ = 0;
  bool headers_done_ = false, done_ = false, added_ = false, performed_ = false;
  int result_ = 0;  // CURLcode once done_
};

// "a=b&c=d" with each value percent-encoded (form bodies, query strings).
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
std::string percent_encode(const std::string& value);

}  // namespace codefleet
