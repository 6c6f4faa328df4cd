// The Bicep output: golden files for both examples and the structural check (resource
// types and API versions from the table, every symbol declared before use, modules
// present), which must also catch each kind of mistake.
#include "iac/bicep.h"
#include "iac_fixture.h"

namespace codefleet::iac {
namespace {

using namespace testing_support;

std::vector<std::string> paths(const Files& files) {
  std::vector<std::string> out;
  for (const auto& [p, t] : files) out.push_back(p);
  return out;
}

std::string describe(const std::vector<BicepProblem>& problems) {
  std::string s;
  for (const auto& p : problems) s += std::to_string(p.line) + ": " + p.message + "\n";
  return s;
}

class BicepExamples : public testing::TestWithParam<std::string> {};

TEST_P(BicepExamples, MatchesGoldenFiles) {
  Files files = generate(GetParam(), IacFormat::kBicep);
  std::string dir = std::string(CODEFLEET_FIXTURES) + "/iac/" + GetParam() + "/bicep";
  const char* u = std::getenv("CODEFLEET_UPDATE_GOLDEN");
  if (u && std::string(u) == "1") {
    std::filesystem::remove_all(dir);
    write_files(dir, files);
    return;
  }
  for (const auto& [path, text] : files) {
    EXPECT_EQ(text, read_file(dir + "/" + path)) << path << " (CODEFLEET_UPDATE_GOLDEN=1)";
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      EXPECT_TRUE(files.count(std::filesystem::relative(e.path(), dir).string())) << e.path();
    }
  }
}

TEST_P(BicepExamples, PassesTheStructuralCheck) {
  Files files = generate(GetParam(), IacFormat::kBicep);
  int bicep_files = 0, resources = 0;
  for (const auto& [path, text] : files) {
    if (!path.ends_with(".bicep")) continue;
    ++bicep_files;
    auto problems = check_bicep(text, paths(files));
    EXPECT_TRUE(problems.empty()) << path << ":\n" << describe(problems);
    for (size_t p = text.find("\nresource "); p != std::string::npos;
         p = text.find("\nresource ", p + 1)) {
      ++resources;
    }
  }
  EXPECT_GE(bicep_files, 2);
  EXPECT_GE(resources, 40);
}

TEST_P(BicepExamples, UsesOnlyTypesFromTheTable) {
  for (const auto& [path, text] : generate(GetParam(), IacFormat::kBicep)) {
    EXPECT_EQ(text.find("@unknown"), std::string::npos) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, BicepExamples, testing::Values("recommended", "seed"));

TEST(BicepCheck, CatchesUnknownTypesWrongVersionsAndUndeclaredSymbols) {
  std::string text =
      "param location string = 'westeurope'\n"
      "resource a 'Microsoft.Foo/bars@2024-01-01' = {\n"
      "  name: 'a'\n"
      "}\n"
      "resource kv 'Microsoft.KeyVault/vaults@2019-09-01' = {\n"
      "  name: 'kv'\n"
      "  location: location\n"
      "  properties: {\n"
      "    tenantId: later.id\n"
      "  }\n"
      "}\n"
      "resource later 'Microsoft.Network/virtualNetworks@2024-05-01' = {\n"
      "  name: '${kv.name}-vnet'\n"
      "}\n"
      "module m 'missing.bicep' = {\n"
      "  name: 'm'\n"
      "}\n";
  auto problems = check_bicep(text, {"main.bicep"});
  std::string all = describe(problems);
  EXPECT_NE(all.find("2: resource type Microsoft.Foo/bars is not in the table"), std::string::npos)
      << all;
  EXPECT_NE(all.find("5: Microsoft.KeyVault/vaults@2019-09-01: the table's API version is "
                     "2023-07-01"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("9: 'later' is used before it is declared"), std::string::npos) << all;
  EXPECT_NE(all.find("15: module file 'missing.bicep' is not generated"), std::string::npos) << all;
  EXPECT_EQ(problems.size(), 4u) << all;  // `kv` in line 13's interpolation is declared
}

TEST(BicepWriter, QuotesAndNests) {
  BicepDecl r = bicep_resource("kv", "Microsoft.KeyVault/vaults",
                               Value::object({{"name", Value::str("it's")},
                                              {"tags", Value::string_map({{"cost-center", "x"}})},
                                              {"zones", Value::strings({"1"})}}));
  EXPECT_EQ(write_bicep({r}, "h"), R"(// h

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'it\'s'
  tags: {
    'cost-center': 'x'
  }
  zones: [
    '1'
  ]
}
)");
}

}  // namespace
}  // namespace codefleet::iac
