// The IaC lint: the same text as Terraform and as Bicep, parsed and run through every rule.
#include <map>

#include "fuzz/fuzz_support.h"
#include "iac/lint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  std::string text = fuzz::text(data, size);
  std::map<std::string, std::string> files{{"main.tf", text}, {"main.bicep", text}};
  for (const auto& f : iac::lint_files(files, {})) (void)f.describe();
  return 0;
}
