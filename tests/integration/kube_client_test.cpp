// The Kubernetes API client against a loopback fake API server that speaks the real
// protocol's shapes — proved by pointing Debian's kubectl at it — over real HTTP: kubeconfig
// and in-cluster sign-in (token rotation, AKS kubelogin entries), create-or-adopt on 409,
// 429 with Retry-After, List + Watch with bookmarks, a watch cut mid-stream and a 410 Gone
// that lose no transition, deletes with their propagation policy, and pod logs.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cloud/kubernetes/kube_client.h"
#include "support/fake_kube.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("cf_kube_" + std::to_string(::getpid()) + "_" + name);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

json job(const std::string& name, const std::string& task) {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", name}, {"labels", {{"codefleet.io/task", task}}}}},
          {"spec",
           {{"backoffLimit", 0},
            {"template",
             {{"metadata", {{"labels", {{"codefleet.io/task", task}}}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"containers", json::array({{{"name", "task"}, {"image", "busybox:1.36"}}})}}}}}}}};
}

// A client of the fake, recording the waits it would have slept.
struct Fixture {
  testing::FakeKube kube;
  std::vector<milliseconds> waits;
  KubeClient client() {
    KubeConfig c;
    c.server = kube.url();
    c.namespace_name = "agents";
    KubeOptions o;
    o.sleep = [this](milliseconds d) { waits.push_back(d); };
    return KubeClient(c, nullptr, o);
  }
};

TEST(KubeClient, KubectlReadsTheFakeServer) {
  if (std::system("kubectl version --client >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "SKIPPED: kubectl is not installed (scripts/setup.sh installs "
                    "kubernetes-client)";
  }
  Fixture f;
  auto kube = f.client();
  ASSERT_TRUE(kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-1", "t-1")));
  auto dir = temp_dir("kubectl");
  write(dir / "config", f.kube.kubeconfig("agents"));
  std::string out_file = (dir / "out.json").string();
  std::string cmd = "HOME=" + dir.string() + " kubectl --kubeconfig " + (dir / "config").string() +
                    " --cache-dir " + (dir / "cache").string() + " get jobs,pods -o json >" +
                    out_file + " 2>" + (dir / "err.txt").string();
  int rc = std::system(cmd.c_str());
  std::ifstream in(out_file), err_in(dir / "err.txt");
  std::string out((std::istreambuf_iterator<char>(in)), {}),
      err((std::istreambuf_iterator<char>(err_in)), {});
  ASSERT_EQ(rc, 0) << err;
  auto list = json::parse(out, nullptr, false);
  ASSERT_TRUE(list.is_object()) << out;
  EXPECT_EQ(list["kind"], "List");
  std::vector<std::string> kinds;
  for (const auto& item : list["items"]) kinds.push_back(item.value("kind", ""));
  EXPECT_EQ(kinds, (std::vector<std::string>{"Job", "Pod"})) << out;
  EXPECT_EQ(list["items"][1]["metadata"]["labels"]["job-name"], "cf-t-1");
  // A missing object: kubectl reads the Status and says NotFound.
  std::string missing = "HOME=" + dir.string() + " kubectl --kubeconfig " +
                        (dir / "config").string() + " --cache-dir " + (dir / "cache").string() +
                        " get job nope 2>&1";
  FILE* p = ::popen(missing.c_str(), "r");
  char buf[512] = {};
  std::string said;
  while (p && std::fgets(buf, sizeof buf, p)) said += buf;
  if (p) ::pclose(p);
  EXPECT_NE(said.find("NotFound"), std::string::npos) << said;
  fs::remove_all(dir);
}

// The generated RBAC manifest (iac: kubernetes/codefleet-rbac.yaml) read by kubectl, which
// maps every object to a real kind through the server's discovery and builds it offline.
TEST(KubeClient, KubectlBuildsTheGeneratedRbacManifest) {
  if (std::system("kubectl version --client >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "SKIPPED: kubectl is not installed (scripts/setup.sh installs "
                    "kubernetes-client)";
  }
  Fixture f;
  auto dir = temp_dir("kubectl-rbac");
  write(dir / "config", f.kube.kubeconfig());
  std::string manifest =
      std::string(CODEFLEET_FIXTURES) + "/iac/recommended/terraform/kubernetes/codefleet-rbac.yaml";
  std::string out_file = (dir / "out.json").string();
  std::string cmd = "HOME=" + dir.string() + " kubectl --kubeconfig " + (dir / "config").string() +
                    " --cache-dir " + (dir / "cache").string() +
                    " create --dry-run=client --validate=false -o json -f " + manifest + " >" +
                    out_file + " 2>" + (dir / "err.txt").string();
  int rc = std::system(cmd.c_str());
  std::ifstream in(out_file), err_in(dir / "err.txt");
  std::string out((std::istreambuf_iterator<char>(in)), {}),
      err((std::istreambuf_iterator<char>(err_in)), {});
  ASSERT_EQ(rc, 0) << err;
  // One JSON object per manifest document, one after the other.
  std::istringstream objects(out);
  std::vector<std::string> kinds;
  for (json item; objects >> std::ws && objects.peek() != EOF;) {
    objects >> item;
    kinds.push_back(item.value("kind", ""));
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"Namespace", "ServiceAccount", "Role", "RoleBinding",
                                             "ClusterRole", "ClusterRoleBinding"}))
      << out;
  fs::remove_all(dir);
}

TEST(KubeClient, CreateTwiceIsOneJobAndOnePod) {
  Fixture f;
  auto kube = f.client();
  bool existed = true;
  auto first = kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-2", "t-2"), &existed);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(existed);
  auto again = kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-2", "t-2"), &existed);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(existed);
  EXPECT_EQ((*again)["metadata"]["uid"], (*first)["metadata"]["uid"]);
  EXPECT_EQ(f.kube.objects("jobs").size(), 1u);
  EXPECT_EQ(f.kube.pods_of_job("agents", "cf-t-2").size(), 1u);
}

TEST(KubeClient, TooManyRequestsIsRetriedAsRetryAfterSays) {
  Fixture f;
  auto kube = f.client();
  f.kube.throttle_next(2, 3);
  auto r = kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-3", "t-3"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(f.waits, (std::vector<milliseconds>{milliseconds(3000), milliseconds(3000)}));
  int posts = 0;
  for (const auto& q : f.kube.requests()) posts += q.rfind("POST ", 0) == 0;
  EXPECT_EQ(posts, 3);
  EXPECT_EQ(f.kube.objects("jobs").size(), 1u);
  // Throttled past every attempt: kUnavailable, naming the reason.
  f.kube.throttle_next(10, 1);
  auto refused = kube.get("/apis/batch/v1/namespaces/agents/jobs/cf-t-3");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("TooManyRequests"), std::string::npos);
}

TEST(KubeClient, ErrorsCarryTheStatusReason) {
  Fixture f;
  auto kube = f.client();
  auto missing = kube.get("/apis/batch/v1/namespaces/agents/jobs/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("NotFound"), std::string::npos);
  auto bad = kube.create("/apis/batch/v1/namespaces/agents/jobs", json{{"kind", "Job"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInfeasible);
  EXPECT_NE(bad.error().message.find("Invalid"), std::string::npos);
}

// Pod phases as a reflector sees them, in order.
struct Seen {
  std::vector<std::string> phases;
  std::vector<std::string> deleted;
  void operator()(const std::string& type, const json& pod) {
    if (type == "DELETED") {
      deleted.push_back(pod["metadata"]["name"]);
      return;
    }
    std::string phase = pod["status"].value("phase", "");
    if (phases.empty() || phases.back() != phase) phases.push_back(phase);
  }
};

TEST(KubeClient, AWatchCutMidStreamResumesWithoutLosingATransition) {
  Fixture f;
  auto kube = f.client();
  ASSERT_TRUE(kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-4", "t-4")));
  std::string pod = f.kube.pods_of_job("agents", "cf-t-4")[0]["metadata"]["name"];
  Seen seen;
  KubeReflector r(kube, "/api/v1/namespaces/agents/pods", "codefleet.io/task=t-4",
                  [&](const std::string& t, const json& o) { seen(t, o); });
  ASSERT_TRUE(r.step(1));  // the list: Pending
  f.kube.cut_watches_after(1);
  f.kube.set_pod_phase("agents", pod, "Running",
                       {{"running", {{"startedAt", "2026-12-07T00:00:01Z"}}}}, "aks-gpu-0");
  f.kube.set_pod_phase("agents", pod, "Succeeded",
                       {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}});
  auto cut = r.step(1);  // one event, then the connection drops
  ASSERT_TRUE(cut) << cut.error().describe();
  ASSERT_TRUE(r.step(1));  // resumes from the last version seen
  EXPECT_EQ(seen.phases, (std::vector<std::string>{"Pending", "Running", "Succeeded"}));
  EXPECT_EQ(r.relists(), 1);
}

TEST(KubeClient, GoneRelistsAndConverges) {
  Fixture f;
  auto kube = f.client();
  ASSERT_TRUE(kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-5", "t-5")));
  ASSERT_TRUE(kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-6", "t-6")));
  Seen seen;
  KubeReflector r(kube, "/api/v1/namespaces/agents/pods", "codefleet.io/task",
                  [&](const std::string& t, const json& o) { seen(t, o); });
  ASSERT_TRUE(r.step(1));
  std::string pod5 = f.kube.pods_of_job("agents", "cf-t-5")[0]["metadata"]["name"];
  f.kube.set_pod_phase("agents", pod5, "Failed",
                       {{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}});
  ASSERT_TRUE(kube.remove("/apis/batch/v1/namespaces/agents/jobs/cf-t-6"));
  f.kube.compact();        // the reflector's version is now too old
  ASSERT_TRUE(r.step(1));  // 410 Gone
  EXPECT_TRUE(r.resource_version().empty());
  ASSERT_TRUE(r.step(1));  // relist
  EXPECT_EQ(r.relists(), 2);
  EXPECT_EQ(seen.phases.back(), "Failed");
  ASSERT_EQ(seen.deleted.size(), 1u);
  EXPECT_EQ(seen.deleted[0].rfind("cf-t-6-", 0), 0u);
}

TEST(KubeClient, DeleteSendsItsPropagationPolicyAndIsIdempotent) {
  Fixture f;
  auto kube = f.client();
  ASSERT_TRUE(kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-7", "t-7")));
  auto gone = kube.remove("/apis/batch/v1/namespaces/agents/jobs/cf-t-7", "Background", 30);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(*gone);
  EXPECT_EQ(f.kube.delete_policies(), (std::vector<std::string>{"Background"}));
  EXPECT_TRUE(f.kube.objects("jobs").empty());
  EXPECT_TRUE(f.kube.pods_of_job("agents", "cf-t-7").empty());
  auto again = kube.remove("/apis/batch/v1/namespaces/agents/jobs/cf-t-7");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
}

TEST(KubeClient, ReadsAPodsLog) {
  Fixture f;
  auto kube = f.client();
  ASSERT_TRUE(kube.create("/apis/batch/v1/namespaces/agents/jobs", job("cf-t-8", "t-8")));
  std::string pod = f.kube.pods_of_job("agents", "cf-t-8")[0]["metadata"]["name"];
  f.kube.set_pod_log("agents", pod, "step 1\nstep 2\n");
  auto log = kube.logs("agents", pod, 10);
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_EQ(*log, "step 1\nstep 2\n");
}

TEST(Kubeconfig, ReadsTokenCertificatesAndContext) {
  std::string yaml = R"(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:443/
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
users:
- name: ci
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: bot
  user:
    token: abc
contexts:
- name: a
  context: {cluster: prod, user: ci, namespace: agents}
- name: b
  context: {cluster: prod, user: bot}
current-context: a
)";
  auto a = parse_kubeconfig(yaml, "kc.yaml");
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->server, "https://prod.example:443");
  EXPECT_EQ(a->ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(a->client_cert_pem, "cert");
  EXPECT_EQ(a->client_key_pem, "key");
  EXPECT_EQ(a->namespace_name, "agents");
  auto b = parse_kubeconfig(yaml, "kc.yaml", "b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->token, "abc");
  EXPECT_EQ(b->namespace_name, "default");
  auto none = parse_kubeconfig(yaml, "kc.yaml", "zzz");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().describe().find("no context 'zzz'"), std::string::npos);
}

TEST(Kubeconfig, AnAksKubeloginEntryAsksForAnEntraToken) {
  std::string yaml = R"(clusters:
- name: aks
  cluster: {server: https://aks.hcp.westeurope.azmk8s.io:443}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, azurecli, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
contexts:
- name: c
  context: {cluster: aks, user: u}
current-context: c
)";
  auto c = parse_kubeconfig(yaml, "aks.yaml");
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->azure_scope, "6dae42f8-4368-4678-94ff-3960e28e3630/.default");
  // Another plugin is refused, naming the field.
  std::string other = yaml;
  other.replace(other.find("command: kubelogin"), 18, "command: gke-gcloud-auth-plugin");
  auto refused = parse_kubeconfig(other, "aks.yaml");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().describe().find("users[u].exec"), std::string::npos)
      << refused.error().describe();
  // So is skipping TLS verification.
  std::string insecure = yaml;
  insecure.replace(insecure.find("{server:"), 8, "{insecure-skip-tls-verify: true, server:");
  auto no = parse_kubeconfig(insecure, "aks.yaml");
  ASSERT_FALSE(no);
  EXPECT_NE(no.error().describe().find("insecure-skip-tls-verify"), std::string::npos);
  // Without Azure credentials the client says what is missing instead of calling anonymously.
  KubeClient client(*c);
  auto r = client.get("/api/v1/nodes");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Entra ID"), std::string::npos);
}

TEST(Kubeconfig, InClusterTokenIsReadAgainWhenRotated) {
  auto dir = temp_dir("sa");
  write(dir / "token", "first\n");
  write(dir / "ca.crt", "-----BEGIN CERTIFICATE-----\n");
  write(dir / "namespace", "agents\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = in_cluster_config(dir.string());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->namespace_name, "agents");
  testing::FakeKube kube;
  kube.require_token("first");
  c->server = kube.url();  // the fake is plain HTTP on loopback
  c->ca_pem.clear();
  KubeClient client(*c);
  ASSERT_TRUE(client.list("/api/v1/nodes"));
  // The kubelet rotates the token: the next request carries the new one.
  write(dir / "token", "second\n");
  struct timespec later[2] = {{0, UTIME_OMIT}, {::time(nullptr) + 5, 0}};
  ::utimensat(AT_FDCWD, (dir / "token").c_str(), later, 0);
  kube.require_token("second");
  auto after = client.list("/api/v1/nodes");
  EXPECT_TRUE(after) << after.error().message;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace codefleet
