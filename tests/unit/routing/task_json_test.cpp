// The task JSON (the daemon's POST /v1/tasks body): fractional resources and the round
// trip through task_to_json, which the daemon stores and re-reads after a restart.
#include <gtest/gtest.h>

#include "examples_fixture.h"

namespace codefleet {
namespace {

using testing_support::load_example;

TEST(TaskJson, FractionalGpusAndMemoryAreExact) {
  auto f = load_example("recommended.yaml");
  auto t = parse_task_json(
      R"({"class": "online-inference", "resources": {"vcpus": 1, "memory_gib": 1.5,
          "gpus": 0.031, "gpu_memory_gib": 2.9375}})",
      f.parsed.spec, "t");
  ASSERT_TRUE(t) << t.error().describe();
  EXPECT_EQ(t->resources.memory_mib, 1536);
  EXPECT_EQ(t->resources.gpu_milli, 31);
  EXPECT_EQ(t->resources.gpu_memory_mib, 3008);
}

TEST(TaskJson, RejectsNegativeAndNonNumericResources) {
  auto f = load_example("recommended.yaml");
  for (const char* body : {R"({"class": "ci", "resources": {"gpus": -1}})",
                           R"({"class": "ci", "resources": {"memory_gib": "4"}})",
                           R"({"class": "ci", "resources": {"gpus": 65}})"}) {
    auto t = parse_task_json(body, f.parsed.spec, "t");
    ASSERT_FALSE(t) << body;
    EXPECT_NE(t.error().message.find("resources."), std::string::npos) << t.error().message;
  }
}

// Found by fuzz/task_json_fuzz: 1e400 is the JSON library's out_of_range, not a parse
// error, and ended the process.
TEST(TaskJson, NumberTooLargeIsAnInputError) {
  auto f = load_example("recommended.yaml");
  for (const char* text : {"-1e400", R"({"class": "ci", "duration_s": 1e400})",
                           R"({"class": "ci", "duration_s": 1.8446744073709552e21})",
                           R"({"class": "ci", "priority": -7.7e110})"}) {
    auto t = parse_task_json(text, f.parsed.spec, "t.json");
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidInput) << text;
  }
}

TEST(TaskJson, StringsHaveLengthLimits) {
  auto f = load_example("recommended.yaml");
  struct Case {
    std::string field;
    size_t limit;
  };
  for (const auto& c :
       {Case{"id", kMaxTaskNameBytes}, Case{"tenant", kMaxTaskNameBytes},
        Case{"class", kMaxTaskNameBytes}, Case{"environment", kMaxTaskNameBytes},
        Case{"deadline", kMaxTaskTimeBytes}, Case{"submitted_at", kMaxTaskTimeBytes}}) {
    std::string body =
        R"({"class": "ci", ")" + c.field + R"(": ")" + std::string(c.limit + 1, '7') + R"("})";
    if (c.field == "class") body = R"({"class": ")" + std::string(c.limit + 1, 'c') + R"("})";
    auto t = parse_task_json(body, f.parsed.spec, "t");
    ASSERT_FALSE(t) << c.field;
    EXPECT_NE(t.error().message.find("field '" + c.field + "': is " + std::to_string(c.limit + 1) +
                                     " bytes long"),
              std::string::npos)
        << t.error().message;
    EXPECT_LT(t.error().message.size(), 200u);
  }
  // At the limit, a name is read (and then checked as usual).
  auto at_limit =
      parse_task_json(R"({"class": "ci", "id": ")" + std::string(kMaxTaskNameBytes, 'i') + R"("})",
                      f.parsed.spec, "t");
  ASSERT_TRUE(at_limit) << at_limit.error().describe();
  EXPECT_EQ(at_limit->id.size(), kMaxTaskNameBytes);
  // An unknown field's name is shown cut short.
  auto unknown = parse_task_json(R"({"class": "ci", ")" + std::string(100'000, 'u') + R"(": 1})",
                                 f.parsed.spec, "t");
  ASSERT_FALSE(unknown);
  EXPECT_LT(unknown.error().message.size(), 200u);
}

// Unknown fields are refused, naming the field and the closest valid one (also one level
// down: `gpu` is meant as `resources.gpus`); `bad_field` receives the field's path.
TEST(TaskJson, UnknownFieldsNameTheFieldAndTheClosestValidOne) {
  auto f = load_example("recommended.yaml");
  struct Case {
    std::string body, field, message;
  };
  for (const auto& c : {
           Case{R"({"class": "ci", "gpu": 1})", "gpu",
                "unknown field 'gpu' (did you mean 'resources.gpus'?)"},
           Case{R"({"class": "ci", "duration": 60})", "duration",
                "unknown field 'duration' (did you mean 'duration_s'?)"},
           Case{R"({"class": "ci", "resources": {"vcpu": 2}})", "resources.vcpu",
                "field 'resources.vcpu': unknown field (did you mean 'vcpus'?)"},
           Case{R"({"class": "ci", "duration_s": 0})", "duration_s",
                "field 'duration_s': 0 is out of range"},
           Case{R"([1])", "", "a task must be a JSON object"},
       }) {
    std::string field = "unset";
    auto t = parse_task_json(c.body, f.parsed.spec, "t", &field);
    ASSERT_FALSE(t) << c.body;
    EXPECT_EQ(field, c.field) << c.body;
    EXPECT_NE(t.error().message.find(c.message), std::string::npos) << t.error().message;
  }
}

TEST(TaskJson, RoundTripsThroughTaskToJson) {
  auto f = load_example("recommended.yaml");
  Task t = task_from_class(*f.parsed.spec.find_class("online-inference"));
  t.resources = {1, 1536, 31, 3008};
  t.duration = std::chrono::milliseconds(250);  // a sub-second call stays a 1 s task
  t.tokens = TokenCounts{374, 44};
  auto back = parse_task_json(task_to_json(t), f.parsed.spec, "t");
  ASSERT_TRUE(back) << back.error().describe() << " in " << task_to_json(t);
  EXPECT_EQ(back->resources, t.resources);
  EXPECT_EQ(back->duration, std::chrono::seconds(1));
  EXPECT_EQ(back->environment, "");
  EXPECT_EQ(back->tokens->prompt, 374);
}

}  // namespace
}  // namespace codefleet
