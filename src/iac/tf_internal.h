// Shared pieces of the Terraform emitter (terraform.cpp, terraform_services.cpp).
#pragma once

#include <string>
#include <vector>

#include "iac/deployment.h"
#include "iac/emit.h"
#include "iac/hcl.h"

namespace codefleet::iac::tf {

inline Value expr(const std::string& s) { return Value::ref(s); }
inline Value str(const std::string& s) { return Value::str(s); }

// name, location and resource_group_name of a resource in resource group `rg`
// ("platform" or an environment's code id).
HclBlock resource(const std::string& type, const std::string& id, const std::string& name,
                  const std::string& rg = "platform", const std::string& comment = {});
// A diagnostic setting sending every log of `target` (a resource address) to Log Analytics.
HclBlock diagnostics(const std::string& id, const std::string& target);
// A private endpoint with its DNS zone group.
HclBlock private_endpoint(const Deployment& d, const std::string& id, const std::string& target,
                          const std::string& subresource, const std::vector<std::string>& zone_ids);

void services_tf(const Deployment& d, Files& files);  // security, monitoring, cost, ...

}  // namespace codefleet::iac::tf
