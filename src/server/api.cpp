// Routes of the daemon's HTTP API (see api.h and docs/API.md).
#include "server/api.h"

#include <sys/socket.h>
#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "llm/openai.h"
#include "report/decision_json.h"
#include "routing/fleet_model.h"
#include "scheduling/executor.h"
#include "server/auth.h"
#include "server/controller.h"
#include "server/gateway.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "spec/spec.h"
#include "store/store.h"
#include "workload/task.h"

namespace codefleet {

using ojson = nlohmann::ordered_json;
using namespace std::chrono;

namespace {

// Per request, on the thread serving it (the front runs a request start to end on one
// worker: handler, answer, log line).
struct RequestContext {
  steady_clock::time_point started;
  std::string id;
  std::string route = "unmatched";
  std::string principal;
  bool openai = false;  // an /openai/ path: errors in OpenAI's shape
};
thread_local RequestContext tl_request;

// JSON text that never throws: bytes that are not UTF-8 (a path or header echoed in a
// message) become U+FFFD instead of a type_error out of a handler.
std::string safe_dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

constexpr int kMaxJsonDepth = 32;

// Task ids and tenants: what may appear in a URL path segment and a Location header.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != ':') {
      return false;
    }
  }
  return true;
}

std::string random_hex(size_t bytes) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (size_t i = 0; i < bytes; i += 8) out += fmt::format("{:016x}", rng());
  return out.substr(0, bytes * 2);
}

bool valid_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

const char* code_name(int status) {
  switch (status) {
    case 400:
      return "invalid_input";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 415:
      return "unsupported_media_type";
    case 417:
      return "expectation_failed";
    case 422:
      return "infeasible";
    case 429:
      return "too_many_requests";
    case 431:
      return "header_too_large";
    case 501:
      return "not_implemented";
    case 503:
      return "unavailable";
    case 505:
      return "http_version_not_supported";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

// The first key of `body` not in `allowed`, as "unknown field 'X' (did you mean 'Y'?)"; ""
// when every key is known. Long keys are shown cut short.
std::string unknown_field_message(const ojson& body, const std::vector<std::string>& allowed,
                                  std::string* field) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
    *field = it.key().size() > 64 ? it.key().substr(0, 61) + "..." : it.key();
    std::string near = closest_match(*field, allowed);
    return fmt::format("unknown field '{}' ({})", *field,
                       near.empty() ? fmt::format("expected {}", fmt::join(allowed, ", "))
                                    : fmt::format("did you mean '{}'?", near));
  }
  return "";
}

// A 400's `field` for a task body: the failing field's JSON path, or the whole body.
std::string field_or_body(const std::string& field) {
  return field.empty() ? "request body" : field;
}

void send_error(http::Response& res, int status, const std::string& message,
                const std::string& field = "") {
  if (tl_request.openai) {
    const char* type = status == 401   ? "authentication_error"
                       : status == 403 ? "permission_error"
                       : status == 429 ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    res.status = status;
    res.set_content(openai_error(type, message, field, code_name(status)), "application/json");
    return;
  }
  ojson e{{"code", code_name(status)}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  res.status = status;
  res.set_content(safe_dump(ojson{{"error", e}, {"request_id", tl_request.id}}),
                  "application/json");
}

int status_for(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidInput:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kInfeasible:
      return 422;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

void send_json(http::Response& res, int status, const ojson& body) {
  res.status = status;
  res.set_content(safe_dump(body), "application/json");
}

std::string iso_ms(int64_t ms) { return format_rfc3339(from_unix_ms(ms)); }

ojson task_view(const StoredTask& t) {
  ojson j{{"id", t.id},
          {"tenant", t.tenant},
          {"class", t.class_name},
          {"environment", t.environment},
          {"state", task_phase_name(t.state)}};
  j["pool"] = t.pool.empty() ? ojson(nullptr) : ojson(t.pool);
  j["node"] = t.node.empty() ? ojson(nullptr) : ojson(t.node);
  j["reason"] = t.reason.empty() ? ojson(nullptr) : ojson(t.reason);
  j["created_at"] = iso_ms(t.created_ms);
  j["updated_at"] = iso_ms(t.updated_ms);
  j["task"] = ojson::parse(t.body_json, nullptr, false);
  return j;
}

ojson money(Money m) { return ojson::parse(m.to_string()); }

ojson llm_view(const LlmLimits& l) {
  return {{"budget_usd_month", money(Money::from_micros(l.budget_micros_month))},
          {"rpm", l.rpm},
          {"tpm", l.tpm}};
}

ojson key_view(const ApiKey& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"role", role_name(k.role)},
          {"tenant", k.tenant.empty() ? ojson(nullptr) : ojson(k.tenant)},
          {"created_at", iso_ms(k.created_ms)},
          {"revoked", k.revoked},
          {"llm", llm_view(k.llm)}};
}

// The fields of an `llm` object that were given; the others keep their value.
constexpr int64_t kMaxPerMinute = 1'000'000'000;

// `{"budget_usd_month": "50.00", "rpm": 60, "tpm": 100000}`, every field optional; an
// error names the field ("llm.rpm").
Result<LlmLimitsUpdate> parse_llm_limits(const ojson& j) {
  auto bad = [](const std::string& field, std::string message) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput, std::move(message), field});
  };
  if (!j.is_object()) {
    return bad("llm",
               "llm must be an object: {\"budget_usd_month\": \"50.00\", \"rpm\": 60, "
               "\"tpm\": 100000}");
  }
  LlmLimitsUpdate out;
  for (const auto& [name, v] : j.items()) {
    std::string field = "llm." + name;
    if (name == "budget_usd_month") {
      if (!v.is_string()) {
        return bad(field, field + " must be a decimal string of US dollars, such as \"50.00\"");
      }
      if (v.get_ref<const std::string&>().size() > kMaxMoneyTextBytes) {
        return bad(field,
                   fmt::format("{} is longer than {} characters", field, kMaxMoneyTextBytes));
      }
      // A ledger amount is taken as written or refused: never rounded silently.
      auto m = Money::parse_exact(v.get<std::string>());
      if (!m) return bad(field, field + ": " + m.error().message);
      if (m->micros() < 0) return bad(field, field + " must not be negative");
      out.budget_micros_month = m->micros();
    } else if (name == "rpm" || name == "tpm") {
      bool ok =
          v.is_number_integer() &&
          (v.is_number_unsigned() ? v.get<uint64_t>() <= kMaxPerMinute
                                  : v.get<int64_t>() >= 0 && v.get<int64_t>() <= kMaxPerMinute);
      if (!ok) {
        return bad(field, fmt::format("{} must be an integer from 0 (no limit) to {}", field,
                                      kMaxPerMinute));
      }
      (name == "rpm" ? out.rpm : out.tpm) = v.get<int64_t>();
    } else {
      return bad(field, "unknown field '" + field + "' (budget_usd_month, rpm, tpm)");
    }
  }
  return out;
}

}  // namespace

extern const char* const kOpenApiJson;
const char* openapi_document() { return kOpenApiJson; }

struct ApiServer::Impl {
  const FleetModel& model;
  Store& store;
  Controller& controller;
  Authenticator& auth;
  Metrics& metrics;
  ApiOptions options;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> stopping{false};
  std::atomic<int> follows{0};  // followed logs streaming now

  Impl(const FleetModel& m, Store& s, Controller& c, Authenticator& a, Metrics& me, ApiOptions o)
      : model(m), store(s), controller(c), auth(a), metrics(me), options(std::move(o)) {}

  using Handler = std::function<void(const http::Request&, http::Response&, const Principal&)>;

  // Authenticates, checks the role, then runs `fn`. Only /healthz and /readyz skip this.
  http::Handler guarded(std::string route, Role min_role, Handler fn) {
    return [this, route = std::move(route), min_role, fn = std::move(fn)](const http::Request& req,
                                                                          http::Response& res) {
      tl_request.route = route;
      auto now_s = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
      auto p = auth.authenticate(req.get_header_value("Authorization"), now_s);
      if (!p) {
        if (p.error().code == ErrorCode::kInvalidInput) {
          res.set_header("WWW-Authenticate", R"(Bearer realm="codefleet")");
          send_error(res, 401, p.error().message);
        } else if (p.error().code == ErrorCode::kInfeasible) {
          send_error(res, 403, p.error().message);
        } else {
          send_error(res, status_for(p.error()), p.error().message);
        }
        return;
      }
      tl_request.principal = p->id;
      if (!p->at_least(min_role)) {
        send_error(res, 403,
                   fmt::format("role '{}' may not do this: it needs '{}' or above",
                               role_name(p->role), role_name(min_role)));
        return;
      }
      fn(req, res, *p);
    };
  }

  // The JSON body as an object, or a 400/415 already sent.
  std::optional<ojson> json_body(const http::Request& req, http::Response& res) {
    auto ct = req.get_header_value("Content-Type");
    if (!ct.empty() && ct.find("json") == std::string::npos) {
      send_error(res, 415, "the body must be JSON (Content-Type: application/json)");
      return std::nullopt;
    }
    if (json_nesting_exceeds(req.body, kMaxJsonDepth)) {
      send_error(res, 400, fmt::format("the body nests deeper than {} levels", kMaxJsonDepth));
      return std::nullopt;
    }
    auto j = ojson::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      send_error(res, 400, "the body is not a JSON object");
      return std::nullopt;
    }
    return j;
  }

  Result<StoredTask> load_visible(const std::string& id, const Principal& p) {
    auto t = store.get_task(id);
    if (!t) return tl::unexpected(t.error());
    if (!*t || !p.sees_tenant((*t)->tenant)) {
      return tl::unexpected(Error{ErrorCode::kNotFound, "no task '" + id + "'", "id"});
    }
    return **t;
  }

  void routes() {
    auto& s = *server;
    s.Get("/healthz", [](const http::Request&, http::Response& res) {
      tl_request.route = "/healthz";
      send_json(res, 200, {{"status", "ok"}});
    });
    s.Get("/readyz", [this](const http::Request&, http::Response& res) {
      tl_request.route = "/readyz";
      auto probe = store.get_task("");
      Snapshot snap = controller.snapshot();
      if (!probe) {
        // The details (host, user, SQLSTATE) go to the log, not to an unauthenticated caller.
        fmt::print(stderr, "{}\n",
                   safe_dump(ojson{{"level", "error"},
                                   {"msg", "readiness: store unreachable"},
                                   {"error", probe.error().message}}));
        send_error(res, 503, "the store is unreachable");
      } else if (!snap.ready || stopping) {
        send_error(res, 503, stopping ? "shutting down" : "reconcile loop starting");
      } else {
        send_json(res, 200,
                  {{"status", "ready"}, {"store", store.kind()}, {"leading", snap.leading}});
      }
    });
    s.Get("/metrics", guarded("/metrics", Role::kViewer, [this](auto&, auto& res, auto&) {
            if (auto counts = store.count_tasks()) {
              std::map<std::pair<std::string, std::string>, int64_t> c = *counts;
              metrics.set_task_counts(c);
            }
            if (auto alerts = store.list_alerts(false)) metrics.set_alerts(*alerts);
            res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
          }));
    s.Get("/v1/openapi.json",
          guarded("/v1/openapi.json", Role::kViewer, [](auto&, auto& res, auto&) {
            res.set_content(openapi_document(), "application/json");
          }));

    s.Post("/v1/tasks", guarded("/v1/tasks", Role::kSubmitter,
                                [this](auto& req, auto& res, auto& p) { submit(req, res, p); }));
    s.Get("/v1/tasks", guarded("/v1/tasks", Role::kViewer,
                               [this](auto& req, auto& res, auto& p) { list(req, res, p); }));
    s.Get(R"(/v1/tasks/([^/]+))",
          guarded("/v1/tasks/{id}", Role::kViewer, [this](auto& req, auto& res, auto& p) {
            auto t = load_visible(req.matches[1], p);
            if (!t) return send_error(res, status_for(t.error()), t.error().message);
            ojson j = task_view(*t);
            auto events = store.task_events(t->id);
            j["events"] = ojson::array();
            if (events) {
              for (const auto& e : *events) {
                j["events"].push_back({{"kind", e.kind},
                                       {"at", iso_ms(e.at_ms)},
                                       {"detail", ojson::parse(e.detail_json, nullptr, false)}});
              }
            }
            send_json(res, 200, j);
          }));
    s.Delete(R"(/v1/tasks/([^/]+))",
             guarded("/v1/tasks/{id}", Role::kSubmitter, [this](auto& req, auto& res, auto& p) {
               end_task(req.matches[1], TaskPhase::kCancelled, "cancelled", "cancelled by " + p.id,
                        res, p);
             }));
    s.Get(R"(/v1/tasks/([^/]+)/logs)",
          guarded("/v1/tasks/{id}/logs", Role::kViewer,
                  [this](auto& req, auto& res, auto& p) { task_logs(req, res, p); }));
    s.Post(R"(/v1/tasks/([^/]+)/events)",
           guarded("/v1/tasks/{id}/events", Role::kSubmitter,
                   [this](auto& req, auto& res, auto& p) { worker_event(req, res, p); }));
    s.Post("/v1/route", guarded("/v1/route", Role::kSubmitter, [this](auto& req, auto& res, auto&) {
             std::string field;
             auto task = parse_task_json(req.body, *model.spec, "request body", &field);
             if (!task) return send_error(res, 400, task.error().message, field_or_body(field));
             task->submitted_at = controller.daemon_now();
             res.set_content(decision_json(controller.route(*task), -1), "application/json");
           }));
    s.Get("/v1/pools", guarded("/v1/pools", Role::kViewer, [this](auto&, auto& res, auto&) {
            Snapshot snap = controller.snapshot();
            ojson items = ojson::array();
            for (const auto& p : snap.pools) {
              items.push_back({{"name", p.name},
                               {"environment", p.environment},
                               {"region", p.region},
                               {"sku", p.sku},
                               {"quota_family", p.quota_family},
                               {"min_nodes", p.min_nodes},
                               {"max_nodes", p.max_nodes},
                               {"spot", p.spot},
                               {"can_hibernate", p.can_hibernate},
                               {"nodes", p.nodes},
                               {"usd_per_hour", money(p.usd_per_hour)},
                               {"price_source", p.price_source}});
            }
            send_json(res, 200, {{"at", format_rfc3339(snap.at)}, {"items", items}});
          }));
    s.Get("/v1/quotas", guarded("/v1/quotas", Role::kViewer, [this](auto&, auto& res, auto&) {
            Snapshot snap = controller.snapshot();
            ojson items = ojson::array();
            for (const auto& q : snap.quotas) {
              ojson j{
                  {"kind", q.kind}, {"region", q.region}, {"name", q.name}, {"used_vcpus", q.used}};
              j["limit_vcpus"] = q.limit ? ojson(*q.limit) : ojson(nullptr);
              j["used_pct"] =
                  q.limit && *q.limit > 0 ? ojson(q.used * 100 / *q.limit) : ojson(nullptr);
              items.push_back(j);
            }
            send_json(res, 200, {{"at", format_rfc3339(snap.at)}, {"items", items}});
          }));
    s.Get("/v1/budgets", guarded("/v1/budgets", Role::kViewer, [this](auto&, auto& res, auto&) {
            Snapshot snap = controller.snapshot();
            ojson items = ojson::array();
            for (const auto& b : snap.budgets) {
              items.push_back({{"name", b.name},
                               {"scope", b.scope},
                               {"amount_usd", money(b.amount)},
                               {"spent_month_to_date_usd", money(b.spent_month_to_date)},
                               {"forecast_month_usd", money(b.forecast_month)},
                               {"thresholds_pct", b.thresholds_pct}});
            }
            send_json(res, 200, {{"at", format_rfc3339(snap.at)}, {"items", items}});
          }));
    s.Get("/v1/costs", guarded("/v1/costs", Role::kViewer,
                               [this](auto& req, auto& res, auto&) { costs(req, res); }));
    s.Get("/v1/llm/usage",
          guarded("/v1/llm/usage", Role::kViewer,
                  [this](auto& req, auto& res, auto& p) { llm_usage(req, res, p); }));
    s.Get("/v1/alerts", guarded("/v1/alerts", Role::kViewer, [this](auto& req, auto& res, auto&) {
            std::string state = req.has_param("state") ? req.get_param_value("state") : "all";
            if (state != "all" && state != "firing") {
              return send_error(res, 400, "state must be 'firing' or 'all'", "state");
            }
            auto alerts = store.list_alerts(state == "firing");
            if (!alerts) return send_error(res, status_for(alerts.error()), alerts.error().message);
            ojson items = ojson::array();
            for (const auto& a : *alerts) {
              ojson j{{"key", a.key},           {"kind", a.kind},
                      {"severity", a.severity}, {"state", a.firing ? "firing" : "resolved"},
                      {"summary", a.summary},   {"fired_at", iso_ms(a.fired_ms)}};
              j["resolved_at"] = a.resolved_ms ? ojson(iso_ms(a.resolved_ms)) : ojson(nullptr);
              j["labels"] = ojson::parse(a.labels_json, nullptr, false);
              items.push_back(j);
            }
            send_json(res, 200, {{"items", items}});
          }));
    // The LLM gateway (OpenAI-compatible).
    if (options.gateway) {
      Gateway* gw = options.gateway;
      s.Post("/openai/v1/chat/completions",
             guarded("/openai/v1/chat/completions", Role::kSubmitter,
                     [gw](auto& req, auto& res, auto& p) {
                       gw->chat(req.body, req.get_header_value("X-CodeFleet-Class"), p, res);
                     }));
      s.Get("/openai/v1/models",
            guarded("/openai/v1/models", Role::kViewer, [gw](auto&, auto& res, auto&) {
              res.set_content(gw->models_json(), "application/json");
            }));
    }
    // API keys (admin).
    s.Post("/v1/keys", guarded("/v1/keys", Role::kAdmin,
                               [this](auto& req, auto& res, auto&) { create_key(req, res); }));
    s.Get("/v1/keys", guarded("/v1/keys", Role::kAdmin, [this](auto&, auto& res, auto&) {
            auto keys = store.list_api_keys();
            if (!keys) return send_error(res, status_for(keys.error()), keys.error().message);
            ojson items = ojson::array();
            for (const auto& k : *keys) items.push_back(key_view(k));
            send_json(res, 200, {{"items", items}});
          }));
    s.Patch(R"(/v1/keys/([^/]+))",
            guarded("/v1/keys/{id}", Role::kAdmin,
                    [this](auto& req, auto& res, auto&) { patch_key(req, res); }));
    s.Delete(R"(/v1/keys/([^/]+))",
             guarded("/v1/keys/{id}", Role::kAdmin, [this](auto& req, auto& res, auto& p) {
               std::string id = req.matches[1];
               if (id == p.id) return send_error(res, 409, "a key cannot revoke itself");
               auto r = store.revoke_api_key(id);
               if (!r) return send_error(res, status_for(r.error()), r.error().message);
               if (!*r) return send_error(res, 404, "no active key '" + id + "'");
               auth.forget(id);
               send_json(res, 200, {{"id", id}, {"revoked", true}});
             }));
  }

  void submit(const http::Request& req, http::Response& res, const Principal& p) {
    auto body = json_body(req, res);
    if (!body) return;
    std::string field;
    auto task = parse_task_json(req.body, *model.spec, "request body", &field);
    if (!task) {
      // A well-formed body whose `run` cannot run (bad image reference, env name, secret
      // reference) is unprocessable, not malformed.
      int status = field.rfind("run", 0) == 0 && field != "run" ? 422 : 400;
      return send_error(res, status, task.error().message, field_or_body(field));
    }
    const WorkloadClass* cls = model.spec->find_class(task->class_name);
    if (options.executor && !task->run && (!cls || cls->kind == ClassKind::kCompute)) {
      return send_error(
          res, 422,
          "this daemon runs tasks on " + options.executor->kind() +
              ": give the task a run object ({\"image\": …, \"command\": […]}) or its "
              "class '" +
              task->class_name + "' a run: default in the spec",
          "run");
    }
    if (options.executor && task->resources.gpu_milli % kMilliPerGpu != 0) {
      bool shared = std::any_of(model.pools.begin(), model.pools.end(), [&](const PoolModel& pm) {
        return !pm.gpu_sharing.empty() && pm.serves(task->class_name);
      });
      if (!shared) {
        return send_error(res, 422,
                          fmt::format("{} GPU is a fraction: on Kubernetes a container gets whole "
                                      "nvidia.com/gpu devices unless its pool shares them "
                                      "(gpu_sharing: time-slicing, mps or mig in the spec), and "
                                      "no pool serving class '{}' does",
                                      static_cast<double>(task->resources.gpu_milli) / kMilliPerGpu,
                                      task->class_name),
                          "resources.gpus");
      }
    }
    if (cls && cls->kind != ClassKind::kCompute) {
      return send_error(res, 422,
                        "class '" + task->class_name +
                            "' is an LLM class: its calls go through the LLM gateway, not "
                            "/v1/tasks",
                        "class");
    }
    std::vector<Alternative> rejected;
    if (rank_pools(model, *task, &rejected).empty()) {
      std::string why;
      for (const auto& a : rejected) {
        why += fmt::format("{}{}: {}", why.empty() ? "" : "; ", a.target.name, a.rejected_because);
      }
      return send_error(res, 422, "no pool can ever run this task (" + why + ")");
    }
    bool tenant_given = body->contains("tenant");
    if (!p.tenant.empty()) {
      if (tenant_given && task->tenant != p.tenant) {
        return send_error(res, 403, "this key submits for tenant '" + p.tenant + "' only",
                          "tenant");
      }
      task->tenant = p.tenant;
    }
    if (task->id.empty()) task->id = "t-" + random_hex(12);
    if (!valid_name(task->id)) {
      return send_error(res, 400, "id must be 1-128 letters, digits, '-', '_', '.' or ':'", "id");
    }
    if (!valid_name(task->tenant)) {
      return send_error(res, 400, "tenant must be 1-128 letters, digits, '-', '_', '.' or ':'",
                        "tenant");
    }
    TimePoint now = controller.daemon_now();
    task->submitted_at = now;
    StoredTask st;
    st.id = task->id;
    st.tenant = task->tenant;
    st.class_name = task->class_name;
    st.environment = task->environment;
    st.state = TaskPhase::kPending;
    st.created_ms = unix_ms(now);
    st.updated_ms = st.created_ms;
    // The stored body carries no submission time: a replay with the same key compares equal.
    Task canonical = *task;
    canonical.submitted_at = TimePoint{};
    st.body_json = task_to_json(canonical);
    std::string key = req.get_header_value("Idempotency-Key");
    bool printable = std::all_of(key.begin(), key.end(), [](char c) {
      return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    });
    if (key.size() > 255 || !printable) {
      return send_error(res, 400, "Idempotency-Key must be at most 255 printable ASCII characters",
                        "Idempotency-Key");
    }
    bool client_id = body->contains("id");
    auto out = store.create_task({st, key});
    if (!out) {
      int status = out.error().code == ErrorCode::kInvalidInput ? 409 : status_for(out.error());
      return send_error(res, status, out.error().message, out.error().location);
    }
    if (!out->created) {
      // Same key: the same task back, unless the request differs (then it is a client bug).
      StoredTask first = out->task;
      auto first_task = ojson::parse(first.body_json, nullptr, false);
      auto this_task = ojson::parse(st.body_json, nullptr, false);
      if (!client_id && first_task.is_object()) first_task.erase("id");
      if (!client_id && this_task.is_object()) this_task.erase("id");
      if (first_task != this_task) {
        return send_error(
            res, 422,
            "Idempotency-Key '" + key + "' was used for a different task (" + first.id + ")",
            "Idempotency-Key");
      }
      res.set_header("Idempotent-Replayed", "true");
      res.set_header("Location", "/v1/tasks/" + first.id);
      return send_json(res, 200, task_view(first));
    }
    controller.notify();
    res.set_header("Location", "/v1/tasks/" + out->task.id);
    send_json(res, 201, task_view(out->task));
  }

  void list(const http::Request& req, http::Response& res, const Principal& p) {
    TaskFilter f;
    if (req.has_param("state")) {
      auto s = parse_task_phase(req.get_param_value("state"));
      if (!s) {
        return send_error(res, 400,
                          "unknown state '" + req.get_param_value("state") +
                              "' (pending, admitted, running, completed, failed, cancelled, "
                              "rejected)",
                          "state");
      }
      f.state = s;
    }
    if (req.has_param("class")) f.class_name = req.get_param_value("class");
    if (req.has_param("environment")) f.environment = req.get_param_value("environment");
    if (req.has_param("tenant")) f.tenant = req.get_param_value("tenant");
    if (!p.tenant.empty()) {
      if (f.tenant && *f.tenant != p.tenant) {
        return send_error(res, 403, "this key sees tenant '" + p.tenant + "' only", "tenant");
      }
      f.tenant = p.tenant;
    }
    auto int_param = [&](const char* name, int64_t lo, int64_t hi, int64_t& out) {
      if (!req.has_param(name)) return true;
      const std::string v = req.get_param_value(name);
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lo || n > hi) {
        send_error(res, 400, fmt::format("{} must be an integer in [{}, {}]", name, lo, hi), name);
        return false;
      }
      out = n;
      return true;
    };
    int64_t limit = 100, after = 0;
    if (!int_param("limit", 1, 1000, limit)) return;
    if (!int_param("page_token", 0, INT64_MAX, after)) return;
    f.limit = static_cast<int>(limit);
    f.after_seq = after;
    auto tasks = store.list_tasks(f);
    if (!tasks) return send_error(res, status_for(tasks.error()), tasks.error().message);
    ojson items = ojson::array();
    for (const auto& t : *tasks) items.push_back(task_view(t));
    ojson out{{"items", items}};
    out["next_page_token"] = static_cast<int64_t>(tasks->size()) == limit
                                 ? ojson(std::to_string(tasks->back().seq))
                                 : ojson(nullptr);
    send_json(res, 200, out);
  }

  // `from`: the states it may end from (empty: any that is not terminal), checked in the
  // update itself.
  // GET /v1/tasks/{id}/logs?tail=N&follow=true: the pod's log through the daemon (text/plain;
  // followed, chunked until the container ends), tenant-scoped like every task read.
  void task_logs(const http::Request& req, http::Response& res, const Principal& p) {
    auto t = load_visible(req.matches[1], p);
    if (!t) return send_error(res, status_for(t.error()), t.error().message);
    if (!options.executor) {
      return send_error(res, 404,
                        "this daemon runs no executor (workers: simulated or external): its tasks "
                        "have no logs");
    }
    int tail = -1;
    if (req.has_param("tail")) {
      const std::string v = req.get_param_value("tail");
      bool digits = !v.empty() && v.size() <= 7 && std::all_of(v.begin(), v.end(), ::isdigit);
      if (!digits)
        return send_error(res, 400, "tail must be a number of lines (0-9999999)", "tail");
      tail = std::stoi(v);
    }
    bool follow = false;
    if (req.has_param("follow")) {
      const std::string v = req.get_param_value("follow");
      if (v != "true" && v != "false" && v != "1" && v != "0")
        return send_error(res, 400, "follow must be true or false", "follow");
      follow = v == "true" || v == "1";
    }
    std::string id = t->id;
    if (!follow) {
      std::string text;
      auto r = options.executor->logs(id, tail, false, [&](std::string_view piece) {
        text.append(piece);
        return text.size() <= (64u << 20);
      });
      if (!r) return send_error(res, status_for(r.error()), r.error().message);
      return res.set_content(std::move(text), "text/plain; charset=utf-8");
    }
    // Followed: each holds a worker while it lasts (at most the follow window, 10 minutes),
    // so only a few at once; the pod must exist before the answer starts.
    constexpr int kMaxFollows = 16;
    if (follows >= kMaxFollows) {
      res.set_header("Retry-After", "5");
      return send_error(res, 503,
                        fmt::format("{} logs are being followed already; try again, or read "
                                    "without follow",
                                    kMaxFollows));
    }
    Executor* ex = options.executor;
    auto probe = ex->logs(id, 0, false, [](std::string_view) { return true; });
    if (!probe) return send_error(res, status_for(probe.error()), probe.error().message);
    ++follows;  // counted from here: the provider runs on a worker later
    res.set_chunked_content_provider(
        "text/plain; charset=utf-8",
        [this, ex, id, tail](size_t, http::DataSink& sink) {
          // A broken upstream ends the stream early: the client sees the log so far. So
          // does the daemon stopping, at the next piece.
          (void)ex->logs(id, tail, true, [&](std::string_view piece) {
            return !stopping && sink.write(piece.data(), piece.size());
          });
          sink.done();
          return true;
        },
        [this](bool) { --follows; });
  }

  void end_task(const std::string& id, TaskPhase to, const std::string& event,
                const std::string& reason, http::Response& res, const Principal& p,
                const std::string& detail = "{}", std::vector<TaskPhase> from = {}) {
    auto t = load_visible(id, p);
    if (!t) return send_error(res, status_for(t.error()), t.error().message);
    if (is_terminal(t->state)) {
      return send_error(res, 409,
                        fmt::format("task '{}' is already {}", id, task_phase_name(t->state)));
    }
    auto r = store.update_tasks(
        {{id, to, "", "", reason, unix_ms(controller.daemon_now()), event, detail, from}});
    if (!r) return send_error(res, status_for(r.error()), r.error().message);
    if (!r->front()) {
      return send_error(res, 409, fmt::format("task '{}' changed state meanwhile", id));
    }
    controller.task_ended(id);
    auto after = load_visible(id, p);
    if (!after) return send_error(res, status_for(after.error()), after.error().message);
    send_json(res, 200, task_view(*after));
  }

  void worker_event(const http::Request& req, http::Response& res, const Principal& p) {
    auto body = json_body(req, res);
    if (!body) return;
    std::string unknown;
    if (auto why = unknown_field_message(*body, {"type", "message"}, &unknown); !why.empty()) {
      return send_error(res, 400, why, unknown);
    }
    if (!body->contains("type") || !(*body)["type"].is_string()) {
      return send_error(res, 400, "type is required: started, finished or failed", "type");
    }
    std::string type = (*body)["type"];
    std::string message;
    if (body->contains("message")) {
      if (!(*body)["message"].is_string()) {
        return send_error(res, 400, "message must be a string", "message");
      }
      message = (*body)["message"];
      if (message.size() > kMaxEventMessageBytes) {
        return send_error(res, 400,
                          fmt::format("message is {} bytes long; at most {} are allowed",
                                      message.size(), kMaxEventMessageBytes),
                          "message");
      }
    }
    std::string id = req.matches[1];
    // The message is stored once: `finished` and `failed` keep it as the task's reason, so
    // only `started` (which sets no reason) carries it in the event's detail.
    ojson detail = ojson::object();
    if (!message.empty() && type == "started") detail["message"] = message;
    detail["by"] = p.id;
    if (type == "started") {
      auto t = load_visible(id, p);
      if (!t) return send_error(res, status_for(t.error()), t.error().message);
      if (t->state != TaskPhase::kAdmitted) {
        return send_error(res, 409,
                          fmt::format("task '{}' is {}: only an admitted task can start", id,
                                      task_phase_name(t->state)));
      }
      auto r = store.update_tasks({{id,
                                    TaskPhase::kRunning,
                                    "",
                                    "",
                                    "",
                                    unix_ms(controller.daemon_now()),
                                    "started",
                                    safe_dump(detail),
                                    {TaskPhase::kAdmitted}}});
      if (!r) return send_error(res, status_for(r.error()), r.error().message);
      if (!r->front()) {
        return send_error(res, 409, fmt::format("task '{}' changed state meanwhile", id));
      }
      auto after = load_visible(id, p);
      if (!after) return send_error(res, status_for(after.error()), after.error().message);
      return send_json(res, 200, task_view(*after));
    }
    if (type != "finished" && type != "failed") {
      return send_error(res, 400, "type must be started, finished or failed", "type");
    }
    auto t = load_visible(id, p);
    if (!t) return send_error(res, status_for(t.error()), t.error().message);
    if (t->state != TaskPhase::kAdmitted && t->state != TaskPhase::kRunning) {
      return send_error(res, 409,
                        fmt::format("task '{}' is {}: only an admitted or running task can end", id,
                                    task_phase_name(t->state)));
    }
    end_task(id, type == "finished" ? TaskPhase::kCompleted : TaskPhase::kFailed, type, message,
             res, p, safe_dump(detail), {TaskPhase::kAdmitted, TaskPhase::kRunning});
  }

  // A window of hours from the `from` and `to` parameters (RFC 3339; by default the first
  // day of this month, UTC, to now), or a 400 already sent. Hour buckets: every hour that
  // starts before `to` counts, from the hour that contains `from`.
  struct Window {
    TimePoint from, to;
    int64_t from_ms() const { return unix_ms(floor<hours>(from)); }
    int64_t to_ms() const { return unix_ms(to) + 1; }
  };
  std::optional<Window> window(const http::Request& req, http::Response& res) {
    TimePoint now = controller.daemon_now();
    year_month_day ymd{floor<days>(now)};
    Window w{sys_days{ymd.year() / ymd.month() / 1}, now};
    for (auto [name, slot] : {std::pair{"from", &w.from}, std::pair{"to", &w.to}}) {
      if (!req.has_param(name)) continue;
      auto t = parse_rfc3339(req.get_param_value(name));
      if (!t) {
        send_error(res, 400, std::string(name) + ": " + t.error().message, name);
        return std::nullopt;
      }
      *slot = *t;
    }
    if (w.to < w.from) {
      send_error(res, 400, "to is before from", "to");
      return std::nullopt;
    }
    return w;
  }

  void costs(const http::Request& req, http::Response& res) {
    auto w = window(req, res);
    if (!w) return;
    TimePoint from = w->from, to = w->to;
    auto c = store.costs_by_pool(w->from_ms(), w->to_ms());
    if (!c) return send_error(res, status_for(c.error()), c.error().message);
    ojson by_pool = ojson::object();
    Money total;
    for (const auto& [pool, micros] : *c) {
      by_pool[pool] = money(Money::from_micros(micros));
      total = total + Money::from_micros(micros);
    }
    send_json(res, 200,
              {{"from", format_rfc3339(from)},
               {"to", format_rfc3339(to)},
               {"total_usd", money(total)},
               {"by_pool", by_pool},
               {"resolution", "hour"},
               {"source",
                "accrued by the reconcile loop from each node's state and the catalog's price "
                "(compute while running, OS disk always)"}});
  }

  void llm_usage(const http::Request& req, http::Response& res, const Principal& p) {
    auto w = window(req, res);
    if (!w) return;
    LlmUsageFilter f;
    f.from_ms = w->from_ms();
    f.to_ms = w->to_ms();
    if (req.has_param("tenant")) f.tenant = req.get_param_value("tenant");
    if (req.has_param("key")) f.key_id = req.get_param_value("key");
    if (!p.tenant.empty()) {
      if (!f.tenant.empty() && f.tenant != p.tenant) {
        return send_error(res, 403, "this key sees tenant '" + p.tenant + "' only", "tenant");
      }
      f.tenant = p.tenant;
    }
    auto rows = store.llm_usage(f);
    if (!rows) return send_error(res, status_for(rows.error()), rows.error().message);
    ojson usage = ojson::array();
    for (const auto& u : *rows) {
      usage.push_back({{"tenant", u.tenant.empty() ? ojson(nullptr) : ojson(u.tenant)},
                       {"key", u.key_id},
                       {"deployment", u.deployment},
                       {"requests", u.requests},
                       {"prompt_tokens", u.prompt_tokens},
                       {"completion_tokens", u.completion_tokens},
                       {"cached_tokens", u.cached_tokens},
                       {"cost_usd", money(Money::from_micros(u.cost_micros))}});
    }
    send_json(res, 200,
              {{"from", format_rfc3339(w->from)}, {"to", format_rfc3339(w->to)}, {"usage", usage}});
  }

  void patch_key(const http::Request& req, http::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    for (const auto& [name, _] : body->items()) {
      if (name != "llm") {
        return send_error(res, 400, "unknown field '" + name + "': only llm can change", name);
      }
    }
    if (!body->contains("llm")) {
      return send_error(res, 400, "llm is required: the key's LLM limits to change", "llm");
    }
    auto change = parse_llm_limits((*body)["llm"]);
    if (!change) {
      return send_error(res, 400, change.error().message, change.error().location);
    }
    std::string id = req.matches[1];
    auto r = store.update_api_key_llm_limits(id, *change);
    if (!r) return send_error(res, status_for(r.error()), r.error().message);
    if (!*r) return send_error(res, 404, "no key '" + id + "'");
    auth.forget(id);  // this replica applies the new limits at once
    send_json(res, 200, key_view(**r));
  }

  void create_key(const http::Request& req, http::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    for (const auto& [field, _] : body->items()) {
      if (field != "name" && field != "role" && field != "tenant" && field != "llm") {
        return send_error(res, 400, "unknown field '" + field + "' (name, role, tenant, llm)",
                          field);
      }
    }
    auto str = [&](const char* k) -> std::optional<std::string> {
      if (!body->contains(k) || (*body)[k].is_null()) return std::string();
      if (!(*body)[k].is_string()) return std::nullopt;
      return (*body)[k].get<std::string>();
    };
    auto name = str("name"), role_s = str("role"), tenant = str("tenant");
    if (!name || !role_s || !tenant) {
      return send_error(res, 400, "name, role and tenant must be strings");
    }
    if (utf8_chars(*name) > kMaxKeyNameChars) {
      return send_error(res, 400,
                        fmt::format("name is {} characters long; at most {} are allowed",
                                    utf8_chars(*name), kMaxKeyNameChars),
                        "name");
    }
    auto role = parse_role(*role_s);
    if (!role) {
      return send_error(res, 400, "role must be viewer, submitter, operator or admin", "role");
    }
    if (*role == Role::kSubmitter && tenant->empty()) {
      return send_error(res, 400, "a submitter key needs a tenant", "tenant");
    }
    // Operators and admins act on every tenant (they manage keys and the fleet): a tenant
    // on such a key would promise an isolation the key routes cannot give.
    if ((*role == Role::kOperator || *role == Role::kAdmin) && !tenant->empty()) {
      return send_error(res, 400, "operator and admin keys are not scoped to a tenant", "tenant");
    }
    if (!tenant->empty() && !valid_name(*tenant)) {
      return send_error(res, 400, "tenant must be 1-128 letters, digits, '-', '_', '.' or ':'",
                        "tenant");
    }
    LlmLimits llm;
    if (body->contains("llm") && !(*body)["llm"].is_null()) {
      auto change = parse_llm_limits((*body)["llm"]);
      if (!change) {
        return send_error(res, 400, change.error().message, change.error().location);
      }
      llm = {change->budget_micros_month.value_or(0), change->rpm.value_or(0),
             change->tpm.value_or(0)};
    }
    ApiKey k;
    std::string secret = new_api_key_secret();
    k.id = new_key_id();
    k.name = *name;
    k.hash_hex = sha256_hex(secret);
    k.role = *role;
    k.tenant = *tenant;
    k.created_ms = unix_ms(controller.daemon_now());
    k.llm = llm;
    if (auto r = store.put_api_key(k); !r) {
      return send_error(res, status_for(r.error()), r.error().message);
    }
    send_json(res, 201,
              {{"id", k.id},
               {"name", k.name},
               {"role", role_name(k.role)},
               {"tenant", k.tenant.empty() ? ojson(nullptr) : ojson(k.tenant)},
               {"llm", llm_view(k.llm)},
               {"secret", secret},
               {"note", "the secret is shown once; only its SHA-256 hash is stored"}});
  }
};

ApiServer::ApiServer(const FleetModel& model, Store& store, Controller& controller,
                     Authenticator& auth, Metrics& metrics, ApiOptions options)
    : impl_(std::make_unique<Impl>(model, store, controller, auth, metrics, std::move(options))) {}

ApiServer::~ApiServer() { stop(); }

namespace {

// The front's options: its limits, with the API's address, TLS, threads and body limit.
http::Options front_options(const ApiOptions& o) {
  http::Options f = o.limits;
  f.host = o.host;
  f.port = o.port;
  f.tls_cert = o.tls_cert;
  f.tls_key = o.tls_key;
  f.worker_threads = std::max(2, o.threads);
  f.max_body_bytes = o.max_body_bytes;
  return f;
}

// Before any route: the request's context, its id, and paths that are not UTF-8.
bool pre_route(const http::Request& req, http::Response& res) {
  tl_request.started = steady_clock::now();
  tl_request.route = "unmatched";
  tl_request.principal.clear();
  tl_request.openai = req.path.rfind("/openai/", 0) == 0;
  std::string id = req.get_header_value("X-Request-Id");
  tl_request.id = valid_request_id(id) ? id : random_hex(8);
  res.set_header("X-Request-Id", tl_request.id);
  bool utf8 = is_valid_utf8(req.path);
  for (const auto& [k, v] : req.params) utf8 = utf8 && is_valid_utf8(k) && is_valid_utf8(v);
  if (!utf8) {
    send_error(res, 400, "the path or query string is not UTF-8");
    return true;
  }
  return false;
}

// An error status with no body yet: a route that was not found, or an answer of the
// front itself (framing, limits, deadlines), in the API's error shape.
void on_error(const http::Request& req, http::Response& res) {
  if (!res.body.empty()) return;
  if (tl_request.id.empty()) tl_request.id = random_hex(8);
  if (!res.error_message.empty()) {
    send_error(res, res.status, res.error_message);
  } else if (res.status == 404) {
    send_error(res, 404, "no route " + req.method + " " + req.path);
  } else {
    send_error(res, res.status, fmt::format("HTTP {}", res.status));
  }
}

void on_exception(const http::Request&, http::Response& res, std::exception_ptr ep) {
  std::string what = "unexpected error";
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  fmt::print(stderr, "{}\n",
             safe_dump(ojson{{"level", "error"},
                             {"msg", "handler failed"},
                             {"request_id", tl_request.id},
                             {"error", what}}));
  send_error(res, 500, "internal error (request " + tl_request.id + ")");
}

// One JSON line per request; never the Authorization header, the body or the query string.
http::Logger request_logger(bool log, Metrics* metrics) {
  return [log, metrics](const http::Request& req, const http::Response& res) {
    // The front answers malformed requests itself, off the worker that would have had
    // the context: those get none of their own, never another request's.
    if (tl_request.started == steady_clock::time_point{}) {
      tl_request.route = "unmatched";
      tl_request.started = steady_clock::now();
    }
    double secs = duration<double>(steady_clock::now() - tl_request.started).count();
    try {
      metrics->observe_request(req.method.empty() ? "-" : req.method, tl_request.route, res.status,
                               secs);
      if (log) {
        std::string line =
            safe_dump(ojson{{"ts", format_rfc3339(time_point_cast<Duration>(system_clock::now()))},
                            {"level", "info"},
                            {"msg", "request"},
                            {"request_id", tl_request.id},
                            {"method", req.method},
                            {"path", req.path},
                            {"route", tl_request.route},
                            {"status", res.status},
                            {"duration_ms", secs * 1000},
                            {"principal", tl_request.principal},
                            {"remote", req.remote_addr}});
        line += '\n';
        fwrite(line.data(), 1, line.size(), stderr);
      }
    } catch (...) {
      // A log line is never worth the process.
    }
    tl_request = RequestContext{};
  };
}

}  // namespace

Result<int> ApiServer::bind() {
  auto& o = impl_->options;
  impl_->server = std::make_unique<http::Server>(front_options(o));
  auto& s = *impl_->server;
  s.set_pre_routing_handler(pre_route);
  s.set_error_handler(on_error);
  s.set_exception_handler(on_exception);
  s.set_logger(request_logger(o.log_requests, &impl_->metrics));
  impl_->routes();
  auto port = s.bind();
  if (!port) impl_->server.reset();
  return port;
}

// A stop that lands before run() makes run() return at once.
void ApiServer::run() {
  if (impl_->stopping || !impl_->server) return;
  impl_->server->run();
}

void ApiServer::stop() {
  impl_->stopping = true;
  if (impl_->server) impl_->server->stop();
}

http::Stats ApiServer::front_stats() const {
  return impl_->server ? impl_->server->stats() : http::Stats{};
}

}  // namespace codefleet
