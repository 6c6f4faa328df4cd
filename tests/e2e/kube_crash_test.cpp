// End-to-end: `codefleet serve --workers kubernetes` against a loopback Kubernetes API
// server, SIGKILLed ten times while tasks are being admitted and run. A kubelet stand-in in
// the test runs every pod it sees (Pending → Running → Succeeded) and records which
// attempts of which task really ran. Afterwards: every accepted task reached a final
// state, each ran exactly once (cancelled ones at most once), no CodeFleet Job lacks a
// task, and none is left running.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/daemon_process.h"
#include "integration/test_stores.h"
#include "support/fake_kube.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono;

constexpr const char* kKey = "e2e-kube-admin-key-0123456789abcdef";

httplib::Headers auth() { return {{"Authorization", std::string("Bearer ") + kKey}}; }

// Runs pods as a kubelet would, a little later each step; `ran` records, per task, every
// pod it started (a Job made twice for one attempt shows as two pods).
class Kubelet {
 public:
  explicit Kubelet(testing::FakeKube& kube) : kube_(kube), thread_([this] { loop(); }) {}
  ~Kubelet() {
    stop_ = true;
    thread_.join();
  }
  std::map<std::string, std::set<std::string>> ran() {
    std::lock_guard lock(mu_);
    return ran_;
  }

 private:
  void loop() {
    while (!stop_) {
      auto now = steady_clock::now();
      for (auto& pod : kube_.objects("pods")) {
        std::string name = pod["metadata"]["name"];
        std::string phase = pod["status"].value("phase", "Pending");
        const json& ann = pod["metadata"]["annotations"];
        if (phase == "Pending") {
          kube_.set_pod_phase("agents", name, "Running", {{"running", json::object()}},
                              "aks-cpu-" + std::to_string(std::hash<std::string>{}(name) % 20));
          std::lock_guard lock(mu_);
          started_[name] = now;
          ran_[ann.value("codefleet.io/task-id", "")].insert(name);
        } else if (phase == "Running") {
          std::lock_guard lock(mu_);
          if (now - started_[name] < milliseconds(300)) continue;
          kube_.set_pod_phase("agents", name, "Succeeded",
                              {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}});
        }
      }
      std::this_thread::sleep_for(milliseconds(30));
    }
  }

  testing::FakeKube& kube_;
  std::mutex mu_;
  std::map<std::string, steady_clock::time_point> started_;
  std::map<std::string, std::set<std::string>> ran_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::vector<json> all_tasks(int port) {
  httplib::Client c("127.0.0.1", port);
  std::vector<json> out;
  std::string token;
  for (;;) {
    auto r = c.Get("/v1/tasks?limit=1000" + (token.empty() ? "" : "&page_token=" + token), auth());
    if (!r || r->status != 200) return {};
    auto j = json::parse(r->body);
    for (auto& t : j["items"]) out.push_back(t);
    if (j["next_page_token"].is_null()) return out;
    token = j["next_page_token"];
  }
}

TEST(KubeCrash, SigkillWhileAdmittingNeverLosesOrRunsATaskTwice) {
  testing::FreshStore store("sqlite");
  testing::FakeKube kube;
  Kubelet kubelet(kube);
  auto dir =
      std::filesystem::temp_directory_path() / ("cf_e2e_kube_crash_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "kubeconfig") << kube.kubeconfig("agents");
  std::ofstream(dir / "serve.yaml")
      << "workers: kubernetes\nkubernetes:\n  kubeconfig: " << (dir / "kubeconfig").string()
      << "\n  namespace: agents\n";
  testing::DaemonProcess daemon(
      {"--config", (dir / "serve.yaml").string(), "--spec",
       std::string(CODEFLEET_FIXTURES) + "/serve/kube_crash.yaml", "--store", store.url(),
       "--bootstrap-admin-key", kKey, "--speed", "600", "--log-requests", "false"},
      (dir / "serve.log").string());

  std::mutex mu;
  std::map<std::string, std::string> acked;  // Idempotency-Key → task id ("" = answer lost)
  std::set<std::string> cancelled;
  std::atomic<int> port{0};
  std::atomic<bool> done{false};
  auto client = [&](int n) {
    int seq = 0;
    std::string retry_key;
    while (!done) {
      int p = port.load();
      if (p == 0) {
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
      httplib::Client c("127.0.0.1", p);
      c.set_connection_timeout(1);
      c.set_read_timeout(2);
      while (!done && port.load() == p) {
        std::string key =
            retry_key.empty() ? "k" + std::to_string(n) + "-" + std::to_string(seq++) : retry_key;
        auto h = auth();
        h.emplace("Idempotency-Key", key);
        auto r = c.Post("/v1/tasks", h, R"({"class": "build"})", "application/json");
        if (!r || (r->status != 201 && r->status != 200)) {
          retry_key = key;
          if (!r) break;
          continue;
        }
        retry_key.clear();
        std::string id = json::parse(r->body)["id"];
        {
          std::lock_guard lock(mu);
          acked[key] = id;
        }
        if (seq % 20 == 0) {
          auto d = c.Delete("/v1/tasks/" + id, auth());
          std::lock_guard lock(mu);
          if (d && d->status == 200) cancelled.insert(id);
        }
        std::this_thread::sleep_for(milliseconds(15));
      }
    }
    if (!retry_key.empty()) {
      std::lock_guard lock(mu);
      acked.emplace(retry_key, "");
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(client, i);
  std::string logs;
  for (int round = 0; round < 10; ++round) {
    std::string why;
    ASSERT_TRUE(daemon.start(&why)) << why;
    port = daemon.port();
    std::this_thread::sleep_for(milliseconds(300 + 70 * round));
    logs += daemon.log();
    daemon.kill();  // SIGKILL while tasks are admitted and Jobs created
    port = 0;
  }
  // The restarts found Jobs to adopt: the path under test was taken.
  std::regex adoptable(R"re("adoptable":([1-9][0-9]*))re");
  EXPECT_TRUE(std::regex_search(logs, adoptable)) << logs.substr(0, 4000);
  done = true;
  for (auto& t : clients) t.join();

  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  httplib::Client c("127.0.0.1", daemon.port());
  for (auto& [key, id] : acked) {  // answers lost in the last crash: the retry resolves them
    if (!id.empty()) continue;
    auto h = auth();
    h.emplace("Idempotency-Key", key);
    auto r = c.Post("/v1/tasks", h, R"({"class": "build"})", "application/json");
    ASSERT_TRUE(r && (r->status == 201 || r->status == 200));
    id = json::parse(r->body)["id"];
  }
  ASSERT_GT(acked.size(), 100u) << "too little load to mean anything";
  // Everything settles: the kubelet finishes what runs, the daemon admits the rest.
  std::map<std::string, json> by_id;
  auto deadline = steady_clock::now() + seconds(90);
  for (;;) {
    by_id.clear();
    bool settled = true;
    for (auto& t : all_tasks(daemon.port())) {
      by_id[t["id"]] = t;
      settled = settled && (t["state"] == "completed" || t["state"] == "cancelled");
    }
    if ((settled && by_id.size() >= acked.size()) || steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  auto ran = kubelet.ran();
  int lost = 0, unsettled = 0, twice = 0;
  for (const auto& [key, id] : acked) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      ++lost;
      continue;
    }
    std::string state = it->second["state"];
    if (state != "completed" && state != "cancelled") {
      ++unsettled;
      ADD_FAILURE() << "not settled: " << it->second.dump();
    }
    size_t runs = ran.count(id) ? ran[id].size() : 0;
    if (state == "completed" && runs != 1) {
      ++twice;
      ADD_FAILURE() << id << " completed after " << runs << " runs";
    }
    if (state == "cancelled" && runs > 1) {
      ++twice;
      ADD_FAILURE() << id << " cancelled after " << runs << " runs";
    }
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(unsettled, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(by_id.size(), acked.size());  // one task per key
  // Every CodeFleet Job has its task; none is left running.
  int orphans = 0, running = 0;
  for (auto& job : kube.objects("jobs")) {
    std::string id = job["metadata"]["annotations"].value("codefleet.io/task-id", "");
    if (!by_id.count(id)) ++orphans;
  }
  for (auto& pod : kube.objects("pods")) running += pod["status"].value("phase", "") == "Running";
  EXPECT_EQ(orphans, 0);
  EXPECT_EQ(running, 0);
  int cancelled_n = 0;
  for (auto& [id, t] : by_id) cancelled_n += t["state"] == "cancelled";
  std::fprintf(stderr, "tasks %zu (cancelled %d), jobs %zu, pods %zu, tasks run %zu\n",
               acked.size(), cancelled_n, kube.objects("jobs").size(), kube.objects("pods").size(),
               ran.size());
  RecordProperty("tasks", static_cast<int>(acked.size()));
  RecordProperty("jobs", static_cast<int>(kube.objects("jobs").size()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

// A namespace map with an environment the spec lacks is refused, naming the closest one.
TEST(KubeServeConfig, ANamespaceForAnUnknownEnvironmentIsRefusedNamingTheClosest) {
  testing::FreshStore store("sqlite");
  testing::FakeKube kube;
  auto dir =
      std::filesystem::temp_directory_path() / ("cf_e2e_kube_ns_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "kubeconfig") << kube.kubeconfig("agents");
  std::ofstream(dir / "serve.yaml")
      << "workers: kubernetes\nkubernetes:\n  kubeconfig: " << (dir / "kubeconfig").string()
      << "\n  namespaces: {prdo: agents-prod}\n";
  testing::DaemonProcess daemon({"--config", (dir / "serve.yaml").string(), "--spec",
                                 std::string(CODEFLEET_FIXTURES) + "/serve/kube.yaml", "--store",
                                 store.url(), "--bootstrap-admin-key", kKey},
                                (dir / "serve.log").string());
  std::string why;
  ASSERT_FALSE(daemon.start(&why));
  EXPECT_NE(why.find("kubernetes.namespaces.prdo"), std::string::npos) << why;
  EXPECT_NE(why.find("did you mean 'prod'?"), std::string::npos) << why;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codefleet
