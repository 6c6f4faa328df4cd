// `codefleet iac`: the whole deployment as code, generated from the fleet spec — Terraform
// or Bicep for Azure, Kubernetes manifests (Kueue, storage classes) for inside the
// cluster, and a README saying how to apply them. Deterministic: the same spec gives the
// same bytes.
//
//   auto files = generate_iac(spec, fleet_model, catalog, IacFormat::kTerraform, {});
//   for (const auto& [path, text] : *files) write(out_dir + "/" + path, text);
#pragma once

#include <optional>
#include <string>

#include "iac/deployment.h"
#include "iac/emit.h"

namespace codefleet::iac {

enum class IacFormat { kTerraform, kBicep };
std::optional<IacFormat> parse_iac_format(const std::string& s);  // "terraform" | "bicep"

// Every file of the output directory, relative path → text.
Result<Files> generate_iac(const Spec& spec, const FleetModel& fleet, const Catalog& catalog,
                           IacFormat format, const IacOptions& options);

}  // namespace codefleet::iac
