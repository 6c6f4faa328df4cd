// Shared pieces of the libFuzzer targets: the input as text, and the example spec and
// default catalog the parsers are given (loaded once per process).
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     (void)parse_task_json(fuzz::text(data, size), fuzz::example_spec(), "fuzz");
//     return 0;
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "catalog/catalog.h"
#include "spec/spec.h"

namespace codefleet::fuzz {

inline std::string text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// A setup failure is not a finding: say so and stop before fuzzing starts.
[[noreturn]] inline void setup_failed(const std::string& what) {
  std::fprintf(stderr, "fuzz setup failed: %s\n", what.c_str());
  std::abort();
}

inline const Spec& example_spec() {
  static const ParsedSpec parsed = [] {
    auto p = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/recommended.yaml");
    if (!p) setup_failed(p.error().describe());
    return *p;
  }();
  return parsed.spec;
}

inline const Catalog& default_catalog() {
  static const Catalog catalog = [] {
    auto c = Catalog::load_default();
    if (!c) setup_failed(c.error().message);
    return *c;
  }();
  return catalog;
}

}  // namespace codefleet::fuzz
