#!/usr/bin/env bash
# `make demo`: the CLI on the bundled examples.
set -uo pipefail
CF="${1:-build/src/cli/codefleet}"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; echo "(exit code $?)"; }

step "$CF" catalog show Standard_NC40ads_H100_v5 --region eastus
step "$CF" catalog list --hibernation --region eastus
step "$CF" validate examples/seed.yaml
step "$CF" validate examples/recommended.yaml
step "$CF" route examples/recommended.yaml --task '{"class": "fine-tune", "deferrable": false}'
step "$CF" route examples/recommended.yaml --task '{"class": "prompt-gen", "tokens": {"prompt": 2000, "completion": 500}}'
step "$CF" plan examples/seed.yaml
step "$CF" simulate examples/recommended.yaml --synthetic tasks=20000,days=7,seed=1 --quiet
exit 0
