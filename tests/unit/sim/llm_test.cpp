// The `llm` replay: LLM calls of one class on Foundry, on the self-hosted pool and hybrid.
// Small fleets built by hand, so every cost, wait and node-hour below is worked out in the
// comments; then the shipped example and trace for the invariants and determinism.
#include <fstream>
#include <numeric>
#include <sstream>

#include <gtest/gtest.h>

#include "sim/llm.h"
#include "spec/spec.h"

namespace codefleet {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// One llm class `chat` (20 s calls); one pool `gpu` at $3.60 an hour (create 8 min,
// start 4 min); one Foundry deployment `large` at $2 / $8 per 1M input / output tokens;
// one self-hosted endpoint `vllm` on `gpu` at 10,000 tokens/s per node. Self-hosted tokens
// cost $3.60 / 36M = $0.10 per 1M at the margin, so the router prefers the endpoint.
struct Fleet {
  Spec spec;
  FleetModel model;

  Fleet(int64_t min_nodes, int64_t max_nodes, int64_t tpm = 0, int64_t rpm = 0) {
    WorkloadClass chat;
    chat.name = "chat";
    chat.kind = ClassKind::kLlm;
    chat.duration = seconds(20);
    spec.classes.push_back(chat);
    Environment env;
    env.name = "prod";
    Pool pool;
    pool.name = "gpu";
    env.pools.push_back(pool);
    spec.environments.push_back(env);

    PoolModel p;
    p.index = 0;
    p.name = "gpu";
    p.sku = "Standard_NC40ads_H100_v5";
    p.min_nodes = min_nodes;
    p.max_nodes = max_nodes;
    p.price.usd_per_hour = *Money::parse("3.60");
    p.create_latency = minutes(8);
    p.start_latency = minutes(4);
    model.pools.push_back(p);

    DeploymentModel d;
    d.index = 0;
    d.name = "large";
    d.usd_per_1m_input = *Money::parse("2.00");
    d.usd_per_1m_output = *Money::parse("8.00");
    d.tpm = tpm;
    d.rpm = rpm;
    d.classes = {"chat"};
    model.deployments.push_back(d);

    SelfHostedModel s;
    s.index = 0;
    s.name = "vllm";
    s.pool = 0;
    s.tokens_per_second = 10'000;
    s.classes = {"chat"};
    model.self_hosted.push_back(s);
    model.spec = &spec;
  }
  Fleet(const Fleet&) = delete;
};

const LlmScenario& scenario(const LlmReplay& r, const std::string& name) {
  for (const auto& s : r.scenarios) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no scenario " << name;
  static LlmScenario none;
  return none;
}

LlmSimOptions hour() {
  LlmSimOptions o;
  o.period = std::chrono::hours(1);
  return o;
}

void expect_counted_once(const LlmReplay& r) {
  ASSERT_EQ(r.scenarios.size(), 3u);
  for (const auto& s : r.scenarios) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(s.served + s.unserved, r.calls);
    int64_t by_target = 0;
    for (const auto& [name, n] : s.calls_by_target) by_target += n;
    EXPECT_EQ(by_target, s.served);
    Money cost;
    for (const auto& [name, c] : s.cost_by_target) cost += c;
    EXPECT_EQ(cost, s.cost);
  }
  EXPECT_EQ(scenario(r, "foundry").node_ms, 0);
}

TEST(LlmReplay, FoundryCostIsTokensTimesPrices) {
  Fleet f(1, 1);
  std::vector<LlmCall> calls{
      {seconds(0), 1000, 500}, {seconds(1), 1000, 500}, {seconds(2), 1000, 500}};
  auto r = replay_llm(f.model, "chat", calls, hour());
  expect_counted_once(r);
  EXPECT_EQ(r.calls, 3);
  EXPECT_EQ(r.prompt_tokens, 3000);
  EXPECT_EQ(r.completion_tokens, 1500);
  const auto& s = scenario(r, "foundry");
  // 3,000 × $2 / 1M + 1,500 × $8 / 1M = $0.006 + $0.012.
  EXPECT_EQ(s.cost, Money::from_micros(18'000));
  EXPECT_EQ(s.cost_by_target.at("large"), Money::from_micros(18'000));
  EXPECT_EQ(s.calls_by_target.at("large"), 3);
  EXPECT_EQ(s.wait_p99_ms, 0);
  EXPECT_EQ(s.peak_nodes, 0);
  EXPECT_EQ(s.cost_by_target.count("vllm"), 0u);
}

TEST(LlmReplay, FoundryCallsWaitForTheirBucketFirstComeFirstServed) {
  // 6,000 TPM: a full bucket holds two 3,000-token calls and refills 100 tokens a second.
  Fleet f(1, 1, /*tpm=*/6000);
  std::vector<LlmCall> calls{{seconds(0), 2000, 1000},
                             {seconds(0), 2000, 1000},
                             {seconds(0), 2000, 1000},   // 3,000 tokens more: 30 s
                             {seconds(1), 2000, 1000}};  // behind it: starts at 60 s
  auto r = replay_llm(f.model, "chat", calls, hour());
  expect_counted_once(r);
  const auto& s = scenario(r, "foundry");
  EXPECT_EQ(s.served, 4);
  EXPECT_EQ(s.wait_p50_ms, 0);       // {0, 0, 30 s, 59 s}: the 2nd smallest
  EXPECT_EQ(s.wait_p95_ms, 59'000);  // the 4th
  EXPECT_EQ(s.wait_p99_ms, 59'000);
  std::vector<LlmCall> two_rpm{{seconds(0), 10, 10}, {seconds(0), 10, 10}, {seconds(0), 10, 10}};
  Fleet g(1, 1, /*tpm=*/0, /*rpm=*/2);
  auto q = replay_llm(g.model, "chat", two_rpm, hour());
  EXPECT_EQ(scenario(q, "foundry").wait_p99_ms, 30'000);  // one request per 30 s
}

TEST(LlmReplay, ACallLargerThanEveryTpmIsUnservedOnFoundryOnly) {
  Fleet f(1, 1, /*tpm=*/1000);
  std::vector<LlmCall> calls{{seconds(0), 200, 100}, {seconds(5), 1200, 300}};
  auto r = replay_llm(f.model, "chat", calls, hour());
  expect_counted_once(r);
  EXPECT_EQ(scenario(r, "foundry").served, 1);
  EXPECT_EQ(scenario(r, "foundry").unserved, 1);
  EXPECT_EQ(scenario(r, "self-hosted").unserved, 0);
  EXPECT_EQ(scenario(r, "hybrid").unserved, 0);
  EXPECT_EQ(scenario(r, "hybrid").calls_by_target.at("vllm"), 2);
  // Only scenarios that served every call compete for the cheapest.
  EXPECT_NE(r.cheapest, "foundry");
  EXPECT_FALSE(r.cheapest.empty());
}

TEST(LlmReplay, SelfHostedPaysNodeHoursAtThePoolsPrice) {
  Fleet f(1, 1);
  std::vector<LlmCall> calls;
  for (int i = 0; i < 10; ++i) calls.push_back({minutes(5 * i), 8000, 2000});  // 1 s each
  auto r = replay_llm(f.model, "chat", calls, hour());
  expect_counted_once(r);
  const auto& s = scenario(r, "self-hosted");
  // One node for the hour: $3.60.
  EXPECT_EQ(s.node_ms, 3'600'000);
  EXPECT_DOUBLE_EQ(s.gpu_node_hours(), 1.0);
  EXPECT_EQ(s.cost, *Money::parse("3.60"));
  EXPECT_EQ(s.cost_by_target.at("vllm"), *Money::parse("3.60"));
  EXPECT_EQ(s.calls_by_target.at("vllm"), 10);
  EXPECT_EQ(s.wait_p99_ms, 0);
  EXPECT_EQ(s.peak_nodes, 1);
}

TEST(LlmReplay, SelfHostedScalesUpWhenTheQueueOutlastsACall) {
  Fleet f(1, 3);
  // 300,000 tokens: 30 s of work on the one node, longer than the class's 20 s call, so a
  // second node is created (ready after 8 min). The next call queues behind the first on
  // the running node (30 s). The autoscaler scans every 10 s: the first node is busy less
  // than half of the scan ending at 40 s, unneeded from then, and removed 10 min later
  // (10:40); the new node never gets work and stays as the pool's one min_node.
  std::vector<LlmCall> calls{{seconds(0), 250'000, 50'000}, {seconds(0), 8000, 2000}};
  auto r = replay_llm(f.model, "chat", calls, hour());
  expect_counted_once(r);
  const auto& s = scenario(r, "self-hosted");
  EXPECT_EQ(s.peak_nodes, 2);
  EXPECT_EQ(s.wait_p99_ms, 30'000);
  EXPECT_EQ(s.node_ms, 640'000 + 3'600'000);
  EXPECT_EQ(s.cost, *Money::parse("4.24"));  // 4,240 s × $3.60 / 3,600 s
}

TEST(LlmReplay, SelfHostedFromZeroWaitsForANodeAndLetsItGo) {
  Fleet f(0, 2);
  // No node: the first call waits for one to be created (8 min) and runs 1 s; the node is
  // unneeded from the scan at 8:00 (ready, not busy in the 10 s before) and removed at
  // 18:00.
  std::vector<LlmCall> calls{{seconds(0), 8000, 2000}};
  auto r = replay_llm(f.model, "chat", calls, hour());
  const auto& s = scenario(r, "self-hosted");
  EXPECT_EQ(s.wait_p50_ms, 480'000);
  EXPECT_EQ(s.node_ms, 18 * 60'000);
  EXPECT_EQ(s.cost, *Money::parse("1.08"));  // 1,080 s × $3.60 / 3,600 s

  // A pool that deallocates on scale-down starts the stopped node again in 4 min.
  Fleet g(0, 1);
  g.model.pools[0].idle_action = IdleAction::kDeallocate;
  std::vector<LlmCall> again{{seconds(0), 8000, 2000}, {minutes(30), 8000, 2000}};
  auto q = replay_llm(g.model, "chat", again, hour());
  const auto& t = scenario(q, "self-hosted");
  EXPECT_EQ(t.wait_p50_ms, 240'000);  // {240 s, 480 s}
  EXPECT_EQ(t.wait_p99_ms, 480'000);
  // 0 to 18:00, then 30:00 to 44:00 (ready at 34:00, unneeded from then).
  EXPECT_EQ(t.node_ms, 18 * 60'000 + 14 * 60'000);
}

TEST(LlmReplay, HybridOverflowsToFoundryWhenTheEndpointSaturates) {
  Fleet f(1, 4);
  LlmSimOptions o = hour();
  o.hybrid_nodes = 1;
  // Five 100,000-token calls at once: 10 s each on the one node. The 1st starts now, the
  // 2nd and 3rd queue 10 s and 20 s (not longer than the 20 s call: still available); then
  // the queue is 30 s, the endpoint is saturated and the 4th and 5th go to Foundry.
  std::vector<LlmCall> calls(5, LlmCall{seconds(0), 80'000, 20'000});
  auto r = replay_llm(f.model, "chat", calls, o);
  expect_counted_once(r);
  const auto& s = scenario(r, "hybrid");
  EXPECT_EQ(s.calls_by_target.at("vllm"), 3);
  EXPECT_EQ(s.calls_by_target.at("large"), 2);
  // Foundry: 160,000 × $2 / 1M + 40,000 × $8 / 1M = $0.64; the node: one hour, $3.60.
  EXPECT_EQ(s.cost_by_target.at("large"), *Money::parse("0.64"));
  EXPECT_EQ(s.cost_by_target.at("vllm"), *Money::parse("3.60"));
  EXPECT_EQ(s.cost, *Money::parse("4.24"));
  EXPECT_EQ(s.node_ms, 3'600'000);
  EXPECT_EQ(s.wait_p50_ms, 0);       // {0, 0, 0, 10 s, 20 s}
  EXPECT_EQ(s.wait_p95_ms, 20'000);  // the 3rd on the node
  EXPECT_EQ(s.peak_nodes, 1);
}

TEST(LlmReplay, HybridBaseIsTheMedianMinutesDemand) {
  Fleet f(0, 6);
  // One node serves 600,000 tokens a minute. Minutes of 1.2M, 1.3M and 0.1M tokens: the
  // median minute needs 2 nodes.
  std::vector<LlmCall> calls{{seconds(10), 1'000'000, 200'000},
                             {seconds(70), 1'000'000, 300'000},
                             {seconds(130), 50'000, 50'000}};
  EXPECT_EQ(hybrid_base_nodes(f.model, "chat", calls, minutes(3)), 2);
  auto r = replay_llm(f.model, "chat", calls, LlmSimOptions{});
  EXPECT_EQ(scenario(r, "hybrid").peak_nodes, 2);
  // Within the pool's bounds: at least one node, at most max_nodes.
  Fleet g(0, 1);
  auto q = replay_llm(g.model, "chat", calls, LlmSimOptions{});
  EXPECT_EQ(scenario(q, "hybrid").peak_nodes, 1);
  EXPECT_EQ(hybrid_base_nodes(f.model, "chat", {{seconds(1), 1, 1}}, minutes(1)), 1);
}

TEST(LlmReplay, DefaultClassNeedsFoundryAndASelfHostedEndpoint) {
  Fleet f(1, 1);
  EXPECT_EQ(default_llm_route_class(f.model).value_or(""), "chat");
  f.model.self_hosted[0].tokens_per_second = 0;  // no throughput: cannot be modelled
  EXPECT_FALSE(default_llm_route_class(f.model).has_value());
  Fleet g(1, 1);
  g.model.deployments.clear();
  EXPECT_FALSE(default_llm_route_class(g.model).has_value());
  // Without Foundry, the Foundry scenario serves nothing; each call still counted once.
  auto r = replay_llm(g.model, "chat", {{seconds(0), 10, 10}}, hour());
  expect_counted_once(r);
  EXPECT_EQ(scenario(r, "foundry").unserved, 1);
  EXPECT_EQ(r.cheapest, scenario(r, "self-hosted").cost <= scenario(r, "hybrid").cost
                            ? "self-hosted"
                            : "hybrid");
}

struct Example {
  ParsedSpec parsed;
  Catalog catalog;
  FleetModel model;
};

std::unique_ptr<Example> recommended() {
  auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/recommended.yaml");
  EXPECT_TRUE(parsed);
  auto e = std::make_unique<Example>(Example{*parsed, *Catalog::load_default(), {}});
  auto model = build_fleet_model(e->parsed.spec, e->catalog, {});
  EXPECT_TRUE(model) << (model ? "" : model.error().message);
  e->model = *model;
  e->model.spec = &e->parsed.spec;
  return e;
}

std::string read_fixture(const std::string& rel) {
  std::ifstream in(std::string(CODEFLEET_FIXTURES) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string summary(const LlmReplay& r) {
  std::string out = r.class_name + " " + r.cheapest;
  for (const auto& s : r.scenarios) {
    out += " | " + s.name + " " + s.cost.to_string(6) + " " + std::to_string(s.node_ms) + " " +
           std::to_string(s.wait_p50_ms) + "/" + std::to_string(s.wait_p95_ms) + "/" +
           std::to_string(s.wait_p99_ms) + " " + std::to_string(s.served) + "+" +
           std::to_string(s.unserved);
    for (const auto& [k, v] : s.calls_by_target) out += " " + k + "=" + std::to_string(v);
  }
  return out;
}

TEST(LlmReplay, AzureTraceOnTheRecommendedFleet) {
  auto e = recommended();
  auto w = load_trace(read_fixture("traces/azure-llm-conv-2023-first300.csv"), "azure.csv",
                      TraceFormat::kAzureLlm, e->parsed.spec, {});
  ASSERT_TRUE(w) << w.error().describe();
  auto calls = llm_calls_of(*w);
  ASSERT_EQ(calls.size(), 300u);
  auto cls = default_llm_route_class(e->model);
  ASSERT_TRUE(cls.has_value());
  EXPECT_EQ(*cls, "code-completion");
  LlmSimOptions o;
  o.period = w->span;
  auto r = replay_llm(e->model, *cls, calls, o);
  expect_counted_once(r);
  // Only foundry-large serves code-completion: the Foundry bill is every token at its prices.
  const auto& foundry = scenario(r, "foundry");
  EXPECT_EQ(foundry.unserved, 0);
  EXPECT_EQ(foundry.cost, Money::parse("2.50")->mul_div(r.prompt_tokens, 1'000'000) +
                              Money::parse("10.00")->mul_div(r.completion_tokens, 1'000'000));
  const auto& self = scenario(r, "self-hosted");
  EXPECT_EQ(self.calls_by_target.at("vllm-h100"), 300);
  EXPECT_GE(self.peak_nodes, 1);  // h100-infer: min_nodes 1, max_nodes 6
  EXPECT_LE(self.peak_nodes, 6);
  // The node is billed at least for the trace's span.
  EXPECT_GE(self.node_ms, std::chrono::duration_cast<milliseconds>(w->span).count());
  const auto& hybrid = scenario(r, "hybrid");
  EXPECT_EQ(hybrid.calls_by_target.at("vllm-h100") + hybrid.calls_by_target.at("foundry-large"),
            300);
  EXPECT_EQ(summary(r), summary(replay_llm(e->model, *cls, calls, o)));
}

TEST(LlmReplay, CallsOutOfOrderAreReplayedInArrivalOrder) {
  Fleet f(1, 1);
  std::vector<LlmCall> calls{{seconds(2), 1000, 500}, {seconds(0), 1000, 500}};
  std::vector<LlmCall> sorted{calls[1], calls[0]};
  EXPECT_EQ(summary(replay_llm(f.model, "chat", calls, hour())),
            summary(replay_llm(f.model, "chat", sorted, hour())));
}

}  // namespace
}  // namespace codefleet
