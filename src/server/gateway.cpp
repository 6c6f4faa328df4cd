// The LLM gateway (see gateway.h).
#include "server/gateway.h"

#include "server/http_server.h"

#include <algorithm>
#include <condition_variable>
#include <thread>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cloud/http.h"
#include "core/text.h"
#include "llm/openai.h"
#include "routing/router.h"
#include "server/auth.h"
#include "server/controller.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "spec/spec.h"
#include "store/store.h"
#include "workload/task.h"

namespace codefleet {

namespace {

using json = nlohmann::json;
using namespace std::chrono;

constexpr int64_t kDefaultCompletionTokens = 512;

void fail(http::Response& res, int status, const std::string& type, const std::string& message,
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

constexpr size_t kMaxAnswerBytes = 32u << 20;  // a non-streamed answer held in memory
constexpr size_t kMaxErrorBytes = 64u << 10;

// A stream being passed on: the upstream's call, read by the client's connection thread.
struct Relay {
  std::unique_ptr<HttpCall> call;
  SseUsage usage;
  int64_t bytes = 0;  // received from the upstream: a bound on the completion's tokens
};

// Who called, as the accounting after the answer needs it.
struct Caller {
  std::string id;               // API key id, or an Entra principal's oid/sub
  std::string tenant;           // "" = a principal without one
  int64_t estimate = 0;         // tokens taken from the key's TPM bucket before the call
  int64_t prompt_estimate = 0;  // the prompt's tokens as estimated from its characters
};

// A key's spend this month is read from the store at most this often; between reads, what
// this replica accounts is added to it.
constexpr auto kSpendRefresh = seconds(60);

// Start of the UTC calendar month holding `t`.
TimePoint month_start(TimePoint t) {
  year_month_day ymd{floor<days>(t)};
  return sys_days{ymd.year() / ymd.month() / 1};
}

// "2 requests per minute", "100000 tokens per minute", or both.
std::string per_minute_text(const LlmLimits& l) {
  if (l.rpm > 0 && l.tpm > 0) {
    return fmt::format("{} requests and {} tokens per minute", l.rpm, l.tpm);
  }
  return l.rpm > 0 ? fmt::format("{} requests per minute", l.rpm)
                   : fmt::format("{} tokens per minute", l.tpm);
}

}  // namespace

struct Gateway::Impl {
  Impl(const FleetModel& m, Store& s, Controller& c, Metrics& me, GatewayOptions o)
      : model(m), store(s), controller(c), metrics(me), options(std::move(o)) {
    writer = std::thread([this] { write_usage(); });
  }
  ~Impl() {
    {
      std::lock_guard lock(usage_mu);
      usage_stop = true;
    }
    usage_cv.notify_all();
    writer.join();
  }

  // Usage rows are written by one thread, whatever is queued in one transaction, so a call's
  // accounting is neither its caller's wait nor the next request's on that connection.
  // Rows of one (hour, tenant, key, deployment) are merged; a failed write keeps them for
  // the next try (every second); at shutdown what is queued is written last.
  using UsageKey = std::tuple<int64_t, std::string, std::string, std::string>;
  std::mutex usage_mu;
  std::condition_variable usage_cv;
  std::map<UsageKey, LlmUsage> usage_queue;  // guarded by usage_mu
  bool usage_stop = false;                   // guarded by usage_mu
  std::thread writer;

  void queue_usage(const LlmUsage& u) {
    {
      std::lock_guard lock(usage_mu);
      auto [it, fresh] =
          usage_queue.try_emplace(UsageKey{u.hour_start_ms, u.tenant, u.key_id, u.deployment}, u);
      if (!fresh) {
        LlmUsage& q = it->second;
        q.requests += u.requests;
        q.prompt_tokens += u.prompt_tokens;
        q.completion_tokens += u.completion_tokens;
        q.cached_tokens += u.cached_tokens;
        q.cost_micros += u.cost_micros;
      }
    }
    usage_cv.notify_one();
  }

  void write_usage() {
    std::unique_lock lock(usage_mu);
    while (true) {
      usage_cv.wait(lock, [&] { return usage_stop || !usage_queue.empty(); });
      if (usage_queue.empty()) return;  // stopping, nothing left
      std::map<UsageKey, LlmUsage> batch;
      batch.swap(usage_queue);
      bool stopping = usage_stop;
      lock.unlock();
      std::vector<LlmUsage> rows;
      rows.reserve(batch.size());
      for (auto& [k, u] : batch) rows.push_back(u);
      auto r = store.add_llm_usage(rows);
      if (r) {
        std::lock_guard keys(keys_mu);
        for (const auto& u : rows) {
          auto it = key_spend.find(u.key_id);
          if (it == key_spend.end() ||
              it->second.month_ms != unix_ms(month_start(from_unix_ms(u.hour_start_ms)))) {
            continue;
          }
          it->second.unwritten = std::max<int64_t>(0, it->second.unwritten - u.cost_micros);
        }
      }
      if (!r) {
        fmt::print(
            stderr,
            R"({{"level":"error","msg":"LLM usage not written yet; kept for the next try","rows":{},"error":{}}})"
            "\n",
            rows.size(), json_quote(r.error().message));
      }
      lock.lock();
      if (!r && r.error().code == ErrorCode::kInvalidInput) continue;  // logged; never valid
      if (!r) {
        for (auto& u : rows) {
          lock.unlock();
          queue_usage(u);
          lock.lock();
        }
        if (stopping) return;  // the store is failing at shutdown: logged above
        usage_cv.wait_for(lock, seconds(1), [&] { return usage_stop; });
      }
    }
  }
  const FleetModel& model;
  Store& store;
  Controller& controller;
  Metrics& metrics;
  GatewayOptions options;
  HttpCallPool http;  // upstream connections, kept alive between calls
  mutable std::mutex mu;
  std::map<std::string, RateLimiter> limiters;  // per Foundry deployment

  // Health: an upstream that just failed (no answer, a 5xx, garbage) is tried after the
  // others for a while — 5 s, doubling with each failure in a row up to 60 s — and is
  // healthy again after its next answer. Still tried when every other one fails.
  struct Health {
    int failures = 0;
    steady_clock::time_point until{};
  };
  std::map<std::string, Health> health;  // guarded by mu
  void failed(const std::string& name) {
    std::lock_guard lock(mu);
    Health& h = health[name];
    h.failures = std::min(h.failures + 1, 5);
    h.until = steady_clock::now() + seconds(std::min<int64_t>(60, int64_t{5} << (h.failures - 1)));
  }
  void answered(const std::string& name) {
    std::lock_guard lock(mu);
    health.erase(name);
  }
  bool demoted(const std::string& name) {
    std::lock_guard lock(mu);
    auto it = health.find(name);
    return it != health.end() && steady_clock::now() < it->second.until;
  }

  // Per caller (API key id): its own rate limits and its spend this month.
  struct KeyLimiter {
    int64_t tpm = 0, rpm = 0;  // the limits the buckets were made for
    RateLimiter limiter;
  };
  struct KeySpend {
    int64_t month_ms = 0;  // the UTC month (daemon time) the sum is for
    int64_t micros = 0;
    steady_clock::time_point loaded{};  // last read from the store; {} = never
    bool loading = false;
    int64_t unwritten = 0;  // accounted here, not yet written to the store
  };
  std::mutex keys_mu;
  std::map<std::string, KeyLimiter> key_limiters;
  std::map<std::string, KeySpend> key_spend;

  // The router's view of the live limits: a deployment whose buckets are empty waits.
  // A self-hosted endpoint's load: the tokens of the calls it is serving now, through this
  // gateway, on the nodes its pool runs.
  class View final : public FleetView {
   public:
    View(const FleetModel& m, Impl& g, const Snapshot& snap) : empty_(m), g_(g), snap_(snap) {}
    PoolWait pool_wait(const PoolModel& p, const Task& t, TimePoint now) const override {
      return empty_.pool_wait(p, t, now);
    }
    Duration rate_wait(const DeploymentModel& d, int64_t tokens, TimePoint) const override {
      std::lock_guard lock(g_.mu);
      TimePoint w = wall();
      return g_.limiter(d, w).wait(tokens, w);
    }
    EndpointLoad endpoint_load(const SelfHostedModel& s, TimePoint) const override {
      EndpointLoad load;
      if (s.pool >= 0 && s.pool < static_cast<int>(g_.model.pools.size())) {
        const std::string& pool = g_.model.pools[static_cast<size_t>(s.pool)].name;
        for (const auto& p : snap_.pools) {
          if (p.name != pool) continue;
          auto it = p.nodes.find("running");
          load.nodes = std::max<int64_t>(1, it == p.nodes.end() ? 0 : it->second);
        }
      }
      std::lock_guard lock(g_.mu);
      auto it = g_.in_flight.find(s.name);
      load.tokens_in_flight = it == g_.in_flight.end() ? 0 : it->second;
      return load;
    }

   private:
    EmptyFleetView empty_;
    Impl& g_;
    const Snapshot& snap_;
  };

  // Tokens a self-hosted endpoint is serving for this gateway (guarded by mu).
  std::map<std::string, int64_t> in_flight;
  // Counts a call's tokens on its endpoint until it ends.
  struct InFlight {
    InFlight(Impl& g, std::string name, int64_t tokens)
        : g_(g), name_(std::move(name)), tokens_(tokens) {
      std::lock_guard lock(g_.mu);
      g_.in_flight[name_] += tokens_;
    }
    ~InFlight() {
      std::lock_guard lock(g_.mu);
      if ((g_.in_flight[name_] -= tokens_) <= 0) g_.in_flight.erase(name_);
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    Impl& g_;
    std::string name_;
    int64_t tokens_;
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
        std::string base = without_trailing_slashes(d.endpoint);
        const FoundryDeployment* spec_d = nullptr;
        for (const auto& f : model.spec->foundry) {
          if (f.name == d.name) spec_d = &f;
        }
        if (spec_d && spec_d->api == "v1") {
          // The v1 API: one path for every deployment, named in the body's `model`.
          u.url = base + "/openai/v1/chat/completions";
          u.model = d.deployment;
        } else {
          u.url = fmt::format("{}/openai/deployments/{}/chat/completions?api-version={}", base,
                              percent_encode(d.deployment), options.api_version);
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
        std::string base = without_trailing_slashes(s.endpoint);
        u.url = base + "/chat/completions";
        u.model = s.model;
        return u;
      }
    }
    return std::nullopt;
  }

  // What the key spent through the gateway this UTC month (daemon time): its usage in the
  // store, read at most every kSpendRefresh, plus what this replica accounted since.
  Result<int64_t> key_spent(const std::string& id, TimePoint now) {
    const int64_t month = unix_ms(month_start(now));
    const auto t = steady_clock::now();
    {
      std::lock_guard lock(keys_mu);
      auto& s = key_spend[id];
      if (s.month_ms != month) s = KeySpend{month};
      bool known = s.loaded != steady_clock::time_point{};
      // Fresh enough, or another call is reading it now: the sum as it stands.
      if (known && (t - s.loaded < kSpendRefresh || s.loading)) return s.micros;
      s.loading = true;
    }
    LlmUsageFilter f;
    f.from_ms = month;
    f.key_id = id;
    auto rows = store.llm_usage(f);
    std::lock_guard lock(keys_mu);
    auto& s = key_spend[id];
    if (s.month_ms != month) s = KeySpend{month};
    s.loading = false;
    if (!rows) {
      if (s.loaded != steady_clock::time_point{}) return s.micros;  // the last sum; read again
      return tl::unexpected(rows.error());
    }
    int64_t stored = 0;
    for (const auto& u : *rows) stored += u.cost_micros;
    // What the store holds (every replica's calls) and what this one accounted and has not
    // written yet. A batch committing during the read may count twice until the next read:
    // the error is on the side of the budget.
    s.micros = stored + s.unwritten;
    s.loaded = t;
    return s.micros;
  }

  // Takes one request and `tokens` from the caller's buckets; or how long until they would
  // fit (Duration::max(): never, the request alone is over the TPM limit).
  Duration key_rate_take(const std::string& id, const LlmLimits& l, int64_t tokens) {
    std::lock_guard lock(keys_mu);
    TimePoint w = wall();
    auto it = key_limiters.find(id);
    if (it == key_limiters.end() || it->second.tpm != l.tpm || it->second.rpm != l.rpm) {
      it = key_limiters.insert_or_assign(id, KeyLimiter{l.tpm, l.rpm, RateLimiter(l.tpm, l.rpm, w)})
               .first;
    }
    Duration d = it->second.limiter.wait(tokens, w);
    if (d == Duration{0}) it->second.limiter.take(tokens, w);
    return d;
  }

  // What the upstream reported, cut to what the call could have used (see UsageBound): an
  // upstream answering 2^63 - 1 tokens must not spend the month's budget in one call. Each
  // cut is counted in the metrics and logged as one JSON line.
  TokenUsage within_bound(const Upstream& u, const Caller& c, const TokenUsage& reported,
                          const UsageBound& bound) {
    ClampedUsage cu = clamp_usage(reported, bound);
    if (!cu.any()) return cu.kept;
    for (auto [cut, kind] : {std::pair{cu.prompt, "prompt"}, std::pair{cu.completion, "completion"},
                             std::pair{cu.cached, "cached"}}) {
      if (cut) metrics.count_llm_usage_clamped(u.name, kind);
    }
    using ojson = nlohmann::ordered_json;
    auto counts = [](const TokenUsage& t) {
      return ojson{{"prompt", t.prompt}, {"completion", t.completion}, {"cached", t.cached}};
    };
    ojson line{{"ts", format_rfc3339(wall())},
               {"level", "warn"},
               {"msg", "LLM upstream reported more tokens than the call could use; kept the bound"},
               {"upstream", u.name},
               {"key", c.id},
               {"tenant", c.tenant},
               {"reported", counts(cu.reported)},
               {"kept", counts(cu.kept)},
               {"bound", {{"prompt", bound.prompt}, {"completion", bound.completion}}}};
    fmt::print(stderr, "{}\n", line.dump(-1, ' ', false, ojson::error_handler_t::replace));
    return cu.kept;
  }

  void account(const Upstream& u, const Caller& c, const TokenUsage& reported,
               const UsageBound& bound, TimePoint now, steady_clock::time_point started) {
    TokenUsage usage = within_bound(u, c, reported, bound);
    metrics.observe_llm(u.name, 200, duration<double>(steady_clock::now() - started).count(),
                        usage.prompt, usage.completion);
    Money cost;
    if (u.deployment) {
      cost = token_cost(usage, u.deployment->usd_per_1m_input, u.deployment->usd_per_1m_output);
    }
    // Self-hosted calls run on a pool that is billed by the hour already: no extra cost, but
    // their tokens are recorded all the same. The store adds the cost to the ledger too.
    queue_usage({unix_ms(floor<hours>(now)), c.tenant, c.id, u.name, 1, usage.prompt,
                 usage.completion, usage.cached, cost.micros()});
    if (cost.micros() > 0) controller.record_cost("llm:" + u.name, cost);
    std::lock_guard lock(keys_mu);
    if (auto it = key_spend.find(c.id);
        it != key_spend.end() && it->second.month_ms == unix_ms(month_start(now))) {
      it->second.micros += cost.micros();
      it->second.unwritten += cost.micros();
    }
    if (auto it = key_limiters.find(c.id); it != key_limiters.end()) {
      it->second.limiter.settle(c.estimate, usage.prompt + usage.completion, wall());
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
                   http::Response& res) {
  auto& g = *impl_;
  auto req = parse_chat_request(body);
  if (!req) {
    return fail(res, 400, "invalid_request_error", req.error().message, req.error().location);
  }
  std::string cls_name = class_header.empty() ? req->model : class_header;
  if (cls_name.size() > kMaxModelNameBytes) {
    return fail(res, 400, "invalid_request_error",
                fmt::format("the model (a workload class) is {} bytes long; at most {} are allowed",
                            cls_name.size(), kMaxModelNameBytes),
                class_header.empty() ? "model" : "X-CodeFleet-Class");
  }
  const WorkloadClass* cls = g.model.spec->find_class(cls_name);
  if (!cls || cls->kind != ClassKind::kLlm) {
    return fail(res, 404, "invalid_request_error",
                "The model '" + cls_name +
                    "' does not exist: use an LLM workload class of the spec "
                    "(GET /openai/v1/models)",
                "model", "model_not_found");
  }
  TimePoint now = g.controller.daemon_now();
  Snapshot snap = g.controller.snapshot();
  // A month's budget that is spent stops paid calls.
  for (const auto& b : snap.budgets) {
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
  int64_t estimate = task.tokens->prompt + task.tokens->completion;
  // The key's own month budget, then its own rate limits.
  if (who.llm.budget_micros_month > 0) {
    auto spent = g.key_spent(who.id, now);
    if (!spent) {
      return fail(res, 503, "server_error",
                  "cannot read what key '" + who.id + "' has spent: " + spent.error().message);
    }
    if (*spent >= who.llm.budget_micros_month) {
      return fail(res, 429, "insufficient_quota",
                  fmt::format("key '{}' has spent ${} of its ${} LLM budget this month", who.id,
                              Money::from_micros(*spent).to_string(),
                              Money::from_micros(who.llm.budget_micros_month).to_string()),
                  "", "key_budget_exhausted");
    }
  }
  if (who.llm.rpm > 0 || who.llm.tpm > 0) {
    Duration wait = g.key_rate_take(who.id, who.llm, estimate);
    if (wait == Duration::max()) {
      res.set_header("Retry-After", "60");
      return fail(res, 429, "rate_limit_error",
                  fmt::format("this request's estimated {} tokens are more than key '{}' may use "
                              "in a minute ({}): lower max_tokens or the prompt",
                              estimate, who.id, per_minute_text(who.llm)),
                  "", "rate_limit_exceeded");
    }
    if (wait > Duration{0}) {
      int64_t secs = std::max<int64_t>(1, (wait.count() + 999) / 1000);
      res.set_header("Retry-After", std::to_string(secs));
      return fail(res, 429, "rate_limit_error",
                  fmt::format("key '{}' is over its LLM rate limit of {}: retry in {} s", who.id,
                              per_minute_text(who.llm), secs),
                  "", "rate_limit_exceeded");
    }
  }
  Caller caller{who.id, who.tenant, estimate, task.tokens->prompt};
  // The key's tokens taken for this call go back if no upstream answers it.
  struct KeyRefund {
    Impl& g;
    const Caller& c;
    bool handed_over = false;
    ~KeyRefund() {
      if (handed_over) return;
      std::lock_guard lock(g.keys_mu);
      if (auto it = g.key_limiters.find(c.id); it != g.key_limiters.end()) {
        it->second.limiter.settle(c.estimate, 0, Impl::wall());
      }
    }
  } refund{g, caller};
  Impl::View view(g.model, g, snap);
  Decision d = route(g.model, task, view, now);
  std::vector<Target> order;
  if (d.outcome != Outcome::kInfeasible) order.push_back(d.target);
  for (const auto& a : d.alternatives) {
    if (a.feasible && a.target.kind != Target::Kind::kPool) order.push_back(a.target);
  }
  // Healthy targets first, each group in the router's order.
  std::stable_partition(order.begin(), order.end(),
                        [&](const Target& t) { return !g.demoted(t.name); });
  if (order.empty()) {
    return fail(res, 503, "server_error", "no upstream can serve '" + cls_name + "': " + d.reason);
  }
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
    const auto request_bytes = static_cast<int64_t>(hr.body.size());
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
    // A self-hosted endpoint carries the call's tokens until it ends (its load for routing).
    std::shared_ptr<Impl::InFlight> serving;
    if (target.kind == Target::Kind::kSelfHosted) {
      serving = std::make_shared<Impl::InFlight>(g, up->name, estimate);
    }
    if (req->stream) hr.timeout = g.options.stream_timeout;  // the whole stream
    // The call runs on this thread, the client's: the answer starts only once the upstream
    // said 200 (streams) or answered in full, so every earlier failure can go elsewhere.
    auto call = std::make_unique<HttpCall>(g.http, std::move(hr), g.options.upstream_timeout);
    auto status = call->start();
    std::string answer;  // a whole answer, or an error's body
    std::optional<HttpError> failure;
    if (status && (*status != 200 || !req->stream)) {
      // An answer over the cap is refused; an error's body is cut.
      auto all = *status == 200 ? call->rest(kMaxAnswerBytes) : call->rest(kMaxErrorBytes, true);
      if (all) {
        answer = std::move(*all);
      } else {
        failure = all.error();
      }
    } else if (!status) {
      failure = status.error();
    }
    int code = status ? *status : 0;
    if (failure || code != 200) {
      failed_call(up->name, code, started);
      if (failure || code < 400 || retryable_status(code)) {
        if (code == 429) {
          throttle(call->headers());  // busy, not sick: its Retry-After keeps it aside
        } else {
          g.failed(up->name);
        }
        last_error = failure ? target.name + ": " + failure->error.message
                             : fmt::format("{}: answered {}", target.name, code);
        continue;
      }
      g.answered(up->name);
      res.status = code;  // the upstream's own refusal (400, 401…): passed on
      res.set_content(answer, "application/json");
      return;
    }
    if (!req->stream) {
      auto usage = usage_of_response(answer);
      if (!usage) {
        failed_call(up->name, 200, started);
        g.failed(up->name);
        last_error = target.name + ": answered 200 without a chat completion";
        continue;  // garbage: try the next one
      }
      g.answered(up->name);
      res.status = 200;
      res.set_header("X-CodeFleet-Upstream", up->name);
      // Accounted once the answer is out: the store's write is not the caller's wait.
      UsageBound bound = usage_bound(*req, request_bytes, static_cast<int64_t>(answer.size()));
      auto whole = std::make_shared<std::string>(std::move(answer));
      Upstream chosen = *up;
      TokenUsage counted = *usage;
      refund.handed_over = true;  // accounted after the answer, with its real tokens
      res.set_content_provider(
          whole->size(), "application/json",
          [whole](size_t offset, size_t length, http::DataSink& sink) {
            return sink.write(whole->data() + offset, length);
          },
          [&g, chosen, caller, counted, bound, now, started](bool) {
            g.account(chosen, caller, counted, bound, now, started);
          });
      return;
    }
    g.answered(up->name);
    res.status = 200;
    res.set_header("X-CodeFleet-Upstream", up->name);
    res.set_header("Cache-Control", "no-cache");
    auto relay = std::make_shared<Relay>();
    relay->call = std::move(call);
    Upstream chosen = *up;
    ChatRequest request = *req;
    refund.handed_over = true;
    res.set_chunked_content_provider(
        "text/event-stream",
        // Each piece goes out as it comes in, on this one thread.
        [relay](size_t, http::DataSink& sink) {
          auto piece = relay->call->next();
          // The upstream broke off mid-stream: nothing can go elsewhere now, and the client
          // must not take it for a whole answer — the connection ends without the last chunk.
          if (!piece) return false;
          if (!*piece) {
            sink.done();
            return true;
          }
          relay->usage.feed(**piece);
          relay->bytes += static_cast<int64_t>((*piece)->size());
          return sink.write((*piece)->data(), (*piece)->size());
        },
        // After the last byte, or when the client left: the tokens streamed so far are
        // what the upstream bills.
        [relay, chosen, caller, request, request_bytes, now, started, serving, &g](bool) mutable {
          TokenUsage usage = relay->usage.result();
          // No usage chunk (the client left, or the upstream broke off, before it): the
          // completion as counted, the prompt as estimated — the upstream bills it all.
          if (usage.counted) usage.prompt = caller.prompt_estimate;
          relay->call.reset();  // ends a transfer still running
          serving.reset();      // the endpoint is done with it
          g.account(chosen, caller, usage, usage_bound(request, request_bytes, relay->bytes), now,
                    started);
        });
    return;
  }
  fail(res, 502, "server_error", "every upstream failed; the last: " + last_error);
}

}  // namespace codefleet
