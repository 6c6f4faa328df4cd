// The executor port's contract (scheduling/executor.h), one typed suite over both adapters:
// the in-memory fake (support/fake_executor.h) and the Kubernetes executor against the
// loopback API server (support/fake_kube.h). Each harness moves its engine's jobs through
// their lives the engine's own way; the executor must report the same events for both.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "cloud/kubernetes/kube_client.h"
#include "cloud/kubernetes/kube_executor.h"
#include "spec/run.h"
#include "support/eventually.h"
#include "support/fake_executor.h"
#include "support/fake_kube.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::eventually;

Launch launch_of(const std::string& task, int attempt = 0) {
  auto run = std::make_shared<RunSpec>();
  run->image = "ghcr.io/acme/agent:1.4";
  return {task, "acme", "build", attempt, "cpu", "", Resources{2, 4096, 0, 0}, run};
}

class FakeHarness {
 public:
  Executor& executor() { return ex_; }
  bool has(const std::string& t, int a) { return ex_.has(t, a); }
  void run(const std::string& t, int a) { ex_.run(t, a); }
  void exit_with(const std::string& t, int a, int code, const std::string& reason = "") {
    ex_.exit_with(t, a, code, reason);
  }
  void evict(const std::string& t, int a) { ex_.evict(t, a); }
  void set_log(const std::string& t, int a, const std::string& text) { ex_.set_log(t, a, text); }

 private:
  testing::FakeExecutor ex_;
};

class KubeHarness {
 public:
  KubeHarness() {
    KubeConfig config;
    config.server = kube_.url();
    KubeOptions ko;
    ko.base_backoff = 10ms;
    client_ = std::make_unique<KubeClient>(config, nullptr, ko);
    KubeExecutorOptions eo;
    eo.namespace_name = "agents";
    eo.watch_timeout_s = 1;
    eo.log = [](const std::string&) {};
    ex_ = std::make_unique<KubeExecutor>(*client_, eo);
  }
  ~KubeHarness() { ex_->stop(); }
  Executor& executor() { return *ex_; }
  bool has(const std::string& t, int a) { return !pod(t, a).empty(); }
  void run(const std::string& t, int a) {
    kube_.set_pod_phase("agents", pod(t, a), "Running", {{"running", json::object()}}, "aks-cpu-0");
  }
  void exit_with(const std::string& t, int a, int code, const std::string& reason = "") {
    json term{{"exitCode", code},
              {"reason", reason.empty() ? (code ? "Error" : "Completed") : reason}};
    kube_.set_pod_phase("agents", pod(t, a), code ? "Failed" : "Succeeded", {{"terminated", term}});
  }
  void evict(const std::string& t, int a) { exit_with(t, a, 137, "Evicted"); }
  void set_log(const std::string& t, int a, const std::string& text) {
    kube_.set_pod_log("agents", pod(t, a), text);
  }

 private:
  std::string pod(const std::string& task, int attempt) {
    for (auto& p : kube_.objects("pods")) {
      const json& ann = p["metadata"].value("annotations", json::object());
      if (ann.value("codefleet.io/task-id", "") == task &&
          ann.value("codefleet.io/attempt", "") == std::to_string(attempt)) {
        return p["metadata"]["name"];
      }
    }
    return "";
  }
  testing::FakeKube kube_;
  std::unique_ptr<KubeClient> client_;
  std::unique_ptr<KubeExecutor> ex_;
};

template <typename H>
class ExecutorContract : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.executor().set_wakeup([this] { ++wakes_; });
    h_.executor().start();
  }
  // Every event that arrives within `limit`, once `count` of them have.
  std::vector<ExecEvent> events(size_t count, std::chrono::milliseconds limit = 5s) {
    eventually(
        [&] {
          for (auto& e : h_.executor().take_events()) seen_.push_back(e);
          return seen_.size() >= count;
        },
        limit);
    std::vector<ExecEvent> out;
    out.swap(seen_);
    return out;
  }
  // Launches and waits until the engine holds the job.
  void launched(const std::string& task, int attempt = 0) {
    h_.executor().launch(launch_of(task, attempt));
    ASSERT_TRUE(eventually([&] { return h_.has(task, attempt); })) << task;
  }
  H h_;
  std::atomic<int> wakes_{0};
  std::vector<ExecEvent> seen_;
};

using Harnesses = ::testing::Types<FakeHarness, KubeHarness>;
class HarnessNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, FakeHarness> ? "fake" : "kubernetes";
  }
};
TYPED_TEST_SUITE(ExecutorContract, Harnesses, HarnessNames);

TYPED_TEST(ExecutorContract, ALaunchIsHeldUntilItEnds) {
  this->launched("t-1");
  auto jobs = this->h_.executor().jobs();
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].task_id, "t-1");
  EXPECT_EQ((*jobs)[0].attempt, 0);
  EXPECT_EQ((*jobs)[0].pool, "cpu");
  EXPECT_FALSE((*jobs)[0].done);
  this->h_.exit_with("t-1", 0, 0);
  auto ev = this->events(1);
  ASSERT_TRUE(eventually([&] {
    auto j = this->h_.executor().jobs();
    return j && j->size() == 1 && (*j)[0].done;
  }));
}

TYPED_TEST(ExecutorContract, StartedOnceThenFinishedWithItsExitCode) {
  this->launched("t-1");
  this->h_.run("t-1", 0);
  this->h_.run("t-1", 0);  // the same state again is no news
  this->h_.exit_with("t-1", 0, 0);
  auto ev = this->events(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, ExecEvent::Kind::kStarted);
  EXPECT_EQ(ev[0].task_id, "t-1");
  EXPECT_FALSE(ev[0].node.empty());
  EXPECT_EQ(ev[1].kind, ExecEvent::Kind::kFinished);
  EXPECT_EQ(ev[1].exit_code, 0);
  EXPECT_GT(this->wakes_.load(), 0);  // the loop was woken
}

TYPED_TEST(ExecutorContract, FailuresCarryTheirReasonAndEvictionIsLost) {
  this->launched("oom");
  this->launched("evicted");
  this->h_.exit_with("oom", 0, 137, "OOMKilled");
  this->h_.evict("evicted", 0);
  auto ev = this->events(2);
  ASSERT_EQ(ev.size(), 2u);
  std::map<std::string, ExecEvent> by_task;
  for (auto& e : ev) by_task[e.task_id] = e;
  EXPECT_EQ(by_task["oom"].kind, ExecEvent::Kind::kFailed);
  EXPECT_EQ(by_task["oom"].reason, "OOMKilled");
  EXPECT_EQ(by_task["oom"].exit_code, 137);
  EXPECT_EQ(by_task["evicted"].kind, ExecEvent::Kind::kLost);  // the platform's: no retry spent
}

TYPED_TEST(ExecutorContract, ARepeatedLaunchAdoptsTheJobAndReportsItsStateAgain) {
  this->launched("t-1");
  this->h_.exit_with("t-1", 0, 0);
  ASSERT_EQ(this->events(1).size(), 1u);
  this->h_.executor().launch(launch_of("t-1"));  // e.g. a new leader placing it again
  auto ev = this->events(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, ExecEvent::Kind::kFinished);
  auto jobs = this->h_.executor().jobs();
  ASSERT_TRUE(jobs);
  EXPECT_EQ(jobs->size(), 1u);  // never a second job
}

TYPED_TEST(ExecutorContract, ACancelledAttemptIsGoneAndSilent) {
  this->launched("t-1");
  this->h_.run("t-1", 0);
  ASSERT_EQ(this->events(1).size(), 1u);
  this->h_.executor().cancel("t-1", 0, 0);
  ASSERT_TRUE(eventually([&] {
    auto j = this->h_.executor().jobs();
    return j && j->empty();
  }));
  EXPECT_TRUE(this->events(1, 300ms).empty());
  // Cancelled right after the launch, before or while it is sent: gone all the same.
  this->h_.executor().launch(launch_of("t-2"));
  this->h_.executor().cancel("t-2", 0, 0);
  ASSERT_TRUE(eventually([&] { return !this->h_.has("t-2", 0); }));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(this->h_.has("t-2", 0));
  auto j = this->h_.executor().jobs();
  ASSERT_TRUE(j);
  EXPECT_TRUE(j->empty());
}

TYPED_TEST(ExecutorContract, AttemptsAreSeparateJobs) {
  this->launched("t-1", 0);
  this->h_.exit_with("t-1", 0, 3);
  ASSERT_EQ(this->events(1).size(), 1u);
  this->launched("t-1", 1);
  this->h_.run("t-1", 1);
  auto ev = this->events(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].attempt, 1);
  auto jobs = this->h_.executor().jobs();
  ASSERT_TRUE(jobs);
  EXPECT_EQ(jobs->size(), 2u);
}

TYPED_TEST(ExecutorContract, LogsOfTheLatestAttempt) {
  this->launched("t-1");
  this->h_.set_log("t-1", 0, "hello\n");
  std::string text;
  auto r = this->h_.executor().logs("t-1", -1, false, [&](std::string_view piece) {
    text.append(piece);
    return true;
  });
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(text, "hello\n");
  auto none = this->h_.executor().logs("nobody", -1, false, [](std::string_view) { return true; });
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace codefleet
