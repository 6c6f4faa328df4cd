// Alerts: quota use at 80/90/100% per family, budget thresholds (the spec's, on
// month-to-date cost), the wait SLO (p95 of the last hour's waits against
// `policies.wait_slo_p95`) and failed cloud operations. Each alert has a stable key; it
// fires when its condition starts holding and resolves when it stops. Every change is
// stored, exported as a metric and, when a webhook is configured, POSTed in the Azure
// Monitor common alert schema (on a sender thread: the reconcile loop never waits on it).
//
//   AlertEngine alerts(spec, store, {.webhook_url = "http://127.0.0.1:9000/hook"});
//   controller.add_listener(&alerts);   // evaluates every snapshot
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "server/controller.h"

namespace codefleet {

struct Spec;

struct AlertOptions {
  std::string webhook_url;  // "" = none; http:// or https://
  std::string subscription_id;
  Duration cloud_failure_quiet{std::chrono::minutes(15)};  // resolves after this without one
};

class AlertEngine final : public ControllerListener {
 public:
  AlertEngine(const Spec& spec, Store& store, AlertOptions options);
  ~AlertEngine() override;

  void on_admitted(const std::string&, Duration) override {}
  void on_cost(const std::string&, Money) override {}
  void on_snapshot(const Snapshot& s) override;

  // The Azure Monitor common alert schema body for `a` (public for tests).
  static std::string common_alert_schema(const Alert& a, const std::string& subscription_id);
  int64_t webhook_failures() const;

 private:
  void set(const std::string& key, const std::string& kind, const std::string& severity,
           bool firing, const std::string& summary, const std::string& labels_json, TimePoint now);
  void send_loop();

  const Spec& spec_;
  Store& store_;
  AlertOptions options_;
  std::map<std::string, Alert> known_;  // loop thread only
  int64_t last_failures_ = 0;
  TimePoint last_failure_at_{};
  int64_t month_ = -1;

  static constexpr size_t kMaxOutbox = 1000;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Alert> outbox_;
  bool stop_ = false;
  int64_t webhook_failures_ = 0;
  std::thread sender_;
};

}  // namespace codefleet
