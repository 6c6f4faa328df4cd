// The Terraform output: golden files for both examples, a real HCL parser on every file,
// `terraform fmt -check` where terraform is installed, and the quota clamp.
#include <cstdlib>

#include "iac_fixture.h"

namespace codefleet::iac {
namespace {

using namespace testing_support;

const std::string kGolden = std::string(CODEFLEET_FIXTURES) + "/iac";

bool updating() {
  const char* u = std::getenv("CODEFLEET_UPDATE_GOLDEN");
  return u && std::string(u) == "1";
}

// Compares `files` with the golden directory (or rewrites it with CODEFLEET_UPDATE_GOLDEN=1).
void check_golden(const Files& files, const std::string& dir) {
  if (updating()) {
    std::filesystem::remove_all(dir);
    write_files(dir, files);
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(dir))
      << dir << " missing: run with CODEFLEET_UPDATE_GOLDEN=1";
  for (const auto& [path, text] : files) {
    std::string golden = read_file(dir + "/" + path);
    EXPECT_EQ(text, golden) << path << " differs from " << dir
                            << " (CODEFLEET_UPDATE_GOLDEN=1 rewrites it)";
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string rel = std::filesystem::relative(e.path(), dir).string();
    EXPECT_TRUE(files.count(rel)) << rel << " is in " << dir << " but no longer generated";
  }
}

class TerraformExamples : public testing::TestWithParam<std::string> {};

TEST_P(TerraformExamples, MatchesGoldenFiles) {
  check_golden(generate(GetParam(), IacFormat::kTerraform),
               kGolden + "/" + GetParam() + "/terraform");
}

TEST_P(TerraformExamples, IsDeterministic) {
  EXPECT_EQ(generate(GetParam(), IacFormat::kTerraform),
            generate(GetParam(), IacFormat::kTerraform));
}

TEST_P(TerraformExamples, EveryFileParsesWithTheHclParser) {
  std::string script = std::string(CODEFLEET_SOURCE_DIR) + "/tests/iac/hcl2json.mjs";
  ASSERT_TRUE(std::filesystem::exists(std::string(CODEFLEET_SOURCE_DIR) +
                                      "/node_modules/@cdktf/hcl2json/package.json"))
      << "@cdktf/hcl2json is not installed: run scripts/setup.sh (npm ci)";
  std::string dir = temp_dir("hcl-" + GetParam());
  Files files = generate(GetParam(), IacFormat::kTerraform);
  write_files(dir, files);
  std::string cmd = "node '" + script + "'";
  int tf_files = 0;
  for (const auto& [path, text] : files) {
    if (path.ends_with(".tf")) {
      cmd += " '" + dir + "/" + path + "'";
      ++tf_files;
    }
  }
  EXPECT_GE(tf_files, 8);
  ToolRun r = run_shell(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::filesystem::remove_all(dir);
}

TEST_P(TerraformExamples, TerraformFmtCheckPasses) {
  if (!on_path("terraform")) {
    GTEST_SKIP() << "terraform is not on PATH: `terraform fmt -check` not run (the HCL parser "
                    "check still ran)";
  }
  std::string dir = temp_dir("fmt-" + GetParam());
  write_files(dir, generate(GetParam(), IacFormat::kTerraform));
  ToolRun r = run_shell("terraform fmt -check -diff -recursive '" + dir + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Examples, TerraformExamples, testing::Values("recommended", "seed"));

}  // namespace
}  // namespace codefleet::iac
