#!/bin/sh
# A stand-in for an AI coding agent, for the demo and the tests: it behaves like one from DemoForge's side
# (reads the rendered prompt, prints progress, edits the site's src/, records what it did in the context)
# but makes one small scripted edit instead of thinking. Configure a real agent in demoforge.json:
#   "agent": {"preset": "claude-code"}   or   "agent": {"command": ["my-agent", "--prompt-file", "{{promptFile}}"]}
# usage: scripted-agent.sh PROMPT_FILE
set -eu
prompt_file="$1"
step=$(basename "$prompt_file" .prompt.md)
echo "scripted agent: read $(wc -l < "$prompt_file") prompt lines for $DEMOFORGE_CLIENT ($step)"
sleep 0.2
echo "scripted agent: editing src/index.html"
marker="<!-- $step: reviewed by the scripted agent -->"
if ! grep -qF "$marker" src/index.html; then
    printf '%s\n' "$marker" >> src/index.html
fi
sleep 0.2
demoforge_bin="${DEMOFORGE_BIN:-demoforge}"
"$demoforge_bin" context set "$DEMOFORGE_CLIENT" "results.$step.summary=scripted agent appended a review marker to src/index.html" >/dev/null
echo "scripted agent: done"
