// A routing decision as JSON: what `codefleet route --output json` prints and what the
// daemon's `POST /v1/route` answers.
//
//   std::string body = decision_json(route(model, task, view, now));
//   // {"decision": {"outcome": "placed", "target": {...}, ...}, "alternatives": [...]}
#pragma once

#include <string>

#include "routing/router.h"

namespace codefleet {

std::string decision_json(const Decision& d, int indent = 2);

}  // namespace codefleet
