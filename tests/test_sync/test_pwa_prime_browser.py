"""Priming in real Chromium: on log-in the phone fetches the engineer's offline set page by page with progress, checks
every kind's count against the summary before it says "ready offline", resumes an interrupted priming from the
page it stopped at, and (a benchmark, run by bench/sync_prime_browser.py) primes ~2,000 records over a throttled
slow-3G network."""

import time
from urllib.parse import parse_qs, urlparse

import pytest

from fieldservice.knowledge.models import KnowledgeCause, KnowledgeEntry, KnowledgeSolution
from fieldservice.parts.models import Part
from tests.test_sync.conftest import BROWSER_TIMEOUT

pytestmark = pytest.mark.browser

# Chrome DevTools' "Slow 3G" profile: 400 ms x 5 latency, 500 kbit/s x 0.8 each way.
SLOW_3G = {
    "offline": False,
    "latency": 2000,
    "downloadThroughput": 500 * 1000 / 8 * 0.8,
    "uploadThroughput": 500 * 1000 / 8 * 0.8,
}


def log_in(page, live_server, engineer, page_size=None):
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#login-form")
    page.wait_for_load_state("networkidle")
    if page_size:
        page.evaluate(f"FS.prime.options.pageSize = {page_size}")
    page.fill("#username", engineer.user.username)
    page.fill("#password", "password123")
    page.click("#login-form button[type=submit]")


def offline_set(db, make_job, engineer, jobs: int, parts: int, knowledge: int):
    made = [make_job(engineer) for _ in range(jobs)]
    db.session.add_all(
        Part(part_number=f"P-{n:05d}", name=f"滤芯 {n}", category="water_purifier") for n in range(parts)
    )
    for n in range(knowledge):
        entry = KnowledgeEntry(category="water_purifier", symptom=f"故障 {n}：漏水", status="published")
        entry.causes = [KnowledgeCause(description="密封圈老化", solutions=[KnowledgeSolution(summary="更换密封圈")])]
        db.session.add(entry)
    db.session.commit()
    return made


def stored_counts(page) -> dict:
    return page.evaluate(
        """async () => {
          const ref = async (key) => (await FS.store.getReference(key)).length;
          return {jobs: (await FS.store.allJobs()).length, parts: await ref('parts'),
                  knowledge: await ref('knowledge'), problem_types: await ref('problem_types')};
        }"""
    )


def wait_ready(page, timeout=BROWSER_TIMEOUT):
    page.wait_for_function("() => document.querySelector('#prime-state')?.dataset.state === 'done'", timeout=timeout)


def test_an_interrupted_priming_resumes_from_the_page_it_stopped_at(db, plain_context, live_server, engineer, make_job):
    offline_set(db, make_job, engineer, jobs=7, parts=12, knowledge=3)
    page = plain_context.new_page()
    asked = []
    cut = []

    def watch(route):
        url = urlparse(route.request.url)
        kind = url.path.rsplit("/", 1)[-1]
        after = parse_qs(url.query).get("after", [None])[0]
        asked.append((kind, after))
        # The signal goes while the parts' third page is on its way.
        if kind == "parts" and not cut and len([a for a in asked if a[0] == "parts"]) == 3:
            cut.append(after)
            route.abort("internetdisconnected")
            return
        route.continue_()

    page.route("**/api/v1/sync/prime/*", watch)
    log_in(page, live_server, engineer, page_size=5)
    # Interrupted: the pages kept stay, with each kind's `next`; the bar says the download paused.
    page.wait_for_function("() => document.querySelector('#prime-state')?.textContent.includes('中断')")
    state = page.evaluate("FS.store.getPrime('parts')")
    assert state["fetched"] == 10 and state["next"] == cut[0] and state["done"] is False
    assert page.evaluate("FS.store.getPrime('jobs')")["done"] is True
    assert page.locator("#prime-state").get_attribute("data-state") == "running"
    before = len(asked)
    finished = set(page.evaluate("FS.store.allPrime().then(s => s.filter(k => k.done).map(k => k.kind))"))

    # The app starts again (a reload): priming goes on from the parts' third page, nothing fetched twice.
    page.reload()
    wait_ready(page)
    resumed = asked[before:]
    assert [after for kind, after in resumed if kind == "parts"][0] == cut[0]
    # The kinds finished before the cut are not asked for again.
    assert "jobs" in finished and not finished & {kind for kind, _ in resumed}
    counts = stored_counts(page)
    summary = page.evaluate("FS.store.getMeta('prime_run')")["kinds"]
    assert counts["jobs"] == summary["jobs"] == 7
    assert counts["parts"] == summary["parts"] == 12
    assert counts["knowledge"] == summary["knowledge"] == 3
    assert page.locator("#prime-state").inner_text() == "离线可用"
    # The outbox screen shows each kind's count.
    page.goto(live_server.url + "/app/#/outbox")
    assert page.locator("#prime-card [data-kind='parts']").inner_text().endswith("12 / 12")


def test_the_ready_word_waits_for_every_count_to_match(db, plain_context, live_server, engineer, make_job):
    offline_set(db, make_job, engineer, jobs=2, parts=3, knowledge=1)
    page = plain_context.new_page()

    def short_by_one(route):
        # A server (or proxy) that loses an item: the phone must not call itself ready.
        response = route.fetch()
        body = response.json()
        if body.get("kind") == "parts" and body["items"]:
            body["items"] = body["items"][:-1]
        route.fulfill(response=response, json=body)

    page.route("**/api/v1/sync/prime/parts*", short_by_one)
    log_in(page, live_server, engineer)
    page.wait_for_function("() => document.querySelector('#prime-state')?.dataset.state === 'incomplete'")
    assert page.locator("#prime-state").inner_text() != "离线可用"
    assert page.evaluate("FS.store.getMeta('prime_run')")["missing"] == {"parts": {"expected": 3, "fetched": 2}}
    assert page.evaluate("FS.store.getMeta('primed')") is None


@pytest.mark.bench
def test_bench_priming_2000_records_over_slow_3g(db, plain_context, live_server, engineer, make_job):
    """Bench figure (printed): ~2,000 records primed by Chromium over DevTools' slow-3G profile."""
    offline_set(db, make_job, engineer, jobs=40, parts=1500, knowledge=460)
    page = plain_context.new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#login-form")
    cdp = plain_context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    started = time.perf_counter()
    page.fill("#username", engineer.user.username)
    page.fill("#password", "password123")
    page.click("#login-form button[type=submit]")
    wait_ready(page, timeout=300_000)
    wall = time.perf_counter() - started
    run = page.evaluate("FS.store.getMeta('prime_run')")
    records = sum(run["kinds"].values())
    priming = page.evaluate("(r) => Date.parse(r.finished_at) - Date.parse(r.started_at)", run) / 1000
    counts = stored_counts(page)
    assert records >= 2000 and counts["parts"] == 1500 and counts["knowledge"] == 460 and counts["jobs"] == 40
    print(
        f"\nprime over slow 3G (latency 2000 ms, 400 kbit/s): {records} records in {priming:.1f} s of priming "
        f"({wall:.1f} s from the log-in tap, the first sync included); "
        f"server-side target < 3 s is bench/sync_prime.py's"
    )
