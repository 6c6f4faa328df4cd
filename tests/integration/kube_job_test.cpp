// A task's `run` (what it executes: image, command, env, Secret references, timeout,
// retries), validated field by field, and its translation to a Kubernetes Job — then
// created on the loopback fake API server — and a pod's status back to a task event.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cloud/kubernetes/job.h"
#include "cloud/kubernetes/kube_client.h"
#include "spec/run.h"
#include "support/fake_kube.h"

namespace codefleet {
namespace {

using json = nlohmann::json;

TEST(RunSpec, ParsesEveryField) {
  auto r = parse_run_json(R"({"image": "ghcr.io/acme/agent:1.4", "command": ["agent"],
      "args": ["--repo", "acme/api"], "working_dir": "/work", "service_account": "agent-wi",
      "env": [{"name": "MODE", "value": "fix"},
              {"name": "GH_TOKEN", "secret": {"name": "github", "key": "token"}}],
      "timeout": "2h", "retries": {"limit": 2, "backoff": "1m", "on_exit_codes": [75]}})",
                          "run");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->image, "ghcr.io/acme/agent:1.4");
  EXPECT_EQ(r->args, (std::vector<std::string>{"--repo", "acme/api"}));
  ASSERT_EQ(r->env.size(), 2u);
  EXPECT_TRUE(r->env[1].from_secret());
  EXPECT_EQ(r->env[1].secret_key, "token");
  EXPECT_EQ(*r->timeout, std::chrono::hours(2));
  EXPECT_EQ(r->retries.limit, 2);
  EXPECT_EQ(r->retries.on_exit_codes, std::vector<int>{75});
  // What it writes reads back the same.
  auto again = parse_run_json(run_to_json(*r), "run");
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(run_to_json(*again), run_to_json(*r));
}

TEST(RunSpec, BadFieldsAreNamed) {
  struct Case {
    const char* json;
    const char* field;
    const char* says;
  };
  std::vector<Case> cases = {
      {R"({"command": ["x"]})", "run.image", "required"},
      {R"({"image": "Ghcr.io/Acme/Agent"})", "run.image", "not an image reference"},
      {R"({"image": "acme/agent:1.4 "})", "run.image", "not an image reference"},
      {R"({"image": "acme/agent@sha256:xyz"})", "run.image", "not an image reference"},
      {R"({"image": "a", "env": [{"name": "1BAD", "value": "x"}]})", "run.env[0].name",
       "C identifier"},
      {R"({"image": "a", "env": [{"name": "A-B", "value": "x"}]})", "run.env[0].name",
       "C identifier"},
      {R"({"image": "a", "env": [{"name": "T", "secret": {"name": "gh"}}]})",
       "run.env[0].secret.key", "required"},
      {R"({"image": "a", "env": [{"name": "T", "value": "x", "secret": {"name": "gh", "key": "k"}}]})",
       "run.env[0]", "exactly one"},
      {R"({"image": "a", "env": [{"name": "T", "secret": {"name": "GH", "key": "k"}}]})",
       "run.env[0].secret.name", "Secret name"},
      {R"({"image": "a", "working_dir": "work"})", "run.working_dir", "absolute"},
      {R"({"image": "a", "timeout": "soon"})", "run.timeout", "duration"},
      {R"({"image": "a", "retries": {"limit": 99}})", "run.retries.limit", "0 to 10"},
      {R"({"image": "a", "retries": {"limt": 1}})", "run.retries.limt", "did you mean 'limit'"},
      {R"({"image": "a", "imgae": "b"})", "run.imgae", "did you mean 'image'"},
      {R"({"image": "a", "service_account": "Agent_WI"})", "run.service_account", "ServiceAccount"},
  };
  for (const auto& c : cases) {
    auto r = parse_run_json(c.json, "run");
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().location, c.field) << c.json << ": " << r.error().describe();
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.json << ": " << r.error().message;
  }
  for (const char* ok : {"busybox", "busybox:1.36", "localhost:5000/team/agent:dev",
                         "myregistry.azurecr.io/agents/coder@sha256:"
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}) {
    EXPECT_TRUE(validate_image_reference(ok, "run.image")) << ok;
  }
}

JobTask task_with(Resources r) {
  JobTask t;
  t.task_id = "t-0a1b2c";
  t.tenant = "acme";
  t.class_name = "fine-tune";
  t.resources = r;
  t.run = *parse_run_json(R"({"image": "acme/trainer:2", "command": ["train"], "timeout": "6h",
      "env": [{"name": "HF_TOKEN", "secret": {"name": "hf", "key": "token"}}]})",
                          "run");
  return t;
}

TEST(KubeJob, PinsThePodToThePoolWithRequestsLabelsAndDeadline) {
  JobTarget target{"agents", "h100-train", {"nvidia.com/gpu=present:NoSchedule"}, ""};
  target.ttl_after_finished_s = 7200;
  target.termination_grace_s = 45;
  auto job = build_job(task_with({40, 320 * 1024, 1000, 80 * 1024}), target);
  ASSERT_TRUE(job) << job.error().describe();
  const json& j = *job;
  EXPECT_EQ(j["metadata"]["name"], job_name("t-0a1b2c"));
  EXPECT_EQ(j["metadata"]["labels"]["codefleet.io/task"], "t-0a1b2c");
  EXPECT_EQ(j["metadata"]["labels"]["codefleet.io/tenant"], "acme");
  EXPECT_EQ(j["spec"]["backoffLimit"], 0);
  EXPECT_EQ(j["spec"]["template"]["spec"]["activeDeadlineSeconds"], 6 * 3600);
  EXPECT_EQ(j["spec"]["ttlSecondsAfterFinished"], 7200);
  EXPECT_EQ(j["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 45);
  const json& pod = j["spec"]["template"]["spec"];
  EXPECT_EQ(pod["nodeSelector"]["codefleet.io/pool"], "h100-train");
  EXPECT_EQ(pod["tolerations"][0], (json{{"key", "nvidia.com/gpu"},
                                         {"effect", "NoSchedule"},
                                         {"operator", "Equal"},
                                         {"value", "present"}}));
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["resources"]["requests"],
            (json{{"cpu", "40"}, {"memory", "327680Mi"}, {"nvidia.com/gpu", "1"}}));
  EXPECT_EQ(c["resources"]["limits"], c["resources"]["requests"]);
  EXPECT_EQ(c["env"][0]["valueFrom"]["secretKeyRef"], (json{{"name", "hf"}, {"key", "token"}}));
  EXPECT_EQ(j.dump().find("\"value\":\"token\""), std::string::npos);  // never a secret value
}

TEST(KubeJob, AFractionalGpuNeedsASharingPool) {
  auto refused = build_job(task_with({8, 64 * 1024, 500, 0}), {"agents", "h100-infer", {}, ""});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInfeasible);
  EXPECT_EQ(refused.error().location, "resources.gpus");
  auto shared =
      build_job(task_with({8, 64 * 1024, 500, 0}), {"agents", "h100-infer", {}, "time-slicing"});
  ASSERT_TRUE(shared);
  EXPECT_EQ((*shared)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
                     ["nvidia.com/gpu"],
            "1");
}

TEST(KubeJob, NamesAreStableDnsSafeAndDistinct) {
  EXPECT_EQ(job_name("t-1"), job_name("t-1"));
  EXPECT_NE(job_name("T_1"), job_name("t-1"));  // the same once lower-cased, not the same task
  std::string long_id(128, 'a');
  EXPECT_LE(job_name(long_id, 10).size(), 63u);
  EXPECT_TRUE(is_dns_subdomain(job_name("Task:With.Odd/Chars", 3)));
  EXPECT_NE(job_name("t-1", 1), job_name("t-1"));
}

TEST(KubeJob, TheFakeServerAcceptsItAndRunsOnePod) {
  testing::FakeKube kube;
  KubeConfig c;
  c.server = kube.url();
  KubeClient client(c);
  auto job = build_job(task_with({4, 8192, 0, 0}), {"agents", "cpu", {}, ""});
  ASSERT_TRUE(job);
  ASSERT_TRUE(client.create("/apis/batch/v1/namespaces/agents/jobs", *job));
  auto pods = kube.pods_of_job("agents", job_name("t-0a1b2c"));
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0]["metadata"]["labels"]["codefleet.io/task"], "t-0a1b2c");
  EXPECT_EQ(pods[0]["spec"]["nodeSelector"]["codefleet.io/pool"], "cpu");
}

json pod(const std::string& phase, json state, const std::string& reason = "",
         const std::string& created = "2026-12-07T00:00:00Z") {
  json p{{"metadata", {{"creationTimestamp", created}}},
         {"spec", {{"nodeName", "aks-cpu-0"}}},
         {"status", {{"phase", phase}}}};
  if (!state.is_null()) p["status"]["containerStatuses"] = json::array({{{"state", state}}});
  if (!reason.empty()) p["status"]["reason"] = reason;
  return p;
}

TEST(KubeJob, PodStatesBecomeTaskEvents) {
  int64_t created = 1796601600;  // 2026-12-07T00:00:00Z
  using K = PodState::Kind;
  EXPECT_EQ(pod_state(pod("Pending", nullptr), created, 300).kind, K::kPending);
  EXPECT_EQ(pod_state(pod("Running", {{"running", json::object()}}), created, 300).kind,
            K::kStarted);
  auto done = pod_state(
      pod("Succeeded", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}), created, 300);
  EXPECT_EQ(done.kind, K::kFinished);
  EXPECT_EQ(done.node, "aks-cpu-0");
  auto oom = pod_state(
      pod("Failed", {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}), created, 300);
  EXPECT_EQ(oom.kind, K::kFailed);
  EXPECT_EQ(oom.reason, "OOMKilled");
  EXPECT_EQ(oom.exit_code, 137);
  EXPECT_FALSE(oom.platform);
  auto error = pod_state(pod("Failed", {{"terminated", {{"exitCode", 3}, {"reason", "Error"}}}}),
                         created, 300);
  EXPECT_EQ(error.reason, "Error");
  EXPECT_EQ(error.exit_code, 3);
  auto deadline = pod_state(pod("Failed", nullptr, "DeadlineExceeded"), created, 300);
  EXPECT_EQ(deadline.reason, "DeadlineExceeded");
  auto evicted = pod_state(pod("Failed", nullptr, "Evicted"), created, 300);
  EXPECT_TRUE(evicted.platform);
  EXPECT_EQ(pod_state(pod("Failed", nullptr, "NodeLost"), created, 300).kind, K::kNodeLost);
  // Evicted through the API, preempted by kube-scheduler, drained: the container ends with
  // SIGTERM's 143, and the pod's DisruptionTarget condition says whose doing it was.
  json drained = pod("Failed", {{"terminated", {{"exitCode", 143}, {"reason", "Error"}}}});
  drained["status"]["conditions"] = json::array(
      {{{"type", "DisruptionTarget"}, {"status", "True"}, {"reason", "EvictionByEvictionAPI"}}});
  auto d = pod_state(drained, created, 300);
  EXPECT_TRUE(d.platform);
  EXPECT_EQ(d.reason, "EvictionByEvictionAPI");
  json deleted = pod("Failed", {{"terminated", {{"exitCode", 137}, {"reason", "Error"}}}});
  deleted["metadata"]["deletionTimestamp"] = "2026-12-07T00:05:00Z";
  EXPECT_TRUE(pod_state(deleted, created, 300).platform);
  EXPECT_TRUE(pod_state(pod("Failed", nullptr, "OutOfcpu"), created, 300).platform);
  EXPECT_FALSE(error.platform);
  // An image that cannot be pulled fails the task once the grace has passed, not before.
  json pull = pod("Pending", {{"waiting", {{"reason", "ImagePullBackOff"}}}});
  EXPECT_EQ(pod_state(pull, created + 60, 300).kind, K::kPending);
  auto failed = pod_state(pull, created + 300, 300);
  EXPECT_EQ(failed.kind, K::kFailed);
  EXPECT_EQ(failed.reason, "ImagePullBackOff");
}

}  // namespace
}  // namespace codefleet
