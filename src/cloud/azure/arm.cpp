#include "cloud/azure/arm.h"

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"

namespace codefleet {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// Codes that will not go away by retrying the same request.
const std::set<std::string>& infeasible_codes() {
  static const std::set<std::string> codes{"QuotaExceeded",
                                           "OperationNotAllowed",
                                           "SkuNotAvailable",
                                           "InvalidParameter",
                                           "InvalidRequestContent",
                                           "BadRequest",
                                           "AuthorizationFailed",
                                           "LinkedAuthorizationFailed",
                                           "InvalidAuthenticationToken",
                                           "Conflict",
                                           "PropertyChangeNotAllowed",
                                           "InvalidTemplate",
                                           "VMHibernationNotSupported",
                                           "OperationNotSupported",
                                           "RequestDisallowedByPolicy"};
  return codes;
}

const std::set<std::string>& unavailable_codes() {
  static const std::set<std::string> codes{"AllocationFailed",
                                           "ZonalAllocationFailed",
                                           "OverconstrainedAllocationRequest",
                                           "OverconstrainedZonalAllocationRequest",
                                           "TooManyRequests",
                                           "RetryableError",
                                           "InternalServerError",
                                           "ServiceUnavailable",
                                           "GatewayTimeout",
                                           "InternalOperationError"};
  return codes;
}

ArmError arm_error_of(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  ArmError e;
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    e.code = j["error"].value("code", "");
    e.message = j["error"].value("message", "");
  }
  return e;
}

// Retry-After: seconds (ARM's form). Missing or unreadable: nullopt.
std::optional<milliseconds> retry_after(const HttpResponse& r) {
  std::string v = r.header("retry-after");
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  long long s = std::strtoll(v.c_str(), &end, 10);
  if (*end != '\0' || s < 0) return std::nullopt;
  return milliseconds(s * 1000);
}

bool is_retryable_status(int status) { return status == 408 || status >= 500; }

}  // namespace

ErrorCode classify_arm_error(const std::string& code, int status) {
  if (code == "ResourceNotFound" || code == "ResourceGroupNotFound" || code == "NotFound" ||
      code == "ParentResourceNotFound" || (code.empty() && status == 404)) {
    return ErrorCode::kNotFound;
  }
  if (infeasible_codes().count(code)) return ErrorCode::kInfeasible;
  if (unavailable_codes().count(code)) return ErrorCode::kUnavailable;
  if (status == 429 || status >= 500 || status == 408) return ErrorCode::kUnavailable;
  if (status == 404) return ErrorCode::kNotFound;
  return ErrorCode::kInfeasible;  // other 4xx: the request itself is wrong
}

ArmClient::ArmClient(ArmOptions options, AzureCredentials& credentials,
                     std::shared_ptr<HttpClient> http)
    : options_(std::move(options)), credentials_(credentials), http_(std::move(http)) {
  options_.endpoint = without_trailing_slashes(options_.endpoint);
}

std::string ArmClient::url_of(const std::string& path) const {
  if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) return path;
  return options_.endpoint + (path.empty() || path[0] != '/' ? "/" : "") + path;
}

void ArmClient::wait(milliseconds d) {
  d = std::min(d, options_.max_wait);
  if (d.count() <= 0) return;
  if (options_.sleep) {
    options_.sleep(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

Result<HttpResponse> ArmClient::call(const std::string& method, const std::string& url,
                                     const std::string& body, Mutation m) {
  if (options_.dry_run) {
    if (options_.print) {
      std::string text = fmt::format("{} {}\nAuthorization: Bearer <redacted>\n", method, url);
      if (!body.empty()) text += "Content-Type: application/json\n\n" + body + "\n";
      options_.print(text);
    }
    HttpResponse r;
    r.status = method == "GET" ? 200 : 202;
    r.body = method == "GET" ? R"({"value": []})" : "";
    return r;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const bool may_resend = m != Mutation::kAction;
  for (int attempt = 1;; ++attempt) {
    auto token = credentials_.token(options_.scope);
    if (!token) return tl::unexpected(token.error());
    HttpRequest req;
    req.method = method;
    req.url = url;
    req.body = body;
    req.timeout = options_.request_timeout;
    req.headers = {{"Authorization", "Bearer " + token->value}, {"Accept", "application/json"}};
    if (!body.empty() || method == "PUT" || method == "POST") {
      req.headers.emplace_back("Content-Type", "application/json");
    }
    auto r = http_->send(req);
    // Backoff: base × 2^(attempt-1), with full jitter.
    auto backoff = [&] {
      int64_t cap = options_.base_backoff.count() << std::min(attempt - 1, 10);
      return milliseconds(std::uniform_int_distribution<int64_t>(cap / 2, cap)(rng));
    };
    if (!r) {
      if (options_.log)
        options_.log(fmt::format("{} {} → {}", method, url, r.error().error.message));
      if (r.error().timed_out && !may_resend) {
        return tl::unexpected(Error{ErrorCode::kUnavailable,
                                    fmt::format("{} {} timed out; Azure may or may not have "
                                                "acted on it, so it was not sent again: check "
                                                "the resource's state",
                                                method, url.substr(0, url.find('?'))),
                                    ""});
      }
      if (attempt >= options_.max_attempts || !may_resend) return tl::unexpected(r.error().error);
      wait(backoff());
      continue;
    }
    if (options_.log) {
      std::string remaining;
      for (const auto& [k, v] : r->headers) {
        if (k.rfind("x-ms-ratelimit-remaining-", 0) == 0)
          remaining += fmt::format(", {} {}", k.substr(25), v);
      }
      options_.log(fmt::format("{} {} → {} (x-ms-request-id {}{})", method, url, r->status,
                               r->header("x-ms-request-id"), remaining));
    }
    if (r->status == 429) {
      // Throttled: Azure did not act on it, so any request may be sent again.
      if (attempt >= options_.max_attempts) break;
      wait(retry_after(*r).value_or(backoff()));
      continue;
    }
    if (is_retryable_status(r->status) && may_resend && attempt < options_.max_attempts) {
      wait(retry_after(*r).value_or(backoff()));
      continue;
    }
    return *r;
  }
  return tl::unexpected(Error{ErrorCode::kUnavailable,
                              fmt::format("{} {}: still throttled after {} attempts", method,
                                          url.substr(0, url.find('?')), options_.max_attempts),
                              ""});
}

Result<std::string> ArmClient::finish(const std::string& method, const std::string& url,
                                      const HttpResponse& first) {
  auto fail = [&](const HttpResponse& r) -> Error {
    ArmError e = arm_error_of(r.body);
    std::string where = url.substr(0, url.find('?'));
    return Error{
        classify_arm_error(e.code, r.status),
        fmt::format("{} {}: {} {}{}", method, where, r.status, e.code.empty() ? "" : e.code + ": ",
                    e.message.empty() ? "(no error body)" : e.message),
        e.code};
  };
  if (first.status >= 400) return tl::unexpected(fail(first));
  if (options_.dry_run) return first.body;
  std::string async = first.header("azure-asyncoperation");
  std::string location = first.header("location");
  if (first.status != 201 && first.status != 202) return first.body;
  if (async.empty() && location.empty()) return first.body;
  auto deadline = std::chrono::steady_clock::now() + options_.lro_timeout;
  HttpResponse last = first;
  while (true) {
    if (std::chrono::steady_clock::now() > deadline) {
      return tl::unexpected(Error{ErrorCode::kUnavailable,
                                  fmt::format("{} {}: the operation did not finish in time", method,
                                              url.substr(0, url.find('?'))),
                                  ""});
    }
    wait(retry_after(last).value_or(milliseconds(10'000)));
    auto poll = call("GET", async.empty() ? location : async, "", Mutation::kNone);
    if (!poll) return tl::unexpected(poll.error());
    last = *poll;
    if (poll->status >= 400) return tl::unexpected(fail(*poll));
    if (!async.empty()) {
      auto j = json::parse(poll->body, nullptr, false);
      std::string status = j.is_object() ? j.value("status", "") : "";
      if (status == "Succeeded") break;
      if (status == "Failed" || status == "Canceled") {
        ArmError e = arm_error_of(poll->body);
        return tl::unexpected(
            Error{classify_arm_error(e.code, 200),
                  fmt::format("{} {}: the operation {}: {}{}", method, url.substr(0, url.find('?')),
                              status == "Failed" ? "failed" : "was canceled",
                              e.code.empty() ? "" : e.code + ": ", e.message),
                  e.code});
      }
      continue;  // InProgress, Accepted, ...
    }
    if (poll->status == 202) continue;
    return poll->body;  // Location: 200/204 ends it
  }
  if (method == "PUT") {
    auto final = call("GET", url, "", Mutation::kNone);
    if (!final) return tl::unexpected(final.error());
    if (final->status >= 400) return tl::unexpected(fail(*final));
    return final->body;
  }
  return last.body;
}

Result<std::string> ArmClient::get(const std::string& path) {
  std::string url = url_of(path);
  auto r = call("GET", url, "", Mutation::kNone);
  if (!r) return tl::unexpected(r.error());
  return finish("GET", url, *r);
}

Result<std::vector<std::string>> ArmClient::list(const std::string& path) {
  std::vector<std::string> items;
  std::string url = url_of(path);
  for (int page = 0; page < 10'000 && !url.empty(); ++page) {
    auto body = get(url);
    if (!body) return tl::unexpected(body.error());
    auto j = json::parse(*body, nullptr, false);
    if (!j.is_object()) {
      return tl::unexpected(Error{ErrorCode::kUnavailable,
                                  "ARM answered a list with something that is not JSON", url});
    }
    if (j.contains("value") && j["value"].is_array()) {
      for (const auto& item : j["value"]) items.push_back(item.dump());
    }
    url =
        j.contains("nextLink") && j["nextLink"].is_string() ? j["nextLink"].get<std::string>() : "";
  }
  return items;
}

Result<std::string> ArmClient::put(const std::string& path, const std::string& body) {
  std::string url = url_of(path);
  auto r = call("PUT", url, body, Mutation::kPut);
  if (!r) return tl::unexpected(r.error());
  return finish("PUT", url, *r);
}

Result<std::string> ArmClient::post(const std::string& path, const std::string& body, Mutation m) {
  std::string url = url_of(path);
  auto r = call("POST", url, body, m);
  if (!r) return tl::unexpected(r.error());
  if (m == Mutation::kAction && r->status >= 500) {
    auto e = arm_error_of(r->body);
    return tl::unexpected(
        Error{ErrorCode::kUnavailable,
              fmt::format("POST {}: {} {}; Azure may or may not have acted on it, so it was not "
                          "sent again: check the resource's state",
                          url.substr(0, url.find('?')), r->status, e.code),
              e.code});
  }
  return finish("POST", url, *r);
}

}  // namespace codefleet
