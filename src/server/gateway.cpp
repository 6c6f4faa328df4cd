// The LLM gateway (see gateway.h).
#include "server/gateway.h"

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cloud/http.h"
#include "llm/openai.h"
#include "routing/router.h"
#include "server/auth.h"
#include "server/controller.h"
#include "server/metrics.h"
#include "spec/spec.h"
#include "store/store.h"
#include "workload/task.h"

namespace codefleet {

namespace {

using json = nlohmann::json;
using namespace std::chrono;

constexpr int64_t kDefaultCompletionTokens = 512;

void fail(httplib::Response& res, int status, const std::string& type, const std::string& message,
          const std::string& param = "", const std::string& code = "") {
  res.status = status;
  res.set_content(openai_error(type, message, param, code), "application/json");
}

bool retryable_status(int status) { return status == 429 || status == 408 || status >= 500; }

// One place a request can go.
struct Upstream {
  std::string name;  // deployment or endpoint name (also the cost's pool: "llm:<name>")
  std::string url;
  std::string model;  // the model name the upstream expects in the body
  std::vector<std::pair<std::string, std::string>> auth;
  const DeploymentModel* deployment = nullptr;  // Foundry: prices and limits
};

// A streamed attempt: the upstream transfer runs on its own thread and hands the bytes
// over as they arrive.
struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  std::string error_body;
  bool started = false, finished = false, client_gone = false;
  int status = 0;
  std::map<std::string, std::string> headers;
  std::optional<Error> failure;
  SseUsage usage;
  std::thread worker;
};

}  // namespace

struct Gateway::Impl {
  Impl(const FleetModel& m, Store& s, Controller& c, Metrics& me, GatewayOptions o)
      : model(m), store(s), controller(c), metrics(me), options(std::move(o)) {}
  const FleetModel& model;
  Store& store;
  Controller& controller;
  Metrics& metrics;
  GatewayOptions options;
  HttpClient http;
  mutable std::mutex mu;
  std::map<std::string, RateLimiter> limiters;  // per Foundry deployment

  // The router's view of the live limits: a deployment whose buckets are empty waits.
  class View final : public FleetView {
   public:
    View(const FleetModel& m, Impl& g) : empty_(m), g_(g) {}
    PoolWait pool_wait(const PoolModel& p, const Task& t, TimePoint now) const override {
      return empty_.pool_wait(p, t, now);
    }
    Duration rate_wait(const DeploymentModel& d, int64_t tokens, TimePoint) const override {
      std::lock_guard lock(g_.mu);
      TimePoint w = wall();
      return g_.limiter(d, w).wait(tokens, w);
    }

   private:
    EmptyFleetView empty_;
    Impl& g_;
  };

  // Rate limits are Azure's, in real time, whatever speed the daemon's clock runs at.
  static TimePoint wall() { return time_point_cast<Duration>(system_clock::now()); }

  RateLimiter& limiter(const DeploymentModel& d, TimePoint now) {
    auto it = limiters.find(d.name);
    if (it == limiters.end()) it = limiters.emplace(d.name, RateLimiter(d.tpm, d.rpm, now)).first;
    return it->second;
  }

  std::optional<Upstream> upstream_for(const Target& t) {
    Upstream u;
    u.name = t.name;
    if (t.kind == Target::Kind::kFoundry) {
      for (const auto& d : model.deployments) {
        if (d.name != t.name) continue;
        u.deployment = &d;
        u.model = d.model;
        std::string base = d.endpoint;
        while (!base.empty() && base.back() == '/') base.pop_back();
        u.url = fmt::format("{}/openai/deployments/{}/chat/completions?api-version={}", base,
                            percent_encode(d.deployment), options.api_version);
        const FoundryDeployment* spec_d = nullptr;
        for (const auto& f : model.spec->foundry) {
          if (f.name == d.name) spec_d = &f;
        }
        std::string auth = spec_d ? spec_d->auth : "managed-identity";
        if (auth == "api-key") {
          auto key = options.api_keys.find(d.name);
          if (key == options.api_keys.end()) return std::nullopt;
          u.auth = {{"api-key", key->second}};
        } else {
          if (!options.credentials) return std::nullopt;
          auto token = options.credentials->token("https://cognitiveservices.azure.com/.default");
          if (!token) return std::nullopt;
          u.auth = {{"Authorization", "Bearer " + token->value}};
        }
        return u;
      }
      return std::nullopt;
    }
    if (t.kind == Target::Kind::kSelfHosted) {
      for (const auto& s : model.self_hosted) {
        if (s.name != t.name) continue;
        std::string base = s.endpoint;
        while (!base.empty() && base.back() == '/') base.pop_back();
        u.url = base + "/chat/completions";
        u.model = s.model;
        return u;
      }
    }
    return std::nullopt;
  }

  void account(const Upstream& u, const TokenUsage& usage, TimePoint now,
               steady_clock::time_point started) {
    metrics.observe_llm(u.name, 200, duration<double>(steady_clock::now() - started).count(),
                        usage.prompt, usage.completion);
    Money cost;
    if (u.deployment) {
      cost = token_cost(usage, u.deployment->usd_per_1m_input, u.deployment->usd_per_1m_output);
    }
    // Self-hosted calls run on a pool that is billed by the hour already: no extra cost.
    if (cost.micros() > 0) {
      (void)store.add_costs({{"llm:" + u.name, unix_ms(floor<hours>(now)), cost.micros()}});
      controller.record_cost("llm:" + u.name, cost);
    }
  }
};

Gateway::Gateway(const FleetModel& model, Store& store, Controller& controller, Metrics& metrics,
                 GatewayOptions options)
    : impl_(std::make_unique<Impl>(model, store, controller, metrics, std::move(options))) {}

Gateway::~Gateway() = default;

std::string Gateway::models_json() const {
  json data = json::array();
  for (const auto& c : impl_->model.spec->classes) {
    if (c.kind != ClassKind::kLlm) continue;
    data.push_back(
        {{"id", c.name}, {"object", "model"}, {"created", 0}, {"owned_by", "codefleet"}});
  }
  return json{{"object", "list"}, {"data", data}}.dump();
}

void Gateway::chat(const std::string& body, const std::string& class_header, const Principal& who,
                   httplib::Response& res) {
  (void)who;
  auto& g = *impl_;
  auto req = parse_chat_request(body);
  if (!req) {
    return fail(res, 400, "invalid_request_error", req.error().message, req.error().location);
  }
  std::string cls_name = class_header.empty() ? req->model : class_header;
  const WorkloadClass* cls = g.model.spec->find_class(cls_name);
  if (!cls || cls->kind != ClassKind::kLlm) {
    return fail(res, 404, "invalid_request_error",
                "The model '" + cls_name +
                    "' does not exist: use an LLM workload class of the spec "
                    "(GET /openai/v1/models)",
                "model", "model_not_found");
  }
  TimePoint now = g.controller.daemon_now();
  // A month's budget that is spent stops paid calls.
  for (const auto& b : g.controller.snapshot().budgets) {
    if (b.scope == "subscription" && b.amount.micros() > 0 &&
        b.spent_month_to_date.micros() >= b.amount.micros()) {
      return fail(res, 429, "insufficient_quota",
                  fmt::format("budget '{}' is spent (${} of ${} this month)", b.name,
                              b.spent_month_to_date.to_string(2), b.amount.to_string(2)),
                  "", "budget_exhausted");
    }
  }
  Task task = task_from_class(*cls);
  int64_t completion = req->max_tokens.value_or(kDefaultCompletionTokens);
  task.tokens = TokenCounts{req->prompt_chars / 4 + 1, completion};
  task.submitted_at = now;
  Impl::View view(g.model, g);
  Decision d = route(g.model, task, view, now);
  std::vector<Target> order;
  if (d.outcome != Outcome::kInfeasible) order.push_back(d.target);
  for (const auto& a : d.alternatives) {
    if (a.feasible && a.target.kind != Target::Kind::kPool) order.push_back(a.target);
  }
  if (order.empty()) {
    return fail(res, 503, "server_error", "no upstream can serve '" + cls_name + "': " + d.reason);
  }
  int64_t estimate = task.tokens->prompt + task.tokens->completion;
  auto failed_call = [&](const std::string& upstream, int status,
                         steady_clock::time_point started) {
    g.metrics.observe_llm(upstream, status, duration<double>(steady_clock::now() - started).count(),
                          0, 0);
  };
  std::string last_error = "no upstream answered";
  for (const auto& target : order) {
    auto up = g.upstream_for(target);
    if (!up) {
      last_error = target.name + ": no credentials for it";
      continue;
    }
    if (up->deployment) {
      std::lock_guard lock(g.mu);
      TimePoint w = Impl::wall();
      auto& l = g.limiter(*up->deployment, w);
      if (l.wait(estimate, w) > Duration{0}) {
        last_error = target.name + ": its TPM/RPM budget is spent for now";
        continue;
      }
      l.take(estimate, w);
    }
    auto j = json::parse(body, nullptr, false);
    j["model"] = up->model;
    if (req->stream) j["stream_options"] = {{"include_usage", true}};
    HttpRequest hr{"POST", up->url, up->auth, j.dump(), g.options.upstream_timeout};
    hr.headers.emplace_back("Content-Type", "application/json");
    auto throttle = [&](const std::map<std::string, std::string>& headers) {
      if (!up->deployment) return;
      auto it = headers.find("retry-after");
      int64_t s = it == headers.end() ? 1 : std::atoll(it->second.c_str());
      std::lock_guard lock(g.mu);
      TimePoint w = Impl::wall();
      g.limiter(*up->deployment, w).throttled_until(w + seconds(std::max<int64_t>(1, s)));
    };
    auto started = steady_clock::now();
    if (!req->stream) {
      auto r = g.http.send(hr);
      if (!r) {
        failed_call(up->name, 0, started);
        last_error = target.name + ": " + r.error().error.message;
        continue;
      }
      if (retryable_status(r->status)) {
        failed_call(up->name, r->status, started);
        if (r->status == 429) throttle(r->headers);
        last_error = fmt::format("{}: answered {}", target.name, r->status);
        continue;
      }
      if (r->status == 200) {
        auto usage = usage_of_response(r->body);
        if (!usage) {
          failed_call(up->name, 200, started);
          last_error = target.name + ": answered 200 without a chat completion";
          continue;  // garbage: try the next one
        }
        g.account(*up, *usage, now, started);
      }
      res.status = r->status;
      res.set_header("X-CodeFleet-Upstream", up->name);
      res.set_content(r->body, "application/json");
      return;
    }
    // Streaming: the transfer runs on its own thread; the answer starts only once the
    // upstream said 200, so every earlier failure can still go elsewhere.
    auto st = std::make_shared<StreamState>();
    st->worker = std::thread([st, hr, &http = g.http] {
      auto r = http.stream(
          hr,
          [st](int status, const std::map<std::string, std::string>& headers) {
            std::lock_guard lock(st->mu);
            st->started = true;
            st->status = status;
            st->headers = headers;
            st->cv.notify_all();
            return true;
          },
          [st](std::string_view data) {
            std::lock_guard lock(st->mu);
            if (st->client_gone) return false;
            if (st->status == 200) {
              st->usage.feed(data);
              st->chunks.emplace_back(data);
            } else if (st->error_body.size() < 65536) {
              st->error_body.append(data);
            }
            st->cv.notify_all();
            return true;
          });
      std::lock_guard lock(st->mu);
      if (!r) st->failure = r.error().error;
      st->finished = true;
      st->cv.notify_all();
    });
    std::unique_lock lock(st->mu);
    st->cv.wait(lock, [&] { return st->started || st->finished; });
    if (!st->started || st->status != 200) {
      st->cv.wait(lock, [&] { return st->finished; });
      int status = st->status;
      std::string error_body = st->error_body;
      auto headers = st->headers;
      auto failure = st->failure;
      lock.unlock();
      st->worker.join();
      failed_call(up->name, status, started);
      if (!status || retryable_status(status)) {
        if (status == 429) throttle(headers);
        last_error = failure ? target.name + ": " + failure->message
                             : fmt::format("{}: answered {}", target.name, status);
        continue;
      }
      res.status = status;  // the upstream's own refusal (400, 401…): passed on
      res.set_content(error_body, "application/json");
      return;
    }
    lock.unlock();
    res.status = 200;
    res.set_header("X-CodeFleet-Upstream", up->name);
    res.set_header("Cache-Control", "no-cache");
    Upstream chosen = *up;
    res.set_chunked_content_provider(
        "text/event-stream",
        [st, chosen, now, started, &g](size_t, httplib::DataSink& sink) {
          std::unique_lock lock(st->mu);
          st->cv.wait(lock, [&] { return !st->chunks.empty() || st->finished; });
          while (!st->chunks.empty()) {
            std::string chunk = std::move(st->chunks.front());
            st->chunks.pop_front();
            lock.unlock();
            bool ok = sink.write(chunk.data(), chunk.size());
            lock.lock();
            if (!ok) {
              st->client_gone = true;
              return false;
            }
          }
          if (st->finished) {
            TokenUsage usage = st->usage.result();
            lock.unlock();
            g.account(chosen, usage, now, started);
            sink.done();
          }
          return true;
        },
        [st](bool) {
          {
            std::lock_guard lock(st->mu);
            st->client_gone = true;
          }
          if (st->worker.joinable()) st->worker.join();
        });
    return;
  }
  fail(res, 502, "server_error", "every upstream failed; the last: " + last_error);
}

}  // namespace codefleet
