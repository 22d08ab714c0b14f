#!/usr/bin/env bash
# The main job on the example workspace: init, add the example client, and show its context.
set -euo pipefail
dir="${1:-demo-workspace}"
bin="$(pwd)/.build/debug/demoforge"
brief="$(pwd)/examples/briefs/acme-plumbing.json"

rm -rf "$dir"
"$bin" init "$dir"
cd "$dir"
"$bin" client add acme-plumbing --brief "$brief"
"$bin" context get acme-plumbing
