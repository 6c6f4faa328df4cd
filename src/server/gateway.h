// The LLM gateway in `codefleet serve`: OpenAI-compatible `POST /openai/v1/chat/completions`
// (streaming and not) and `GET /openai/v1/models`. The model names a workload class of kind
// `llm` (or the `X-CodeFleet-Class` header does); the router ranks that class's targets —
// AI Foundry deployments and self-hosted endpoints — by cost and fit; the gateway tries
// them in that order, skipping one whose TPM/RPM budget would be exceeded, and falls back
// on 429 (honouring Retry-After), 5xx, timeouts and refused connections — never after a
// byte has reached the client. Usage (from `usage`, or counted from the stream) is priced
// and written to the store per hour, tenant, key and target (and as cost under
// `llm:<target>`); a month's budget that is spent answers 429. An API key's own limits
// (`LlmLimits`: requests and tokens per minute, a monthly budget) are checked before
// routing: over them, 429 with `rate_limit_exceeded` (and `Retry-After`) or
// `key_budget_exhausted`.
//
//   Gateway gw(model, store, controller, {.credentials = &azure});
//   gw.chat(body, class_header, principal, res);   // from the HTTP route
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cloud/azure/credentials.h"
#include "llm/limiter.h"
#include "routing/fleet_model.h"

namespace codefleet {

namespace http {
struct Response;
}

class Store;
class Controller;
class Metrics;
struct Principal;

struct GatewayOptions {
  // Foundry deployments with `auth: api-key`: deployment name → key (from the environment,
  // CODEFLEET_FOUNDRY_KEY_<NAME>). `managed-identity` and `entra` use these credentials.
  std::map<std::string, std::string> api_keys;
  AzureCredentials* credentials = nullptr;
  // No status line from an upstream within this: the next one is tried.
  std::chrono::milliseconds upstream_timeout{120'000};
  // A stream's whole length, at most.
  std::chrono::milliseconds stream_timeout{30 * 60'000};
  std::string api_version = "2024-10-21";
};

class Gateway {
 public:
  Gateway(const FleetModel& model, Store& store, Controller& controller, Metrics& metrics,
          GatewayOptions options);
  ~Gateway();

  // Writes the whole answer into `res` (an OpenAI error on failure).
  void chat(const std::string& body, const std::string& class_header, const Principal& who,
            http::Response& res);
  std::string models_json() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codefleet
