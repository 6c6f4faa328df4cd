// A task as JSON (the API's POST /v1/tasks body, `codefleet route`'s input), read against
// the example spec's classes and pools.
#include "fuzz/fuzz_support.h"
#include "workload/task.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  (void)parse_task_json(fuzz::text(data, size), fuzz::example_spec(), "fuzz");
  return 0;
}
