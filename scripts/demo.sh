#!/usr/bin/env bash
# The main job on the example workspace: a fresh workspace, the example client, and a full run
# (scaffold → agent steps → build → preview → snapshot), then where the site and screenshots are.
set -euo pipefail
root="$(pwd)"
dir="${1:-demo-workspace}"
bin="$root/.build/debug/demoforge"
brief="$root/examples/briefs/acme-plumbing.json"

rm -rf "$dir"
"$bin" init "$dir"
cd "$dir"
# The demo's agent is a scripted stand-in (examples/agents/scripted-agent.sh); see the README for real agents.
python3 - "$root" <<'PY'
import json, sys
root = sys.argv[1]
config = json.load(open("demoforge.json"))
config["agent"]["command"] = ["sh", f"{root}/examples/agents/scripted-agent.sh", "{{promptFile}}"]
json.dump(config, open("demoforge.json", "w"), indent=2)
PY
"$bin" client add acme-plumbing --brief "$brief"
DEMOFORGE_BIN="$bin" "$bin" run acme-plumbing
echo
echo "Site:        $(pwd)/client-websites/acme-plumbing/public/index.html"
echo "Screenshots: $(ls -d "$(pwd)"/.demoforge/artifacts/*/*.png | tr '\n' ' ')"
echo "Dashboard:   cd $dir && $bin serve   (then open http://127.0.0.1:4321/)"
