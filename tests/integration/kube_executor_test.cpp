// The daemon with workers: kubernetes, end to end over real HTTP: tasks submitted to the
// API become Jobs on a loopback Kubernetes API server (support/fake_kube.h), the pods'
// phases come back as task states, cancel and preemption delete Jobs, retries respect
// their limit, a throttling API server is waited out, logs come through the daemon, and
// a restarted daemon adopts the Jobs it finds instead of starting them twice.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "cloud/kubernetes/kube_client.h"
#include "cloud/kubernetes/kube_executor.h"
#include "integration/daemon_fixture.h"
#include "integration/test_stores.h"
#include "support/eventually.h"
#include "support/fake_kube.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using testing::eventually;
using testing::http_call;
using testing::kAdminKey;

const std::string kSpec = std::string(CODEFLEET_FIXTURES) + "/serve/kube.yaml";

// The cluster, the executor on it, and the daemon on both.
class KubeDaemon : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override { stop(); }

  void start() {
    KubeConfig config;
    config.server = kube_.url();
    config.namespace_name = "agents";
    KubeOptions ko;
    ko.base_backoff = 10ms;
    client_ = std::make_unique<KubeClient>(config, nullptr, ko);
    KubeExecutorOptions eo;
    eo.namespace_name = "agents";
    eo.image_pull_grace_s = 60;
    eo.watch_timeout_s = 1;
    eo.max_send_backoff = 200ms;
    eo.now_s = [this] { return now_s_.load(); };
    eo.log = [](const std::string&) {};
    eo.namespace_of_pool = pool_namespaces_;
    JobTarget cpu;
    cpu.pool = "cpu";
    cpu.taints = aks_pool_taints(false, true);
    eo.pools["cpu"] = cpu;
    executor_ = std::make_unique<KubeExecutor>(*client_, eo);
    testing::DaemonOptions o;
    o.executor = executor_.get();
    daemon_ =
        std::make_unique<testing::Daemon>(fresh_.url(), "", std::nullopt, kSpec, std::nullopt, o);
    http_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->port());
  }
  void stop() {
    http_.reset();
    daemon_.reset();
    executor_.reset();
    client_.reset();
  }

  std::string submit(const json& body) {
    auto r = http_call(*http_, "POST", "/v1/tasks", kAdminKey, body.dump());
    EXPECT_EQ(r.status, 201) << r.text;
    return r.body.value("id", "");
  }
  json task(const std::string& id) {
    return http_call(*http_, "GET", "/v1/tasks/" + id, kAdminKey).body;
  }
  std::string state(const std::string& id) { return task(id).value("state", ""); }
  bool reaches(const std::string& id, const std::string& want, std::chrono::milliseconds t = 10s) {
    return eventually([&] { return state(id) == want; }, t);
  }
  // The task's Jobs as the API server holds them, by attempt.
  std::map<int, json> jobs_of(const std::string& id) {
    std::map<int, json> out;
    for (auto& j : kube_.objects("jobs")) {
      const json& ann = j["metadata"].value("annotations", json::object());
      if (ann.value("codefleet.io/task-id", "") == id)
        out[std::stoi(ann.value("codefleet.io/attempt", "0"))] = j;
    }
    return out;
  }
  std::string pod_of(const std::string& id, int attempt = 0) {
    auto jobs = jobs_of(id);
    if (!jobs.count(attempt)) return "";
    auto pods = kube_.pods_of_job(ns_, jobs[attempt]["metadata"]["name"]);
    return pods.empty() ? "" : pods[0]["metadata"].value("name", "");
  }
  std::string wait_pod(const std::string& id, int attempt = 0) {
    std::string pod;
    eventually([&] { return !(pod = pod_of(id, attempt)).empty(); });
    return pod;
  }
  void run(const std::string& pod, const std::string& node = "aks-cpu-0") {
    kube_.set_pod_phase(ns_, pod, "Running", {{"running", {{"startedAt", "now"}}}}, node);
  }
  void exit_with(const std::string& pod, int code, const std::string& reason = "") {
    json term{{"exitCode", code},
              {"reason", reason.empty() ? (code ? "Error" : "Completed") : reason}};
    kube_.set_pod_phase(ns_, pod, code == 0 ? "Succeeded" : "Failed", {{"terminated", term}});
  }
  std::vector<std::string> event_kinds(const std::string& id) {
    std::vector<std::string> out;
    json t = task(id);
    for (auto& e : t["events"]) out.push_back(e.value("kind", ""));
    return out;
  }

  std::string ns_ = "agents";  // where the helpers look for pods
  std::map<std::string, std::string> pool_namespaces_;
  testing::FreshStore fresh_{"sqlite"};
  testing::FakeKube kube_;
  std::atomic<int64_t> now_s_{std::time(nullptr)};
  std::unique_ptr<KubeClient> client_;
  std::unique_ptr<KubeExecutor> executor_;
  std::unique_ptr<testing::Daemon> daemon_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(KubeDaemon, ASubmittedTaskBecomesAJobPinnedToItsPool) {
  std::string id = submit({{"class", "build"}, {"tenant", "acme"}});
  ASSERT_TRUE(eventually([&] { return jobs_of(id).size() == 1; }));
  json job = jobs_of(id)[0];
  const json& spec = job["spec"];
  EXPECT_EQ(spec["backoffLimit"], 0);
  const json& pod = spec["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"], json({{"codefleet.io/pool", "cpu"}}));
  EXPECT_EQ(pod["tolerations"][0]["key"], "kubernetes.azure.com/scalesetpriority");
  EXPECT_EQ(pod["tolerations"][0]["effect"], "NoSchedule");
  EXPECT_EQ(pod["activeDeadlineSeconds"], 7200);
  EXPECT_EQ(pod["restartPolicy"], "Never");
  EXPECT_FALSE(pod.contains("terminationGracePeriodSeconds"));  // not configured here
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "ghcr.io/acme/agent:1.4");
  EXPECT_EQ(c["command"], json({"agent", "build"}));
  EXPECT_EQ(c["resources"]["requests"], json({{"cpu", "2"}, {"memory", "4096Mi"}}));
  EXPECT_EQ(c["resources"]["limits"], c["resources"]["requests"]);
  EXPECT_EQ(c["env"][1]["valueFrom"]["secretKeyRef"], json({{"name", "github"}, {"key", "token"}}));
  const json& labels = job["metadata"]["labels"];
  EXPECT_EQ(labels["codefleet.io/tenant"], "acme");
  EXPECT_EQ(labels["codefleet.io/class"], "build");
  EXPECT_EQ(labels["codefleet.io/pool"], "cpu");
  EXPECT_EQ(labels["codefleet.io/task"], id);
  EXPECT_EQ(job["metadata"]["name"], job_name(id, 0));
  EXPECT_EQ(state(id), "admitted");
}

TEST_F(KubeDaemon, PodPhasesBecomeTaskStates) {
  std::string id = submit({{"class", "build"}});
  std::string pod = wait_pod(id);
  ASSERT_FALSE(pod.empty());
  run(pod, "aks-cpu-12345-vmss000003");
  ASSERT_TRUE(reaches(id, "running"));
  EXPECT_EQ(task(id)["node"], "aks-cpu-12345-vmss000003");  // the real node's name
  exit_with(pod, 0);
  ASSERT_TRUE(reaches(id, "completed"));
  json events = task(id)["events"];
  bool finished = false;
  for (auto& e : events) {
    if (e["kind"] == "finished") {
      finished = true;
      EXPECT_EQ(e["detail"]["exit_code"], 0);
    }
  }
  EXPECT_TRUE(finished) << events.dump();
}

TEST_F(KubeDaemon, OomKilledAndAnImageThatCannotBePulledFailWithTheirReason) {
  std::string oom = submit({{"class", "build"}});
  std::string pull = submit({{"class", "build"}});
  std::string oom_pod = wait_pod(oom), pull_pod = wait_pod(pull);
  run(oom_pod);
  ASSERT_TRUE(reaches(oom, "running"));
  exit_with(oom_pod, 137, "OOMKilled");
  ASSERT_TRUE(reaches(oom, "failed"));
  EXPECT_NE(task(oom).value("reason", "").find("OOMKilled (exit code 137)"), std::string::npos)
      << task(oom).dump();

  kube_.set_pod_phase("agents", pull_pod, "Pending",
                      {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "not found"}}}});
  std::this_thread::sleep_for(1500ms);  // within the 60 s grace: still waiting
  EXPECT_EQ(state(pull), "admitted");
  now_s_ += 120;  // the grace is over: the next sweep fails it
  ASSERT_TRUE(reaches(pull, "failed"));
  EXPECT_NE(task(pull).value("reason", "").find("ImagePullBackOff"), std::string::npos);
  // Its pod would wait forever, holding its requests: the Job is deleted.
  ASSERT_TRUE(eventually([&] { return jobs_of(pull).empty(); }));
  EXPECT_EQ(jobs_of(oom).size(), 1u);  // an ended pod's Job stays for its log
}

TEST_F(KubeDaemon, AWatchCutMidStreamAndA410LoseNoTransition) {
  std::string id = submit({{"class", "build"}});
  std::string pod = wait_pod(id);
  kube_.cut_watches_after(1);  // every open watch drops after one more event
  run(pod);
  ASSERT_TRUE(reaches(id, "running"));
  int gone_before = kube_.gone_sent();
  kube_.compact();  // open watches end with 410; the versions they knew are gone: relist
  exit_with(pod, 0);
  ASSERT_TRUE(reaches(id, "completed"));
  EXPECT_GT(kube_.gone_sent(), gone_before);  // the 410 path was taken
  auto kinds = event_kinds(id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "started"), kinds.end()) << task(id).dump();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "finished"), kinds.end());
}

TEST_F(KubeDaemon, CancelDeletesTheJobInTheBackground) {
  std::string id = submit({{"class", "build"}});
  run(wait_pod(id));
  ASSERT_TRUE(reaches(id, "running"));
  auto r = http_call(*http_, "DELETE", "/v1/tasks/" + id, kAdminKey);
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_TRUE(eventually([&] { return jobs_of(id).empty(); }));
  EXPECT_EQ(kube_.delete_policies().back(), "Background");
  EXPECT_EQ(state(id), "cancelled");
}

TEST_F(KubeDaemon, PreemptionDeletesTheJobAndTheTaskRunsAgainLater) {
  std::string low = submit({{"class", "build"}});
  std::string low_pod = wait_pod(low);
  run(low_pod);
  ASSERT_TRUE(reaches(low, "running"));
  std::this_thread::sleep_for(700ms);  // past the 5 simulated minutes before preemption
  std::string high = submit({{"class", "urgent"}});  // the whole node
  ASSERT_TRUE(eventually([&] { return !jobs_of(high).empty(); }));
  ASSERT_TRUE(eventually([&] { return jobs_of(low).empty(); }));  // preempted: Job deleted
  EXPECT_EQ(state(low), "pending");
  auto kinds = event_kinds(low);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "preempted"), kinds.end());
  exit_with(wait_pod(high), 0);
  ASSERT_TRUE(reaches(high, "completed"));
  // The node is free again: the preempted task runs as a new attempt, a new Job.
  ASSERT_TRUE(eventually([&] { return jobs_of(low).count(1) == 1; }));
  EXPECT_EQ(jobs_of(low)[1]["metadata"]["name"], job_name(low, 1));
}

TEST_F(KubeDaemon, RetriesRespectTheLimitAndEvictionSpendsNone) {
  std::string id = submit({{"class", "flaky"}});  // retries: limit 1 on exit code 3
  exit_with(wait_pod(id, 0), 137, "Evicted");     // the platform's doing: no retry spent
  ASSERT_TRUE(eventually([&] { return jobs_of(id).count(1) == 1; }));
  exit_with(wait_pod(id, 1), 3);  // the task's own failure: the one retry is spent
  ASSERT_TRUE(eventually([&] { return jobs_of(id).count(2) == 1; }));
  exit_with(wait_pod(id, 2), 3);  // and no more
  ASSERT_TRUE(reaches(id, "failed"));
  EXPECT_NE(task(id).value("reason", "").find("after 1 retries"), std::string::npos)
      << task(id).dump();
  // The evicted attempt's Job is gone; the two failed ones stay for their logs.
  EXPECT_EQ(jobs_of(id).size(), 2u);
  EXPECT_EQ(jobs_of(id).count(0), 0u);
  auto kinds = event_kinds(id);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "retry"), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "node_lost"), 1);
}

TEST_F(KubeDaemon, ANodeThatIsDeletedOrStaysNotReadyLosesItsTasksWhichRunAgain) {
  kube_.add_node("aks-cpu-1", "cpu");
  kube_.add_node("aks-cpu-2", "cpu");
  std::string gone = submit({{"class", "build"}});
  std::string quiet = submit({{"class", "build"}});
  run(wait_pod(gone), "aks-cpu-1");
  run(wait_pod(quiet), "aks-cpu-2");
  ASSERT_TRUE(reaches(gone, "running"));
  ASSERT_TRUE(reaches(quiet, "running"));
  kube_.remove_node("aks-cpu-1");
  ASSERT_TRUE(eventually([&] { return jobs_of(gone).count(1) == 1; }));  // runs again
  EXPECT_EQ(jobs_of(gone).count(0), 0u);                                 // the old Job deleted
  kube_.set_node_ready("aks-cpu-2", false);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(state(quiet), "running");  // within the 60 s grace: waited for
  now_s_ += 120;
  ASSERT_TRUE(eventually([&] { return jobs_of(quiet).count(1) == 1; }));
  auto kinds = event_kinds(quiet);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "node_lost"), kinds.end());
  json t = task(quiet);
  bool said = false;
  for (auto& e : t["events"]) said = said || e["detail"].value("reason", "") == "NodeNotReady";
  EXPECT_TRUE(said) << t.dump();
}

TEST_F(KubeDaemon, RetriesSpentSurviveARestart) {
  std::string id = submit({{"class", "flaky"}});  // retries: limit 1 on exit code 3
  exit_with(wait_pod(id, 0), 3);
  std::string second = wait_pod(id, 1);
  ASSERT_FALSE(second.empty());
  stop();
  start();  // the new daemon counts the retry already spent
  run(second);
  ASSERT_TRUE(reaches(id, "running"));
  exit_with(second, 3);
  ASSERT_TRUE(reaches(id, "failed"));
  EXPECT_EQ(jobs_of(id).count(2), 0u);  // no third attempt
  EXPECT_EQ(executor_->adopted(), 1);   // attempt 1 was taken back, not started again
}

TEST_F(KubeDaemon, AFailureAlreadyRetriedIsNotCountedAgainAfterARestart) {
  std::string id = submit({{"class", "patient"}});  // limit 1, a one-hour backoff (6 s here)
  exit_with(wait_pod(id, 0), 3);
  ASSERT_TRUE(eventually([&] {
    auto k = event_kinds(id);
    return std::count(k.begin(), k.end(), "retry") == 1;
  }));
  stop();  // while it waits out the backoff; its failed Job stays (for its log)
  start();
  // The failed attempt is not taken back (its failure was handled): the retry runs.
  std::string second = wait_pod(id, 1);
  ASSERT_FALSE(second.empty()) << task(id).dump();
  exit_with(second, 3);
  ASSERT_TRUE(reaches(id, "failed"));
  EXPECT_NE(task(id).value("reason", "").find("after 1 retries"), std::string::npos);
  EXPECT_EQ(jobs_of(id).count(0), 1u);  // kept for its log
}

TEST_F(KubeDaemon, PreemptionSpendsNoRetry) {
  std::string id = submit({{"class", "flaky"}});  // retries: limit 1 on exit code 3
  run(wait_pod(id, 0));
  ASSERT_TRUE(reaches(id, "running"));
  std::this_thread::sleep_for(700ms);  // past the 5 simulated minutes before preemption
  std::string high = submit({{"class", "urgent"}});
  ASSERT_TRUE(eventually([&] { return jobs_of(id).empty(); }));  // preempted
  exit_with(wait_pod(high), 0);
  ASSERT_TRUE(reaches(high, "completed"));
  exit_with(wait_pod(id, 1), 3);  // its own failure after the preemption: the retry is there
  ASSERT_TRUE(eventually([&] { return jobs_of(id).count(2) == 1; }));
  auto kinds = event_kinds(id);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "preempted"), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "retry"), 1);
}

// The scheduler's node and the real machine: bound by the first task that starts, so the
// next task the scheduler packs onto that node runs on that machine; and a machine that is
// deleted takes the scheduler's node along (its quota and cost stop).
TEST_F(KubeDaemon, TasksPackedOnOneNodeRunOnItsMachineAndALostMachineTakesTheNodeAlong) {
  kube_.add_node("aks-cpu-1", "cpu");
  std::string a = submit({{"class", "build"}});  // 2 of the node's 4 vCPUs
  run(wait_pod(a), "aks-cpu-1");
  ASSERT_TRUE(reaches(a, "running"));
  std::string b = submit({{"class", "build"}});  // the other 2: the same node
  ASSERT_TRUE(eventually([&] { return jobs_of(b).count(0) == 1; }));
  EXPECT_EQ(jobs_of(b)[0]["spec"]["template"]["spec"]["nodeSelector"],
            json({{"codefleet.io/pool", "cpu"}, {"kubernetes.io/hostname", "aks-cpu-1"}}));
  kube_.remove_node("aks-cpu-1");
  // Both run again on a new node of the pool, not pinned to the machine that is gone.
  ASSERT_TRUE(eventually([&] { return jobs_of(a).count(1) == 1 && jobs_of(b).count(1) == 1; }));
  EXPECT_FALSE(
      jobs_of(b)[1]["spec"]["template"]["spec"]["nodeSelector"].contains("kubernetes.io/hostname"));
  EXPECT_EQ(jobs_of(b).count(0), 0u);  // the pinned Job went with its machine
  auto kinds = event_kinds(b);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "node_lost"), kinds.end());
}

TEST_F(KubeDaemon, APoolsTasksRunInItsEnvironmentsNamespace) {
  stop();
  pool_namespaces_ = {{"cpu", "prod-agents"}};  // kubernetes.namespaces: {prod: prod-agents}
  ns_ = "prod-agents";
  start();
  std::string done = submit({{"class", "build"}});
  std::string gone = submit({{"class", "build"}});
  ASSERT_TRUE(eventually([&] { return jobs_of(done).size() == 1 && jobs_of(gone).size() == 1; }));
  EXPECT_EQ(jobs_of(done)[0]["metadata"]["namespace"], "prod-agents");
  std::string pod = wait_pod(done);
  run(pod);
  ASSERT_TRUE(reaches(done, "running"));  // watched there
  kube_.set_pod_log("prod-agents", pod, "from prod\n");
  EXPECT_EQ(http_call(*http_, "GET", "/v1/tasks/" + done + "/logs", kAdminKey).text, "from prod\n");
  exit_with(pod, 0);
  ASSERT_TRUE(reaches(done, "completed"));
  ASSERT_EQ(http_call(*http_, "DELETE", "/v1/tasks/" + gone, kAdminKey).status, 200);
  ASSERT_TRUE(eventually([&] { return jobs_of(gone).empty(); }));  // deleted there
  // A restart finds its Jobs there too.
  stop();
  start();
  EXPECT_EQ(state(done), "completed");
  EXPECT_EQ(jobs_of(done).size(), 1u);
}

TEST_F(KubeDaemon, AJobThatMakesNoPodFailsItsAttemptAfterTheGrace) {
  kube_.make_pods(false);  // e.g. a service account that does not exist
  std::string id = submit({{"class", "build"}});
  ASSERT_TRUE(eventually([&] { return jobs_of(id).size() == 1; }));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(state(id), "admitted");  // within the grace: waited for
  now_s_ += 400;
  ASSERT_TRUE(reaches(id, "failed"));
  EXPECT_NE(task(id).value("reason", "").find("NoPod"), std::string::npos) << task(id).dump();
  ASSERT_TRUE(eventually([&] { return jobs_of(id).empty(); }));  // and its Job is gone
}

TEST_F(KubeDaemon, AStrayAttemptThatStartsIsStopped) {
  std::string id = submit({{"class", "build"}});
  std::string pod = wait_pod(id);
  ASSERT_FALSE(pod.empty());
  // A create an earlier leader still had on its way lands late: attempt 7 of a live task.
  json stray = *build_job({id, "default", "build", Resources{2, 4096, 0, 0},
                           RunSpec{"ghcr.io/acme/agent:1.4", {}, {}, {}, "", "", {}, {}}, 7},
                          {"agents", "cpu", {}, "", 3600});
  KubeConfig config;
  config.server = kube_.url();
  KubeClient direct(config);
  ASSERT_TRUE(direct.create("/apis/batch/v1/namespaces/agents/jobs", stray));
  run(wait_pod(id, 7));
  ASSERT_TRUE(eventually([&] { return jobs_of(id).count(7) == 0; }));  // stopped
  EXPECT_EQ(jobs_of(id).count(0), 1u);                                 // the real one runs on
  run(pod);
  ASSERT_TRUE(reaches(id, "running"));
}

TEST_F(KubeDaemon, AnExitCodeTheRetryPolicyDoesNotListFailsAtOnce) {
  std::string id = submit({{"class", "flaky"}});
  exit_with(wait_pod(id), 1);
  ASSERT_TRUE(reaches(id, "failed"));
  EXPECT_EQ(jobs_of(id).size(), 1u);
}

TEST_F(KubeDaemon, AThrottlingApiServerIsWaitedOut) {
  kube_.throttle_next(2, 1, "POST");  // the Job's create, twice
  auto t0 = std::chrono::steady_clock::now();
  std::string id = submit({{"class", "build"}});
  ASSERT_TRUE(eventually([&] { return jobs_of(id).size() == 1; }, 15s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1900ms);  // Retry-After: 1, twice
  int posts = 0;
  for (const auto& r : kube_.requests()) posts += r == "POST /apis/batch/v1/namespaces/agents/jobs";
  EXPECT_EQ(posts, 3);  // two answered 429, the third created it
}

TEST_F(KubeDaemon, LogsComeThroughTheDaemonTenantScoped) {
  std::string id = submit({{"class", "build"}, {"tenant", "acme"}});
  std::string pod = wait_pod(id);
  kube_.set_pod_log("agents", pod, "line 1\nline 2\n");
  auto r = http_call(*http_, "GET", "/v1/tasks/" + id + "/logs", kAdminKey);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.text, "line 1\nline 2\n");
  r = http_call(*http_, "GET", "/v1/tasks/" + id + "/logs?follow=true&tail=10", kAdminKey);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.text, "line 1\nline 2\n");
  EXPECT_EQ(http_call(*http_, "GET", "/v1/tasks/" + id + "/logs?tail=x", kAdminKey).status, 400);
  // Another tenant's key sees no such task.
  ApiKey other{"key-other",   "other",  sha256_hex("cfk_other_tenant_secret_012345"),
               Role::kViewer, "globex", 0,
               false,         {}};
  ASSERT_TRUE(daemon_->store().put_api_key(other));
  EXPECT_EQ(http_call(*http_, "GET", "/v1/tasks/" + id + "/logs", "cfk_other_tenant_secret_012345")
                .status,
            404);
}

TEST_F(KubeDaemon, ARunThatCannotRunIsRefusedAtSubmitNamingTheField) {
  struct Case {
    json run;
    std::string field;
  };
  for (const auto& c : std::vector<Case>{
           {{{"image", "Ghcr.io/Acme/Agent:1.4 latest"}}, "run.image"},
           {{{"image", "ghcr.io/acme/agent:1"}, {"env", {{{"name", "1X"}, {"value", "v"}}}}},
            "run.env[0].name"},
           {{{"image", "ghcr.io/acme/agent:1"},
             {"env", {{{"name", "TOKEN"}, {"secret", {{"name", "gh"}}}}}}},
            "run.env[0].secret.key"},
           {{{"image", "ghcr.io/acme/agent:1"}, {"comand", {"x"}}}, "run.comand"}}) {
    auto r = http_call(*http_, "POST", "/v1/tasks", kAdminKey,
                       json({{"class", "build"}, {"run", c.run}}).dump());
    EXPECT_EQ(r.status, 422) << c.run.dump() << " " << r.text;
    EXPECT_EQ(r.body["error"].value("field", ""), c.field) << r.text;
  }
  // Half a GPU: Kubernetes hands out whole devices unless the pool shares them.
  auto half =
      http_call(*http_, "POST", "/v1/tasks", kAdminKey,
                R"({"class": "build", "resources": {"vcpus": 1, "memory_gib": 1, "gpus": 0.5}})");
  EXPECT_EQ(half.status, 422) << half.text;
  EXPECT_EQ(half.body["error"].value("field", ""), "resources.gpus") << half.text;
  // A task's own run replaces its class's.
  std::string id = submit({{"class", "build"}, {"run", {{"image", "ghcr.io/acme/other:2"}}}});
  ASSERT_TRUE(eventually([&] { return jobs_of(id).size() == 1; }));
  EXPECT_EQ(jobs_of(id)[0]["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/acme/other:2");
}

TEST_F(KubeDaemon, ARestartedDaemonAdoptsItsJobsAndDeletesOrphans) {
  std::string id = submit({{"class", "build"}});
  std::string pod = wait_pod(id);
  run(pod);
  ASSERT_TRUE(reaches(id, "running"));
  stop();
  // While it was down: the pod finished, and someone left a CodeFleet Job with no task.
  exit_with(pod, 0);
  json orphan = *build_job({"t-nobody", "acme", "build", Resources{1, 1024, 0, 0},
                            RunSpec{"ghcr.io/acme/agent:1", {}, {}, {}, "", "", {}, {}}, 0},
                           {"agents", "cpu", {}, "", 3600});
  KubeConfig config;
  config.server = kube_.url();
  KubeClient direct(config);
  ASSERT_TRUE(direct.create("/apis/batch/v1/namespaces/agents/jobs", orphan));
  start();
  ASSERT_TRUE(reaches(id, "completed"));
  EXPECT_EQ(jobs_of(id).size(), 1u);  // adopted, never a second Job
  EXPECT_EQ(executor_->adopted(), 1);
  ASSERT_TRUE(eventually([&] { return jobs_of("t-nobody").empty(); }));  // the orphan
}

}  // namespace
}  // namespace codefleet
