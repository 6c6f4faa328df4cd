#include "cloud/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include <fmt/format.h>

namespace codefleet {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

size_t on_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  } else if (line.rfind("HTTP/", 0) == 0) {
    static_cast<std::map<std::string, std::string>*>(out)->clear();  // a new response
  }
  return size * n;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string percent_encode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += percent_encode(k) + "=" + percent_encode(v);
  }
  return out;
}

namespace {

struct Transfer {
  HttpResponse* response;
  CURL* curl;
  const std::function<bool(int, const std::map<std::string, std::string>&)>* on_start;
  const std::function<bool(std::string_view)>* on_data;
  bool started = false;
};

size_t on_stream(char* data, size_t size, size_t n, void* out) {
  auto* t = static_cast<Transfer*>(out);
  if (!t->started) {
    t->started = true;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    t->response->status = static_cast<int>(status);
    if (!(*t->on_start)(t->response->status, t->response->headers)) return 0;
  }
  return (*t->on_data)(std::string_view(data, size * n)) ? size * n : 0;
}

tl::expected<HttpResponse, HttpError> perform(const HttpRequest& request, Transfer* streaming) {
  global_init();
  CURL* curl = curl_easy_init();
  if (!curl) {
    return tl::unexpected(HttpError{Error{ErrorCode::kInternal, "curl_easy_init failed", ""}});
  }
  HttpResponse response;
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  if (request.method != "GET" && request.method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (streaming) {
    streaming->response = &response;
    streaming->curl = curl;
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, streaming);
  } else {
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // Location is an LRO hint, not a redirect
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  response.status = static_cast<int>(status);
  if (streaming && !streaming->started && rc == CURLE_OK) {
    // An empty body: the start still happens, with no data.
    streaming->started = true;
    (*streaming->on_start)(response.status, response.headers);
  }
  if (rc != CURLE_OK) {
    // The URL is named without its query string (it may carry a SAS token or a key).
    std::string where = request.url.substr(0, request.url.find('?'));
    return tl::unexpected(HttpError{
        Error{ErrorCode::kUnavailable,
              fmt::format("{} {}: {}", request.method, where, curl_easy_strerror(rc)), ""},
        rc == CURLE_OPERATION_TIMEDOUT});
  }
  return response;
}

}  // namespace

tl::expected<HttpResponse, HttpError> HttpClient::send(const HttpRequest& request) {
  return perform(request, nullptr);
}

tl::expected<HttpResponse, HttpError> HttpClient::stream(
    const HttpRequest& request,
    const std::function<bool(int, const std::map<std::string, std::string>&)>& on_start,
    const std::function<bool(std::string_view)>& on_data) {
  Transfer t{nullptr, nullptr, &on_start, &on_data};
  return perform(request, &t);
}

}  // namespace codefleet
