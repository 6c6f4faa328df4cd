// The daemon's Prometheus metrics (prometheus-cpp), rendered in the text exposition
// format at `/metrics`: quota used and limit per family and region, tasks by state and
// class, an admission-latency histogram, cost accrued per pool, nodes by pool and state,
// firing alerts, and HTTP requests by route and status.
//
//   Metrics m;
//   controller.add_listener(&m);             // admissions, costs, snapshots
//   m.observe_request("POST", "/v1/tasks", 201, 0.0012);
//   std::string text = m.render();           // "# HELP codefleet_quota_used_vcpus ..."
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/controller.h"

namespace codefleet {

class Metrics final : public ControllerListener {
 public:
  Metrics();
  ~Metrics() override;

  void on_admitted(const std::string& class_name, Duration wait) override;
  void on_snapshot(const Snapshot& s) override;
  void on_cost(const std::string& pool, Money delta) override;

  void observe_request(const std::string& method, const std::string& route, int status,
                       double seconds);
  // One call to an LLM upstream: its answer (0 = no answer), time, and tokens.
  void observe_llm(const std::string& upstream, int status, double seconds, int64_t prompt_tokens,
                   int64_t completion_tokens);
  // An LLM upstream reported more tokens of `kind` ("prompt", "completion", "cached") than
  // the call could have used; the count was cut to its bound.
  void count_llm_usage_clamped(const std::string& upstream, const std::string& kind);
  void set_task_counts(const std::map<std::pair<std::string, std::string>, int64_t>& counts);
  void set_alerts(const std::vector<Alert>& alerts);
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace codefleet
