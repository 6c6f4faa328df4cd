// Kubernetes manifests applied after the cluster exists: Kueue's ResourceFlavors (one per
// pool, selecting its nodes by label and tolerating its taints), one ClusterQueue whose
// nominalQuota per flavor is what the pool's autoscaler maximum can hold (so admission
// never exceeds the quota the planner assumed), a LocalQueue per environment, and a
// StorageClass per disk tier.
#include <fmt/format.h>

#include "iac/emit.h"

namespace codefleet::iac {

namespace {

std::string yaml_comment(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    out += line.empty() ? "#\n" : "# " + line + "\n";
    start = end + 1;
  }
  return out;
}

// "nvidia.com/gpu=present:NoSchedule" → key, value, effect.
struct Taint {
  std::string key, value, effect;
};
Taint parse_taint(const std::string& t) {
  Taint out;
  auto eq = t.find('='), colon = t.rfind(':');
  out.key = t.substr(0, eq);
  out.value = t.substr(eq + 1, colon - eq - 1);
  out.effect = t.substr(colon + 1);
  return out;
}

std::string kueue_yaml(const Deployment& d) {
  std::string y = yaml_comment(generated_header(
      d,
      "Kueue: admission inside the cluster, within the same quota the node pools are "
      "sized to.\nkubectl apply --server-side -f kueue.yaml (Kueue v0.9 or later installed)."));
  for (const auto& p : d.pools) {
    y += "---\napiVersion: kueue.x-k8s.io/v1beta1\nkind: ResourceFlavor\nmetadata:\n";
    y += fmt::format("  name: {}\nspec:\n  nodeLabels:\n    codefleet.io/pool: {}\n", p.spec_name,
                     p.spec_name);
    if (!p.taints.empty()) {
      y += "  nodeTaints:\n";
      for (const auto& t : p.taints) {
        Taint x = parse_taint(t);
        y += fmt::format("    - key: {}\n      value: {}\n      effect: {}\n", x.key, x.value,
                         x.effect);
      }
      y += "  tolerations:\n";
      for (const auto& t : p.taints) {
        Taint x = parse_taint(t);
        y +=
            fmt::format("    - key: {}\n      operator: Equal\n      value: {}\n      effect: {}\n",
                        x.key, x.value, x.effect);
      }
    }
  }
  y +=
      "---\napiVersion: kueue.x-k8s.io/v1beta1\nkind: ClusterQueue\nmetadata:\n  name: codefleet\n";
  y += "spec:\n  namespaceSelector: {}\n  queueingStrategy: BestEffortFIFO\n";
  y += "  preemption:\n    withinClusterQueue: LowerPriority\n";
  y += "  resourceGroups:\n    - coveredResources: [cpu, memory, nvidia.com/gpu]\n      flavors:\n";
  for (const auto& p : d.pools) {
    y += fmt::format("        - name: {}  # {} nodes × {} vCPUs: {}\n", p.spec_name, p.max_count,
                     p.vcpus, p.quota_family);
    y += "          resources:\n";
    y += fmt::format("            - name: cpu\n              nominalQuota: {}\n",
                     p.max_count * p.vcpus);
    y += fmt::format("            - name: memory\n              nominalQuota: {}Mi\n",
                     p.max_count * p.memory_mib);
    y += fmt::format("            - name: nvidia.com/gpu\n              nominalQuota: {}\n",
                     p.max_count * p.gpu_milli / 1000);
  }
  for (const auto& env : d.environments) {
    y += fmt::format("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {}\n", env);
    y += fmt::format(
        "---\napiVersion: kueue.x-k8s.io/v1beta1\nkind: LocalQueue\nmetadata:\n  name: codefleet\n"
        "  namespace: {}\nspec:\n  clusterQueue: codefleet\n",
        env);
  }
  return y;
}

std::string storage_yaml(const Deployment& d) {
  std::string y = yaml_comment(
      generated_header(d, "A StorageClass per disk tier of the spec (Azure Disk CSI driver)."));
  for (const auto& s : d.storage_classes) {
    y += fmt::format(
        "---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n"
        "  name: codefleet-{}\n",
        s.name);
    y += fmt::format("  annotations:\n    codefleet.io/size-gib: \"{}\"\n", s.size_gib);
    if (!s.pools.empty()) {
      std::string pools;
      for (size_t i = 0; i < s.pools.size(); ++i) pools += (i ? "," : "") + s.pools[i];
      y += fmt::format("    codefleet.io/pools: \"{}\"\n", pools);
    }
    y += fmt::format("provisioner: disk.csi.azure.com\nparameters:\n  skuName: {}\n", s.sku);
    if (s.sku == "UltraSSD_LRS" || s.sku == "PremiumV2_LRS") y += "  cachingMode: None\n";
    y += "reclaimPolicy: Retain\nvolumeBindingMode: WaitForFirstConsumer\n"
         "allowVolumeExpansion: true\n";
  }
  return y;
}

// What the daemon's service account may do, and no more: Jobs in the task namespace
// (create, read, watch, delete — never update), their pods and logs read-only, and Nodes
// read-only cluster-wide (to follow the pools' real nodes).
std::string rbac_yaml(const Deployment& d) {
  std::string y = yaml_comment(generated_header(
      d,
      "The daemon's Kubernetes identity for workers: kubernetes, least privilege: Jobs in the\n"
      "task namespace (create, get, list, watch, delete), their Pods and pods/log read-only,\n"
      "Nodes read-only. The serve config's kubernetes.namespace must be the namespace\n"
      "below (codefleet-tasks). kubectl apply -f codefleet-rbac.yaml"));
  y += R"(apiVersion: v1
kind: Namespace
metadata:
  name: codefleet-tasks
  labels:
    app.kubernetes.io/managed-by: codefleet
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: codefleet
  namespace: codefleet-tasks
  labels:
    app.kubernetes.io/managed-by: codefleet
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: codefleet-executor
  namespace: codefleet-tasks
rules:
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["create", "get", "list", "watch", "delete"]
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: codefleet-executor
  namespace: codefleet-tasks
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: codefleet-executor
subjects:
  - kind: ServiceAccount
    name: codefleet
    namespace: codefleet-tasks
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: codefleet-node-reader
rules:
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: codefleet-node-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: codefleet-node-reader
subjects:
  - kind: ServiceAccount
    name: codefleet
    namespace: codefleet-tasks
)";
  return y;
}

}  // namespace

Files emit_kubernetes(const Deployment& d) {
  Files f;
  f["kubernetes/kueue.yaml"] = kueue_yaml(d);
  f["kubernetes/codefleet-rbac.yaml"] = rbac_yaml(d);
  if (!d.storage_classes.empty()) f["kubernetes/storage-classes.yaml"] = storage_yaml(d);
  return f;
}

}  // namespace codefleet::iac
