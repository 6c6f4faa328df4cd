// The daemon's HTTP API (on the event-driven front of server/http_server.h): `/v1` task, routing,
// fleet, cost, budget, alert, key and LLM usage endpoints, `/healthz`, `/readyz`, `/metrics` and
// `/v1/openapi.json`. JSON in and out; every error is `{"error": {"code", "message", "field"},
// "request_id"}` with a 4xx or 5xx status. Every request carries a request id (`X-Request-Id`,
// generated when absent) and is logged as one JSON line without its credentials.
//
//   ApiServer api(model, store, controller, auth, metrics, {.host = "127.0.0.1", .port = 0});
//   int port = *api.bind();     // 0 = any free port
//   api.run();                  // until stop() (another thread, or SIGTERM handling)
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "server/http_server.h"

namespace codefleet {

struct FleetModel;
class Store;
class Controller;
class Authenticator;
class Metrics;

struct ApiOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string tls_cert, tls_key;  // both set: HTTPS
  int threads = 64;               // requests handled at once (an LLM stream holds one; an idle
                                  // keep-alive connection holds none)
  size_t max_body_bytes = 1 << 20;
  // What one client can hold: connection caps and deadlines, event-loop threads (see
  // http::Options; its address, TLS, thread and body fields come from those above).
  http::Options limits;
  bool log_requests = true;
  class Gateway* gateway = nullptr;  // serves /openai/v1/… when set (not owned)
  // Where tasks run (workers: kubernetes): a task must then say what to run (its own
  // `run` or its class's), and GET /v1/tasks/{id}/logs reads its pod's log. Not owned.
  class Executor* executor = nullptr;
};

class ApiServer {
 public:
  ApiServer(const FleetModel& model, Store& store, Controller& controller, Authenticator& auth,
            Metrics& metrics, ApiOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the listening socket; returns the port. kUnavailable when the address is taken,
  // kInvalidInput for an unreadable certificate or key.
  Result<int> bind();
  void run();   // serves until stop()
  void stop();  // stops accepting; requests in flight finish
  http::Stats front_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 document served at /v1/openapi.json (docs/openapi.json, embedded).
const char* openapi_document();

}  // namespace codefleet
