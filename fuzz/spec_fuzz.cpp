// The spec parser (YAML → Spec, every diagnostic) and, when the text parses, every
// validation rule against the default catalog.
#include "fuzz/fuzz_support.h"
#include "spec/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  auto parsed = parse_spec(fuzz::text(data, size), "fuzz.yaml");
  if (!parsed) {
    (void)parsed.error().describe();
    return 0;
  }
  for (const auto& f : validate_spec(*parsed, fuzz::default_catalog(), {})) (void)f;
  return 0;
}
