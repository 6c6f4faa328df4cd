// The bundled examples generated as code, once per test binary, and helpers to run tools
// on the output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "iac/iac.h"

namespace codefleet::iac::testing_support {

struct Example {
  ParsedSpec parsed;
  Catalog catalog;
  FleetModel model;
};

inline const Example& example(const std::string& name) {
  static std::map<std::string, Example> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/" + name + ".yaml");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().describe());
  Example& e = cache[name];
  e.parsed = *parsed;
  e.catalog = *Catalog::load_default();
  auto model = build_fleet_model(e.parsed.spec, e.catalog, {});
  EXPECT_TRUE(model) << (model ? "" : model.error().message);
  e.model = *model;
  e.model.spec = &e.parsed.spec;
  return e;
}

inline Deployment deployment(const std::string& name, const IacOptions& options = {}) {
  const Example& e = example(name);
  auto d = build_deployment(e.parsed.spec, e.model, e.catalog, options);
  EXPECT_TRUE(d) << (d ? "" : d.error().describe());
  return d ? *d : Deployment{};
}

inline Files generate(const std::string& name, IacFormat format, const IacOptions& options = {}) {
  const Example& e = example(name);
  auto f = generate_iac(e.parsed.spec, e.model, e.catalog, format, options);
  EXPECT_TRUE(f) << (f ? "" : f.error().describe());
  return f ? *f : Files{};
}

inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("codefleet-iac-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void write_files(const std::string& dir, const Files& files) {
  for (const auto& [path, text] : files) {
    auto full = std::filesystem::path(dir) / path;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream(full, std::ios::binary) << text;
  }
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ToolRun {
  int exit_code = -1;
  std::string out;
};

inline ToolRun run_shell(const std::string& cmd) {
  ToolRun r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline bool on_path(const std::string& tool) {
  return run_shell("command -v " + tool + " >/dev/null").exit_code == 0;
}

}  // namespace codefleet::iac::testing_support
