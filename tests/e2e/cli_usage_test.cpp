// End-to-end: the command line itself — suggestions for typos, the deprecated `plan
// --workload`, a trace's format from its header, `--task FILE` beside `@FILE`, and the
// completion scripts — through the real binary.
#include <sys/wait.h>

#include <unistd.h>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include "support/popen_capture.h"

namespace {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("codefleet-usage-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `shell_command` in the source tree, with stdout and stderr kept apart.
CliResult shell(const std::string& shell_command) {
  static const std::string dir = temp_dir("run");
  std::string err_file = dir + "/stderr";
  std::string cmd = "cd " + quote(CODEFLEET_SOURCE_DIR) + " && timeout -s KILL 120 " +
                    shell_command + " 2>" + quote(err_file);
  CliResult r;
  auto c = codefleet::testing::popen_capture(cmd);
  r.out = std::move(c.out);
  r.exit_code = c.exit_code;
  r.err = read_all(err_file);
  return r;
}

CliResult cf(const std::string& args) { return shell(quote(CODEFLEET_BINARY) + " " + args); }

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

constexpr const char* kAzureTrace = "tests/fixtures/traces/azure-llm-conv-2023-first300.csv";

TEST(Usage, SuggestsTheClosestCommandAndOption) {
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"validat", "unknown command 'validat' — did you mean 'validate'?"},
           {"simulte examples/recommended.yaml", "did you mean 'simulate'?"},
           {"catalog lst", "unknown command 'catalog lst' — did you mean 'catalog list'?"},
           {"azure pool scal x y",
            "unknown command 'azure pool scal' — did you mean 'azure pool scale'?"},
           {"validate --ouput json examples/seed.yaml",
            "unknown option '--ouput' for 'codefleet validate' — did you mean '--output'?"},
           {"validate --ouput=json examples/seed.yaml", "did you mean '--output'?"},
           {"simulate examples/recommended.yaml --trace-fromat jsonl",
            "unknown option '--trace-fromat' for 'codefleet simulate' — did you mean "
            "'--trace-format'?"},
           {"catalog list --regoin eastus", "did you mean '--region'?"},
           {"frobnicate", "unknown command 'frobnicate'; 'codefleet' has: validate, catalog"},
           {"validate --zzzzzzzz x.yaml",
            "unknown option '--zzzzzzzz' for 'codefleet validate' (see"},
           {"catalog", "'codefleet catalog' needs a command: list, show, import-prices"},
           {"", "'codefleet' needs a command: validate"},
       }) {
    CliResult r = cf(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args;
    EXPECT_EQ(r.err.rfind("codefleet: error: ", 0), 0u) << c.args << "\n" << r.err;
    EXPECT_TRUE(has(r.err, c.message)) << c.args << "\n" << r.err;
  }
  // The hidden commands and aliases are never suggested.
  EXPECT_FALSE(has(cf("completon").err, "completion"));
  EXPECT_FALSE(has(cf("plan examples/recommended.yaml --workloads x").err, "--workload'"));
}

TEST(Usage, OtherMistakesKeepCliElevensMessage) {
  CliResult r = cf("validate examples/seed.yaml -o yaml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.err, "yaml")) << r.err;
  EXPECT_FALSE(has(r.err, "did you mean")) << r.err;
  CliResult missing = cf("route examples/recommended.yaml");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(has(missing.err, "--task")) << missing.err;
}

TEST(Usage, PlanWorkloadIsADeprecatedAliasOfTrace) {
  CliResult old = cf("plan examples/recommended.yaml --workload " + std::string(kAzureTrace) +
                     " --output json");
  EXPECT_EQ(old.exit_code, 0) << old.err;
  EXPECT_TRUE(has(old.err,
                  "codefleet: warning: 'plan --workload' is deprecated: use 'plan "
                  "--trace'"))
      << old.err;
  CliResult now =
      cf("plan examples/recommended.yaml --trace " + std::string(kAzureTrace) + " --output json");
  EXPECT_EQ(now.exit_code, 0) << now.err;
  EXPECT_FALSE(has(now.err, "deprecated")) << now.err;
  EXPECT_EQ(old.out, now.out);
  // Not both.
  CliResult both = cf("plan examples/recommended.yaml --workload " + std::string(kAzureTrace) +
                      " --trace " + kAzureTrace);
  EXPECT_EQ(both.exit_code, 2);
  // Hidden from the help.
  EXPECT_FALSE(has(cf("plan --help").out, "--workload"));
}

TEST(Usage, ATracesFormatComesFromItsHeader) {
  // The reported case: a CSV without --trace-format was read as JSONL.
  CliResult azure = cf("simulate examples/recommended.yaml --trace " + std::string(kAzureTrace) +
                       " --strategies codefleet --quiet --output json");
  EXPECT_EQ(azure.exit_code, 0) << azure.err;
  EXPECT_TRUE(has(azure.err, std::string("codefleet: reading ") + kAzureTrace +
                                 " as azure-llm (from its first line"))
      << azure.err;
  EXPECT_TRUE(has(azure.out, "\"llm\"")) << "the azure-llm replay ran";

  CliResult pods =
      cf("simulate examples/gpu-cluster.yaml --trace tests/fixtures/traces/alibaba-pods-small.csv "
         "--gpu-class gpu-pod --cpu-class cpu-pod --strategies codefleet --quiet");
  EXPECT_EQ(pods.exit_code, 0) << pods.err;
  EXPECT_TRUE(has(pods.err, "as alibaba-pods")) << pods.err;

  std::string dir = temp_dir("jsonl");
  std::ofstream(dir + "/tasks.jsonl")
      << "\n{\"class\": \"ci\", \"submitted_at\": \"2026-01-05T09:00:00Z\"}\n"
         "{\"class\": \"ci\", \"submitted_at\": \"2026-01-05T09:05:00Z\"}\n";
  CliResult jsonl = cf("simulate examples/recommended.yaml --trace " + dir +
                       "/tasks.jsonl --strategies codefleet --quiet");
  EXPECT_EQ(jsonl.exit_code, 0) << jsonl.err;
  EXPECT_TRUE(has(jsonl.err, "tasks.jsonl as jsonl")) << jsonl.err;

  // A header that is none of the three: say so, without advising --skip-bad-rows.
  CliResult unknown =
      cf("simulate examples/recommended.yaml --trace tests/fixtures/traces/bad-azure-header.csv "
         "--quiet");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(has(unknown.err,
                  "bad-azure-header.csv:1: cannot tell the trace's format from "
                  "its first line, 'time,prompt,completion'"))
      << unknown.err;
  EXPECT_TRUE(has(unknown.err, "--trace-format azure-llm|alibaba-pods|jsonl")) << unknown.err;
  EXPECT_FALSE(has(unknown.err, "--skip-bad-rows")) << unknown.err;

  CliResult empty = cf("plan examples/recommended.yaml --trace tests/fixtures/traces/empty.csv");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_TRUE(has(empty.err, "the trace is empty")) << empty.err;

  // A format given against the header: refused, naming the right one.
  CliResult wrong = cf("simulate examples/recommended.yaml --trace " + std::string(kAzureTrace) +
                       " --trace-format jsonl --quiet");
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_TRUE(has(wrong.err,
                  "--trace-format jsonl, but the file's first line is the azure-llm "
                  "header: give --trace-format azure-llm"))
      << wrong.err;
  // Given and right: nothing said.
  CliResult given = cf("simulate examples/recommended.yaml --trace " + std::string(kAzureTrace) +
                       " --trace-format azure-llm --strategies codefleet --quiet");
  EXPECT_EQ(given.exit_code, 0) << given.err;
  EXPECT_FALSE(has(given.err, "codefleet: reading")) << given.err;
}

TEST(Usage, TaskIsJsonAFileOrAtFile) {
  std::string dir = temp_dir("task");
  std::ofstream(dir + "/task.json") << R"({"class": "fine-tune", "deferrable": false})";
  CliResult inline_json =
      cf("route examples/recommended.yaml --output json --task '{\"class\": \"fine-tune\", "
         "\"deferrable\": false}' --at 2026-01-05T10:00:00Z");
  ASSERT_EQ(inline_json.exit_code, 0) << inline_json.err;
  CliResult path = cf("route examples/recommended.yaml --output json --task " + dir +
                      "/task.json --at 2026-01-05T10:00:00Z");
  EXPECT_EQ(path.exit_code, 0) << path.err;
  CliResult at_path = cf("route examples/recommended.yaml --output json --task @" + dir +
                         "/task.json --at 2026-01-05T10:00:00Z");
  EXPECT_EQ(at_path.exit_code, 0) << at_path.err;
  EXPECT_EQ(path.out, inline_json.out);
  EXPECT_EQ(at_path.out, inline_json.out);

  CliResult missing = cf("route examples/recommended.yaml --task " + dir + "/nope.json");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(has(missing.err, "is neither JSON")) << missing.err;
  // A bad task in a file is reported against the file.
  std::ofstream(dir + "/bad.json") << R"({"class": "fine-tune", "priority": "urgent"})";
  CliResult bad = cf("route examples/recommended.yaml --task " + dir + "/bad.json");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(has(bad.err, "bad.json")) << bad.err;
}

// COMPREPLY for the words typed so far (the last one is being completed).
std::string bash_complete(const std::string& words) {
  std::string dir = temp_dir("bash");
  std::ofstream(dir + "/complete.sh") << "source <(\"$1\" completion bash)\n"
                                         "COMP_WORDS=("
                                      << words
                                      << ")\n"
                                         "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
                                         "_codefleet\n"
                                         "echo \"${COMPREPLY[*]}\"\n";
  CliResult r = shell("bash " + quote(dir + "/complete.sh") + " " + quote(CODEFLEET_BINARY));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

TEST(Completion, BashFollowsTheCommandDefinitions) {
  CliResult script = cf("completion bash");
  ASSERT_EQ(script.exit_code, 0) << script.err;
  EXPECT_TRUE(has(script.out, "complete -o default -F _codefleet codefleet"));
  EXPECT_EQ(bash_complete("codefleet val"), "validate");
  EXPECT_EQ(bash_complete("codefleet catalog ''"), "list show import-prices import-skus refresh");
  EXPECT_EQ(bash_complete("codefleet validate --ou"), "--output");
  EXPECT_EQ(bash_complete("codefleet validate -o ''"), "table json");
  EXPECT_EQ(bash_complete("codefleet simulate x.yaml --trace-format a"), "azure-llm alibaba-pods");
  EXPECT_EQ(bash_complete("codefleet azure vm ''"), "");  // the action is positional
  EXPECT_EQ(bash_complete("codefleet azure pool scale c p --scale-down-mode ''"),
            "Delete Deallocate");
  // Hidden: the completion command itself and the deprecated alias.
  EXPECT_EQ(bash_complete("codefleet comp"), "");
  EXPECT_EQ(bash_complete("codefleet plan x.yaml --wor"), "");
  EXPECT_EQ(bash_complete("codefleet plan x.yaml --tr"), "--trace --trace-format");
}

TEST(Completion, ZshHasEveryCommandWithItsDescription) {
  CliResult script = cf("completion zsh");
  ASSERT_EQ(script.exit_code, 0) << script.err;
  EXPECT_EQ(script.out.rfind("#compdef codefleet\n", 0), 0u);
  EXPECT_TRUE(has(script.out, "'validate:check a fleet spec against Azure"));
  EXPECT_TRUE(has(script.out, "(\"/catalog/list --region\") _files; return ;;"));
  EXPECT_TRUE(has(script.out, "compadd -- table json"));
  EXPECT_FALSE(has(script.out, "completion:"));
  EXPECT_FALSE(has(script.out, "--workload"));
  // Parsed by zsh where it is installed.
  if (system("command -v zsh >/dev/null 2>&1") == 0) {
    std::string dir = temp_dir("zsh");
    std::ofstream(dir + "/_codefleet") << script.out;
    EXPECT_EQ(shell("zsh -n " + quote(dir + "/_codefleet")).exit_code, 0);
  }
  EXPECT_EQ(cf("completion fish").exit_code, 2);
}

}  // namespace
