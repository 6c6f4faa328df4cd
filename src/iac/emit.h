// The emitters: a Deployment rendered as Terraform (azurerm 4.x), as Bicep, and as
// Kubernetes manifests (Kueue flavors and queue, storage classes). Each returns its files
// as relative path → text, deterministic to the byte.
//
//   auto files = emit_terraform(deployment);   // {"aks.tf": "...", "main.tf": "...", ...}
#pragma once

#include <map>
#include <string>

#include "iac/deployment.h"

namespace codefleet::iac {

using Files = std::map<std::string, std::string>;

Files emit_terraform(const Deployment& d);
Files emit_bicep(const Deployment& d);
Files emit_kubernetes(const Deployment& d);  // kubernetes/kueue.yaml, storage-classes.yaml

// Built-in Azure Policy definitions the deployment assigns (ids are Azure's own).
inline constexpr const char* kPolicyAllowedLocations = "e56962a6-4747-49cd-b67b-bf8b01975c4c";
inline constexpr const char* kPolicyAllowedSizes = "cccc23c7-8427-4f53-ad12-b6a63eb452b3";
inline constexpr const char* kPolicyRequireRgTag = "96670d01-0a4d-4649-9c89-2d3abc0a5025";
// Azure built-in role for reading Key Vault secrets (the Application Gateway's TLS cert).
inline constexpr const char* kRoleKeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
inline constexpr const char* kRoleKeyVaultAdministrator = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
inline constexpr const char* kRoleNetworkContributor = "4d97b98b-1d4f-4787-a291-c67834d212e7";

// The first comment lines of every generated file; `marker` lines carry the required
// tags so that `codefleet iac lint` knows them without the spec.
std::string generated_header(const Deployment& d, const std::string& purpose);
// The KQL query that sums the vCPUs of running nodes of a quota family's pools.
std::string quota_query(const QuotaAlert& a);

}  // namespace codefleet::iac
