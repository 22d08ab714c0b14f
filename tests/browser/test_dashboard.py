"""Real-browser tests of the DemoForge dashboard: the real `demoforge serve`, Debian's chromium driven by
Playwright. Run through tests/browser/run.sh. Scenarios run in order on one server and one page."""

import os
import sys
import time
import urllib.request
import uuid

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(__file__))
from harness import CHROMIUM, REPO, Server, Workspace, free_port, run_tests, wait_until  # noqa: E402

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_LINE = "<script>alert(2)</script><img src=y onerror=alert(3)>"
# Screenshots are test artifacts; docs/ holds committed copies that the README shows.
DOCS = os.environ.get("DEMOFORGE_TEST_ARTIFACTS", os.path.join(REPO, "test-artifacts"))


class Context:
    pass


def log_seqs(page):
    return page.eval_on_selector_all("#log-list li", "items => items.map(li => Number(li.dataset.seq))")


def all_event_seqs(server, task_id):
    seqs, nxt = [], 1
    while True:
        status, body = server.api("GET", f"/api/tasks/{task_id}/events?from={nxt}&limit=500")
        assert status == 200, (status, body)
        events = body["events"]
        if not events:
            return seqs
        seqs += [e["seq"] for e in events]
        nxt = events[-1]["seq"] + 1


def test_add_client_through_form(c):
    page = c.page
    page.click("#add-client summary")
    page.fill("#f-name", "Acme Plumbing & Heating")
    page.fill("#f-slug", "Bad Slug!")
    page.fill("#f-tagline", "Fast, friendly plumbers")
    page.fill("#f-services", "Emergency repairs: same day\nLeak detection")
    page.fill("#f-area", "Springfield")
    page.click("#client-submit")
    # The server's validation error appears next to the slug field, and the field is marked invalid.
    page.wait_for_function("document.getElementById('e-slug').textContent.length > 0", timeout=5000)
    assert page.get_attribute("#f-slug", "aria-invalid") == "true"
    assert page.text_content("#e-name") == "", "the name field must not carry the slug's error"
    assert page.locator("#clients li").count() == 0
    page.fill("#f-slug", "acme")
    page.click("#client-submit")
    page.wait_for_selector("#clients li[data-slug='acme']", timeout=5000)
    assert page.text_content("#clients li[data-slug='acme'] .cname") == "Acme Plumbing & Heating"
    assert page.text_content("#e-slug") == ""
    status, body = c.server.api("GET", "/api/clients/acme")
    assert status == 200, (status, body)
    client = body["context"]["client"]
    assert client["name"] == "Acme Plumbing & Heating", client
    assert client["services"][0]["title"] == "Emergency repairs", client
    # Adding the same slug again: 409, shown at the slug field.
    page.fill("#f-name", "Acme again")
    page.fill("#f-slug", "acme")
    page.click("#client-submit")
    page.wait_for_function("document.getElementById('e-slug').textContent.length > 0", timeout=5000)
    page.fill("#f-name", "")
    page.fill("#f-slug", "")


def test_xss_brief_renders_literally(c):
    page = c.page
    page.fill("#f-name", XSS_NAME)
    page.fill("#f-slug", "xss-brief")
    page.click("#client-submit")
    page.wait_for_selector("#clients li[data-slug='xss-brief']", timeout=5000)
    assert page.text_content("#clients li[data-slug='xss-brief'] .cname") == XSS_NAME
    assert page.locator("#clients img").count() == 0
    # Task text too: an event whose message is markup, in the task view of a synthetic task.
    task_id = c.ws.cli("__task", "create", "xss-brief", "run").stdout.strip()
    c.ws.cli("__task", "state", task_id, "RUNNING")
    c.ws.cli("__task", "append", task_id, "output", XSS_LINE)
    page.wait_for_selector(f"#runs-body tr[data-task='{task_id}']", timeout=5000)
    page.click(f"#runs-body tr[data-task='{task_id}'] button:has-text('View')")
    page.wait_for_selector("#log-list li[data-seq='1']", timeout=5000)
    assert page.text_content("#log-list li[data-seq='1'] .msg") == XSS_LINE
    assert page.text_content("#task-client") == f"— {XSS_NAME}"
    assert page.locator("#task img, #log img, #runs img").count() == 0
    c.ws.cli("__task", "state", task_id, "CANCELLED")
    page.wait_for_selector("#task-state[data-state='CANCELLED']", timeout=5000)
    time.sleep(0.3)  # give any injected handler a chance to fire before checking
    assert c.dialogs == [], f"a dialog fired: {c.dialogs}"
    page.click("#task-close")


def test_start_run_and_see_appended_event_within_1s(c):
    page = c.page
    page.click("#clients li[data-slug='acme'] button:has-text('Start run')")
    page.wait_for_selector("#task:not([hidden])", timeout=5000)
    c.task_id = wait_until(lambda: page.text_content("#task-id"), 5, "the task view's id")
    # The fake agent blocks at its gate in the content step: the run is live and waiting.
    page.wait_for_function(
        "[...document.querySelectorAll('#log-list .msg')].some(m => m.textContent.includes('content waiting for gate'))",
        timeout=60000)
    assert page.text_content("#task-state") == "RUNNING"
    assert page.get_attribute("#conn", "data-state") == "live"
    # Record, in the page, when a marker shows up; then append it from another process.
    marker = f"MARK-{uuid.uuid4().hex[:8]}"
    page.evaluate("""marker => {
        window.__seen = null;
        const obs = new MutationObserver(() => {
          for (const m of document.querySelectorAll('#log-list .msg')) {
            if (m.textContent === marker) { window.__seen = Date.now() / 1000; obs.disconnect(); return; }
          }
        });
        obs.observe(document.getElementById('log-list'), {childList: true, subtree: true});
    }""", marker)
    before_append = time.time()
    out = c.ws.cli("__task", "append", c.task_id, "output", marker).stdout.strip()
    appended_at = float(out.split(" at ")[1])  # stamped by the CLI once the append returned
    wait_until(lambda: page.evaluate("window.__seen"), 5, "the marker in the page")
    seen = page.evaluate("window.__seen")
    # Conservative: measured from before the appending process even started (includes its start-up).
    delay = seen - before_append
    c.marker_delay = delay
    print(f"     marker in the page {delay * 1000:.0f} ms after starting the append "
          f"({(seen - appended_at) * 1000:.0f} ms after the CLI's post-append stamp)")
    assert delay < 1.0, f"the appended event took {delay:.3f} s to appear"


def test_server_restart_mid_run_reconnects_without_loss_or_duplicates(c):
    page = c.page
    start = time.monotonic()
    c.server.kill()
    page.wait_for_selector("#conn[data-state='reconnecting']", timeout=10000)
    assert page.text_content("#conn-text") == "Reconnecting…"
    # Appended while the server is down: must show after the reconnect, once.
    down_marker = f"WHILE-DOWN-{uuid.uuid4().hex[:6]}"
    c.ws.cli("__task", "append", c.task_id, "output", down_marker)
    c.server.start()
    page.wait_for_selector("#conn[data-state='live']", timeout=20000)
    c.reconnect_seconds = time.monotonic() - start
    print(f"     page live again {c.reconnect_seconds:.1f} s after the kill")
    page.wait_for_function(
        "m => [...document.querySelectorAll('#log-list .msg')].some(x => x.textContent === m)",
        arg=down_marker, timeout=10000)
    seqs = log_seqs(page)
    assert len(seqs) == len(set(seqs)), f"duplicated seqs after reconnect: {seqs}"
    opened = page.evaluate("window.__sources")
    print(f"     EventSources opened by the page so far: {opened}")


def test_run_reaches_done_with_screenshots_and_every_seq_once(c):
    page = c.page
    # The restarted server resumed the interrupted run; let the agent through both agent steps.
    c.ws.open_gate("content")
    c.ws.open_gate("polish")
    page.wait_for_selector("#task-state[data-state='DONE']", timeout=120000)
    page.wait_for_selector("#shots figure", timeout=10000)
    viewports = page.eval_on_selector_all("#shots figure", "fs => fs.map(f => f.dataset.viewport)")
    assert sorted(viewports) == ["desktop", "mobile"], viewports
    page.wait_for_function(
        "[...document.querySelectorAll('#shots img')].every(i => i.complete && i.naturalWidth > 0)", timeout=10000)
    assert "console error" in page.text_content("#shots figure[data-viewport='desktop'] figcaption")
    # Step timeline: every workflow step, with a state and a duration.
    steps = page.eval_on_selector_all("#timeline li", "ls => ls.map(l => [l.dataset.step, l.dataset.state, l.textContent])")
    ids = [s[0] for s in steps]
    for step in ["scaffold", "content", "polish", "build", "preview", "snapshot"]:
        assert step in ids, (step, steps)
    assert all(" s" in s[2] for s in steps if s[1] == "done"), steps
    assert page.get_attribute("#task-progress", "value") in ("1", "1.0"), page.get_attribute("#task-progress", "value")
    # The final log: exactly the task's events, each seq once, in order.
    expected = all_event_seqs(c.server, c.task_id)
    wait_until(lambda: log_seqs(page) == expected, 10, f"the page's log to equal the {len(expected)} stored events")
    assert expected == list(range(1, len(expected) + 1)), expected
    assert page.get_attribute("#conn", "data-state") == "live"
    row = f"#runs-body tr[data-task='{c.task_id}']"
    assert page.text_content(f"{row} .state") == "DONE"
    assert page.text_content("#clients li[data-slug='acme'] .state") == "DONE"


def test_preview_link_stop_and_start(c):
    page = c.page
    # The run leaves its preview up: the task view links to it.
    page.wait_for_selector("#task-preview-link:not([hidden])", timeout=10000)
    status, body = c.server.api("GET", "/api/previews")
    url = [p["url"] for p in body["previews"] if p["slug"] == "acme"][0]
    assert page.get_attribute("#task-preview-link", "href") == url
    page.click("#preview-stop")
    page.wait_for_selector("#preview-start:not([hidden])", timeout=15000)
    assert page.is_hidden("#task-preview-link")
    assert "stopped" in page.text_content("#task-preview-state")
    status, body = c.server.api("GET", "/api/previews")
    assert not [p for p in body["previews"] if p["slug"] == "acme" and p["state"] == "ready"], body
    page.click("#preview-start")
    page.wait_for_selector("#task-preview-link:not([hidden])", timeout=30000)
    href = page.get_attribute("#task-preview-link", "href")
    with urllib.request.urlopen(href, timeout=10) as res:
        assert res.status == 200 and b"<html" in res.read().lower()


def test_log_autoscroll_pauses_when_scrolled_up(c):
    page = c.page
    task_id = c.ws.cli("__task", "create", "acme", "run").stdout.strip()
    c.ws.cli("__task", "state", task_id, "RUNNING")
    page.wait_for_selector(f"#runs-body tr[data-task='{task_id}']", timeout=5000)
    page.click(f"#runs-body tr[data-task='{task_id}'] button:has-text('View')")
    c.ws.cli("__task", "append", task_id, "output", "filler", "--count", "60")
    page.wait_for_selector("#log-list li[data-seq='60']", timeout=5000)
    at_bottom = ("(() => { const l = document.getElementById('log'); "
                 "return l.scrollTop + l.clientHeight >= l.scrollHeight - 8; })()")
    wait_until(lambda: page.evaluate(at_bottom), 3, "the log to follow the newest line")
    # The user scrolls up: new lines arrive but the view stays where the user put it.
    page.evaluate("document.getElementById('log').scrollTop = 40")
    page.wait_for_selector("#log-follow:not([hidden])", timeout=3000)
    c.ws.cli("__task", "append", task_id, "output", "more", "--count", "20")
    page.wait_for_selector("#log-list li[data-seq='80']", timeout=5000)
    assert page.evaluate("document.getElementById('log').scrollTop") == 40
    assert not page.evaluate(at_bottom)
    # Resuming follows again, also for lines that come later.
    page.click("#log-follow")
    assert page.evaluate(at_bottom)
    assert page.is_hidden("#log-follow")
    c.ws.cli("__task", "append", task_id, "output", "after resume", "--count", "20")
    page.wait_for_selector("#log-list li[data-seq='100']", timeout=5000)
    wait_until(lambda: page.evaluate(at_bottom), 3, "the log to follow again")
    c.ws.cli("__task", "state", task_id, "DONE")
    page.wait_for_selector("#task-state[data-state='DONE']", timeout=5000)
    assert log_seqs(page) == list(range(1, 101))
    # Back to the real run for the screenshots.
    page.click(f"#runs-body tr[data-task='{c.task_id}'] button:has-text('View')")
    page.wait_for_selector("#shots figure", timeout=10000)


def test_cancel_with_keyboard(c):
    page = c.page
    task_id = c.ws.cli("__task", "create", "acme", "run").stdout.strip()
    c.ws.cli("__task", "state", task_id, "RUNNING")
    row = f"#runs-body tr[data-task='{task_id}']"
    page.wait_for_selector(f"{row} .state[data-state='RUNNING']", timeout=5000)
    # State is text, not only colour.
    assert page.text_content(f"{row} .state") == "RUNNING"
    page.focus(f"{row} button:has-text('Cancel')")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{row} .state[data-state='CANCELLED']", timeout=5000)
    assert page.text_content(f"{row} .state") == "CANCELLED"
    status, body = c.server.api("GET", f"/api/tasks/{task_id}")
    assert status == 200 and body["state"] == "CANCELLED", (status, body)
    assert page.is_hidden(f"{row} button:has-text('Cancel')")
    page.click(f"#runs-body tr[data-task='{c.task_id}'] button:has-text('View')")
    page.wait_for_selector("#shots figure", timeout=10000)


def test_dashboard_screenshots(c):
    page = c.page
    os.makedirs(DOCS, exist_ok=True)
    page.evaluate("document.getElementById('add-client').open = false")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=os.path.join(DOCS, "dashboard-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("document.getElementById('task').scrollIntoView()")
    page.evaluate("document.getElementById('log').scrollTop = 1e9")
    # Readable on a phone: nothing wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at a 390 px viewport"
    page.screenshot(path=os.path.join(DOCS, "dashboard-mobile.png"))
    for name in ("dashboard-desktop.png", "dashboard-mobile.png"):
        assert os.path.getsize(os.path.join(DOCS, name)) > 10000, name


def test_token_asked_once_and_sent_as_cookie(c):
    # Restart the server with server.token set; a fresh browser context (no cookie) must ask for it.
    c.server.stop()
    token = "t0k-" + uuid.uuid4().hex
    c.ws.set_config("server", "token", token)
    c.server.token = token
    c.server.start()
    # The page itself (static, no data) must load without the token, or it cannot ask for it.
    c.server.token = None
    status, _ = c.server.api("GET", "/api/clients")
    assert status == 401, f"/api/clients without the token answered {status}"
    status, _ = c.server.api("GET", "/")
    assert status == 200, (f"GET / without the token answered {status}: the server must serve the dashboard "
                           "files (/ and /dashboard/*) without the token so that the page can ask for it")
    c.server.token = token
    context = c.browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(c.server.url)
        page.wait_for_selector("#token-form:not([hidden])", timeout=10000)
        assert page.is_hidden("#main")
        page.fill("#token-input", token)
        page.click("#token-form button[type='submit']")
        # With the cookie, fetches and both EventSources get through.
        page.wait_for_selector("#conn[data-state='live']", timeout=10000)
        page.wait_for_selector("#clients li[data-slug='acme']", timeout=5000)
        cookies = {k["name"]: k for k in context.cookies()}
        assert cookies["demoforge_token"]["value"] == token
        assert cookies["demoforge_token"]["sameSite"] == "Strict"
        # Asked once: a reload goes straight to the dashboard.
        page.reload()
        page.wait_for_selector("#conn[data-state='live']", timeout=10000)
        assert page.is_hidden("#token-form")
    finally:
        context.close()


def main():
    started = time.monotonic()
    c = Context()
    c.ws = Workspace()
    c.server = Server(c.ws, free_port())
    c.dialogs = []
    c.page_errors = []
    passed = failed = 0
    try:
        c.server.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                c.browser = browser
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.on("dialog", lambda d: (c.dialogs.append(d.message), d.dismiss()))
                page.on("pageerror", lambda e: c.page_errors.append(str(e)))
                c.page = page
                # Record every EventSource the page opens (the page's own reopens use ?from=; the browser's
                # reconnects reuse the same object and send Last-Event-ID).
                page.add_init_script("""(() => {
                    const Native = window.EventSource;
                    window.__sources = [];
                    window.EventSource = function (url, init) { window.__sources.push(String(url)); return new Native(url, init); };
                    window.EventSource.prototype = Native.prototype;
                    Object.assign(window.EventSource, {CONNECTING: 0, OPEN: 1, CLOSED: 2});
                })()""")
                page.goto(c.server.url)
                page.wait_for_selector("#conn[data-state='live']", timeout=10000)
                tests = [
                    ("add a client through the form (server validation shown at the field)", test_add_client_through_form),
                    ("an XSS brief and XSS event text render literally, no dialog", test_xss_brief_renders_literally),
                    ("start a run; an appended event shows within 1 s", test_start_run_and_see_appended_event_within_1s),
                    ("server killed and restarted mid-run: reconnecting, then live, nothing lost",
                     test_server_restart_mid_run_reconnects_without_loss_or_duplicates),
                    ("run reaches DONE with screenshots; final log has every seq once",
                     test_run_reaches_done_with_screenshots_and_every_seq_once),
                    ("preview link while up; stop and start it from the task view", test_preview_link_stop_and_start),
                    ("log auto-scroll pauses when scrolled up", test_log_autoscroll_pauses_when_scrolled_up),
                    ("cancel a running task from the runs list with the keyboard", test_cancel_with_keyboard),
                    ("dashboard screenshots at 1280x800 and 390x844", test_dashboard_screenshots),
                    ("with server.token: asked once, sent as a SameSite=Strict cookie", test_token_asked_once_and_sent_as_cookie),
                ]
                passed, failed = run_tests(tests, c)
                if c.page_errors:
                    print(f"FAIL no uncaught page errors: {c.page_errors}")
                    failed += 1
                else:
                    passed += 1
            finally:
                browser.close()
    except Exception as e:  # setup failure
        print(f"FAIL setup: {e}")
        failed += 1
    finally:
        c.server.stop()
        if failed == 0 and not os.environ.get("KEEP_WORKSPACE"):
            c.ws.remove()
        else:
            print(f"workspace kept for inspection: {c.ws.tmp}")
    print(f"runtime {time.monotonic() - started:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
