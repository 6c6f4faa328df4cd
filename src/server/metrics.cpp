#include "server/metrics.h"

#include <mutex>
#include <set>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "scheduling/scheduler.h"

namespace codefleet {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Gauge>& quota_used =
      BuildGauge()
          .Name("codefleet_quota_used_vcpus")
          .Help("vCPUs of existing VMs counted against a quota (stopped VMs included)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& quota_limit =
      BuildGauge()
          .Name("codefleet_quota_limit_vcpus")
          .Help("The quota's limit in vCPUs, as declared in the spec")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& tasks = BuildGauge()
                                                     .Name("codefleet_tasks")
                                                     .Help("Tasks in the store by state and class")
                                                     .Register(*registry);
  prometheus::Family<prometheus::Histogram>& admission =
      BuildHistogram()
          .Name("codefleet_admission_latency_seconds")
          .Help("Time from a task becoming eligible to its start on a node")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& cost =
      BuildCounter()
          .Name("codefleet_cost_accrued_usd_total")
          .Help("Cost accrued by pool since the daemon started (compute and disks)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& nodes =
      BuildGauge().Name("codefleet_nodes").Help("Nodes by pool and state").Register(*registry);
  prometheus::Family<prometheus::Gauge>& pending =
      BuildGauge()
          .Name("codefleet_scheduler_tasks")
          .Help("Tasks the scheduler holds, by phase (pending or admitted)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& budget_spent =
      BuildGauge()
          .Name("codefleet_budget_spent_usd")
          .Help("Month-to-date cost against each budget")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& budget_amount = BuildGauge()
                                                             .Name("codefleet_budget_amount_usd")
                                                             .Help("Each budget's amount")
                                                             .Register(*registry);
  prometheus::Family<prometheus::Gauge>& alerts =
      BuildGauge()
          .Name("codefleet_alert_firing")
          .Help("1 while an alert fires, 0 once resolved")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& requests =
      BuildCounter()
          .Name("codefleet_http_requests_total")
          .Help("HTTP requests by method, route and status code")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& request_seconds =
      BuildHistogram()
          .Name("codefleet_http_request_duration_seconds")
          .Help("HTTP request handling time by route")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& llm_requests =
      BuildCounter()
          .Name("codefleet_llm_requests_total")
          .Help("Calls to LLM upstreams by upstream and status (0 = no answer)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& llm_tokens =
      BuildCounter()
          .Name("codefleet_llm_tokens_total")
          .Help("Tokens through each LLM upstream, by kind (prompt, completion)")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& llm_seconds =
      BuildHistogram()
          .Name("codefleet_llm_request_duration_seconds")
          .Help("LLM upstream call time, to the last byte")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& llm_clamped =
      BuildCounter()
          .Name("codefleet_llm_usage_clamped_total")
          .Help(
              "LLM calls whose upstream reported more tokens than the call could use, by "
              "upstream and kind (prompt, completion, cached); the count kept is the bound")
          .Register(*registry);
  std::map<std::string, prometheus::Histogram*> llm_by_upstream;
  std::mutex mu;  // guards the label sets below (prometheus-cpp's metrics are atomic)
  std::set<std::pair<std::string, std::string>> task_labels;
  std::map<std::string, prometheus::Histogram*> admission_by_class;
  std::map<std::string, prometheus::Histogram*> request_by_route;
};

namespace {

const prometheus::Histogram::BucketBoundaries& admission_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{1,   5,   15,   30,   60,   120,  300,
                                                         600, 900, 1800, 3600, 7200, 14400};
  return b;
}

const prometheus::Histogram::BucketBoundaries& request_buckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                         0.025,  0.05,  0.1,    0.25,  1};
  return b;
}

constexpr const char* kNodeStates[] = {"creating", "starting", "running", "deallocated",
                                       "hibernated"};

}  // namespace

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::on_admitted(const std::string& class_name, Duration wait) {
  prometheus::Histogram* h;
  {
    std::lock_guard lock(impl_->mu);
    auto& slot = impl_->admission_by_class[class_name];
    if (!slot) slot = &impl_->admission.Add({{"class", class_name}}, admission_buckets());
    h = slot;
  }
  h->Observe(std::chrono::duration<double>(wait).count());
}

void Metrics::on_snapshot(const Snapshot& s) {
  for (const auto& q : s.quotas) {
    std::string family = q.kind == "family" ? q.name : (q.kind == "spot" ? "lowPriority" : "total");
    prometheus::Labels labels{{"family", family}, {"region", q.region}};
    impl_->quota_used.Add(labels).Set(static_cast<double>(q.used));
    if (q.limit) impl_->quota_limit.Add(labels).Set(static_cast<double>(*q.limit));
  }
  for (const auto& p : s.pools) {
    for (const char* state : kNodeStates) {
      auto it = p.nodes.find(state);
      impl_->nodes.Add({{"pool", p.name}, {"state", state}})
          .Set(it == p.nodes.end() ? 0.0 : static_cast<double>(it->second));
    }
  }
  impl_->pending.Add({{"phase", "pending"}}).Set(static_cast<double>(s.pending));
  impl_->pending.Add({{"phase", "admitted"}}).Set(static_cast<double>(s.admitted));
  for (const auto& b : s.budgets) {
    impl_->budget_spent.Add({{"budget", b.name}})
        .Set(b.spent_month_to_date.to_double_for_display());
    impl_->budget_amount.Add({{"budget", b.name}}).Set(b.amount.to_double_for_display());
  }
}

void Metrics::on_cost(const std::string& pool, Money delta) {
  if (delta.micros() > 0)
    impl_->cost.Add({{"pool", pool}}).Increment(delta.to_double_for_display());
}

void Metrics::observe_request(const std::string& method, const std::string& route, int status,
                              double seconds) {
  impl_->requests.Add({{"method", method}, {"route", route}, {"code", std::to_string(status)}})
      .Increment();
  prometheus::Histogram* h;
  {
    std::lock_guard lock(impl_->mu);
    auto& slot = impl_->request_by_route[route];
    if (!slot) slot = &impl_->request_seconds.Add({{"route", route}}, request_buckets());
    h = slot;
  }
  h->Observe(seconds);
}

void Metrics::observe_llm(const std::string& upstream, int status, double seconds,
                          int64_t prompt_tokens, int64_t completion_tokens) {
  impl_->llm_requests.Add({{"upstream", upstream}, {"code", std::to_string(status)}}).Increment();
  if (prompt_tokens > 0) {
    impl_->llm_tokens.Add({{"upstream", upstream}, {"kind", "prompt"}})
        .Increment(static_cast<double>(prompt_tokens));
  }
  if (completion_tokens > 0) {
    impl_->llm_tokens.Add({{"upstream", upstream}, {"kind", "completion"}})
        .Increment(static_cast<double>(completion_tokens));
  }
  prometheus::Histogram* h;
  {
    std::lock_guard lock(impl_->mu);
    auto& slot = impl_->llm_by_upstream[upstream];
    if (!slot) {
      static const prometheus::Histogram::BucketBoundaries b{0.05, 0.1, 0.25, 0.5, 1,
                                                             2.5,  5,   10,   30,  60};
      slot = &impl_->llm_seconds.Add({{"upstream", upstream}}, b);
    }
    h = slot;
  }
  h->Observe(seconds);
}

void Metrics::count_llm_usage_clamped(const std::string& upstream, const std::string& kind) {
  impl_->llm_clamped.Add({{"upstream", upstream}, {"kind", kind}}).Increment();
}

void Metrics::set_task_counts(
    const std::map<std::pair<std::string, std::string>, int64_t>& counts) {
  std::lock_guard lock(impl_->mu);
  for (const auto& [labels, n] : counts) impl_->task_labels.insert(labels);
  for (const auto& labels : impl_->task_labels) {
    auto it = counts.find(labels);
    impl_->tasks.Add({{"state", labels.first}, {"class", labels.second}})
        .Set(it == counts.end() ? 0.0 : static_cast<double>(it->second));
  }
}

void Metrics::set_alerts(const std::vector<Alert>& alerts) {
  for (const auto& a : alerts) {
    impl_->alerts.Add({{"alert", a.key}, {"kind", a.kind}, {"severity", a.severity}})
        .Set(a.firing ? 1.0 : 0.0);
  }
}

std::string Metrics::render() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace codefleet
