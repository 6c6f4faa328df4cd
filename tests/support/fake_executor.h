// An in-memory executor (scheduling/executor.h) for tests: an engine that holds one job per
// (task, attempt) and runs nothing by itself — the test moves each job through its life
// (`run`, `exit_with`, `evict`) and the executor reports it as the port promises. It keeps
// the port's contract as the Kubernetes executor does (one suite runs both:
// tests/integration/executor_suite_test.cpp): a repeated launch adopts the job and reports
// its state again; a cancelled attempt is gone and its end is not news.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "scheduling/executor.h"

namespace codefleet::testing {

class FakeExecutor final : public Executor {
 public:
  std::string kind() const override { return "fake"; }
  void set_wakeup(std::function<void()> wake) override {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
  }
  void launch(const Launch& l) override {
    {
      std::lock_guard lock(mu_);
      Key key{l.task_id, l.attempt};
      cancelled_.erase(key);  // launched again: what the loop wants now
      auto [it, fresh] = jobs_.emplace(key, Job{l, std::nullopt, ""});
      if (fresh || !it->second.last) return;
      events_.push_back(*it->second.last);  // adopted: its state, again
    }
    wake();
  }
  void cancel(const std::string& task_id, int attempt, int) override {
    std::lock_guard lock(mu_);
    cancelled_.insert({task_id, attempt});
    jobs_.erase({task_id, attempt});
  }
  std::vector<ExecEvent> take_events() override {
    std::lock_guard lock(mu_);
    std::vector<ExecEvent> out;
    out.swap(events_);
    return out;
  }
  Result<std::vector<ExecJob>> jobs() override {
    std::lock_guard lock(mu_);
    std::vector<ExecJob> out;
    for (const auto& [key, j] : jobs_) {
      bool done = j.last && j.last->kind != ExecEvent::Kind::kStarted;
      out.push_back({key.first, key.second, j.launch.pool, done});
    }
    return out;
  }
  void start() override {}
  void stop() override {}
  int64_t failures() const override { return 0; }
  Result<void> logs(const std::string& task_id, int, bool,
                    const std::function<bool(std::string_view)>& on_chunk) override {
    std::string text;
    {
      std::lock_guard lock(mu_);
      const Job* latest = nullptr;
      for (const auto& [key, j] : jobs_) {
        if (key.first == task_id) latest = &j;
      }
      if (!latest) {
        return tl::unexpected(
            Error{ErrorCode::kNotFound, "task '" + task_id + "' has no job", "id"});
      }
      text = latest->log;
    }
    on_chunk(text);
    return {};
  }

  // ---- What the test does to the engine. False when no such job is held.
  bool has(const std::string& task, int attempt) {
    std::lock_guard lock(mu_);
    return jobs_.count({task, attempt}) > 0;
  }
  bool run(const std::string& task, int attempt, const std::string& node = "node-a") {
    return report(task, attempt, {ExecEvent::Kind::kStarted, task, attempt, 0, "", node});
  }
  bool exit_with(const std::string& task, int attempt, int code, const std::string& reason = "") {
    ExecEvent e{code == 0 ? ExecEvent::Kind::kFinished : ExecEvent::Kind::kFailed,
                task,
                attempt,
                code,
                reason.empty() ? (code == 0 ? "" : "Error") : reason,
                "node-a"};
    return report(task, attempt, e);
  }
  bool evict(const std::string& task, int attempt) {
    return report(task, attempt, {ExecEvent::Kind::kLost, task, attempt, 0, "Evicted", "node-a"});
  }
  bool set_log(const std::string& task, int attempt, const std::string& text) {
    std::lock_guard lock(mu_);
    auto it = jobs_.find({task, attempt});
    if (it == jobs_.end()) return false;
    it->second.log = text;
    return true;
  }

 private:
  using Key = std::pair<std::string, int>;
  struct Job {
    Launch launch;
    std::optional<ExecEvent> last;
    std::string log;
  };

  // Once per change; nothing after an end.
  bool report(const std::string& task, int attempt, const ExecEvent& e) {
    {
      std::lock_guard lock(mu_);
      auto it = jobs_.find({task, attempt});
      if (it == jobs_.end()) return false;
      auto& last = it->second.last;
      if (last && (last->kind == e.kind || last->kind != ExecEvent::Kind::kStarted)) return true;
      last = e;
      events_.push_back(e);
    }
    wake();
    return true;
  }
  void wake() {
    std::function<void()> w;
    {
      std::lock_guard lock(mu_);
      w = wake_;
    }
    if (w) w();
  }

  std::mutex mu_;
  std::function<void()> wake_;
  std::map<Key, Job> jobs_;
  std::set<Key> cancelled_;
  std::vector<ExecEvent> events_;
};

}  // namespace codefleet::testing
