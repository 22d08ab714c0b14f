"""Test harness for the dashboard browser tests: a temp workspace with a fake agent, the real
`demoforge serve` (restartable), a Playwright page on Debian's chromium, and a tiny runner that
prints `N passed, M failed`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("DEMOFORGE_BIN", os.path.join(REPO, ".build", "debug", "demoforge"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

FAKE_AGENT = r"""#!/bin/sh
# Fake coding agent for the dashboard test. $1 = the prompt file (<step>.prompt.md).
# Prints a few lines, waits until the test opens the gate for this step, edits the site, records a result.
step=$(basename "$1" .prompt.md)
echo "fake agent: $step starting in $(pwd)"
echo "fake agent: $step waiting for gate"
i=0
while [ ! -e "__GATES__/$step" ]; do
  sleep 0.1
  i=$((i + 1))
  if [ "$i" -ge 900 ]; then echo "fake agent: gate $step never opened" >&2; exit 3; fi
done
echo "fake agent: $step editing src/index.html"
if [ -f src/index.html ]; then
  sed -i "s#</body>#<p class=\"agent-$step\">edited by the fake agent ($step)</p></body>#" src/index.html
fi
sleep 0.1
echo "fake agent: $step done"
"__BIN__" context set "$DEMOFORGE_CLIENT" "results.agent.note=done" >/dev/null
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Workspace:
    """A fresh `demoforge init` workspace whose agent is the fake agent above."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="demoforge-dashtest-")
        self.root = os.path.join(self.tmp, "ws")
        self.gates = os.path.join(self.tmp, "gates")
        os.makedirs(self.gates)
        self.cli("init", self.root, workspace=False)
        agent = os.path.join(self.tmp, "fake-agent.sh")
        with open(agent, "w") as f:
            f.write(FAKE_AGENT.replace("__GATES__", self.gates).replace("__BIN__", BINARY))
        os.chmod(agent, 0o755)
        config_path = os.path.join(self.root, "demoforge.json")
        with open(config_path) as f:
            config = json.load(f)
        config.setdefault("agent", {})["command"] = ["sh", agent, "{{promptFile}}"]
        config.setdefault("snapshot", {})["timeoutSeconds"] = 20
        config.setdefault("sse", {})["heartbeatSeconds"] = 2
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2)

    def set_config(self, section, key, value):
        config_path = os.path.join(self.root, "demoforge.json")
        with open(config_path) as f:
            config = json.load(f)
        config.setdefault(section, {})[key] = value
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2)

    def cli(self, *args, workspace=True, check=True):
        argv = [BINARY] + (["--workspace", self.root] if workspace else []) + list(args)
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {res.returncode}: {res.stderr.strip()}")
        return res

    def open_gate(self, step):
        open(os.path.join(self.gates, step), "w").close()

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class Server:
    """`demoforge serve --port PORT` on the workspace; start() waits for the `DemoForge serving` line."""

    def __init__(self, workspace, port):
        self.workspace = workspace
        self.port = port
        self.proc = None
        self.token = None
        self.url = f"http://127.0.0.1:{port}/"
        self.log = open(os.path.join(workspace.tmp, "serve.log"), "ab")

    def start(self, timeout=30):
        self.proc = subprocess.Popen(
            [BINARY, "--workspace", self.workspace.root, "serve", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(b"DemoForge serving"):
                return
        self.stop()
        raise AssertionError(f"serve did not print its ready line (got {line!r}); see {self.log.name}")

    def kill(self):
        """A crash: SIGKILL, as if the machine pulled the plug on the server alone."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, _json_or_text(res.read())
        except urllib.error.HTTPError as e:
            return e.code, _json_or_text(e.read())


def _json_or_text(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode("utf-8", "replace")


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_tests(tests, context):
    """Runs `tests` (name, function) in order; each gets `context`. Prints a line per test and the tally."""
    passed = failed = 0
    for name, fn in tests:
        start = time.monotonic()
        try:
            fn(context)
        except Exception:  # noqa: BLE001 — report every failure, keep going
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - start:.1f} s)")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {name} ({time.monotonic() - start:.1f} s)")
        sys.stdout.flush()
    return passed, failed
