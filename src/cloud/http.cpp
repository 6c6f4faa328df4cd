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

// A PEM held in memory as libcurl's blob (copied by libcurl).
void set_blob(CURL* curl, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, option, &blob);
}

void configure_tls(CURL* curl, const HttpRequest& request) {
  if (!request.ca_pem.empty()) set_blob(curl, CURLOPT_CAINFO_BLOB, request.ca_pem);
  if (!request.client_cert_pem.empty()) {
    set_blob(curl, CURLOPT_SSLCERT_BLOB, request.client_cert_pem);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (!request.client_key_pem.empty()) {
    set_blob(curl, CURLOPT_SSLKEY_BLOB, request.client_key_pem);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

// The options every request shares; the returned header list lives until the transfer ends.
curl_slist* configure(CURL* curl, const HttpRequest& request) {
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
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // Location is an LRO hint, not a redirect
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // Through a proxy, its "200 Connection established" is not the server's answer.
  curl_easy_setopt(curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  configure_tls(curl, request);
  return headers;
}

HttpError transfer_error(const HttpRequest& request, CURLcode rc) {
  // The URL is named without its query string (it may carry a SAS token or a key).
  std::string where = request.url.substr(0, request.url.find('?'));
  return HttpError{
      Error{ErrorCode::kUnavailable,
            fmt::format("{} {}: {}", request.method, where, curl_easy_strerror(rc)), ""},
      rc == CURLE_OPERATION_TIMEDOUT};
}

tl::expected<HttpResponse, HttpError> perform(const HttpRequest& request) {
  global_init();
  CURL* curl = curl_easy_init();
  if (!curl) {
    return tl::unexpected(HttpError{Error{ErrorCode::kInternal, "curl_easy_init failed", ""}});
  }
  HttpResponse response;
  curl_slist* headers = configure(curl, request);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  response.status = static_cast<int>(status);
  if (rc != CURLE_OK) return tl::unexpected(transfer_error(request, rc));
  return response;
}

}  // namespace

tl::expected<HttpResponse, HttpError> HttpClient::send(const HttpRequest& request) {
  return perform(request);
}

// --- HttpCall

struct HttpCallPool::Channel {
  CURLM* multi = nullptr;  // its connection cache outlives each call
  CURL* easy = nullptr;
};

HttpCallPool::~HttpCallPool() {
  for (auto& [origin, channels] : idle_) {
    for (Channel* c : channels) {
      curl_easy_cleanup(c->easy);
      curl_multi_cleanup(c->multi);
      delete c;
    }
  }
}

namespace {

// "https://host:port" of a URL: the connections a channel keeps are to one origin.
std::string origin_of(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto path = url.find_first_of("/?#", scheme + 3);
  return url.substr(0, path);
}

}  // namespace

HttpCallPool::Channel* HttpCallPool::take(const std::string& origin) {
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(origin);
    if (it != idle_.end() && !it->second.empty()) {
      Channel* c = it->second.back();
      it->second.pop_back();
      --idle_count_;
      return c;
    }
  }
  global_init();
  auto* c = new Channel;
  c->multi = curl_multi_init();
  c->easy = curl_easy_init();
  if (!c->multi || !c->easy) {
    if (c->easy) curl_easy_cleanup(c->easy);
    if (c->multi) curl_multi_cleanup(c->multi);
    delete c;
    return nullptr;
  }
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 1L);  // its one origin's connection
  return c;
}

void HttpCallPool::give_back(const std::string& origin, Channel* c) {
  {
    std::lock_guard lock(mu_);
    if (idle_count_ < max_idle_) {
      idle_[origin].push_back(c);
      ++idle_count_;
      return;
    }
  }
  curl_easy_cleanup(c->easy);
  curl_multi_cleanup(c->multi);
  delete c;
}

HttpCall::HttpCall(HttpCallPool& pool, HttpRequest request,
                   std::chrono::milliseconds first_byte_timeout)
    : pool_(pool), request_(std::move(request)), first_byte_timeout_(first_byte_timeout) {
  if (first_byte_timeout.count() > 0) {
    first_byte_deadline_ = std::chrono::steady_clock::now() + first_byte_timeout;
  }
  origin_ = origin_of(request_.url);
  channel_ = pool_.take(origin_);
  if (!channel_) {
    done_ = true;
    result_ = CURLE_FAILED_INIT;
    return;
  }
  CURL* easy = channel_->easy;
  curl_easy_reset(easy);
  header_list_ = configure(easy, request_);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header_line);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  if (first_byte_timeout.count() > 0) {
    // Silent that long mid-answer, too: the transfer ends (a stalled stream holds nothing).
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(
        easy, CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(std::max<int64_t>(
            1, std::chrono::duration_cast<std::chrono::seconds>(first_byte_timeout).count())));
  }
  curl_multi_add_handle(channel_->multi, easy);
  added_ = true;
}

HttpCall::~HttpCall() {
  if (!channel_) return;
  if (added_) curl_multi_remove_handle(channel_->multi, channel_->easy);
  curl_slist_free_all(static_cast<curl_slist*>(header_list_));
  pool_.give_back(origin_, channel_);
}

size_t HttpCall::on_header_line(char* data, size_t size, size_t n, void* self) {
  auto* call = static_cast<HttpCall*>(self);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    call->headers_.clear();  // a new response (after a 100 Continue, say)
    auto space = line.find(' ');
    call->status_ = space == std::string_view::npos
                        ? 0
                        : std::atoi(std::string(line.substr(space + 1, 3)).c_str());
  } else if (line == "\r\n" || line == "\n") {
    if (call->status_ >= 200) call->headers_done_ = true;
  } else {
    on_header(data, size, n, &call->headers_);
  }
  return size * n;
}

size_t HttpCall::on_write(char* data, size_t size, size_t n, void* self) {
  auto* call = static_cast<HttpCall*>(self);
  call->headers_done_ = true;
  call->buffer_.append(data, size * n);
  return size * n;
}

// libcurl's cycle: perform, then wait for the sockets, then perform again. The first pump
// performs at once (it sends the request).
void HttpCall::pump(int wait_ms) {
  if (performed_) curl_multi_poll(channel_->multi, nullptr, 0, wait_ms, nullptr);
  int running = 0;
  curl_multi_perform(channel_->multi, &running);
  performed_ = true;
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(channel_->multi, &left)) {
    if (m->msg == CURLMSG_DONE) {
      done_ = true;
      result_ = m->data.result;
    }
  }
}

tl::expected<int, HttpError> HttpCall::start() {
  using clock = std::chrono::steady_clock;
  while (!headers_done_ && !done_) {
    int wait_ms = 1000;
    if (first_byte_deadline_ != clock::time_point{}) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(first_byte_deadline_ - clock::now())
              .count();
      if (left <= 0) {
        std::string where = request_.url.substr(0, request_.url.find('?'));
        return tl::unexpected(
            HttpError{Error{ErrorCode::kUnavailable,
                            fmt::format("{} {}: no answer within {} ms", request_.method, where,
                                        first_byte_timeout_.count()),
                            ""},
                      true});
      }
      wait_ms = static_cast<int>(std::min<int64_t>(wait_ms, left));
    }
    pump(wait_ms);
  }
  if (done_ && result_ != CURLE_OK) {
    if (!channel_) {
      return tl::unexpected(HttpError{Error{ErrorCode::kInternal, "curl_easy_init failed", ""}});
    }
    return tl::unexpected(transfer_error(request_, static_cast<CURLcode>(result_)));
  }
  if (status_ == 0) {
    long status = 0;
    curl_easy_getinfo(channel_->easy, CURLINFO_RESPONSE_CODE, &status);
    status_ = static_cast<int>(status);
  }
  return status_;
}

tl::expected<std::optional<std::string>, HttpError> HttpCall::next() {
  while (buffer_.empty() && !done_) pump(1000);
  if (!buffer_.empty()) {
    std::string piece;
    piece.swap(buffer_);
    return piece;
  }
  if (result_ != CURLE_OK) {
    return tl::unexpected(transfer_error(request_, static_cast<CURLcode>(result_)));
  }
  return std::optional<std::string>();
}

tl::expected<std::string, HttpError> HttpCall::rest(size_t cap, bool truncate) {
  std::string all;
  while (true) {
    auto piece = next();
    if (!piece) return tl::unexpected(piece.error());
    if (!*piece) return all;
    if (all.size() + (*piece)->size() > cap) {
      if (truncate) {
        all.append(**piece, 0, cap - all.size());
        return all;
      }
      return tl::unexpected(HttpError{Error{
          ErrorCode::kInvalidInput, fmt::format("the answer is larger than {} bytes", cap), ""}});
    }
    all += **piece;
  }
}

}  // namespace codefleet
