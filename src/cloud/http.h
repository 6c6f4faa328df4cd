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
  // The body as it arrives: `on_start(status, headers)` once before the first byte (return
  // false to stop), then `on_data(bytes)` per piece (return false to abort). The returned
  // response has the status and headers; its body is empty.
  virtual tl::expected<HttpResponse, HttpError> stream(
      const HttpRequest& request,
      const std::function<bool(int, const std::map<std::string, std::string>&)>& on_start,
      const std::function<bool(std::string_view)>& on_data);
};

// "a=b&c=d" with each value percent-encoded (form bodies, query strings).
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
std::string percent_encode(const std::string& value);

}  // namespace codefleet
