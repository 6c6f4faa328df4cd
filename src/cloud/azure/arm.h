// The Azure Resource Manager protocol: bearer tokens, paging (`nextLink`), long-running
// operations (`202` + `Azure-AsyncOperation` or `Location`, polled as `Retry-After` says),
// throttling (`429` + `Retry-After`, `x-ms-ratelimit-remaining-*`), jittered backoff for
// 5xx and timeouts — on idempotent requests only (GET, PUT, DELETE, and POSTs that read) —
// and Azure's error codes mapped to *infeasible* (never retry: QuotaExceeded,
// OperationNotAllowed, SkuNotAvailable, …) or *unavailable* (retry later:
// AllocationFailed, ZonalAllocationFailed, throttling, outages).
//
// A mutating POST (deallocate, start) is sent once: if it times out or gets a 5xx, the
// client does not send it again (Azure may have acted on it) and says the outcome is
// unknown. `dry_run` prints each request (the token redacted) and sends nothing.
//
//   ArmClient arm({.endpoint = "https://management.azure.com"}, credentials);
//   auto usages =
//   arm.list("/subscriptions/S/providers/Microsoft.Compute/locations/westeurope/usages"
//                          "?api-version=2024-07-01");
//   auto done = arm.post(vm_id + "/deallocate?hibernate=true&api-version=2024-07-01", "",
//                        Mutation::kAction);
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cloud/azure/credentials.h"
#include "cloud/http.h"

namespace codefleet {

struct ArmOptions {
  std::string endpoint = "https://management.azure.com";
  std::string scope = "https://management.azure.com/.default";
  int max_attempts = 5;  // per request: throttling, 5xx and timeouts
  std::chrono::milliseconds base_backoff{500};
  std::chrono::milliseconds max_wait{60'000};  // longest single wait (Retry-After is capped)
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds lro_timeout{std::chrono::minutes(30)};
  bool dry_run = false;
  // Each request, one line, as sent (token redacted): "POST https://… → 202 (x-ms-request-id …)".
  std::function<void(const std::string&)> log;
  // Each dry-run request in full (method, URL, headers with the token redacted, body).
  std::function<void(const std::string&)> print;
  std::function<void(std::chrono::milliseconds)> sleep;  // default: this_thread::sleep_for
};

// Whether a request may be sent again after a timeout or a 5xx.
enum class Mutation {
  kNone,    // GET, or a POST that only reads (Cost Management queries): retried
  kPut,     // PUT/DELETE with the full desired state: idempotent, retried
  kAction,  // POST actions (deallocate, start, stop): sent once
};

struct ArmError {
  std::string code;  // Azure's error code, e.g. "QuotaExceeded"
  std::string message;
};

// Azure error code (and HTTP status) → CodeFleet's error model.
ErrorCode classify_arm_error(const std::string& code, int status);

class ArmClient {
 public:
  ArmClient(ArmOptions options, AzureCredentials& credentials,
            std::shared_ptr<HttpClient> http = std::make_shared<HttpClient>());

  // `path` is relative to the endpoint ("/subscriptions/…?api-version=…") or a full URL.
  Result<std::string> get(const std::string& path);
  // Every item of `value` across all pages, each as JSON text.
  Result<std::vector<std::string>> list(const std::string& path);
  // PUT, then waits for the long-running operation; returns the final resource.
  Result<std::string> put(const std::string& path, const std::string& body);
  // POST, then waits for the long-running operation; returns the final body ("" if none).
  Result<std::string> post(const std::string& path, const std::string& body, Mutation m);

 private:
  struct Sent {
    HttpResponse response;
  };
  Result<HttpResponse> call(const std::string& method, const std::string& url,
                            const std::string& body, Mutation m);
  Result<std::string> finish(const std::string& method, const std::string& url,
                             const HttpResponse& first);
  std::string url_of(const std::string& path) const;
  void wait(std::chrono::milliseconds d);

  ArmOptions options_;
  AzureCredentials& credentials_;
  std::shared_ptr<HttpClient> http_;
};

}  // namespace codefleet
