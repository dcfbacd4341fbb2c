"""The people of bench/load.py, for locust (run by it in a process of its own; not a bench).

Environment, set by bench/load.py:
- LOAD_HOSTS: the web processes' base URLs, comma-separated; user n talks to host n mod count,
  as a load balancer with sticky sessions would spread them;
- LOAD_USERS: the team's members' usernames, comma-separated; LOAD_PASSWORD their password;
- LOAD_TEAM: the team's uuid (each person switches to it after logging in);
- LOAD_RECORDS: a file this process appends one JSON line to per request and per event;
- LOAD_SECONDS: how long to run once every user has logged in (logins are PBKDF2 on purpose:
  50 at once keep two cores busy for a while, which is not the steady state measured).

`Person` logs in, browses and scrolls to older pages, filters, opens images (page, thumbnail,
original: the redirect and the store's answer), generates (mostly the async model), and looks
at a minimal authenticated page (the floor). `Tab` is an open gallery tab doing what the page's
poller does: `live` every second, and `new` when that says the team changed. It notes when an
image first shows in one of its answers.
"""

import itertools
import json
import os
import random
import re
import threading
import time

import gevent
from locust import HttpUser, between, constant_pacing, events, task
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

HOSTS = os.environ.get("LOAD_HOSTS", "http://127.0.0.1:8000").split(",")
USERS = os.environ.get("LOAD_USERS", "load1").split(",")
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
TEAM = os.environ.get("LOAD_TEAM", "")
RECORDS = os.environ.get("LOAD_RECORDS", "/dev/null")
WORDS = ("fox", "lighthouse", "whale", "teapot", "city", "forest", "river", "robot", "garden")
MODELS = ("sandbox/relay-async", "sandbox/relay-async", "sandbox/relay-async", "sandbox/flux-sync")

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OLDER = re.compile(r'hx-get="([^"]*after=[^"]*)" hx-trigger="intersect once"')
IMAGE = re.compile(r'id="img-([0-9a-f-]{36})"')
CARD = re.compile(r'id="gen-([0-9a-f-]{36})"')
PENDING = re.compile(r'<article class="tile pending" id="gen-([0-9a-f-]{36})"')
# The poller (index.html): the live poll with its token, and the fetch of what changed.
LIVE = re.compile(r'hx-get="([^"]*/live\?v=[^"]*)" hx-headers=\'\{"X-Live-Token": "([^"]+)"\}\'')
CHANGES = re.compile(r'hx-get="([^"]*/new\?team=[^"]*)"')

_lock = threading.Lock()
_out = open(RECORDS, "a", buffering=1)  # noqa: SIM115 - open for the process's life
_numbers = itertools.count()
_ready = itertools.count(1)


def record(**fields) -> None:
    with _lock:
        _out.write(json.dumps(fields) + "\n")


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, response, exception, **kw):
    status = getattr(response, "status_code", 0) if response is not None else 0
    record(
        kind="request",
        name=name,
        ms=response_time,
        status=status,
        error=repr(exception) if exception else "",
        at=time.time(),
    )


@events.spawning_complete.add_listener
def _on_spawned(user_count, **kw):
    record(kind="spawned", users=user_count, at=time.time())


def _ready_one(environment) -> None:
    """Once the last user has logged in, run LOAD_SECONDS more, then stop."""
    if next(_ready) == environment.parsed_options.num_users:
        record(kind="ready", at=time.time())
        seconds = float(os.environ.get("LOAD_SECONDS", "60"))
        gevent.spawn_later(seconds, environment.runner.quit)


def unescape(url: str) -> str:
    return url.replace("&amp;", "&")


class Member(HttpUser):
    abstract = True

    def on_start(self) -> None:
        number = next(_numbers)
        self.client.base_url = HOSTS[number % len(HOSTS)]
        # As a browser does: a GET sent on a kept-alive connection the server closed meanwhile
        # (gunicorn's keep-alive is 2 s; people think longer) is sent again once, on a new
        # one. Nothing else is retried: a 5xx, a timeout or a failed POST is an error.
        retry = Retry(total=1, connect=1, read=1, status=0, other=0, allowed_methods={"GET"})
        self.client.mount("http://", HTTPAdapter(max_retries=retry))
        self.username = USERS[number % len(USERS)]
        page = self.client.get("/login/", name="login page")
        token = CSRF_FIELD.search(page.text).group(1)
        form = {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
        self.client.post("/login/", data=form, name="log in")
        self.client.post("/teams/switch", data={"team": TEAM}, headers=self.csrf, name="switch")
        _ready_one(self.environment)

    @property
    def csrf(self) -> dict[str, str]:
        return {"X-CSRFToken": self.client.cookies.get("csrftoken", "")}

    @property
    def htmx(self) -> dict[str, str]:
        return {"HX-Request": "true", **self.csrf}


class Person(Member):
    wait_time = between(1, 4)

    def on_start(self) -> None:
        super().on_start()
        self.images: list[str] = []

    @task(6)
    def browse(self) -> None:
        page = self.client.get("/", name="gallery")
        self.images = IMAGE.findall(page.text) or self.images
        for _ in range(random.randint(0, 3)):  # scroll: htmx loads older pages
            older = OLDER.search(page.text)
            if older is None:
                break
            page = self.client.get(unescape(older.group(1)), headers=self.htmx, name="older")

    @task(2)
    def filter(self) -> None:
        query = random.choice(({"q": random.choice(WORDS)}, {"by_model": "sandbox"}))
        self.client.get("/", params=query, name="gallery filtered")

    @task(3)
    def open_image(self) -> None:
        if not self.images:
            return self.browse()
        image = random.choice(self.images)
        self.client.get(f"/images/{image}", name="image page")
        self.client.get(f"/images/{image}/thumbnail", name="thumbnail + store")
        if random.random() < 0.3:
            self.client.get(f"/images/{image}/original", name="original + store")

    @task(1)
    def generate(self) -> None:
        model = random.choice(MODELS)
        form = {"model": model, "prompt": f"load {' '.join(random.sample(WORDS, 3))}"}
        form |= {"p_width": "64", "p_height": "64"} if "relay" in model else {}
        answer = self.client.post("/generate", data=form, headers=self.htmx, name="generate")
        cards = CARD.findall(answer.text) if answer.status_code == 200 else []
        record(kind="generated", model=model, uuid=cards[0] if cards else "", at=time.time())

    @task(6)
    def minimal(self) -> None:
        self.client.get("/password/change/", name="minimal")


class Tab(Member):
    """An open gallery tab, doing what index.html's poller does: one `live` poll a second,
    answered from the cache (204: nothing changed); when it says "changed", one fetch of what
    changed (`new`), naming the in-flight cards the tab shows, which brings the poller back
    with the next version."""

    wait_time = constant_pacing(1)
    fixed_count = int(os.environ.get("LOAD_TABS", "0"))

    def on_start(self) -> None:
        super().on_start()
        page = self.client.get("/", name="gallery")
        self.pending: set[str] = set()
        self.seen: set[str] = set(IMAGE.findall(page.text))
        self.follow(page.text)

    def follow(self, html: str) -> None:
        """Take the poller's next version, token and `new` address from a page or an answer."""
        poll, changes = LIVE.search(html), CHANGES.search(html)
        if poll and changes:
            self.live, self.token = unescape(poll.group(1)), poll.group(2)
            self.changes = unescape(changes.group(1))

    def note(self, html: str) -> None:
        now = time.time()
        for image in IMAGE.findall(html):
            if image not in self.seen:
                self.seen.add(image)
                record(kind="seen", uuid=image, at=now)
        self.pending -= set(re.findall(r'data-card="gen-([0-9a-f-]{36})"', html))
        self.pending |= set(PENDING.findall(html))

    @task
    def poll(self) -> None:
        answer = self.client.get(self.live, headers={"X-Live-Token": self.token}, name="live")
        if answer.status_code != 200:
            return
        cards = "".join(f"&card={card}" for card in sorted(self.pending))
        answer = self.client.get(self.changes + cards, headers=self.htmx, name="new")
        if answer.status_code == 200:
            self.note(answer.text)
            self.follow(answer.text)
