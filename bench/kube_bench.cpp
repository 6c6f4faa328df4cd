// The Kubernetes executor's control-plane speed: `codefleet serve --workers kubernetes`
// (the real binary, its store on SQLite) against the loopback Kubernetes API server of the
// tests (tests/support/fake_kube.h). N tasks are submitted at once through the API by a
// few clients; the bench reports how fast their Jobs were created and, per task, the time
// from sending its submission to its pod's creation on the API server (p50, p99, max).
//
//   kube_bench CODEFLEET_BINARY SPEC [TASKS=500] [CLIENTS=8]
//
// Control plane only: no pod is scheduled or run. Prints one JSON line.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_kube.h"

namespace {

using namespace std::chrono;
using Clock = steady_clock;
constexpr const char* kKey = "bench-admin-key-0123456789abcdefgh";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts the daemon; its port once /readyz says 200 (0 on failure, with the log printed).
int start_daemon(const std::string& binary, const std::vector<std::string>& args,
                 const std::string& log, pid_t& pid) {
  pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<std::string> all{binary, "serve", "--listen", "127.0.0.1:0"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::regex listen_re(R"re("listen":"[0-9.]+:([0-9]+)")re");
  for (int i = 0; i < 1000; ++i) {
    std::smatch m;
    std::string text = slurp(log);
    if (std::regex_search(text, m, listen_re)) {
      int port = std::stoi(m[1]);
      httplib::Client c("127.0.0.1", port);
      if (auto r = c.Get("/readyz"); r && r->status == 200) return port;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::fprintf(stderr, "the daemon did not become ready:\n%s\n", slurp(log).c_str());
  return 0;
}

int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: kube_bench CODEFLEET_BINARY SPEC [TASKS=500] [CLIENTS=8]\n");
    return 2;
  }
  std::string binary = argv[1], spec = argv[2];
  int tasks = argc > 3 ? std::atoi(argv[3]) : 500;
  int clients = argc > 4 ? std::atoi(argv[4]) : 8;

  codefleet::testing::FakeKube kube;
  auto dir = std::filesystem::temp_directory_path() / ("cf_kube_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "kubeconfig") << kube.kubeconfig("agents");
  std::ofstream(dir / "serve.yaml")
      << "workers: kubernetes\nkubernetes:\n  kubeconfig: " << (dir / "kubeconfig").string()
      << "\n";
  pid_t pid = 0;
  int port = start_daemon(binary,
                          {"--config", (dir / "serve.yaml").string(), "--spec", spec, "--store",
                           "sqlite:" + (dir / "bench.db").string(), "--bootstrap-admin-key", kKey,
                           "--log-requests", "false"},
                          (dir / "serve.log").string(), pid);
  if (port == 0) return 1;

  std::mutex mu;
  std::map<std::string, Clock::time_point> sent;  // task id → when its submission was sent
  std::atomic<int> next{0}, failed{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client http("127.0.0.1", port);
      httplib::Headers h{{"Authorization", std::string("Bearer ") + kKey}};
      for (int i = next++; i < tasks; i = next++) {
        std::string id = "bench-" + std::to_string(i);
        auto at = Clock::now();
        auto r = http.Post("/v1/tasks", h, R"({"class": "build", "id": ")" + id + "\"}",
                           "application/json");
        if (!r || r->status != 201) {
          ++failed;
          continue;
        }
        std::lock_guard lock(mu);
        sent[id] = at;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto submitted = Clock::now();
  std::map<std::string, Clock::time_point> created;
  while (Clock::now() - submitted < seconds(60)) {
    created = kube.pods_created_at();
    if (created.size() >= sent.size()) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);

  std::vector<int64_t> latency_us;
  Clock::time_point last = t0;
  for (const auto& [id, at] : sent) {
    auto it = created.find(id);
    if (it == created.end()) continue;
    latency_us.push_back(duration_cast<microseconds>(it->second - at).count());
    last = std::max(last, it->second);
  }
  double span_s = duration<double>(last - t0).count();
  std::printf(
      "{\"tasks\":%d,\"clients\":%d,\"submitted\":%zu,\"submit_failures\":%d,"
      "\"jobs_created\":%zu,\"submit_s\":%.3f,\"all_jobs_s\":%.3f,\"jobs_per_s\":%.0f,"
      "\"submit_to_pod_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
      tasks, clients, sent.size(), failed.load(), latency_us.size(),
      duration<double>(submitted - t0).count(), span_s,
      span_s > 0 ? static_cast<double>(latency_us.size()) / span_s : 0.0,
      static_cast<double>(percentile(latency_us, 50)) / 1000.0,
      static_cast<double>(percentile(latency_us, 99)) / 1000.0,
      static_cast<double>(percentile(latency_us, 100)) / 1000.0);
  std::filesystem::remove_all(dir);
  return latency_us.size() == static_cast<size_t>(tasks) ? 0 : 1;
}
