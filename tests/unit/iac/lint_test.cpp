// The lint: clean on everything `codefleet iac` generates, and on the hand-written
// broken fixtures it reports exactly the lines marked "expect: RULE-ID", with every rule
// caught in both Terraform and Bicep.
#include <set>

#include "iac/lint.h"
#include "iac_fixture.h"

namespace codefleet::iac {
namespace {

using namespace testing_support;

const std::string kBroken = std::string(CODEFLEET_FIXTURES) + "/iac/broken";

using Expectation = std::tuple<std::string, int, std::string>;  // file, line, rule

std::set<Expectation> expected(const std::string& file) {
  std::set<Expectation> out;
  std::string text = read_file(kBroken + "/" + file);
  int line = 1;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string l = text.substr(start, end - start);
    if (auto p = l.find("expect: "); p != std::string::npos) {
      std::string rule = l.substr(p + 8);
      if (rule.find("RULE-ID") == std::string::npos) out.insert({file, line, rule});
    }
    ++line;
    start = end + 1;
  }
  return out;
}

class LintExamples : public testing::TestWithParam<std::tuple<std::string, IacFormat>> {};

TEST_P(LintExamples, GeneratedCodeIsClean) {
  auto [name, format] = GetParam();
  Files files = generate(name, format);
  auto findings = lint_files(files, {});
  std::string all;
  for (const auto& f : findings) all += f.describe() + "\n";
  EXPECT_TRUE(findings.empty()) << all;
}

INSTANTIATE_TEST_SUITE_P(Examples, LintExamples,
                         testing::Combine(testing::Values("recommended", "seed"),
                                          testing::Values(IacFormat::kTerraform,
                                                          IacFormat::kBicep)));

TEST(Lint, RequiredTagsComeFromTheGeneratedMarker) {
  Files files = generate("recommended", IacFormat::kTerraform);
  std::string& aks = files["aks.tf"];
  auto p = aks.find("    owner         = \"platform-team\"\n");
  ASSERT_NE(p, std::string::npos);
  aks.erase(p, std::string("    owner         = \"platform-team\"\n").size());
  auto findings = lint_files(files, {});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].rule, "tag-missing");
  EXPECT_NE(findings[0].message.find("lacks required tag owner"), std::string::npos);
}

class LintBroken : public testing::TestWithParam<std::string> {};

TEST_P(LintBroken, ReportsEachMarkedLineWithItsRule) {
  auto findings = lint_dir(kBroken, {});
  ASSERT_TRUE(findings) << findings.error().describe();
  std::set<Expectation> got;
  std::set<std::string> rules;
  for (const auto& f : *findings) {
    std::string file = std::filesystem::path(f.file).filename().string();
    if (file != GetParam()) continue;
    got.insert({file, f.line, f.rule});
    rules.insert(f.rule);
    EXPECT_EQ(f.describe().find(f.file + ":" + std::to_string(f.line) + ": " + f.rule + ": "), 0u);
  }
  std::set<Expectation> want = expected(GetParam());
  EXPECT_EQ(got, want);
  for (const auto& id : lint_rule_ids()) {
    EXPECT_TRUE(rules.count(id)) << GetParam() << " does not catch " << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LintBroken, testing::Values("main.tf", "main.bicep"));

TEST(Lint, ParseErrorsAreFindings) {
  auto findings =
      lint_files({{"x.tf", "resource \"a\" \"b\" {\n  name = \"unterminated\n}\n"}}, {});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].rule, "parse-error");
  EXPECT_EQ(findings[0].line, 2);
}

}  // namespace
}  // namespace codefleet::iac
