#!/bin/sh
# A stand-in for an AI coding agent, for the workflow tests.
# Usage: fake-agent.sh DEMOFORGE_BINARY PROMPT_FILE
# Prints a few lines, adds a marker comment to src/index.html (in the client's folder, its cwd) and records
# what it did with `demoforge context set` (results.agent.note and results.<step>.summary, the step being
# the prompt file's name). When FAKE_AGENT_GATE names a file, it first waits until that
# file exists (tests open the gate to let it go on). Exits 3 when the prompt file is missing or empty.
set -eu
demoforge="$1"
prompt="$2"
[ -s "$prompt" ] || { echo "fake-agent: no prompt at $prompt" >&2; exit 3; }
echo "fake-agent: reading $(wc -l < "$prompt") prompt line(s) for $DEMOFORGE_CLIENT (task $DEMOFORGE_TASK)"
if [ -n "${FAKE_AGENT_GATE:-}" ]; then
    echo "fake-agent: waiting for the gate"
    while [ ! -e "$FAKE_AGENT_GATE" ]; do sleep 0.05; done
fi
sleep 0.1
echo "fake-agent: editing src/index.html"
printf '\n<!-- fake-agent was here -->\n' >> src/index.html
sleep 0.1
step=$(basename "$prompt" .prompt.md)
"$demoforge" context set "$DEMOFORGE_CLIENT" results.agent.note=done "results.$step.summary=fake edit"
echo "fake-agent: done"
