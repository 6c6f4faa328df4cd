// The LLM gateway over real HTTP, with OpenAI-compatible upstreams on loopback: routing by
// class and cost, fallback on 429 / 500 / a dead upstream, streaming passed through chunk
// by chunk (not buffered), usage accounted exactly (per tenant, key and deployment), a
// spent budget answering 429, per-key rate limits and budgets, 401 without a key, and
// OpenAI-style errors for bad input.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "integration/daemon_fixture.h"
#include "integration/test_stores.h"

namespace codefleet {
namespace {

using json = nlohmann::json;
using namespace std::chrono;
using testing::Daemon;
using testing::kAdminKey;

// A non-streamed answer's content: 256 bytes, so that the 200 completion tokens the fake
// reports fit what the answer could hold (the gateway keeps usage within that bound).
const std::string kAnswer(256, 'h');

// An OpenAI-compatible server: answers as told, records what it was sent.
class FakeLlm {
 public:
  explicit FakeLlm(std::string name) : name_(std::move(name)) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(json::parse(req.body, nullptr, false));
        sizes_.push_back(req.body.size());
        api_keys_.push_back(req.get_header_value("api-key"));
        ports_.insert(req.remote_port);
        paths_.push_back(req.path);
      }
      if (int ms = stall_ms_.load()) std::this_thread::sleep_for(milliseconds(ms));
      int status = status_.load();
      if (status == 299) {  // garbage: a 200 that is no completion
        res.set_content("<html>upstream proxy error</html>", "text/html");
        return;
      }
      if (status != 200) {
        res.status = status;
        if (status == 429) res.set_header("Retry-After", "2");
        res.set_content(R"({"error":{"message":"busy","type":"rate_limit_error"}})",
                        "application/json");
        return;
      }
      bool stream = json::parse(req.body)["stream"].is_boolean() &&
                    json::parse(req.body)["stream"].get<bool>();
      json usage = reported();
      if (!stream) {
        res.set_content(json{{"id", "c1"},
                             {"object", "chat.completion"},
                             {"model", name_},
                             {"choices",
                              {{{"index", 0},
                                {"message", {{"role", "assistant"}, {"content", kAnswer}}},
                                {"finish_reason", "stop"}}}},
                             {"usage", usage.is_null() ? json{{"prompt_tokens", 1000},
                                                              {"completion_tokens", 200}}
                                                       : usage}}
                            .dump(),
                        "application/json");
        return;
      }
      res.set_chunked_content_provider("text/event-stream", [usage](size_t,
                                                                    httplib::DataSink& sink) {
        for (const char* piece : {"Hel", "lo", "!"}) {
          std::string e =
              std::string("data: {\"choices\":[{\"delta\":{\"content\":\"") + piece + "\"}}]}\n\n";
          sink.write(e.data(), e.size());
          std::this_thread::sleep_for(milliseconds(200));
        }
        json u = usage.is_null() ? json{{"prompt_tokens", 40}, {"completion_tokens", 3}} : usage;
        std::string last = "data: " + json{{"choices", json::array()}, {"usage", u}}.dump() +
                           "\n\ndata: [DONE]\n\n";
        sink.write(last.data(), last.size());
        sink.done();
        return true;
      });
    };
    server_.Post("/openai/deployments/d/chat/completions", handler);
    server_.Post("/openai/v1/chat/completions", handler);
    server_.Post("/v1/chat/completions", handler);
    thread_.start();
  }
  ~FakeLlm() { thread_.stop(); }
  std::string url() const { return thread_.url(); }
  void answer(int status) { status_ = status; }  // 299: a 200 with garbage
  void stall(milliseconds ms) { stall_ms_ = static_cast<int>(ms.count()); }  // before answering
  // The `usage` to report from now on (null: 1,000 + 200 tokens, or 40 + 3 when streaming).
  void report(json usage) {
    std::lock_guard lock(mu_);
    usage_ = std::move(usage);
  }
  json reported() {
    std::lock_guard lock(mu_);
    return usage_;
  }
  size_t last_size() {  // bytes of the last request's body
    std::lock_guard lock(mu_);
    return sizes_.empty() ? 0 : sizes_.back();
  }
  size_t connections() {  // distinct client ports seen
    std::lock_guard lock(mu_);
    return ports_.size();
  }
  size_t calls() {
    std::lock_guard lock(mu_);
    return bodies_.size();
  }
  json last_body() {
    std::lock_guard lock(mu_);
    return bodies_.empty() ? json() : bodies_.back();
  }
  std::string last_path() {
    std::lock_guard lock(mu_);
    return paths_.empty() ? "" : paths_.back();
  }
  std::string last_api_key() {
    std::lock_guard lock(mu_);
    return api_keys_.empty() ? "" : api_keys_.back();
  }

 private:
  std::string name_;
  httplib::Server server_;
  testing::ServerThread thread_{server_};
  std::mutex mu_;
  std::vector<json> bodies_;
  std::vector<size_t> sizes_;
  json usage_;
  std::vector<std::string> api_keys_;
  std::set<int> ports_;
  std::vector<std::string> paths_;
  std::atomic<int> status_{200};
  std::atomic<int> stall_ms_{0};
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("cf_gw_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    // The small serving spec plus two Foundry deployments and a self-hosted endpoint.
    std::ifstream in(std::string(CODEFLEET_FIXTURES) + "/serve/small.yaml");
    std::stringstream spec;
    spec << in.rdbuf();
    std::string text = spec.str();
    auto at = text.find("budgets:");
    text = text.substr(0, at) + fmt::format(R"(foundry:
  deployments:
    - {{name: cheap, endpoint: "{}", deployment: d, model: gpt-4o-mini, region: westeurope,
       usd_per_1m_input_tokens: "0.15", usd_per_1m_output_tokens: "0.60", tpm: 100000, rpm: 600,
       classes: [chat, code], auth: api-key, api: {}}}
    - {{name: dear, endpoint: "{}", deployment: d, model: gpt-4o, region: westeurope,
       usd_per_1m_input_tokens: "2.50", usd_per_1m_output_tokens: "10.00", tpm: 100000, rpm: 600,
       classes: [chat, big], auth: api-key}}
inference:
  - {{name: local, pool: cpu, endpoint: "{}/v1", model: qwen, tokens_per_second: 10,
     classes: [code]}}
budgets:
  - {{name: monthly, amount_usd: "{}", thresholds_pct: [50, 100]}}
)",
                                            dead_cheap_ ? "http://127.0.0.1:1" : cheap_.url(),
                                            cheap_api_, dear_.url(), local_.url(), budget_usd_);
    text.replace(text.find("workload_classes:"), 17,
                 "workload_classes:\n  - {name: chat, kind: llm, duration: 20s, priority: 50}\n"
                 "  - {name: big, kind: llm, duration: 20s, priority: 50}\n"
                 "  - {name: code, kind: llm, duration: 20s, priority: 50, prefer: [local]}");
    // The original budget line goes (replaced above).
    std::ofstream(dir_ / "spec.yaml") << text;
    fresh_ = std::make_unique<testing::FreshStore>("sqlite");
    GatewayOptions go;
    go.api_keys = {{"cheap", "key-cheap"}, {"dear", "key-dear"}};
    go.upstream_timeout = milliseconds(2000);
    daemon_ = std::make_unique<Daemon>(fresh_->url(), "", std::nullopt,
                                       (dir_ / "spec.yaml").string(), go);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", daemon_->port());
  }
  void TearDown() override {
    client_.reset();
    daemon_.reset();
    fresh_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A new API key (POST /v1/keys): {id, secret}.
  std::pair<std::string, std::string> make_key(const std::string& tenant, const json& llm = {}) {
    json body{{"name", "agent " + tenant}, {"role", "submitter"}, {"tenant", tenant}};
    if (!llm.is_null()) body["llm"] = llm;
    auto r = client_->Post("/v1/keys", {{"Authorization", std::string("Bearer ") + kAdminKey}},
                           body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    if (!r || r->status != 201) return {};
    auto j = json::parse(r->body);
    return {j["id"], j["secret"]};
  }
  // GET /v1/llm/usage over every hour there is (as the admin, unless `key` is given).
  json usage(const std::string& query = "", const std::string& key = kAdminKey) {
    auto r = client_->Get("/v1/llm/usage?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z" + query,
                          {{"Authorization", "Bearer " + key}});
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  httplib::Result chat(const std::string& body, const std::string& key = kAdminKey) {
    httplib::Headers h;
    if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
    return client_->Post("/openai/v1/chat/completions", h, body, "application/json");
  }

  FakeLlm cheap_{"gpt-4o-mini"}, dear_{"gpt-4o"}, local_{"qwen"};
  std::string budget_usd_ = "100";
  bool dead_cheap_ = false;                // the cheap deployment's endpoint refuses connections
  std::string cheap_api_ = "deployments";  // the Azure OpenAI API the cheap one is called by
  std::filesystem::path dir_;
  std::unique_ptr<testing::FreshStore> fresh_;
  // The cost recorded for `pool`, once it is there (-1 if it never comes).
  int64_t accrued(const std::string& pool) {
    for (int i = 0; i < 200; ++i) {
      auto costs = daemon_->store().costs_by_pool(0, INT64_MAX);
      if (costs && costs->count(pool)) return costs->at(pool);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<httplib::Client> client_;
};

// A prompt of 1,000 bytes: the 1,000 prompt tokens the fake reports fit the request's size
// (the gateway keeps usage within that bound).
const std::string kPrompt(1000, 'p');
const std::string kChat =
    R"({"model": "chat", "messages": [{"role": "user", "content": ")" + kPrompt + R"("}]})";

TEST_F(GatewayTest, RoutesByClassAndCostAndAccountsUsageExactly) {
  auto r = chat(kChat);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "cheap");  // the cheaper deployment
  EXPECT_EQ(cheap_.calls(), 1u);
  EXPECT_EQ(dear_.calls(), 0u);
  EXPECT_EQ(cheap_.last_body()["model"], "gpt-4o-mini");
  EXPECT_EQ(cheap_.last_path(), "/openai/deployments/d/chat/completions");
  EXPECT_EQ(cheap_.last_api_key(), "key-cheap");
  // 1,000 prompt tokens at $0.15/1M + 200 completion at $0.60/1M = $0.00015 + $0.00012.
  // Accounted once the answer is out: just after the client has it.
  EXPECT_EQ(accrued("llm:cheap"), 270);
  // A class only the dear deployment serves goes there.
  auto big =
      chat(R"({"model": "big", "messages": [{"role": "user", "content": ")" + kPrompt + R"("}]})");
  ASSERT_EQ(big->status, 200);
  EXPECT_EQ(big->get_header_value("X-CodeFleet-Upstream"), "dear");
  auto models =
      client_->Get("/openai/v1/models", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  EXPECT_NE(models->body.find("\"chat\""), std::string::npos);
}

// The fixture's upstream timeout is 2 s; the cheap deployment answers after 3 s.
void expect_timeout_fallback(FakeLlm& cheap, const std::string& body,
                             const std::function<httplib::Result(const std::string&)>& chat) {
  cheap.stall(milliseconds(3000));
  auto t0 = steady_clock::now();
  auto r = chat(body);
  auto took = steady_clock::now() - t0;
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_GE(took, milliseconds(2000));
  EXPECT_LT(took, milliseconds(2900));
  EXPECT_EQ(cheap.calls(), 1u);
}

TEST_F(GatewayTest, FallsBackWhenAnUpstreamDoesNotAnswerInTime) {
  expect_timeout_fallback(cheap_, kChat, [&](const std::string& b) { return chat(b); });
  // It failed: for a while, the next call goes to dear first, without waiting on cheap.
  auto t0 = steady_clock::now();
  auto r = chat(kChat);
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_LT(steady_clock::now() - t0, milliseconds(1000));
  EXPECT_EQ(cheap_.calls(), 1u);
}

TEST_F(GatewayTest, AStreamFallsBackWhenAnUpstreamDoesNotAnswerInTime) {
  const std::string stream =
      R"({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]})";
  expect_timeout_fallback(cheap_, stream, [&](const std::string& b) {
    auto r = chat(b);
    if (r) {
      EXPECT_NE(r->body.find("[DONE]"), std::string::npos);
    }
    return r;
  });
}

TEST_F(GatewayTest, AFailingUpstreamIsTriedLastUntilItAnswers) {
  cheap_.answer(500);
  EXPECT_EQ(chat(kChat)->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_EQ(cheap_.calls(), 1u);
  cheap_.answer(200);
  // Demoted for 5 s: dear first, cheap not asked.
  EXPECT_EQ(chat(kChat)->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_EQ(cheap_.calls(), 1u);
  // Still there when dear fails too, and healthy again once it answered.
  dear_.answer(500);
  EXPECT_EQ(chat(kChat)->get_header_value("X-CodeFleet-Upstream"), "cheap");
  dear_.answer(200);
  EXPECT_EQ(chat(kChat)->get_header_value("X-CodeFleet-Upstream"), "cheap");
}

TEST_F(GatewayTest, KeepsUpstreamConnectionsAlive) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(chat(kChat)->status, 200);
  // Five calls one after another: one connection, kept alive from call to call.
  EXPECT_EQ(cheap_.calls(), 5u);
  EXPECT_EQ(cheap_.connections(), 1u);
}

TEST_F(GatewayTest, ABusySelfHostedEndpointOverflowsToFoundry) {
  // `code` prefers the self-hosted endpoint (10 tokens/s on one node). A streamed call
  // holds about 515 tokens there for its 600 ms: a 51 s queue, longer than the class's
  // 20 s call, so a call arriving meanwhile goes to Foundry; once it ended, back to local.
  const std::string code =
      R"({"model": "code", "stream": true, "messages": [{"role": "user", "content": "hi"}]})";
  std::string first_upstream;
  std::thread streaming([&] {
    httplib::Client c("127.0.0.1", daemon_->port());
    auto r =
        c.Post("/openai/v1/chat/completions",
               {{"Authorization", std::string("Bearer ") + kAdminKey}}, code, "application/json");
    if (r) first_upstream = r->get_header_value("X-CodeFleet-Upstream");
  });
  for (int i = 0; i < 200 && local_.calls() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(local_.calls(), 1u);
  auto during = chat(R"({"model": "code", "messages": [{"role": "user", "content": "x"}]})");
  ASSERT_EQ(during->status, 200) << during->body;
  EXPECT_EQ(during->get_header_value("X-CodeFleet-Upstream"), "cheap");
  streaming.join();
  EXPECT_EQ(first_upstream, "local");
  auto after = chat(R"({"model": "code", "messages": [{"role": "user", "content": "x"}]})");
  ASSERT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(after->get_header_value("X-CodeFleet-Upstream"), "local");
  EXPECT_EQ(local_.calls(), 2u);
}

TEST_F(GatewayTest, FallsBackOn429And500) {
  cheap_.answer(429);
  auto r = chat(kChat);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "dear");
  // Retry-After: cheap is skipped without being asked while it lasts.
  cheap_.answer(200);
  size_t before = cheap_.calls();
  ASSERT_EQ(chat(kChat)->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_EQ(cheap_.calls(), before);
  dear_.answer(500);
  cheap_.answer(500);
  auto none = chat(kChat);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 502);
  EXPECT_EQ(json::parse(none->body)["error"]["type"], "server_error");
}

TEST_F(GatewayTest, AnUpstreamSendingGarbageIsPassedOver) {
  cheap_.answer(299);
  auto r = chat(kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_EQ(json::parse(r->body)["object"], "chat.completion");
}

TEST_F(GatewayTest, StreamsChunkByChunk) {
  std::vector<steady_clock::duration> arrivals;
  std::string received;
  auto start = steady_clock::now();
  httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
  httplib::Request req;
  req.method = "POST";
  req.path = "/openai/v1/chat/completions";
  req.headers = h;
  req.body =
      R"({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]})";
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    arrivals.push_back(steady_clock::now() - start);
    received.append(data, n);
    return true;
  };
  auto r = client_->send(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(received.find("\"Hel\""), std::string::npos);
  EXPECT_NE(received.find("[DONE]"), std::string::npos);
  ASSERT_GE(arrivals.size(), 3u);
  // Not buffered: the first piece arrived well before the last (the upstream spaces them
  // 200 ms apart).
  EXPECT_GE(arrivals.back() - arrivals.front(), milliseconds(300));
  // The usage chunk was asked for and counted: 40 × 0.15 + 3 × 0.60 per 1M = 6 + 1.8 → 8 µ$.
  EXPECT_TRUE(cheap_.last_body()["stream_options"]["include_usage"].get<bool>());
  EXPECT_EQ(accrued("llm:cheap"), 8);
}

TEST_F(GatewayTest, KeysAndBadInputGetOpenAiErrors) {
  auto anonymous = chat(kChat, "");
  ASSERT_EQ(anonymous->status, 401);
  auto e = json::parse(anonymous->body);
  EXPECT_EQ(e["error"]["type"], "authentication_error");
  EXPECT_TRUE(e["error"]["message"].is_string());
  auto unknown = chat(R"({"model": "gpt-5", "messages": [{"role": "user", "content": "x"}]})");
  ASSERT_EQ(unknown->status, 404);
  EXPECT_EQ(json::parse(unknown->body)["error"]["code"], "model_not_found");
  auto compute = chat(R"({"model": "build", "messages": [{"role": "user", "content": "x"}]})");
  EXPECT_EQ(compute->status, 404);
  auto garbage = chat("{not json");
  ASSERT_EQ(garbage->status, 400);
  EXPECT_EQ(json::parse(garbage->body)["error"]["type"], "invalid_request_error");
  auto no_messages = chat(R"({"model": "chat"})");
  ASSERT_EQ(no_messages->status, 400);
  EXPECT_EQ(json::parse(no_messages->body)["error"]["param"], "messages");
  EXPECT_EQ(chat(kChat)->status, 200);  // still serving
}

TEST_F(GatewayTest, EachKeyHasItsOwnRateLimit) {
  auto [a_id, a] = make_key("acme", {{"rpm", 2}});
  auto [b_id, b] = make_key("acme", {{"rpm", 2}});
  ASSERT_EQ(chat(kChat, a)->status, 200);
  ASSERT_EQ(chat(kChat, a)->status, 200);
  auto third = chat(kChat, a);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429) << third->body;
  auto e = json::parse(third->body)["error"];
  EXPECT_EQ(e["code"], "rate_limit_exceeded");
  EXPECT_EQ(e["type"], "rate_limit_error");
  std::string message = e["message"];
  EXPECT_NE(message.find(a_id), std::string::npos) << message;
  EXPECT_NE(message.find("2 requests per minute"), std::string::npos) << message;
  // Two a minute: the next fits in about 30 s.
  ASSERT_TRUE(third->has_header("Retry-After"));
  int retry = std::stoi(third->get_header_value("Retry-After"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 30);
  EXPECT_EQ(cheap_.calls(), 2u);  // refused before any upstream was asked
  // Another key, and a key without limits, are not held back.
  EXPECT_EQ(chat(kChat, b)->status, 200);
  EXPECT_EQ(chat(kChat, b)->status, 200);
  EXPECT_EQ(chat(kChat)->status, 200);
  // A TPM limit below what one request may use (prompt + max_tokens) never lets it through.
  auto [t_id, t] = make_key("acme", {{"tpm", 100}});
  auto big = chat(kChat, t);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 429);
  EXPECT_EQ(json::parse(big->body)["error"]["code"], "rate_limit_exceeded");
  EXPECT_NE(json::parse(big->body)["error"]["message"].get<std::string>().find("100 tokens"),
            std::string::npos);
  EXPECT_EQ(chat(R"({"model": "chat", "max_tokens": 50, "messages": [{"role": "user",
                     "content": "hi"}]})",
                 t)
                ->status,
            200);
}

TEST_F(GatewayTest, AKeysMonthlyBudgetStopsItsCalls) {
  // One call costs 270 µ$, the key's whole budget: the first is served (nothing spent
  // yet), then the budget is reached and the key is refused.
  auto [id, secret] = make_key("acme", {{"budget_usd_month", "0.000270"}});
  ASSERT_EQ(chat(kChat, secret)->status, 200);
  for (int i = 0; i < 200 && usage("&key=" + id)["usage"].empty(); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(20ms);  // past the write, to the sum held in memory
  auto second = chat(kChat, secret);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429) << second->body;
  auto e = json::parse(second->body)["error"];
  EXPECT_EQ(e["code"], "key_budget_exhausted");
  EXPECT_EQ(e["type"], "insufficient_quota");
  std::string message = e["message"];
  EXPECT_NE(message.find("spent $0.00027 of its $0.00027 LLM budget"), std::string::npos)
      << message;
  EXPECT_EQ(cheap_.calls(), 1u);
  // Other keys, and the subscription's budget, are untouched.
  EXPECT_EQ(chat(kChat)->status, 200);
  // Raising the budget lets the key call again at once (this replica).
  auto raised =
      client_->Patch("/v1/keys/" + id, {{"Authorization", std::string("Bearer ") + kAdminKey}},
                     R"({"llm": {"budget_usd_month": "1"}})", "application/json");
  ASSERT_TRUE(raised);
  ASSERT_EQ(raised->status, 200) << raised->body;
  EXPECT_EQ(chat(kChat, secret)->status, 200);
}

TEST_F(GatewayTest, UsageIsRecordedPerTenantKeyAndDeployment) {
  auto [a_id, a] = make_key("acme");
  auto [g_id, g] = make_key("globex");
  const std::string stream =
      R"({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]})";
  const std::string big =
      R"({"model": "big", "messages": [{"role": "user", "content": ")" + kPrompt + R"("}]})";
  ASSERT_EQ(chat(kChat, a)->status, 200);
  ASSERT_EQ(chat(kChat, a)->status, 200);
  ASSERT_EQ(chat(stream, a)->status, 200);
  ASSERT_EQ(chat(big, g)->status, 200);  // the dear deployment
  json all;
  for (int i = 0; i < 200; ++i) {
    all = usage();
    int64_t requests = 0;
    for (const auto& u : all["usage"]) requests += u["requests"].get<int64_t>();
    if (requests == 4) break;
    std::this_thread::sleep_for(10ms);
  }
  // Exactly what the upstreams reported: 2 × (1,000 + 200) and 40 + 3 tokens on cheap at
  // $0.15/$0.60 per 1M (270 + 270 + 8 µ$); 1,000 + 200 on dear at $2.50/$10 (4,500 µ$).
  json acme = {{"tenant", "acme"},   {"key", a_id},           {"deployment", "cheap"},
               {"requests", 3},      {"prompt_tokens", 2040}, {"completion_tokens", 403},
               {"cached_tokens", 0}, {"cost_usd", 0.000548}};
  json globex = {{"tenant", "globex"}, {"key", g_id},           {"deployment", "dear"},
                 {"requests", 1},      {"prompt_tokens", 1000}, {"completion_tokens", 200},
                 {"cached_tokens", 0}, {"cost_usd", 0.0045}};
  EXPECT_EQ(all["usage"], (json{acme, globex})) << all.dump();
  EXPECT_EQ(usage("&tenant=globex")["usage"], json{globex});
  EXPECT_EQ(usage("&key=" + a_id)["usage"], json{acme});
  // A tenant's key sees its own tenant only.
  EXPECT_EQ(usage("", g)["usage"], json{globex});
  // The cost ledger (and so /v1/costs and the budgets) holds the same amounts.
  EXPECT_EQ(accrued("llm:cheap"), 548);
  EXPECT_EQ(accrued("llm:dear"), 4'500);
}

TEST_F(GatewayTest, AFailedCallGivesTheKeyItsTokensBack) {
  // The call's estimate is 763 tokens (1,000 characters → 251 prompt + 512 completion by
  // default); the key may use 800 a minute. A call no upstream answers must not spend them.
  auto [id, k] = make_key("acme", {{"tpm", 800}});
  cheap_.answer(500);
  dear_.answer(500);
  EXPECT_EQ(chat(kChat, k)->status, 502);
  cheap_.answer(200);
  dear_.answer(200);
  auto r = chat(kChat, k);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // That one was answered (1,200 tokens reported): the bucket is spent now.
  EXPECT_EQ(chat(kChat, k)->status, 429);
}

TEST_F(GatewayTest, AClientThatLeavesMidStreamPaysThePromptToo) {
  auto [id, k] = make_key("acme");
  httplib::Client c("127.0.0.1", daemon_->port());
  std::string got;
  httplib::Request req;
  req.method = "POST";
  req.path = "/openai/v1/chat/completions";
  req.headers = {{"Authorization", "Bearer " + k}};
  req.body =
      R"({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "abcdefgh"}]})";
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    got.append(data, n);
    return false;  // gone after the first piece
  };
  (void)c.send(req);
  EXPECT_NE(got.find("Hel"), std::string::npos);
  // No usage chunk reached the gateway: the completion counted, the prompt estimated
  // (8 characters → 3 tokens), both recorded.
  json rows;
  for (int i = 0; i < 200; ++i) {
    rows = usage("&key=" + id)["usage"];
    if (!rows.empty()) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["requests"], 1);
  EXPECT_EQ(rows[0]["prompt_tokens"], 3);
  EXPECT_GE(rows[0]["completion_tokens"].get<int64_t>(), 1);
}

// An upstream answering prompt_tokens = 2^63 - 1 once booked $824,633.72 in one call. The
// usage kept is cut to what the call could have used: the prompt to the bytes of the request
// sent, the completion to max_tokens or the bytes received; each cut is counted in the
// metrics and logged.
TEST_F(GatewayTest, AnAbsurdPromptCountIsCutToTheRequestsSize) {
  auto [id, key] = make_key("acme", {{"budget_usd_month", "0.0001"}});
  cheap_.report({{"prompt_tokens", INT64_MAX}, {"completion_tokens", 200}});
  ::testing::internal::CaptureStderr();
  auto r = chat(kChat, key);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json rows;
  for (int i = 0; i < 200 && rows.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    rows = usage("&key=" + id)["usage"];
  }
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  const auto sent = static_cast<int64_t>(cheap_.last_size());
  EXPECT_EQ(rows[0]["prompt_tokens"], sent);
  EXPECT_EQ(rows[0]["completion_tokens"], 200);
  // sent × $0.15/1M + 200 × $0.60/1M: cents at most, never $824,633.72.
  int64_t cost = (sent * 15 + 50) / 100 + 120;
  EXPECT_EQ(accrued("llm:cheap"), cost);
  auto metrics = client_->Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(metrics);
  EXPECT_NE(
      metrics->body.find(R"(codefleet_llm_usage_clamped_total{kind="prompt",upstream="cheap"} 1)"),
      std::string::npos)
      << metrics->body.substr(0, 2000);
  EXPECT_EQ(metrics->body.find(R"(codefleet_llm_usage_clamped_total{kind="completion")"),
            std::string::npos);
  EXPECT_NE(log.find("more tokens than the call could use"), std::string::npos) << log;
  EXPECT_NE(log.find("\"upstream\":\"cheap\""), std::string::npos) << log;
  // The key's budget ($0.0001) was spent by at most this one call's bound; the next call
  // is refused.
  auto next = chat(kChat, key);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 429) << next->body;
  EXPECT_EQ(json::parse(next->body)["error"]["code"], "key_budget_exhausted");
}

TEST_F(GatewayTest, AnAbsurdCompletionCountIsCutToMaxTokensOrTheBytesReceived) {
  auto [id, key] = make_key("acme");
  cheap_.report({{"prompt_tokens", 10},
                 {"completion_tokens", INT64_MAX},
                 {"prompt_tokens_details", {{"cached_tokens", INT64_MAX}}}});
  auto capped = chat(R"({"model": "chat", "max_tokens": 64, "messages": [{"role": "user",
                          "content": "hi"}]})",
                     key);
  ASSERT_EQ(capped->status, 200) << capped->body;
  json rows;
  for (int i = 0; i < 200 && rows.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    rows = usage("&key=" + id)["usage"];
  }
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["prompt_tokens"], 10);
  EXPECT_EQ(rows[0]["completion_tokens"], 64);  // max_tokens
  EXPECT_EQ(rows[0]["cached_tokens"], 10);      // at most the prompt
  auto metrics = client_->Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  EXPECT_NE(metrics->body.find(
                R"(codefleet_llm_usage_clamped_total{kind="completion",upstream="cheap"} 1)"),
            std::string::npos);
  EXPECT_NE(
      metrics->body.find(R"(codefleet_llm_usage_clamped_total{kind="cached",upstream="cheap"} 1)"),
      std::string::npos);
}

TEST_F(GatewayTest, AStreamsAbsurdUsageIsCutToWhatWasSentAndReceived) {
  auto [id, key] = make_key("acme");
  cheap_.report({{"prompt_tokens", INT64_MAX}, {"completion_tokens", INT64_MAX}});
  auto r = chat(R"({"model": "chat", "stream": true, "messages": [{"role": "user",
                    "content": "hi"}]})",
                key);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_NE(r->body.find("[DONE]"), std::string::npos);
  json rows;
  for (int i = 0; i < 200 && rows.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    rows = usage("&key=" + id)["usage"];
  }
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  // The prompt: the bytes of the request the upstream got; the completion: the bytes of the
  // stream (passed through unchanged, so what the client received).
  EXPECT_EQ(rows[0]["prompt_tokens"], static_cast<int64_t>(cheap_.last_size()));
  EXPECT_EQ(rows[0]["completion_tokens"], static_cast<int64_t>(r->body.size()));
  EXPECT_LT(rows[0]["cost_usd"].get<double>(), 0.01);
  auto metrics = client_->Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  for (const char* kind : {"prompt", "completion"}) {
    EXPECT_NE(metrics->body.find(fmt::format(
                  R"(codefleet_llm_usage_clamped_total{{kind="{}",upstream="cheap"}} 1)", kind)),
              std::string::npos)
        << kind;
  }
}

TEST_F(GatewayTest, AModelNameIsCapped) {
  auto r = chat(
      json{{"model", std::string(300, 'm')}, {"messages", {{{"role", "user"}, {"content", "x"}}}}}
          .dump());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body.substr(0, 300);
  EXPECT_EQ(json::parse(r->body)["error"]["param"], "model");
  EXPECT_LT(r->body.size(), 1000u);
  auto header = client_->Post("/openai/v1/chat/completions",
                              {{"Authorization", std::string("Bearer ") + kAdminKey},
                               {"X-CodeFleet-Class", std::string(300, 'c')}},
                              kChat, "application/json");
  ASSERT_TRUE(header);
  EXPECT_EQ(header->status, 400);
  EXPECT_EQ(json::parse(header->body)["error"]["param"], "X-CodeFleet-Class");
  EXPECT_EQ(cheap_.calls(), 0u);
}

class V1Api : public GatewayTest {
 protected:
  void SetUp() override {
    cheap_api_ = "v1";
    GatewayTest::SetUp();
  }
};

TEST_F(V1Api, CallsTheV1PathWithTheDeploymentAsModel) {
  auto r = chat(kChat);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "cheap");
  EXPECT_EQ(cheap_.last_path(), "/openai/v1/chat/completions");
  EXPECT_EQ(cheap_.last_body()["model"], "d");  // the deployment's name
  EXPECT_EQ(cheap_.last_api_key(), "key-cheap");
}

class DeadUpstream : public GatewayTest {
 protected:
  void SetUp() override {
    dead_cheap_ = true;
    GatewayTest::SetUp();
  }
};

TEST_F(DeadUpstream, ARefusedConnectionFallsBack) {
  auto r = chat(kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-CodeFleet-Upstream"), "dear");
  auto s =
      chat(R"({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "x"}]})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 200);
  EXPECT_EQ(s->get_header_value("X-CodeFleet-Upstream"), "dear");
  EXPECT_NE(s->body.find("[DONE]"), std::string::npos);
}

class SpentBudget : public GatewayTest {
 protected:
  void SetUp() override {
    budget_usd_ = "0.0002";  // $0.0002: the first call ($0.00027) spends it
    GatewayTest::SetUp();
  }
};

TEST_F(SpentBudget, AnswersTooManyRequests) {
  ASSERT_EQ(chat(kChat)->status, 200);
  // The cost reaches the budget with the next snapshot (at most a second).
  httplib::Result r = chat(kChat);
  for (int i = 0; i < 60 && r && r->status == 200; ++i) {
    std::this_thread::sleep_for(50ms);
    r = chat(kChat);
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "budget_exhausted");
  EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find("monthly"),
            std::string::npos);
}

}  // namespace
}  // namespace codefleet
