// Shared pieces of the Bicep emitter (bicep_emit.cpp, bicep_services.cpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "iac/bicep.h"
#include "iac/deployment.h"
#include "iac/emit.h"

namespace codefleet::iac::bicep {

using Entries = std::vector<std::pair<std::string, Value>>;
inline Value obj(Entries e) { return Value::object(std::move(e)); }
inline Value lit(const std::string& s) { return Value::str(s); }
inline Value expr(const std::string& s) { return Value::ref(s); }
inline Value num(int64_t n) { return Value::num(n); }
inline Value flag(bool b) { return Value::boolean(b); }
inline Value arr(std::vector<Value> v) { return Value::list(std::move(v)); }
inline Value tags(const std::map<std::string, std::string>& t) { return Value::string_map(t); }

BicepDecl param(const std::string& name, const std::string& type, const std::string& description,
                std::optional<Value> def = std::nullopt, bool secure = false);
// A diagnostic setting on `target` sending every log to the workspace.
BicepDecl diagnostics(const std::string& symbol, const std::string& target);
// Monitoring, Key Vault, backup, AI Services and the gateway, appended to `decls`.
void platform_services(const Deployment& d, std::vector<BicepDecl>& decls);
// The dev boxes of one environment: a file deployed into its resource group.
std::string devboxes_file(const Deployment& d, const std::string& env);

}  // namespace codefleet::iac::bicep
