// `codefleet`: the command-line entry point. Parses flags and dispatches to one
// function per subcommand (see commands.h for the exit-code contract).
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/completion.h"
#include "cli/usage.h"

using namespace codefleet::cli;

int main(int argc, char** argv) {
  CLI::App app{"codefleet: plan, validate and run an AI auto-coding fleet on Azure"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("codefleet 0.1.0"));
  CommonOptions common;
  auto add_common = [&](CLI::App* cmd, bool with_fallback) {
    cmd->add_option(
        "--catalog", common.catalog_dirs,
        "catalog overlay directory (from `catalog import-*`); repeatable, later ones win");
    cmd->add_option("-o,--output", common.output, "output format")
        ->check(CLI::IsMember({"table", "json"}));
    if (with_fallback) {
      cmd->add_option(
          "--price-fallback", common.price_fallback,
          "use this region's price where the requested region has none, marked as estimated");
    }
  };

  // Commands that consume a spec refuse one with validation errors unless told otherwise.
  auto add_spec_override = [&](CLI::App* cmd) {
    cmd->add_flag("--ignore-validation-errors", common.ignore_validation_errors,
                  "go on although `codefleet validate` reports errors in the spec");
  };

  // The workload flags `simulate`, `plan` and `submit` share: one name for one idea.
  // Returns `--trace`, for a deprecated alias to exclude.
  struct WorkloadFlags {
    CLI::Option* trace;
    CLI::Option* format;
  };
  auto add_workload = [](CLI::App* cmd, const char* trace_help, std::string& trace,
                         std::string& format, std::string& synthetic) {
    WorkloadFlags w;
    w.trace = cmd->add_option("--trace", trace, trace_help);
    w.format = cmd->add_option("--trace-format", format,
                               "azure-llm | alibaba-pods | jsonl (default: from the file's header)")
                   ->check(CLI::IsMember({"azure-llm", "alibaba-pods", "jsonl"}));
    cmd->add_option("--synthetic", synthetic, "generated workload: tasks=N,days=D,seed=S");
    return w;
  };

  ValidateOptions validate;
  auto* v = app.add_subcommand("validate",
                               "check a fleet spec against Azure's facts and the spec's policies");
  v->add_option("spec", validate.spec_file, "fleet spec (YAML)")->required();
  add_common(v, true);

  auto* cat = app.add_subcommand("catalog", "query and import Azure VM sizes and prices");
  cat->require_subcommand(1);
  CatalogListOptions list;
  auto* l = cat->add_subcommand("list", "list VM sizes");
  l->add_option("--region", list.region, "only sizes offered in (or priced for) this region");
  l->add_option("--family", list.family, "series (Dsv5) or quota family (standardDSv5Family)");
  l->add_option("--min-gpus", list.min_gpus, "at least this many GPUs")->check(CLI::Range(0, 64));
  l->add_flag("--hibernation", list.hibernation, "only sizes that can hibernate");
  add_common(l, true);
  CatalogShowOptions show;
  auto* s = cat->add_subcommand("show", "show one VM size with its prices and sources");
  s->add_option("sku", show.sku, "VM size, e.g. Standard_NC40ads_H100_v5")->required();
  s->add_option("--region", show.region, "only this region's prices");
  add_common(s, true);
  ImportOptions import_prices;
  auto* ip =
      cat->add_subcommand("import-prices", "import Azure Retail Prices API pages into an overlay");
  ip->add_option("pages", import_prices.files, "page JSON files (Items[], NextPageLink)")
      ->required();
  ip->add_option("--catalog", common.catalog_dirs, "overlay directory to write")->required();
  ImportOptions import_skus;
  auto* is =
      cat->add_subcommand("import-skus", "import `az vm list-skus --output json` into an overlay");
  is->add_option("file", import_skus.files, "list-skus JSON file")->required()->expected(1);
  is->add_option("--catalog", common.catalog_dirs, "overlay directory to write")->required();
  RefreshOptions refresh;
  auto* rf = cat->add_subcommand(
      "refresh", "fetch a region's VM prices from the Azure Retail Prices API into an overlay");
  rf->add_option("--region", refresh.region, "Azure region, e.g. westeurope")->required();
  rf->add_option("--sku", refresh.sku, "only this size, e.g. Standard_NC40ads_H100_v5");
  rf->add_option("--prices-endpoint", refresh.endpoint,
                 "Retail Prices API (default https://prices.azure.com)");
  rf->add_option("--catalog", common.catalog_dirs, "overlay directory to write")->required();

  // `azure`: straight against Azure Resource Manager.
  AzureOptions azure;
  auto* az = app.add_subcommand("azure", "quota, VMs, AKS pools and cost in an Azure subscription");
  az->require_subcommand(1);
  auto add_azure = [&](CLI::App* cmd) {
    cmd->add_option("--arm-endpoint", azure.arm_endpoint,
                    "Resource Manager endpoint (default https://management.azure.com)");
    cmd->add_option("--login-endpoint", azure.login_endpoint,
                    "Entra ID endpoint (default https://login.microsoftonline.com)");
    cmd->add_flag("--dry-run", azure.dry_run, "print the exact requests, send nothing");
    cmd->add_flag("-v,--verbose", azure.verbose, "log each request and its answer to stderr");
    cmd->add_option("-o,--output", common.output, "output format")
        ->check(CLI::IsMember({"table", "json"}));
  };
  auto* azq = az->add_subcommand("quota", "vCPU quota use per family in a region");
  azq->add_option("--subscription", azure.subscription, "subscription id")->required();
  azq->add_option("--region", azure.region, "region, e.g. westeurope")->required();
  add_azure(azq);
  auto* azv = az->add_subcommand("vm", "hibernate, deallocate or start a VM");
  azv->add_option("action", azure.action, "hibernate | deallocate | start")
      ->required()
      ->check(CLI::IsMember({"hibernate", "deallocate", "start"}));
  azv->add_option("vm", azure.resource_id, "the VM's resource id")->required();
  add_azure(azv);
  auto* azp = az->add_subcommand("pool", "AKS node pools");
  azp->require_subcommand(1);
  auto* azps = azp->add_subcommand(
      "scale", "set an AKS node pool's node count, autoscaler bounds or scale-down mode");
  azps->add_option("cluster", azure.resource_id, "the AKS cluster's resource id")->required();
  azps->add_option("pool", azure.pool, "node pool name")->required();
  azps->add_option("--count", azure.count, "nodes");
  azps->add_option("--autoscale", azure.autoscale, "enable the cluster autoscaler (true/false)");
  azps->add_option("--min", azure.min_count, "autoscaler minimum");
  azps->add_option("--max", azure.max_count, "autoscaler maximum");
  azps->add_option("--scale-down-mode", azure.scale_down_mode, "Delete | Deallocate")
      ->check(CLI::IsMember({"Delete", "Deallocate"}));
  add_azure(azps);
  auto* azk = az->add_subcommand("cluster", "stop or start an AKS cluster");
  azk->add_option("action", azure.action, "stop | start")
      ->required()
      ->check(CLI::IsMember({"stop", "start"}));
  azk->add_option("cluster", azure.resource_id, "the AKS cluster's resource id")->required();
  add_azure(azk);
  auto* azc = az->add_subcommand("cost", "month-to-date actual cost by resource group");
  azc->add_option("--subscription", azure.subscription, "subscription id")->required();
  add_azure(azc);

  IacGenerateOptions iac_gen;
  auto* ia = app.add_subcommand(
      "iac", "the deployment as code: Terraform or Bicep, Kueue manifests, linted");
  ia->add_option("spec", iac_gen.spec_file, "fleet spec (YAML)");
  ia->add_option("--format", iac_gen.format, "terraform | bicep")
      ->check(CLI::IsMember({"terraform", "bicep"}));
  ia->add_option("--out", iac_gen.out_dir, "directory to write");
  ia->add_option("--environment", iac_gen.environment, "only this environment");
  add_common(ia, true);
  add_spec_override(ia);
  IacLintOptions iac_lint;
  auto* il = ia->add_subcommand("lint", "lint Terraform and Bicep files (CIS-style rules)");
  il->add_option("dir", iac_lint.dir, "directory of .tf and .bicep files")->required();
  il->add_option("--required-tags", iac_lint.required_tags, "tags every resource must carry")
      ->delimiter(',');
  il->add_option("-o,--output", common.output, "output format")
      ->check(CLI::IsMember({"table", "json"}));

  RouteOptions route;
  auto* r = app.add_subcommand(
      "route", "route one task: the chosen pool or deployment, and why the others lost");
  r->add_option("spec", route.spec_file, "fleet spec (YAML)")->required();
  r->add_option("--task", route.task, "task JSON, or a file of it (FILE or @FILE)")->required();
  r->add_option("--at", route.at, "submission time, RFC 3339 (default: now)");
  add_common(r, true);
  add_spec_override(r);

  SimulateOptions sim;
  auto* sm = app.add_subcommand(
      "simulate", "replay a workload against a simulated region, scaling strategies side by side");
  sm->add_option("spec", sim.spec_file, "fleet spec (YAML)")->required();
  auto sm_workload =
      add_workload(sm, "workload trace file", sim.trace, sim.trace_format, sim.synthetic);
  sm->add_option("--strategies", sim.strategies,
                 "comma-separated: always-on,cluster-autoscaler,office-hours,codefleet,oracle")
      ->delimiter(',');
  sm->add_option("--days", sim.days, "simulate this many days (a shorter trace repeats)")
      ->check(CLI::Range(1, 3650));
  sm->add_option("--load-scale", sim.load_scale, "multiply the arrival rate");
  sm->add_option("--seed", sim.seed, "random seed (synthetic load, failures, evictions)");
  sm->add_flag("--skip-bad-rows", sim.skip_bad_rows,
               "skip and count malformed trace rows instead of failing");
  sm->add_option("--allocation-failure-rate", sim.allocation_failure_rate,
                 "probability a VM create/start fails")
      ->check(CLI::Range(0.0, 1.0));
  sm->add_option("--spot-evictions-per-hour", sim.spot_evictions_per_hour,
                 "eviction rate per running spot VM")
      ->check(CLI::Range(0.0, 100.0));
  sm->add_option("--disk-usd-per-gib-month", sim.disk_price, "managed OS disk price");
  sm->add_option("--llm-class", sim.llm_class,
                 "class for azure-llm requests (default online-inference)");
  sm->add_option("--llm-route-class", sim.llm_route_class,
                 "azure-llm traces: the kind: llm class the llm section routes the calls as, "
                 "on Foundry, self-hosted and hybrid (default: the first served by a Foundry "
                 "deployment and a self-hosted endpoint)");
  sm->add_option("--gpu-class", sim.gpu_class,
                 "class for alibaba-pods GPU pods (default batch-inference)");
  sm->add_option("--cpu-class", sim.cpu_class,
                 "class for alibaba-pods CPU pods (default background)");
  sm->add_option("--timeseries", sim.timeseries, "write hourly samples as CSV");
  sm->add_option("--report", sim.report, "write a self-contained HTML report");
  sm->add_flag("--quiet", sim.quiet, "no progress bar");
  add_common(sm, true);
  add_spec_override(sm);

  PlanOptions plan;
  auto* pl = app.add_subcommand(
      "plan", "nodes, quota and monthly cost per pool; budget fit; the seed check");
  pl->add_option("spec", plan.spec_file, "fleet spec (YAML)")->required();
  auto pl_workload = add_workload(pl, "workload trace file (default: a synthetic week)", plan.trace,
                                  plan.trace_format, plan.synthetic);
  // `plan --workload` was `--trace` before simulate and submit settled the name: hidden, and
  // warned about when used.
  auto* pl_workload_alias = pl->add_option("--workload", plan.trace, "deprecated: --trace")
                                ->group("")
                                ->excludes(pl_workload.trace);
  pl->add_option("--report", plan.report, "write a self-contained HTML report (charts)");
  add_common(pl, true);
  add_spec_override(pl);

  ServeOptions serve;
  auto* sv = app.add_subcommand(
      "serve", "run the control-plane daemon: task API, reconcile loop, metrics, alerts");
  sv->add_option("--config", serve.config_file, "config file (YAML); flags and CODEFLEET_* win");
  sv->add_option("--spec", serve.spec_file, "fleet spec (YAML)");
  sv->add_option("--listen", serve.listen, "HOST:PORT to serve on (default 127.0.0.1:8080)");
  sv->add_option("--store", serve.store,
                 "sqlite:PATH (default sqlite:codefleet.db) or postgres:URL");
  sv->add_option("--bootstrap-admin-key", serve.bootstrap_admin_key,
                 "create this admin API key on first start (or CODEFLEET_BOOTSTRAP_ADMIN_KEY)");
  sv->add_option("--strategy", serve.strategy, "scaling strategy (default codefleet)");
  sv->add_option("--speed", serve.speed,
                 "simulated seconds per wall second for the simulated region (default 1)");
  sv->add_option("--start-at", serve.start_at, "daemon time at start, RFC 3339 (default now)");
  sv->add_option("--tls-cert", serve.tls_cert, "PEM certificate: serve HTTPS");
  sv->add_option("--tls-key", serve.tls_key, "PEM private key for --tls-cert");
  sv->add_option("--alert-webhook", serve.webhook_url,
                 "POST alerts here (Azure Monitor common alert schema)");
  sv->add_option("--http-threads", serve.threads,
                 "connections served at once, one thread each (default 1024)");
  sv->add_option("--log-requests", serve.log_requests, "one JSON log line per request (true)");
  sv->add_option("--workers", serve.workers,
                 "simulated: tasks finish after their duration (default); external: workers "
                 "report through POST /v1/tasks/{id}/events; kubernetes: each task runs as a "
                 "Job (kubernetes: in the config)")
      ->check(CLI::IsMember({"simulated", "external", "kubernetes"}));
  add_common(sv, true);
  add_spec_override(sv);

  SubmitOptions submit;
  auto* sb = app.add_subcommand("submit", "replay a workload against a running daemon");
  sb->add_option("spec", submit.spec_file, "fleet spec (YAML): class defaults for the workload")
      ->required();
  sb->add_option("--server", submit.server, "daemon URL (default http://127.0.0.1:8080)");
  sb->add_option("--key", submit.key, "API key (or CODEFLEET_API_KEY)");
  sb->add_option("--tenant", submit.tenant, "submit for this tenant");
  auto sb_workload =
      add_workload(sb, "workload trace file", submit.trace, submit.trace_format, submit.synthetic);
  sb->add_option("--seed", submit.seed, "seed for --synthetic");
  sb->add_option("--llm-class", submit.llm_class, "class for Azure LLM trace rows");
  sb->add_option("--gpu-class", submit.gpu_class, "class for Alibaba pods with GPUs");
  sb->add_option("--cpu-class", submit.cpu_class, "class for Alibaba pods without GPUs");
  sb->add_option("--speed", submit.speed,
                 "trace seconds per wall second (default 0: as fast as the daemon takes them)");
  sb->add_option("--limit", submit.limit, "submit at most this many tasks");
  sb->add_flag("--quiet", submit.quiet, "no progress");
  add_common(sb, true);
  add_spec_override(sb);

  // `codefleet completion bash|zsh`: hidden; the build installs its output.
  std::string shell;
  auto* comp = app.add_subcommand("completion", "print the bash or zsh completion script");
  comp->group("");
  comp->add_option("shell", shell, "bash | zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (auto why = explain_usage_error(app, std::vector<std::string>(argv + 1, argv + argc))) {
      std::cerr << "codefleet: error: " << *why << "\n";
      return kExitUsage;
    }
    app.exit(e);
    return kExitUsage;
  }
  if (*comp) {
    std::cout << completion_script(app, shell);
    return kExitOk;
  }
  if (pl_workload_alias->count() > 0) {
    std::cerr << "codefleet: warning: 'plan --workload' is deprecated: use 'plan --trace' (the "
                 "name simulate and submit use)\n";
  }
  if (!settle_trace_format(sim.trace, sim.trace_format, sm_workload.format->count() > 0) ||
      !settle_trace_format(plan.trace, plan.trace_format, pl_workload.format->count() > 0) ||
      !settle_trace_format(submit.trace, submit.trace_format, sb_workload.format->count() > 0)) {
    return kExitUsage;
  }
  try {
    if (*v) return run_validate(common, validate);
    if (*l) return run_catalog_list(common, list);
    if (*s) return run_catalog_show(common, show);
    if (*ip) return run_import_prices(common, import_prices);
    if (*is) return run_import_skus(common, import_skus);
    if (*rf) return run_catalog_refresh(common, refresh);
    if (*azq) return run_azure_quota(common, azure);
    if (*azv) return run_azure_vm(common, azure);
    if (*azps) return run_azure_pool_scale(common, azure);
    if (*azc) return run_azure_cost(common, azure);
    if (*azk) return run_azure_cluster(common, azure);
    if (*il) return run_iac_lint(common, iac_lint);
    if (*ia) return run_iac(common, iac_gen);
    if (*r) return run_route(common, route);
    if (*sm) return run_simulate(common, sim);
    if (*pl) return run_plan(common, plan);
    if (*sv) return run_serve(common, serve);
    if (*sb) return run_submit(common, submit);
  } catch (const std::exception& e) {
    std::cerr << "codefleet: internal error: " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
