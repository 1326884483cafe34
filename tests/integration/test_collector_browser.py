"""The browser tracker in a real headless Chromium against the real collector and broker.

Chromium and chromedriver are Debian's (``scripts/setup-browser.sh``, run by the test command);
Selenium is pointed at them, so nothing is downloaded. Test pages are served from another
loopback port than the collector's, so every request is cross-origin as on a real site (the
collector's CORS setting names the page origin).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import msgspec
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from pipeline.collector import tracker
from pipeline.collector.app import create_app
from pipeline.collector.auth import KeyStore, hash_key, new_key
from pipeline.collector.intake import CollectorTopics
from pipeline.settings import Settings
from tests.integration.test_collector import read_topic, running, wait_healthy

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT_S = 20.0
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


class Pages:
    """A loopback web server of test pages (path → HTML), another origin than the collector."""

    def __init__(self) -> None:
        self.html: dict[str, str] = {}
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.html.get(self.path.split("?")[0], "<!doctype html><p>blank</p>")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Flaky:
    """ASGI front of the collector: answers the first ``fail`` event posts with 503 and
    ``Retry-After: 1`` (CORS headers included, so the page can read them), counts posts."""

    def __init__(self, app: Any, origin: str) -> None:
        self.app, self.origin = app, origin
        self.fail = 0
        self.posts: list[tuple[float, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            if self.fail > 0:
                self.fail -= 1
                self.posts.append((time.monotonic(), 503))
                await send({"type": "http.response.start", "status": 503, "headers": [
                    (b"retry-after", b"1"), (b"content-type", b"application/json"),
                    (b"access-control-allow-origin", self.origin.encode()),
                    (b"access-control-expose-headers", b"Retry-After")]})
                await send({"type": "http.response.body", "body": b'{"error":"x","message":"x"}'})
                return
            status = [0]

            async def observe(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            await self.app(scope, receive, observe)
            self.posts.append((time.monotonic(), status[0]))
            return
        await self.app(scope, receive, send)


@dataclasses.dataclass
class Site:
    collector: str
    key: str
    topics: CollectorTopics
    pages: Pages
    front: Flaky
    user: str

    def page(self, path: str, body: str, *, pre: str = "", user: str | None = None,
             key: str | None = None, **options: Any) -> str:
        """Publish a page loading the tracker, then running ``body``; return its URL."""
        config = {"endpoint": self.collector, "key": key or self.key, "userId": user or self.user,
                  "app": {"name": "shop-web", "platform": "web", "version": "2.0"}, **options}
        self.pages.html[path] = (
            f'<!doctype html><html><head><meta charset="utf-8">{pre}'
            f'<script src="{self.collector}/v1/tracker.js?v={tracker.VERSION}"></script>'
            f"</head><body><script>privacyPipeline.init({json.dumps(config)});\n{body}"
            "</script></body></html>"
        )
        return self.pages.origin + path


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK), (
        "run scripts/setup-browser.sh (the test command does)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    profile = tempfile.mkdtemp(prefix="pp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(WAIT_S)
    yield driver
    driver.quit()


@pytest.fixture
def site(settings: Settings, new_topic: Callable[..., str]) -> Iterator[Site]:
    pages = Pages()
    topics = CollectorTopics(new_topic(partitions=3), new_topic(partitions=3),
                             new_topic(partitions=3))
    key = new_key()
    s = dataclasses.replace(settings, collector_cors=pages.origin)
    app = create_app(s, topics=topics, keys=KeyStore([("shop-web", hash_key(key))]),
                     keep_ip=False)
    front = Flaky(app, pages.origin)
    try:
        with running(front) as url, httpx.Client(base_url=url, timeout=WAIT_S) as http:
            wait_healthy(http)
            yield Site(url, key, topics, pages, front, f"C-{uuid.uuid4().hex[:10]}")
    finally:
        pages.close()


def flush(driver: webdriver.Chrome) -> None:
    """Await ``privacyPipeline.flush()`` in the page."""
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "privacyPipeline.flush().then(() => done(true));")


def stored_queue(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    queue: list[dict[str, Any]] = json.loads(
        driver.execute_script("return localStorage.getItem('privacyPipeline:shop-web') || '[]'"))
    return queue


def values(settings: Settings, topic: str, count: int) -> list[tuple[bytes, dict[str, Any]]]:
    return [(r.key, msgspec.json.decode(r.value)) for r in read_topic(settings, topic, count)]


def test_events_reach_kafka_keyed_by_user_in_the_contract_form(
    browser: webdriver.Chrome, site: Site, settings: Settings
) -> None:
    browser.get(site.page("/shop", """
        privacyPipeline.page('/home?q=private#top', {referrer: 'https://search.example/'});
        privacyPipeline.page('/cart', {type: 'action', campaign: 'noel'});
        privacyPipeline.geolocation(48.8566, 2.3522, 25);""", batchSize=10, flushInterval=60000))
    flush(browser)
    navs = values(settings, site.topics.navigation, 2)
    (geo,) = values(settings, site.topics.geolocation, 1)
    assert {key for key, _ in [*navs, geo]} == {site.user.encode()}
    screens = {v["screen"]: v for _, v in navs}
    assert set(screens) == {"/home", "/cart"}  # the query string never left the page
    home = screens["/home"]
    assert home["type"] == "page_view" and home["referrer"] == "https://search.example/"
    assert screens["/cart"]["type"] == "action" and screens["/cart"]["campaign"] == "noel"
    assert home["app"] == {"name": "shop-web", "platform": "web", "version": "2.0"}
    assert geo[1]["lat"] == 48.8566 and geo[1]["accuracy_m"] == 25
    events = [v for _, v in navs] + [geo[1]]
    assert len({e["event_id"] for e in events}) == 3
    for event in events:
        assert uuid.UUID(event["event_id"]).version == 4
        assert datetime.fromisoformat(event["occurred_at"]).utcoffset() is not None
        # Nothing the app did not ask for: no device, session or ip of the tracker's making.
        assert not {"device_id", "session_id", "ip"} & set(event)
    assert stored_queue(browser) == []
    assert browser.get_cookies() == []  # the tracker set no cookie


def test_module_import_batches_at_n_events_and_waits_for_identify(
    browser: webdriver.Chrome, site: Site, settings: Settings
) -> None:
    site.pages.html["/module"] = (
        '<!doctype html><script type="module">'
        f"import {{ init, page, identify, flush }} from '{site.collector}/v1/tracker.mjs';"
        f"init({{endpoint: '{site.collector}', key: '{site.key}', batchSize: 3, "
        "flushInterval: 60000, app: {name: 'shop-web', platform: 'web', version: '2'}});"
        "page('/before-login'); page('/login');"  # nobody identified yet: held
        f"window.later = () => identify('{site.user}'); window.more = () => page('/account');"
        "window.flushed = flush;</script>"
    )
    browser.get(site.pages.origin + "/module")
    time.sleep(0.5)
    assert len(stored_queue(browser)) == 2 and site.front.posts == []  # held: no user yet
    browser.execute_script("later(); more();")  # 3 events of a known user: sent at once
    navs = values(settings, site.topics.navigation, 3)
    assert sorted(v["screen"] for _, v in navs) == ["/account", "/before-login", "/login"]
    assert {k for k, _ in navs} == {site.user.encode()}


def test_cmp_consent_arrives_with_its_tc_string_and_gpc(
    browser: webdriver.Chrome, site: Site, settings: Settings
) -> None:
    cmp = """<script>
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});
      window.__tcfapi = function (command, version, callback) {
        if (command !== 'addEventListener' || version !== 2) return;
        window.cmpAnswer = (status, tcString) =>
          callback({eventStatus: status, tcString: tcString, gdprApplies: true}, true);
        setTimeout(() => cmpAnswer('tcloaded', 'CQloaded0AAAA.IA'), 10);
      };
    </script>"""
    browser.get(site.page("/cmp", """
        setTimeout(() => cmpAnswer('cmpuishown', 'CQignored'), 20);
        setTimeout(() => cmpAnswer('useractioncomplete', 'CQuser00AAAA.IA_x-y'), 30);
        setTimeout(() => privacyPipeline.consent({geolocation: true}, {source: 'app_settings'}),
                   40);""", pre=cmp, batchSize=3, flushInterval=60000))
    consents = values(settings, site.topics.consent, 3)
    assert {k for k, _ in consents} == {site.user.encode()}
    by_tcf = {v.get("tcf"): v for _, v in consents}
    assert set(by_tcf) == {"CQloaded0AAAA.IA", "CQuser00AAAA.IA_x-y", None}
    for event in by_tcf.values():
        assert event["schema"] == "consent/1" and event["gpc"] is True
    assert by_tcf["CQuser00AAAA.IA_x-y"]["source"] == "banner"
    assert by_tcf["CQuser00AAAA.IA_x-y"]["purposes"] == {}
    assert by_tcf[None]["purposes"] == {"geolocation": True}
    assert by_tcf[None]["source"] == "app_settings"


def test_leaving_the_page_flushes_through_send_beacon(
    browser: webdriver.Chrome, site: Site, settings: Settings
) -> None:
    spy = """<script>
      const beacon = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, body) => {
        localStorage.setItem('beacons', String(Number(localStorage.getItem('beacons') || 0) + 1));
        return beacon(url, body);
      };
    </script>"""
    big = "x" * 150  # 150 events of ~400 bytes: beacons of 16 kB (browsers allow 64 KiB)
    browser.get(site.page("/leave", f"""
        for (let i = 0; i < 150; i++) privacyPipeline.page('/p' + i, {{campaign: '{big}'}});""",
        pre=spy, batchSize=500, flushInterval=60000))
    assert site.front.posts == [] and len(stored_queue(browser)) == 150  # nothing sent yet
    browser.get(site.pages.origin + "/blank")  # pagehide + visibility hidden
    navs = values(settings, site.topics.navigation, 150)
    assert len({v["event_id"] for _, v in navs}) == 150
    assert int(browser.execute_script("return localStorage.getItem('beacons')")) >= 3
    assert [status for _, status in site.front.posts] == [202] * len(site.front.posts)
    assert stored_queue(browser) == []


def offline(driver: webdriver.Chrome, on: bool) -> None:
    driver.set_network_conditions(offline=on, latency=0, download_throughput=-1,
                                  upload_throughput=-1)


def test_an_offline_period_is_retried_and_the_queue_survives_a_reload(
    browser: webdriver.Chrome, site: Site, settings: Settings
) -> None:
    url = site.page("/offline", "", batchSize=1, flushInterval=100, maxQueue=5)
    browser.get(url)
    offline(browser, True)
    try:
        browser.execute_script("privacyPipeline.page('/while-offline');")
        time.sleep(1.0)  # sends fail; the event stays queued
        assert [e["screen"] for e in stored_queue(browser)] == ["/while-offline"]
    finally:
        offline(browser, False)
    flush(browser)  # back online: sent from the same page
    assert [v["screen"] for _, v in values(settings, site.topics.navigation, 1)] == [
        "/while-offline"]

    offline(browser, True)
    try:
        browser.execute_script("for (let i = 0; i < 8; i++) privacyPipeline.page('/off' + i);")
        time.sleep(0.5)
        queue = stored_queue(browser)
        assert [e["screen"] for e in queue] == [f"/off{i}" for i in range(3, 8)]  # bounded
        browser.get("about:blank")  # leaving offline: no beacon, the queue stays stored
    finally:
        offline(browser, False)
    browser.get(url)  # the next page load reads the queue back and sends it
    flush(browser)
    navs = values(settings, site.topics.navigation, 6)
    # At least once: a send cut by the page change may also arrive, with the same event_id
    # (the pipeline de-duplicates by it).
    ids = {v["screen"]: v["event_id"] for _, v in navs}
    assert sorted(ids) == sorted(["/while-offline"] + [f"/off{i}" for i in range(3, 8)])
    assert len({v["event_id"] for _, v in navs}) == 6
    assert stored_queue(browser) == []


def test_503_is_retried_after_retry_after_and_4xx_is_not(
    browser: webdriver.Chrome, site: Site, settings: Settings
) -> None:
    site.front.fail = 2
    browser.get(site.page("/flaky", "privacyPipeline.page('/retry');", flushInterval=50))
    (nav,) = values(settings, site.topics.navigation, 1)
    assert nav[1]["screen"] == "/retry"
    (t1, s1), (t2, s2), (t3, s3) = site.front.posts[:3]
    assert (s1, s2, s3) == (503, 503, 202)
    assert t2 - t1 >= 0.9 and t3 - t2 >= 0.9  # Retry-After: 1 honoured each time
    site.front.posts.clear()
    browser.get(site.page("/badkey", "privacyPipeline.page('/denied');", key=new_key(),
                          flushInterval=50))
    flush(browser)  # settles: a 401 is final, the batch is dropped
    time.sleep(1.5)
    assert [status for _, status in site.front.posts] == [401]  # never retried
    assert stored_queue(browser) == []


def test_docs_render_offline_from_the_collectors_own_assets(
    browser: webdriver.Chrome, site: Site
) -> None:
    browser.get(site.collector + "/docs")
    deadline = time.monotonic() + WAIT_S
    while not browser.execute_script("return document.querySelectorAll('.opblock').length"):
        assert time.monotonic() < deadline, "Swagger UI did not render the API"
        time.sleep(0.1)
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(u.startswith(site.collector + "/") for u in loaded), loaded
    text = browser.find_element("tag name", "body").text
    assert "/v1/events" in text and "/v1/consent" in text
