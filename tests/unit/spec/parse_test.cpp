// Bad specs: each gives a clear error naming file, line:column and field; nothing crashes.
#include <gtest/gtest.h>

#include "spec/run.h"
#include "spec_fixture.h"

namespace codefleet {
namespace {

using testing_support::SpecBuilder;

struct BadCase {
  std::string name;
  std::string from;
  std::string to;
  std::string want_path;     // the error's field path
  std::string want_message;  // a fragment of the message
  int want_line;
};

class BadSpec : public testing::TestWithParam<BadCase> {};

TEST_P(BadSpec, FailsWithLocatedMessage) {
  const BadCase& c = GetParam();
  std::string yaml = SpecBuilder().replace(c.from, c.to).text();
  auto parsed = parse_spec(yaml, "fleet.yaml");
  ASSERT_FALSE(parsed) << "should not parse";
  const auto& errors = parsed.error().errors;
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].path, c.want_path) << parsed.error().describe();
  EXPECT_NE(errors[0].message.find(c.want_message), std::string::npos) << parsed.error().describe();
  EXPECT_EQ(errors[0].pos.line, c.want_line) << parsed.error().describe();
  std::string text = parsed.error().describe();
  EXPECT_EQ(text.rfind("fleet.yaml:", 0), 0u) << text;
}

const std::string kPool1 = "environments[0].pools[1]";

INSTANTIATE_TEST_SUITE_P(
    All, BadSpec,
    testing::Values(
        BadCase{"wrong_type", "max_nodes: 10", "max_nodes: ten", kPool1 + ".max_nodes",
                "not a whole number", 32},
        BadCase{"negative", "max_nodes: 10", "max_nodes: -1", kPool1 + ".max_nodes", "out of range",
                32},
        BadCase{"absurd", "max_nodes: 10", "max_nodes: 99999999", kPool1 + ".max_nodes",
                "out of range", 32},
        BadCase{"min_above_max", "min_nodes: 1", "min_nodes: 20", kPool1 + ".min_nodes",
                "above max_nodes", 31},
        BadCase{"list_expected", "regions: [eastus]", "regions: eastus", "regions",
                "must be a list", 3},
        BadCase{"bad_enum", "action: hibernate", "action: sleep", kPool1 + ".idle.action",
                "not one of", 33},
        BadCase{"bad_duration", "after: 30m}\n        classes: [web]",
                "after: 30 minutes}\n        classes: [web]", kPool1 + ".idle.after",
                "not a duration", 33},
        BadCase{"bad_money", "amount_usd: \"5000\"", "amount_usd: \"lots\"",
                "budgets[0].amount_usd", "not an amount", 39},
        BadCase{"zero_budget", "amount_usd: \"5000\"", "amount_usd: \"0\"", "budgets[0].amount_usd",
                "more than zero", 39},
        BadCase{"missing_required", "        sku: Standard_D4s_v5\n", "", kPool1 + ".sku",
                "required field 'sku'", 29},
        BadCase{"unknown_class_ref", "classes: [web]", "classes: [webb]", kPool1 + ".classes[0]",
                "unknown workload class 'webb'", 34},
        BadCase{"duplicate_pool", "name: cpu", "name: gpu", kPool1 + ".name", "defined twice", 29},
        BadCase{"bad_version", "version: 1", "version: 7", "version", "out of range", 1},
        BadCase{"huge_quota", "total_vcpus: 1000", "total_vcpus: 99999999999",
                "quotas[0].total_vcpus", "out of range", 9},
        BadCase{"bad_bool", "max_nodes: 2\n", "max_nodes: 2\n        spot: maybe\n",
                "environments[0].pools[0].spot", "true or false", 27},
        BadCase{"unknown_prefer", "{name: web, resources: {vcpus: 2, memory_gib: 4}}",
                "{name: web, resources: {vcpus: 2, memory_gib: 4}, prefer: [vllm]}",
                "workload_classes[1].prefer[0]",
                "neither a pool, a Foundry deployment nor an inference endpoint", 37}),
    [](const testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(BadSpec, YamlSyntaxErrorHasLineAndColumn) {
  auto parsed = parse_spec("version: 1\nname: [unclosed\nregions: [eastus]\n", "broken.yaml");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().describe().find("YAML syntax error"), std::string::npos);
  EXPECT_GT(parsed.error().errors[0].pos.line, 1);
}

TEST(BadSpec, EmptyAndNonMappingDocuments) {
  EXPECT_FALSE(parse_spec("", "empty.yaml"));
  EXPECT_FALSE(parse_spec("- just\n- a list\n", "list.yaml"));
  EXPECT_FALSE(parse_spec("42\n", "scalar.yaml"));
}

TEST(BadSpec, MissingFile) {
  auto parsed = parse_spec_file("/nonexistent/fleet.yaml");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().describe().find("/nonexistent/fleet.yaml"), std::string::npos);
}

TEST(BadSpec, CollectsEveryError) {
  std::string yaml = SpecBuilder()
                         .replace("max_nodes: 10", "max_nodes: -1")
                         .replace("max_nodes: 2", "max_nodes: x")
                         .text();
  auto parsed = parse_spec(yaml, "fleet.yaml");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().errors.size(), 2u) << parsed.error().describe();
}

// Unknown fields are errors: a typo must never switch a setting off silently.
struct UnknownCase {
  std::string name;
  std::string from;
  std::string to;
  std::string want_path;
  std::string want_suggestion;
  int want_line;
};

class UnknownField : public testing::TestWithParam<UnknownCase> {};

TEST_P(UnknownField, IsAnErrorNamingTheClosestField) {
  const UnknownCase& c = GetParam();
  auto parsed = parse_spec(SpecBuilder().replace(c.from, c.to).text(), "fleet.yaml");
  ASSERT_FALSE(parsed) << "an unknown field must not parse";
  const auto& errors = parsed.error().errors;
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].path, c.want_path) << parsed.error().describe();
  EXPECT_EQ(errors[0].suggestion, c.want_suggestion) << parsed.error().describe();
  EXPECT_EQ(errors[0].pos.line, c.want_line) << parsed.error().describe();
  EXPECT_NE(errors[0].message.find("unknown field"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    All, UnknownField,
    testing::Values(
        UnknownCase{"idel", "idle: {action: hibernate", "idel: {action: hibernate",
                    kPool1 + ".idel", "did you mean 'idle'?", 33},
        UnknownCase{"min_node", "min_nodes: 1", "min_node: 1", kPool1 + ".min_node",
                    "did you mean 'min_nodes'?", 31},
        UnknownCase{"nested", "{action: hibernate, after: 30m}", "{action: hibernate, aftre: 30m}",
                    kPool1 + ".idle.aftre", "did you mean 'after'?", 33},
        UnknownCase{"top_level", "regions: [eastus]", "regions: [eastus]\nbudget: 5", "budget",
                    "did you mean 'budgets'?", 4},
        UnknownCase{"far_off", "min_nodes: 1", "colour: blue", kPool1 + ".colour",
                    "valid fields here: name, sku, min_nodes, max_nodes, spot, os_disk, "
                    "availability_set, zones, backup, capacity_reservation, scale_down_mode, "
                    "idle, schedule, classes, storage, tags, price_assumption, scaler, "
                    "gpu_sharing",
                    31}),
    [](const testing::TestParamInfo<UnknownCase>& info) { return info.param.name; });

TEST(UnknownField, MissingRequiredFieldPointsAtItsTypo) {
  auto parsed =
      parse_spec(SpecBuilder().replace("max_nodes: 10", "max_node: 10").text(), "fleet.yaml");
  ASSERT_FALSE(parsed);
  std::string text = parsed.error().describe();
  EXPECT_NE(text.find("fleet.yaml:32:9: " + kPool1 +
                      ".max_node: unknown field 'max_node' (did you mean 'max_nodes'?)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("required field 'max_nodes' is missing; 'max_node' at line 32 looks like a "
                      "typo of it"),
            std::string::npos)
      << text;
}

TEST(UnknownField, ReferencesAreStillChecked) {
  auto parsed = parse_spec(SpecBuilder()
                               .replace("min_nodes: 1", "min_node: 1")
                               .replace("classes: [web]", "classes: [webb]")
                               .text(),
                           "fleet.yaml");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().describe().find("unknown workload class 'webb'"), std::string::npos)
      << parsed.error().describe();
}

TEST(Spec, ParsesTheBaseSpec) {
  auto parsed = parse_spec(SpecBuilder().text(), "fleet.yaml");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  const Spec& s = parsed->spec;
  ASSERT_EQ(s.all_pools().size(), 2u);
  const Pool* cpu = s.find_pool("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->environment, "prod");
  EXPECT_EQ(cpu->region, "eastus");
  EXPECT_EQ(cpu->idle_action, IdleAction::kHibernate);
  EXPECT_EQ(cpu->idle_after, std::chrono::minutes(30));
  EXPECT_EQ(s.budgets[0].amount_usd.micros(), 5'000'000'000);
  EXPECT_EQ(s.budgets[0].thresholds_pct, (std::vector<int64_t>{50, 80, 100}));
  EXPECT_EQ(s.quotas[0].families.at("StandardNCadsH100v5Family"), 80);
  EXPECT_EQ(s.classes[0].resources.gpu_milli, 1000);
  EXPECT_EQ(parsed->position_of(kPool1 + ".sku").line, 30);
}

TEST(Spec, ExamplesParse) {
  for (const char* f : {"/examples/seed.yaml", "/examples/recommended.yaml",
                        "/examples/gpu-cluster.yaml", "/tests/fixtures/serve/small.yaml"}) {
    auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + f);
    ASSERT_TRUE(parsed) << f << ": " << parsed.error().describe();
  }
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

// A class's `run` is read by the API's JSON reader: errors name the field under the class,
// and bytes that are not UTF-8 are an error of that field, never a crash.
TEST(ClassRun, IsCheckedFieldByFieldAndSurvivesBytesThatAreNotUtf8) {
  auto ok = parse_spec(
      SpecBuilder()
          .replace("  - {name: web, resources: {vcpus: 2, memory_gib: 4}}",
                   "  - name: web\n    resources: {vcpus: 2, memory_gib: 4}\n    run:\n"
                   "      image: ghcr.io/acme/agent:1.4\n      retries: {limit: 2, backoff: 1m}")
          .text(),
      "fleet.yaml");
  ASSERT_TRUE(ok) << ok.error().describe();
  const WorkloadClass* web = ok->spec.find_class("web");
  ASSERT_TRUE(web && web->run);
  EXPECT_EQ(web->run->image, "ghcr.io/acme/agent:1.4");
  EXPECT_EQ(web->run->retries.limit, 2);
  for (const std::string& image : {std::string("Bad Image"), std::string("agent\xA4:1")}) {
    auto bad = parse_spec(
        SpecBuilder()
            .replace("  - {name: web, resources: {vcpus: 2, memory_gib: 4}}",
                     "  - name: web\n    resources: {vcpus: 2, memory_gib: 4}\n    run:\n"
                     "      image: \"" +
                         image + "\"")
            .text(),
        "fleet.yaml");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().describe().find("workload_classes[1].run.image"), std::string::npos)
        << bad.error().describe();
  }
}

}  // namespace
}  // namespace codefleet
