// End-to-end: the `codefleet serve` binary. Crash safety under SIGKILL, graceful SIGTERM,
// `promtool check metrics` on /metrics, TLS, the config file and environment, and no
// secret in the logs.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/daemon_process.h"
#include "integration/test_stores.h"
#include "support/server_thread.h"
#include "support/test_jwt.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using testing::DaemonProcess;
using testing::FreshStore;
using namespace std::chrono;

constexpr const char* kAdminKey = "e2e-bootstrap-admin-key-0123456789";

std::string fixture(const std::string& name) {
  return std::string(CODEFLEET_FIXTURES) + "/" + name;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("cf_e2e_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::create_directories(dir);
  return dir;
}

httplib::Headers auth() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

std::vector<std::string> base_args(const std::string& store) {
  return {"--spec",
          fixture("serve/small.yaml"),
          "--store",
          store,
          "--bootstrap-admin-key",
          kAdminKey,
          "--speed",
          "60",
          "--log-requests",
          "false"};
}

// Every task in the store, by paging through GET /v1/tasks.
std::vector<json> all_tasks(int port) {
  httplib::Client c("127.0.0.1", port);
  std::vector<json> out;
  std::string token;
  for (;;) {
    auto r = c.Get("/v1/tasks?limit=1000" + (token.empty() ? "" : "&page_token=" + token), auth());
    if (!r || r->status != 200) {
      ADD_FAILURE() << "listing failed";
      return out;
    }
    auto j = json::parse(r->body);
    for (auto& t : j["items"]) out.push_back(t);
    if (j["next_page_token"].is_null()) return out;
    token = j["next_page_token"];
  }
}

class CrashTest : public ::testing::TestWithParam<std::string> {};

// Under a load of submissions the daemon is killed with SIGKILL ten times. Clients retry
// requests that failed with the same Idempotency-Key, as a careful client does. After each
// restart every task that got a 201 (or a 200 replay) is there with its state; no key ever
// creates a second task; cancellations survive.
TEST_P(CrashTest, SigkillUnderLoadLosesNothingAndNeverDuplicates) {
  FreshStore store(GetParam());
  ASSERT_FALSE(store.url().empty());
  auto dir = temp_dir("crash_" + GetParam());
  DaemonProcess daemon(base_args(store.url()), (dir / "serve.log").string());

  std::mutex mu;
  std::map<std::string, std::string> acked;      // Idempotency-Key → task id
  std::map<std::string, std::string> cancelled;  // task id → key
  std::atomic<int> port{0};
  std::atomic<bool> done{false};
  std::atomic<int> duplicates{0}, submitted{0};
  auto client = [&](int n) {
    int seq = 0;
    std::string pending_key;  // a request whose answer was lost: retried with its key
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
        std::string key = pending_key.empty()
                              ? "c" + std::to_string(n) + "-" + std::to_string(seq++)
                              : pending_key;
        auto h = auth();
        h.emplace("Idempotency-Key", key);
        auto r =
            c.Post("/v1/tasks", h, R"({"class": "build", "tenant": "crash"})", "application/json");
        if (!r || (r->status != 201 && r->status != 200)) {
          pending_key = key;
          if (!r) break;  // connection gone: wait for the next daemon
          continue;
        }
        pending_key.clear();
        std::string id = json::parse(r->body)["id"];
        ++submitted;
        std::lock_guard lock(mu);
        auto [it, fresh] = acked.emplace(key, id);
        if (!fresh && it->second != id) ++duplicates;
        // Now and then a cancellation, which must survive the crash too.
        if (seq % 25 == 0 && cancelled.size() < 200) {
          auto d = c.Delete("/v1/tasks/" + id, auth());
          if (d && d->status == 200) cancelled[id] = key;
        }
      }
    }
    if (!pending_key.empty()) {
      std::lock_guard lock(mu);
      acked.emplace(pending_key, "");  // resolved after the last restart
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back(client, i);

  for (int round = 0; round < 10; ++round) {
    std::string why;
    ASSERT_TRUE(daemon.start(&why)) << why;
    port = daemon.port();
    std::this_thread::sleep_for(milliseconds(400));
    daemon.kill();  // SIGKILL, mid-load
    port = 0;
  }
  done = true;
  for (auto& t : clients) t.join();

  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  httplib::Client c("127.0.0.1", daemon.port());
  // Keys whose answer was lost in the last crash: a retry resolves them.
  for (auto& [key, id] : acked) {
    if (!id.empty()) continue;
    auto h = auth();
    h.emplace("Idempotency-Key", key);
    auto r = c.Post("/v1/tasks", h, R"({"class": "build", "tenant": "crash"})", "application/json");
    ASSERT_TRUE(r && (r->status == 201 || r->status == 200));
    id = json::parse(r->body)["id"];
  }
  EXPECT_EQ(duplicates, 0);
  EXPECT_GT(submitted, 100) << "too little load to mean anything";
  // Every acknowledged task is there, with a state; cancelled ones stay cancelled.
  std::set<std::string> valid{"pending", "admitted", "running", "completed", "cancelled"};
  auto tasks = all_tasks(daemon.port());
  std::map<std::string, json> by_id;
  for (auto& t : tasks) by_id[t["id"]] = t;
  for (const auto& [key, id] : acked) {
    auto it = by_id.find(id);
    ASSERT_NE(it, by_id.end()) << "task " << id << " (key " << key << ") got a 2xx and was lost";
    EXPECT_TRUE(valid.count(it->second["state"])) << it->second.dump();
  }
  for (const auto& [id, key] : cancelled) EXPECT_EQ(by_id[id]["state"], "cancelled") << id;
  // One task per key: nothing else was created.
  EXPECT_EQ(tasks.size(), acked.size());
  RecordProperty("acknowledged", static_cast<int>(acked.size()));
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Stores, CrashTest, ::testing::ValuesIn(testing::store_kinds()),
                         [](const auto& info) { return info.param; });

TEST(Serve, MetricsPassPromtool) {
  FreshStore store("sqlite");
  auto dir = temp_dir("promtool");
  DaemonProcess daemon(base_args(store.url()), (dir / "serve.log").string());
  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  httplib::Client c("127.0.0.1", daemon.port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(c.Post("/v1/tasks", auth(), R"({"class": "build"})", "application/json")->status,
              201);
  }
  (void)c.Get("/v1/nowhere", auth());
  std::this_thread::sleep_for(milliseconds(1500));  // a few reconcile passes
  auto m = c.Get("/metrics", auth());
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200);
  for (const char* name :
       {"codefleet_quota_used_vcpus", "codefleet_quota_limit_vcpus", "codefleet_tasks{",
        "codefleet_admission_latency_seconds_bucket", "codefleet_cost_accrued_usd_total",
        "codefleet_nodes{", "codefleet_http_requests_total"}) {
    EXPECT_NE(m->body.find(name), std::string::npos) << name;
  }
  auto file = dir / "metrics.txt";
  std::ofstream(file) << m->body;
  std::string cmd = "promtool check metrics < " + file.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(daemon.terminate(), 0);
  std::filesystem::remove_all(dir);
}

TEST(Serve, SigtermStopsGracefullyAndTasksSurviveARestart) {
  FreshStore store("sqlite");
  auto dir = temp_dir("sigterm");
  DaemonProcess daemon(base_args(store.url()), (dir / "serve.log").string());
  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  httplib::Client c("127.0.0.1", daemon.port());
  auto r = c.Post("/v1/tasks", auth(), R"({"class": "build"})", "application/json");
  ASSERT_EQ(r->status, 201);
  std::string id = json::parse(r->body)["id"];
  EXPECT_EQ(daemon.terminate(), 0);
  std::string log = daemon.log();
  EXPECT_NE(log.find(R"("msg":"shutting down","signal":"SIGTERM")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("msg":"stopped")"), std::string::npos) << log;
  // The bootstrap key is never logged.
  EXPECT_EQ(log.find(kAdminKey), std::string::npos);
  ASSERT_TRUE(daemon.start(&why)) << why;
  httplib::Client c2("127.0.0.1", daemon.port());
  auto got = c2.Get("/v1/tasks/" + id, auth());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  // A second daemon on the same SQLite file is refused, not left to race.
  DaemonProcess second(base_args(store.url()), (dir / "second.log").string());
  EXPECT_FALSE(second.start(&why));
  EXPECT_NE(why.find("another process holds"), std::string::npos) << why;
  EXPECT_EQ(daemon.terminate(), 0);
  std::filesystem::remove_all(dir);
}

TEST(Serve, ServesHttpsWhenACertificateIsConfigured) {
  auto dir = temp_dir("tls");
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  FreshStore store("sqlite");
  auto args = base_args(store.url());
  args.insert(args.end(), {"--tls-cert", cert, "--tls-key", key});
  DaemonProcess daemon(args, (dir / "serve.log").string());
  daemon.set_tls(true);
  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  int port = daemon.port();
  EXPECT_NE(daemon.log().find(R"("tls":true)"), std::string::npos);
  httplib::SSLClient tls("127.0.0.1", port);
  tls.enable_server_certificate_verification(false);
  auto r = tls.Get("/healthz");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  auto pools = tls.Get("/v1/pools", auth());
  ASSERT_TRUE(pools);
  EXPECT_EQ(pools->status, 200);
  httplib::Client plain("127.0.0.1", port);
  auto no = plain.Get("/healthz");
  EXPECT_TRUE(!no || no->status != 200);
  EXPECT_EQ(daemon.terminate(), 0);
  std::filesystem::remove_all(dir);
}

TEST(Serve, ConfigFileEnvironmentAndFlagsInThatOrder) {
  auto dir = temp_dir("config");
  FreshStore store("sqlite");
  auto config = dir / "codefleet.yaml";
  std::ofstream(config) << "spec: " << fixture("serve/small.yaml") << "\n"
                        << "store: sqlite:" << (dir / "ignored.db").string() << "\n"
                        << "listen: 127.0.0.1:0\n"
                        << "http: {threads: 8, log_requests: false}\n";
  ::setenv("CODEFLEET_BOOTSTRAP_ADMIN_KEY", kAdminKey, 1);
  DaemonProcess daemon({"--config", config.string(), "--store", store.url()},
                       (dir / "serve.log").string());
  std::string why;
  bool ok = daemon.start(&why);
  ::unsetenv("CODEFLEET_BOOTSTRAP_ADMIN_KEY");
  ASSERT_TRUE(ok) << why;
  httplib::Client c("127.0.0.1", daemon.port());
  EXPECT_EQ(c.Get("/v1/pools", auth())->status, 200);         // the key from the environment
  EXPECT_FALSE(std::filesystem::exists(dir / "ignored.db"));  // the flag won
  EXPECT_EQ(daemon.terminate(), 0);

  std::ofstream(config) << "spec: x.yaml\nlisten: [1, 2\n";
  DaemonProcess bad({"--config", config.string()}, (dir / "bad.log").string());
  EXPECT_FALSE(bad.start(&why));
  EXPECT_NE(why.find(config.string() + ":"), std::string::npos) << why;
  std::ofstream(config) << "spec: x.yaml\nlisen: 1\n";
  DaemonProcess typo({"--config", config.string()}, (dir / "typo.log").string());
  EXPECT_FALSE(typo.start(&why));
  EXPECT_NE(why.find("unknown setting 'lisen'"), std::string::npos) << why;
  std::filesystem::remove_all(dir);
}

// A typo at any depth of the config is an error at its line, naming the closest key:
// `tls: {cret: …}` must not serve plain HTTP, nor `alerts: {webhok: …}` drop alerts.
TEST(Serve, ConfigTyposAtEveryDepthAreErrors) {
  auto dir = temp_dir("config-typos");
  auto config = dir / "codefleet.yaml";
  struct Case {
    std::string yaml, message;
  };
  for (const auto& c : {
           Case{"tls: {cret: a.pem, key: b.pem}",
                ":2: unknown setting 'cret' in tls (did you mean 'cert'?)"},
           Case{"alerts: {webhok: https://alerts.example.com}",
                ":2: unknown setting 'webhok' in alerts (did you mean 'webhook'?)"},
           Case{"http: {threds: 8}",
                ":2: unknown setting 'threds' in http (did you mean 'threads'?)"},
           Case{"http:\n  threads: 8\n  io_thread: 2",
                ":4: unknown setting 'io_thread' in http (did you mean 'io_threads'?)"},
           Case{"entra: {issuer: i, audience: a, jwks_file: f, tennant_claim: tid}",
                ":2: unknown setting 'tennant_claim' in entra (did you mean 'tenant_claim'?)"},
           Case{"entra: {issuer: i, audience: a, jwks_file: f, tenant_claim: tdi}",
                "entra.tenant_claim must be azp, oid or tid, not 'tdi'"},
           Case{"cloud: {kind: azure, clusterid: x}",
                ":2: unknown setting 'clusterid' in cloud (did you mean 'cluster_id'?)"},
           Case{"cloud: {kind: azure, custer: x}",
                ":2: unknown setting 'custer' in cloud (valid: kind, arm_endpoint, "
                "login_endpoint, cluster_id, pools)"},
           Case{"tls: /etc/tls.pem", "tls must be a mapping of cert, key"},
       }) {
    std::ofstream(config, std::ios::trunc) << "spec: " << fixture("serve/small.yaml") << "\n"
                                           << c.yaml << "\n";
    DaemonProcess d({"--config", config.string(), "--bootstrap-admin-key", kAdminKey},
                    (dir / "serve.log").string());
    std::string why;
    EXPECT_FALSE(d.start(&why)) << c.yaml;
    EXPECT_NE(why.find(c.message), std::string::npos) << c.yaml << "\n" << why;
  }
  std::filesystem::remove_all(dir);
}

// A daemon nobody can sign in to is refused, saying how to give the first key.
TEST(Serve, AnEmptyStoreWithoutABootstrapKeyIsRefused) {
  auto dir = temp_dir("no-key");
  FreshStore store("sqlite");
  ::unsetenv("CODEFLEET_BOOTSTRAP_ADMIN_KEY");
  DaemonProcess d({"--spec", fixture("serve/small.yaml"), "--store", store.url()},
                  (dir / "serve.log").string());
  std::string why;
  EXPECT_FALSE(d.start(&why));
  EXPECT_NE(why.find("the store has no API key, so nobody could sign in"), std::string::npos)
      << why;
  EXPECT_NE(why.find("--bootstrap-admin-key"), std::string::npos) << why;
  EXPECT_NE(why.find("CODEFLEET_BOOTSTRAP_ADMIN_KEY"), std::string::npos) << why;
  // Once a key exists, a restart without one is fine.
  DaemonProcess first(base_args(store.url()), (dir / "first.log").string());
  ASSERT_TRUE(first.start(&why)) << why;
  EXPECT_EQ(first.terminate(), 0);
  DaemonProcess again({"--spec", fixture("serve/small.yaml"), "--store", store.url()},
                      (dir / "again.log").string());
  ASSERT_TRUE(again.start(&why)) << why;
  // Loopback without TLS: no warning.
  EXPECT_EQ(again.log().find("plain HTTP beyond loopback"), std::string::npos) << again.log();
  EXPECT_EQ(again.terminate(), 0);
  std::filesystem::remove_all(dir);
}

// Plain HTTP beyond loopback is allowed (TLS may end in front of the daemon) but logged as
// one JSON line at level "warning".
TEST(Serve, PlainHttpBeyondLoopbackIsAWarning) {
  auto dir = temp_dir("wide-open");
  FreshStore store("sqlite");
  auto args = base_args(store.url());
  args.insert(args.end(), {"--listen", "0.0.0.0:0"});
  DaemonProcess d(args, (dir / "serve.log").string());
  std::string why;
  ASSERT_TRUE(d.start(&why)) << why;
  bool warned = false;
  std::istringstream lines(d.log());
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("level", "") == "warning" &&
        j.value("msg", "").find("plain HTTP beyond loopback") != std::string::npos) {
      warned = true;
      EXPECT_EQ(j.value("address", ""), "0.0.0.0:0") << line;
    }
  }
  EXPECT_TRUE(warned) << d.log();
  EXPECT_EQ(d.terminate(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

// Two replicas on one PostgreSQL database: one leads (runs the reconcile loop), the other
// takes submissions; when the leader dies, the other takes over and schedules what was
// submitted to it.
TEST(Serve, TwoReplicasOnPostgresOneLeaderAndFailover) {
  FreshStore store("postgres");
  ASSERT_FALSE(store.url().empty());
  auto dir = temp_dir("replicas");
  auto args = base_args(store.url());
  args.insert(args.end(), {"--workers", "external"});
  DaemonProcess a(args, (dir / "a.log").string()), b(args, (dir / "b.log").string());
  std::string why;
  ASSERT_TRUE(a.start(&why)) << why;
  ASSERT_TRUE(b.start(&why)) << why;
  auto leading = [](int port) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/readyz");
    return r && r->status == 200 && json::parse(r->body)["leading"] == true;
  };
  // Exactly one leads (the second waits for the advisory lock).
  for (int i = 0; i < 100 && !(leading(a.port()) || leading(b.port())); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_NE(leading(a.port()), leading(b.port()));
  DaemonProcess& leader = leading(a.port()) ? a : b;
  DaemonProcess& follower = leading(a.port()) ? b : a;
  // A task submitted to the follower is admitted by the leader.
  httplib::Client fc("127.0.0.1", follower.port());
  auto r = fc.Post("/v1/tasks", auth(), R"({"class": "build"})", "application/json");
  ASSERT_EQ(r->status, 201);
  std::string id = json::parse(r->body)["id"];
  auto state_of = [&](const std::string& task) {
    auto g = fc.Get("/v1/tasks/" + task, auth());
    return g && g->status == 200 ? json::parse(g->body)["state"].get<std::string>() : "";
  };
  std::string state;
  for (int i = 0; i < 200 && state != "admitted"; ++i) {
    state = state_of(id);
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(state, "admitted");
  // The leader dies; the follower takes over, requeues its work and admits it again.
  leader.kill();
  bool took_over = false;
  for (int i = 0; i < 200 && !took_over; ++i) {
    took_over = leading(follower.port());
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(took_over);
  auto r2 = fc.Post("/v1/tasks", auth(), R"({"class": "build"})", "application/json");
  ASSERT_EQ(r2->status, 201);
  std::string id2 = json::parse(r2->body)["id"];
  std::string s1, s2;
  for (int i = 0; i < 200 && (s1 != "admitted" || s2 != "admitted"); ++i) {
    s1 = state_of(id);
    s2 = state_of(id2);
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(s1, "admitted");
  EXPECT_EQ(s2, "admitted");
  auto events = json::parse(fc.Get("/v1/tasks/" + id, auth())->body)["events"];
  std::vector<std::string> kinds;
  for (const auto& e : events) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"submitted", "admitted", "requeued", "admitted"}));
  EXPECT_EQ(follower.terminate(), 0);
  std::filesystem::remove_all(dir);
}

// With request logging on, every request is a JSON line with its request id, and no
// credential — API key, bearer token or bootstrap key — ever reaches the log.
TEST(Serve, RequestLogsCarryRequestIdsAndNoSecrets) {
  FreshStore store("sqlite");
  auto dir = temp_dir("logs");
  auto args = base_args(store.url());
  args.back() = "true";  // --log-requests true
  DaemonProcess daemon(args, (dir / "serve.log").string());
  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  httplib::Client c("127.0.0.1", daemon.port());
  auto k = c.Post("/v1/keys", auth(), R"({"name": "bot", "role": "submitter", "tenant": "t1"})",
                  "application/json");
  ASSERT_EQ(k->status, 201);
  std::string secret = json::parse(k->body)["secret"];
  httplib::Headers h{{"Authorization", "Bearer " + secret}, {"X-Request-Id", "trace-me-42"}};
  ASSERT_EQ(c.Post("/v1/tasks", h, R"({"class": "build"})", "application/json")->status, 201);
  (void)c.Get("/v1/pools",
              {{"Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}});
  (void)c.Get("/v1/pools", {{"Authorization", "Bearer cfk_wrong_secret_value_123"}});
  EXPECT_EQ(daemon.terminate(), 0);
  std::string log = daemon.log();
  EXPECT_NE(log.find(R"("request_id":"trace-me-42")"), std::string::npos) << log;
  for (const std::string& s : {secret, std::string(kAdminKey), std::string("eyJzdWIiOiJ4In0"),
                               std::string("cfk_wrong_secret_value_123")}) {
    EXPECT_EQ(log.find(s), std::string::npos) << "a secret reached the log: " << s;
  }
  std::istringstream lines(log);
  std::string line;
  int requests = 0;
  while (std::getline(lines, line)) {
    auto j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    if (j["msg"] == "request") ++requests;
  }
  EXPECT_GE(requests, 4);  // the four above, and the helper's readiness probes
  std::filesystem::remove_all(dir);
}

// Entra ID tokens with the signing keys fetched from a JWKS URL (as Entra publishes them).
TEST(Serve, EntraTokensCheckedAgainstAJwksUrl) {
  testing::TestKey key("kid-1");
  httplib::Server jwks;
  std::string doc = testing::jwks_document({&key}).dump();
  jwks.Get("/discovery/v2.0/keys", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(doc, "application/json");
  });
  testing::ServerThread jwks_thread(jwks);
  jwks_thread.start();
  int port = jwks_thread.port();
  FreshStore store("sqlite");
  auto dir = temp_dir("entra");
  auto config = dir / "codefleet.yaml";
  std::ofstream(config) << "entra:\n"
                        << "  issuer: https://login.microsoftonline.com/tid-1/v2.0\n"
                        << "  audience: api://codefleet\n"
                        << "  jwks_url: http://127.0.0.1:" << port << "/discovery/v2.0/keys\n";
  auto args = base_args(store.url());
  args.insert(args.end(), {"--config", config.string()});
  DaemonProcess daemon(args, (dir / "serve.log").string());
  std::string why;
  ASSERT_TRUE(daemon.start(&why)) << why;
  int64_t now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  json payload{{"iss", "https://login.microsoftonline.com/tid-1/v2.0"},
               {"aud", "api://codefleet"},
               {"sub", "s"},
               {"oid", "o"},
               {"azp", "app"},
               {"roles", {"CodeFleet.Viewer"}},
               {"iat", now},
               {"nbf", now},
               {"exp", now + 600}};
  std::string token = testing::sign_token(testing::rs256_header(key), payload, key);
  httplib::Client c("127.0.0.1", daemon.port());
  auto ok = c.Get("/v1/pools", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  payload["aud"] = "api://someone-else";
  std::string wrong = testing::sign_token(testing::rs256_header(key), payload, key);
  auto refused = c.Get("/v1/pools", {{"Authorization", "Bearer " + wrong}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(daemon.terminate(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace codefleet
