// The bundled examples, parsed once, with the default catalog and a fleet model.
#pragma once

#include <gtest/gtest.h>

#include "routing/router.h"

namespace codefleet::testing_support {

struct ExampleFleet {
  ParsedSpec parsed;
  Catalog catalog;
  FleetModel model;
};

inline ExampleFleet load_example(const std::string& name) {
  auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/" + name);
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().describe());
  ExampleFleet f{*parsed, *Catalog::load_default(), {}};
  auto model = build_fleet_model(f.parsed.spec, f.catalog, {});
  EXPECT_TRUE(model) << (model ? "" : model.error().message);
  f.model = *model;
  f.model.spec = &f.parsed.spec;
  return f;
}

inline Task task_json(const ExampleFleet& f, const std::string& json) {
  auto t = parse_task_json(json, f.parsed.spec, "test");
  EXPECT_TRUE(t) << (t ? "" : t.error().describe());
  return t ? *t : Task{};
}

inline TimePoint at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

}  // namespace codefleet::testing_support
