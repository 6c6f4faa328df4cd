#include "server/alerts.h"

#include <httplib.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "spec/spec.h"

namespace codefleet {

using namespace std::chrono;

namespace {

std::string iso(int64_t ms) { return format_rfc3339(from_unix_ms(ms)); }

// A stable id for an alert key (FNV-1a, 64 bits): the same key, the same alertId.
std::string stable_id(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace

AlertEngine::AlertEngine(const Spec& spec, Store& store, AlertOptions options)
    : spec_(spec), store_(store), options_(std::move(options)) {
  auto existing = store_.list_alerts(false);
  if (existing) {
    for (const auto& a : *existing) known_[a.key] = a;
  }
  if (!options_.webhook_url.empty()) sender_ = std::thread([this] { send_loop(); });
}

AlertEngine::~AlertEngine() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

int64_t AlertEngine::webhook_failures() const {
  std::lock_guard lock(mu_);
  return webhook_failures_;
}

void AlertEngine::set(const std::string& key, const std::string& kind, const std::string& severity,
                      bool firing, const std::string& summary, const std::string& labels_json,
                      TimePoint now) {
  auto it = known_.find(key);
  bool was_firing = it != known_.end() && it->second.firing;
  if (firing == was_firing) return;
  if (!firing && it == known_.end()) return;  // never fired: nothing to resolve
  Alert a = it == known_.end() ? Alert{} : it->second;
  a.key = key;
  a.kind = kind;
  a.severity = severity;
  a.firing = firing;
  a.labels_json = labels_json;
  a.updated_ms = unix_ms(now);
  if (firing) {
    a.summary = summary;
    a.fired_ms = unix_ms(now);
    a.resolved_ms = 0;
  } else {
    a.resolved_ms = unix_ms(now);
  }
  known_[key] = a;
  if (auto r = store_.upsert_alert(a); !r) {
    fmt::print(stderr,
               R"({{"level":"error","msg":"alert not stored","alert":"{}"}})"
               "\n",
               key);
  }
  fmt::print(stderr,
             R"({{"level":"warn","msg":"alert {}","alert":"{}","summary":{}}})"
             "\n",
             firing ? "fired" : "resolved", key, nlohmann::json(a.summary).dump());
  if (!options_.webhook_url.empty()) {
    {
      // The latest state per alert is what the receiver needs: a flapping alert replaces
      // its unsent predecessor instead of piling up while the webhook is down.
      std::lock_guard lock(mu_);
      auto same = std::find_if(outbox_.begin(), outbox_.end(),
                               [&](const Alert& queued) { return queued.key == a.key; });
      if (same != outbox_.end()) {
        *same = a;
      } else if (outbox_.size() < kMaxOutbox) {
        outbox_.push_back(a);
      } else {
        ++webhook_failures_;  // dropped
      }
    }
    cv_.notify_one();
  }
}

void AlertEngine::on_snapshot(const Snapshot& s) {
  TimePoint now = s.at;
  // Quota: one alert per family and threshold.
  for (const auto& q : s.quotas) {
    if (!q.limit || *q.limit <= 0) continue;
    std::string name = q.kind == "family" ? q.name : (q.kind == "spot" ? "lowPriority" : "total");
    int64_t pct = q.used * 100 / *q.limit;
    for (int64_t t : {80, 90, 100}) {
      set(fmt::format("quota:{}:{}:{}", q.region, name, t), "quota",
          t >= 100 ? "Sev1" : (t >= 90 ? "Sev2" : "Sev3"), pct >= t,
          fmt::format("quota {} in {} at {}% ({}/{} vCPUs), threshold {}%", name, q.region, pct,
                      q.used, *q.limit, t),
          nlohmann::json{{"family", name},
                         {"region", q.region},
                         {"threshold_pct", t},
                         {"used_vcpus", q.used},
                         {"limit_vcpus", *q.limit}}
              .dump(),
          now);
    }
  }
  // Budgets: thresholds on month-to-date cost; a new month resolves them.
  for (const auto& b : s.budgets) {
    if (b.amount.micros() <= 0) continue;
    int64_t pct = b.spent_month_to_date.micros() * 100 / b.amount.micros();
    for (int64_t t : b.thresholds_pct) {
      set(fmt::format("budget:{}:{}", b.name, t), "budget", t >= 100 ? "Sev1" : "Sev3", pct >= t,
          fmt::format("budget {} at {}% (${} of ${} this month), threshold {}%", b.name, pct,
                      b.spent_month_to_date.to_string(2), b.amount.to_string(2), t),
          nlohmann::json{{"budget", b.name},
                         {"scope", b.scope},
                         {"threshold_pct", t},
                         {"spent_usd", b.spent_month_to_date.to_string(2)},
                         {"forecast_usd", b.forecast_month.to_string(2)}}
              .dump(),
          now);
    }
  }
  // Wait SLO.
  int64_t slo_ms = duration_cast<milliseconds>(spec_.policies.wait_slo_p95).count();
  set("wait_slo:p95", "wait_slo", "Sev2", s.wait_p95_ms > slo_ms,
      fmt::format("p95 wait over the last hour is {} s, above the SLO of {} s",
                  s.wait_p95_ms / 1000, slo_ms / 1000),
      nlohmann::json{{"wait_p95_s", s.wait_p95_ms / 1000}, {"slo_s", slo_ms / 1000}}.dump(), now);
  // Failed cloud operations.
  if (s.cloud_failures > last_failures_) {
    set("cloud_operation:failed", "cloud_operation", "Sev2", true,
        fmt::format("{} cloud operations failed (AllocationFailed) since the daemon started",
                    s.cloud_failures),
        nlohmann::json{{"failures", s.cloud_failures}}.dump(), now);
    last_failures_ = s.cloud_failures;
    last_failure_at_ = now;
  } else if (last_failure_at_ != TimePoint{} &&
             now - last_failure_at_ >= options_.cloud_failure_quiet) {
    set("cloud_operation:failed", "cloud_operation", "Sev2", false, "", "{}", now);
  }
}

std::string AlertEngine::common_alert_schema(const Alert& a, const std::string& subscription_id) {
  using ojson = nlohmann::ordered_json;
  std::string scope =
      subscription_id.empty() ? "/subscriptions/unknown" : "/subscriptions/" + subscription_id;
  ojson essentials{
      {"alertId", scope + "/providers/Microsoft.AlertsManagement/alerts/" + stable_id(a.key)},
      {"alertRule", "codefleet-" + a.kind},
      {"severity", a.severity},
      {"signalType", "Metric"},
      {"monitorCondition", a.firing ? "Fired" : "Resolved"},
      {"monitoringService", "Custom"},
      {"alertTargetIDs", ojson::array({scope})},
      {"configurationItems", ojson::array({a.key})},
      {"originAlertId", a.key},
      {"firedDateTime", iso(a.fired_ms)},
      {"description", a.summary},
      {"essentialsVersion", "1.0"},
      {"alertContextVersion", "1.0"}};
  if (!a.firing) essentials["resolvedDateTime"] = iso(a.resolved_ms);
  ojson context = ojson::parse(a.labels_json.empty() ? "{}" : a.labels_json, nullptr, false);
  if (context.is_discarded()) context = ojson::object();
  ojson body{{"schemaId", "azureMonitorCommonAlertSchema"},
             {"data", {{"essentials", essentials}, {"alertContext", context}}}};
  return body.dump();
}

void AlertEngine::send_loop() {
  // scheme://host[:port] and the path.
  const std::string& url = options_.webhook_url;
  auto scheme_end = url.find("://");
  auto path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  while (true) {
    Alert a;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !outbox_.empty(); });
      if (stop_) return;  // shutting down: what is unsent stays in the store and the log
      a = outbox_.front();
      outbox_.pop_front();
    }
    std::string body = common_alert_schema(a, options_.subscription_id);
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
      auto res = client.Post(path, body, "application/json");
      ok = res && res->status >= 200 && res->status < 300;
      if (!ok) {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, milliseconds(200 << attempt), [&] { return stop_; })) return;
      }
    }
    if (!ok) {
      std::lock_guard lock(mu_);
      ++webhook_failures_;
      fmt::print(stderr,
                 R"({{"level":"error","msg":"alert webhook failed","alert":"{}"}})"
                 "\n",
                 a.key);
    }
  }
}

}  // namespace codefleet
