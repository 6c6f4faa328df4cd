// The whole daemon in-process for the HTTP integration tests: store, Controller,
// AlertEngine, Authenticator and ApiServer on a loopback port, plus a webhook receiver and
// a small HTTP client helper.
//
//   testing::FreshStore fresh("sqlite");
//   testing::Daemon daemon(fresh.url(), /*webhook=*/"", entra_config);  // entra optional
//   httplib::Client client("127.0.0.1", daemon.port());
//   testing::Reply r = testing::http_call(client, "GET", "/v1/pools", testing::kAdminKey);
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "routing/fleet_model.h"
#include "server/alerts.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/controller.h"
#include "server/gateway.h"
#include "server/metrics.h"
#include "spec/spec.h"
#include "support/server_thread.h"

namespace codefleet::testing {

// The admin API key every Daemon starts with (id "key-admin").
inline constexpr const char* kAdminKey = "cfk_test_admin_secret_0123456789";

// A webhook receiver on loopback: collects the alert bodies it is sent.
class Webhook {
 public:
  Webhook() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      bodies_.push_back(nlohmann::json::parse(req.body, nullptr, false));
      res.status = 204;
    });
    thread_.start();
  }
  ~Webhook() { thread_.stop(); }
  std::string url() const { return thread_.url() + "/hook"; }
  std::vector<nlohmann::json> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  httplib::Server server_;
  ServerThread thread_{server_};
  std::mutex mu_;
  std::vector<nlohmann::json> bodies_;
};

// What a few tests change: the key cache's lifetime (several Daemons on one PostgreSQL
// store are replicas), and the body limit (64 KiB here; the daemon's default is 1 MiB).
struct DaemonOptions {
  AuthOptions auth;
  size_t max_body_bytes = 64 * 1024;
  Executor* executor = nullptr;  // where tasks run (else the tests play the workers)
};

// The daemon on a loopback port, serving tests/fixtures/serve/small.yaml from `store_url`.
// Alerts go to `webhook` ("" = none); `entra` turns on Entra ID bearer tokens.
class Daemon {
 public:
  Daemon(const std::string& store_url, const std::string& webhook,
         std::optional<EntraConfig> entra = std::nullopt,
         std::string spec_file = std::string(CODEFLEET_FIXTURES) + "/serve/small.yaml",
         std::optional<GatewayOptions> gateway = std::nullopt, DaemonOptions options = {}) {
    using namespace std::chrono;
    auto parsed = parse_spec_file(spec_file);
    if (!parsed) throw std::runtime_error("spec");
    parsed_ = std::make_unique<ParsedSpec>(std::move(*parsed));
    auto catalog = Catalog::load_default();
    FleetModelOptions mo;
    mo.price_fallback_region = "eastus";
    auto model = build_fleet_model(parsed_->spec, *catalog, mo);
    if (!model) throw std::runtime_error(model.error().describe());
    model_ = std::make_unique<FleetModel>(std::move(*model));
    auto store = open_store(store_url);
    if (!store) throw std::runtime_error(store.error().describe());
    store_ = std::move(*store);
    ApiKey admin{"key-admin", "admin", sha256_hex(kAdminKey), Role::kAdmin, "", 0, false, {}};
    (void)store_->put_api_key(admin);
    ControllerOptions co;
    co.speed = 600;  // ten simulated minutes per wall second: nodes come up in < 1 s
    co.strategy = "cluster-autoscaler";
    co.simulate_workers = false;  // the tests play the workers (POST /v1/tasks/{id}/events)
    co.executor = options.executor;
    controller_ = std::make_unique<Controller>(*model_, *store_, co);
    alerts_ = std::make_unique<AlertEngine>(parsed_->spec, *store_,
                                            AlertOptions{webhook, "00000000-sub", minutes(15)});
    controller_->add_listener(&metrics_);
    controller_->add_listener(alerts_.get());
    auth_ = std::make_unique<Authenticator>(*store_, std::move(entra), options.auth);
    ApiOptions ao;
    ao.port = 0;
    ao.max_body_bytes = options.max_body_bytes;
    ao.log_requests = false;
    ao.executor = options.executor;
    if (gateway) {
      gateway_ = std::make_unique<Gateway>(*model_, *store_, *controller_, metrics_, *gateway);
      ao.gateway = gateway_.get();
    }
    api_ = std::make_unique<ApiServer>(*model_, *store_, *controller_, *auth_, metrics_, ao);
    auto port = api_->bind();
    if (!port) throw std::runtime_error(port.error().describe());
    port_ = *port;
    if (!controller_->start()) throw std::runtime_error("controller");
    thread_ = std::thread([this] { api_->run(); });
    // Wait until the daemon is ready: the reconcile loop has published its first snapshot
    // (so /v1/pools and friends show the fleet), and the listener runs.
    httplib::Client probe("127.0.0.1", port_);
    probe.set_connection_timeout(std::chrono::seconds(1));
    for (int i = 0; i < 500; ++i) {
      if (auto r = probe.Get("/readyz"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Neither stoppable nor joinable for sure: give up on the whole run.
    std::fprintf(stderr, "daemon_fixture.h: the API server never became ready (/readyz)\n");
    std::abort();
  }
  ~Daemon() {
    api_->stop();
    thread_.join();
    controller_->stop();
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  int port() const { return port_; }
  Store& store() { return *store_; }
  ApiServer& api() { return *api_; }

 private:
  std::unique_ptr<ParsedSpec> parsed_;
  std::unique_ptr<FleetModel> model_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Controller> controller_;
  Metrics metrics_;
  std::unique_ptr<AlertEngine> alerts_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<ApiServer> api_;
  std::thread thread_;
  int port_ = 0;
};

// One HTTP exchange: status 0 when the request never got an answer.
struct Reply {
  int status = 0;
  nlohmann::json body;  // discarded when the body is not JSON
  std::string text;
  httplib::Headers headers;
};

// GET, POST or PATCH (application/json) or DELETE `path`, with `Authorization: Bearer
// <bearer>` unless `bearer` is empty.
inline Reply http_call(httplib::Client& client, const std::string& method, const std::string& path,
                       const std::string& bearer, const std::string& body = "",
                       httplib::Headers headers = {}) {
  if (!bearer.empty()) headers.emplace("Authorization", "Bearer " + bearer);
  auto r = method == "GET"     ? client.Get(path, headers)
           : method == "POST"  ? client.Post(path, headers, body, "application/json")
           : method == "PATCH" ? client.Patch(path, headers, body, "application/json")
                               : client.Delete(path, headers);
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.text = r->body;
  out.body = nlohmann::json::parse(r->body, nullptr, false);
  out.headers = r->headers;
  return out;
}

}  // namespace codefleet::testing
