// Routing decisions on examples/recommended.yaml.
#include <gtest/gtest.h>

#include "examples_fixture.h"

namespace codefleet {
namespace {

using namespace testing_support;

// 2026-01-05 is a Monday; Amsterdam is UTC+1 in January.
const char* kMondayTenLocal = "2026-01-05T09:00:00Z";
const char* kMondayNineteenLocal = "2026-01-05T18:00:00Z";

struct RouteCase {
  std::string name;
  std::string task;
  Outcome outcome;
  std::string target;  // "" for infeasible
  Target::Kind kind;
};

class RecommendedRoutes : public testing::TestWithParam<RouteCase> {};

TEST_P(RecommendedRoutes, ChoosesTheExpectedTarget) {
  static ExampleFleet f = load_example("recommended.yaml");
  f.model.spec = &f.parsed.spec;
  const RouteCase& c = GetParam();
  Task t = task_json(f, c.task);
  EmptyFleetView view(f.model);
  Decision d = route(f.model, t, view, at(kMondayTenLocal));
  EXPECT_EQ(d.outcome, c.outcome) << d.reason;
  if (c.outcome != Outcome::kInfeasible) {
    EXPECT_EQ(d.target.name, c.target) << d.reason;
    EXPECT_EQ(d.target.kind, c.kind);
  }
  EXPECT_FALSE(d.reason.empty());
  for (const auto& a : d.alternatives) EXPECT_FALSE(a.rejected_because.empty()) << a.target.name;
}

INSTANTIATE_TEST_SUITE_P(
    Examples, RecommendedRoutes,
    testing::Values(
        RouteCase{
            "one_gpu_fine_tune_goes_to_h100",
            R"({"class": "fine-tune", "resources": {"vcpus": 32, "memory_gib": 256, "gpus": 1, "gpu_memory_gib": 80}, "deferrable": false})",
            Outcome::kPlaced, "h100-train", Target::Kind::kPool},
        RouteCase{
            "two_gpu_job_goes_to_nc80adis",
            R"({"class": "batch-inference", "resources": {"vcpus": 64, "memory_gib": 512, "gpus": 2, "gpu_memory_gib": 160}, "deferrable": false})",
            Outcome::kPlaced, "h100-infer", Target::Kind::kPool},
        RouteCase{"ci_goes_to_burstable", R"({"class": "ci"})", Outcome::kPlaced, "ci",
                  Target::Kind::kPool},
        RouteCase{"api_goes_to_general", R"({"class": "api", "environment": "prod"})",
                  Outcome::kPlaced, "general", Target::Kind::kPool},
        RouteCase{"preemptible_background_goes_to_spot",
                  R"({"class": "background", "deferrable": false})", Outcome::kPlaced, "batch-spot",
                  Target::Kind::kPool},
        RouteCase{"prompt_gen_goes_to_cheapest_foundry",
                  R"({"class": "prompt-gen", "tokens": {"prompt": 2000, "completion": 500}})",
                  Outcome::kPlaced, "foundry-mini", Target::Kind::kFoundry},
        RouteCase{"code_completion_self_hosted_vs_foundry",
                  R"({"class": "code-completion", "tokens": {"prompt": 4000, "completion": 1000}})",
                  Outcome::kPlaced, "vllm-h100", Target::Kind::kSelfHosted},
        RouteCase{"deferrable_batch_waits_for_off_peak", R"({"class": "batch-inference"})",
                  Outcome::kQueued, "h100-train", Target::Kind::kPool},
        RouteCase{"deadline_forces_deferrable_now",
                  R"({"class": "batch-inference", "deadline": "2026-01-05T14:00:00Z"})",
                  Outcome::kPlaced, "h100-train", Target::Kind::kPool},
        RouteCase{
            "four_gpus_is_infeasible",
            R"({"class": "fine-tune", "resources": {"vcpus": 8, "memory_gib": 64, "gpus": 4, "gpu_memory_gib": 80}})",
            Outcome::kInfeasible, "", Target::Kind::kNone},
        RouteCase{"wrong_environment_is_infeasible",
                  R"({"class": "dev-box", "environment": "prod"})", Outcome::kInfeasible, "",
                  Target::Kind::kNone}),
    [](const testing::TestParamInfo<RouteCase>& info) { return info.param.name; });

TEST(Router, InfeasibleSaysWhyForEveryPool) {
  ExampleFleet f = load_example("recommended.yaml");
  Task t = task_json(
      f,
      R"({"class": "fine-tune", "resources": {"vcpus": 8, "memory_gib": 64, "gpus": 4, "gpu_memory_gib": 80}})");
  Decision d = route(f.model, t, EmptyFleetView(f.model), at(kMondayTenLocal));
  ASSERT_EQ(d.outcome, Outcome::kInfeasible);
  EXPECT_NE(d.reason.find("h100-train Standard_NC40ads_H100_v5 is too small: needs 4 GPUs (has 1)"),
            std::string::npos)
      << d.reason;
  EXPECT_EQ(d.alternatives.size(), f.model.pools.size());
}

TEST(Router, DeferralEndsInTheOffPeakWindow) {
  ExampleFleet f = load_example("recommended.yaml");
  Task t = task_json(f, R"({"class": "batch-inference"})");
  Decision d = route(f.model, t, EmptyFleetView(f.model), at(kMondayTenLocal));
  ASSERT_EQ(d.outcome, Outcome::kQueued);
  // 10:00 → 20:00 local: ten hours.
  EXPECT_EQ(d.wait, std::chrono::hours(10));
  EXPECT_NE(d.reason.find("off-peak window at 2026-01-05T19:00:00Z"), std::string::npos)
      << d.reason;
  Decision evening = route(f.model, t, EmptyFleetView(f.model), at("2026-01-05T19:30:00Z"));
  EXPECT_EQ(evening.outcome, Outcome::kPlaced) << evening.reason;
  Decision late_afternoon = route(f.model, t, EmptyFleetView(f.model), at(kMondayNineteenLocal));
  EXPECT_EQ(late_afternoon.outcome, Outcome::kQueued);
  EXPECT_EQ(late_afternoon.wait, std::chrono::hours(1));
}

// A view where one Foundry deployment has used up its TPM for this minute.
class TpmExhausted final : public FleetView {
 public:
  TpmExhausted(const FleetModel& m, std::string name) : empty_(m), name_(std::move(name)) {}
  PoolWait pool_wait(const PoolModel& p, const Task& t, TimePoint now) const override {
    return empty_.pool_wait(p, t, now);
  }
  Duration rate_wait(const DeploymentModel& d, int64_t, TimePoint) const override {
    return d.name == name_ ? std::chrono::seconds(40) : Duration{0};
  }

 private:
  EmptyFleetView empty_;
  std::string name_;
};

TEST(Router, PromptGenFallsBackWhenCheapestIsOverItsTpm) {
  ExampleFleet f = load_example("recommended.yaml");
  Task t =
      task_json(f, R"({"class": "prompt-gen", "tokens": {"prompt": 2000, "completion": 500}})");
  Decision d = route(f.model, t, TpmExhausted(f.model, "foundry-mini"), at(kMondayTenLocal));
  EXPECT_EQ(d.outcome, Outcome::kPlaced) << d.reason;
  EXPECT_EQ(d.target.name, "foundry-large");
  // gpt-4o: 2000 × $2.50/1M + 500 × $10/1M = $0.01
  EXPECT_EQ(d.cost.micros(), 10'000);
}

// A view where the self-hosted endpoint has `tokens` queued on `nodes` nodes.
class EndpointBusy final : public FleetView {
 public:
  EndpointBusy(const FleetModel& m, int64_t tokens, int64_t nodes)
      : empty_(m), tokens_(tokens), nodes_(nodes) {}
  PoolWait pool_wait(const PoolModel& p, const Task& t, TimePoint now) const override {
    return empty_.pool_wait(p, t, now);
  }
  EndpointLoad endpoint_load(const SelfHostedModel&, TimePoint) const override {
    return {tokens_, nodes_};
  }

 private:
  EmptyFleetView empty_;
  int64_t tokens_, nodes_;
};

TEST(Router, ASaturatedSelfHostedEndpointSendsTheCallToFoundry) {
  ExampleFleet f = load_example("recommended.yaml");
  Task t = task_json(
      f, R"({"class": "code-completion", "tokens": {"prompt": 4000, "completion": 1000}})");
  // vllm-h100: 2,500 tokens/s per node; code-completion calls take 20 s. 25,000 tokens
  // queued on one node is a 10 s queue: still the cheapest, and it waits 10 s longer.
  Decision light = route(f.model, t, EndpointBusy(f.model, 25'000, 1), at(kMondayTenLocal));
  EXPECT_EQ(light.target.name, "vllm-h100") << light.reason;
  Decision idle = route(f.model, t, EmptyFleetView(f.model), at(kMondayTenLocal));
  EXPECT_EQ(light.wait - idle.wait, std::chrono::seconds(10));
  // 75,000 tokens on one node is a 30 s queue, longer than the call: Foundry takes it.
  Decision busy = route(f.model, t, EndpointBusy(f.model, 75'000, 1), at(kMondayTenLocal));
  EXPECT_EQ(busy.target.name, "foundry-large") << busy.reason;
  bool said = false;
  for (const auto& a : busy.alternatives) {
    if (a.target.name == "vllm-h100") {
      said = a.rejected_because.find("saturated: 75000 tokens in flight on 1 node(s)") !=
             std::string::npos;
    }
  }
  EXPECT_TRUE(said);
  // The same queue spread over four nodes is 7.5 s: back to the endpoint.
  Decision spread = route(f.model, t, EndpointBusy(f.model, 75'000, 4), at(kMondayTenLocal));
  EXPECT_EQ(spread.target.name, "vllm-h100") << spread.reason;
}

TEST(Router, OneCallLargerThanTheTpmLimitIsRejectedThere) {
  ExampleFleet f = load_example("recommended.yaml");
  Task t =
      task_json(f, R"({"class": "prompt-gen", "tokens": {"prompt": 150000, "completion": 10000}})");
  Decision d = route(f.model, t, EmptyFleetView(f.model), at(kMondayTenLocal));
  EXPECT_EQ(d.target.name, "foundry-mini");  // 200k TPM holds it; foundry-large's 100k does not
  bool large_rejected = false;
  for (const auto& a : d.alternatives) {
    if (a.target.name == "foundry-large") {
      large_rejected =
          !a.feasible && a.rejected_because.find("TPM limit of 100000") != std::string::npos;
    }
  }
  EXPECT_TRUE(large_rejected);
}

TEST(Router, CostIsPriceTimesDurationTimesShare) {
  ExampleFleet f = load_example("recommended.yaml");
  // A quarter of an NC40ads (10 of 40 vCPUs, 80 of 320 GiB, 1 of 1 GPU → the whole GPU) for 2h at
  // $6.98/h.
  Task t = task_json(
      f,
      R"({"class": "fine-tune", "resources": {"vcpus": 10, "memory_gib": 80, "gpus": 1, "gpu_memory_gib": 40}, "duration_s": 7200, "deferrable": false})");
  Decision d = route(f.model, t, EmptyFleetView(f.model), at(kMondayTenLocal));
  ASSERT_EQ(d.target.name, "h100-train");
  EXPECT_EQ(d.cost.to_string(), "13.96");
  EXPECT_TRUE(d.estimated);  // westeurope priced from eastus
}

TEST(TaskJson, ErrorsNameTheField) {
  ExampleFleet f = load_example("recommended.yaml");
  struct Bad {
    const char* json;
    const char* field;
  };
  for (auto b : {Bad{R"({"resources": {"vcpus": 2}})", "'class'"},
                 Bad{R"({"class": "cii"})", "did you mean 'ci'"},
                 Bad{R"({"class": "ci", "priority": "high"})", "'priority'"},
                 Bad{R"({"class": "ci", "resources": {"vcpus": -2}})", "'resources.vcpus'"},
                 Bad{R"({"class": "ci", "deadline": "tomorrow"})", "'deadline'"},
                 Bad{R"({"class": "ci", "duration_s": 0})", "'duration_s'"},
                 Bad{R"({"class": "ci", "prioritty": 3})", "did you mean 'priority'"},
                 Bad{R"({"class": "ci", "environment": "staging"})", "'environment'"},
                 Bad{R"({"class": "prompt-gen"})", "'tokens'"}, Bad{R"([1, 2])", "JSON object"},
                 Bad{R"({"class": )", "not valid JSON"}}) {
    auto t = parse_task_json(b.json, f.parsed.spec, "task.json");
    ASSERT_FALSE(t) << b.json;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(t.error().describe().find(b.field), std::string::npos)
        << b.json << " → " << t.error().describe();
    EXPECT_EQ(t.error().location, "task.json");
  }
}

TEST(TaskJson, ClassDefaultsFillTheGaps) {
  ExampleFleet f = load_example("recommended.yaml");
  Task t = task_json(f, R"({"class": "fine-tune", "tenant": "team-a"})");
  EXPECT_EQ(t.resources.gpu_milli, 1000);
  EXPECT_EQ(t.duration, std::chrono::hours(6));
  EXPECT_EQ(t.priority, 50);
  EXPECT_TRUE(t.deferrable);
  EXPECT_EQ(t.tenant, "team-a");
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

TEST(TaskJson, KeepsTheCallersIdAndClass) {
  auto f = testing_support::load_example("recommended.yaml");
  Task t = testing_support::task_json(f, R"({"id": "job-42", "class": "ci"})");
  EXPECT_EQ(t.id, "job-42");
  EXPECT_EQ(t.class_name, "ci");
  EXPECT_EQ(t.resources.vcpus, 2);
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

TEST(FleetModel, PoolSchedulesResolveTheirTimeZones) {
  const char* yaml = R"(version: 1
name: tz
regions: [eastus]
environments:
  - name: prod
    pools:
      - name: dev
        sku: Standard_D4s_v5
        max_nodes: 2
        schedule: {time_zone: Pacific/Testland, windows: [{days: [weekdays], start: "08:00", end: "18:00"}]}
)";
  auto parsed = parse_spec(yaml, "tz.yaml");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  Catalog catalog = *Catalog::load_default();
  // Not built in and no resolver: an error naming the field, not a silent UTC.
  auto none = build_fleet_model(parsed->spec, catalog, {});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().describe().find("environments[0].pools[0].schedule.time_zone"),
            std::string::npos)
      << none.error().describe();
  // With a resolver (the CLI reads /usr/share/zoneinfo), the pool gets that zone.
  FleetModelOptions opts;
  opts.resolve_time_zone = [](const std::string& name) {
    return TimeZone::from_posix("<+05>-5", name);
  };
  auto model = build_fleet_model(parsed->spec, catalog, opts);
  ASSERT_TRUE(model) << model.error().message;
  ASSERT_TRUE(model->pools[0].schedule);
  EXPECT_EQ(model->pools[0].schedule->zone.name(), "Pacific/Testland");
  // 03:00 UTC is 08:00 there: inside the window on a Monday.
  EXPECT_TRUE(model->pools[0].schedule->contains(*parse_rfc3339("2026-01-05T03:00:00Z")));
  EXPECT_FALSE(model->pools[0].schedule->contains(*parse_rfc3339("2026-01-05T14:00:00Z")));
}

TEST(Shares, PackedShareIsOneOverHowManyFitWhole) {
  Resources e32{32, 256 * 1024, 0, 0};  // an E32s_v5
  // 200 of 256 GiB: a dominant share of 78%, but only one fits: it takes the node.
  EXPECT_EQ(dominant_share_ppm({16, 200 * 1024, 0, 0}, e32), 781'250);
  EXPECT_EQ(packed_share_ppm({16, 200 * 1024, 0, 0}, e32), 1'000'000);
  EXPECT_EQ(packed_share_ppm({8, 64 * 1024, 0, 0}, e32), 250'000);     // four fit
  EXPECT_EQ(packed_share_ppm({10, 16 * 1024, 0, 0}, e32), 333'334);    // three (by vCPUs)
  EXPECT_EQ(packed_share_ppm({64, 16 * 1024, 0, 0}, e32), 1'000'000);  // none fits
  EXPECT_EQ(packed_share_ppm({}, e32), 0);
  Resources nc40{40, 320 * 1024, 1000, 94 * 1024};
  EXPECT_EQ(packed_share_ppm({4, 8 * 1024, 470, 0}, nc40), 500'000);  // two 0.47-GPU pods share it
}

}  // namespace
}  // namespace codefleet
