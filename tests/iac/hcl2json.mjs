// Parses each Terraform file named on the command line with a real HCL parser
// (@cdktf/hcl2json: HashiCorp's hcl library compiled to WebAssembly). Prints one line
// per file, "ok FILE" or "error FILE: MESSAGE", and exits 1 if any file fails.
//
//   node tests/iac/hcl2json.mjs out/main.tf out/aks.tf
//   node tests/iac/hcl2json.mjs --json out/main.tf   # the parsed JSON of one file
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(root, "package.json"));
const { parse } = require("@cdktf/hcl2json");

const args = process.argv.slice(2);
const printJson = args[0] === "--json";
const files = printJson ? args.slice(1) : args;
if (files.length === 0) {
  console.error("usage: hcl2json.mjs [--json] FILE.tf...");
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  try {
    const json = await parse(file, readFileSync(file, "utf8"));
    if (printJson) console.log(JSON.stringify(json, null, 2));
    else console.log(`ok ${file}`);
  } catch (e) {
    failed++;
    console.log(`error ${file}: ${String(e && e.message ? e.message : e).trim()}`);
  }
}
process.exit(failed ? 1 : 0);
