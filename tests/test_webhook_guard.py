"""Where a webhook may go, and what a webhook may not do to the others (issue 25, items 1, 2 and 11).

No test here lets a packet leave the machine: every socket connect of this process is checked by ``loopback_only``
(one to an address outside 127.0.0.0/8 and ::1 is recorded and refused before it is made), and names resolve through
``fake_dns`` (a table; anything else must be a numeric address: no DNS query is ever sent). So a regressed guard fails
these tests instead of reaching a real metadata address."""

import ipaddress
import socket
import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.config import Settings
from service.errors import CallbackRefused
from service.webhooks import check_callback

from .test_jobs import BRIEF, SECRET, Receiver
from .test_linear_text import assert_linear

HOOKS = "hooks.test"  # a name only fake_dns knows


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):
        return True  # a Unix socket
    ip = ipaddress.ip_address(str(address[0]).partition("%")[0])
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Connections this process attempts to anything but loopback: recorded, and refused before they happen."""
    attempts = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(self, address):
        if not _is_loopback(address):
            attempts.append(address)
            raise ConnectionRefusedError(f"test guard: no connection to {address}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_loopback(address):
            attempts.append(address)
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    assert attempts == [], f"connections attempted beyond loopback: {attempts}"


class FakeDNS:
    """``answers[name]``: the addresses a name resolves to (a list, or a function of the call count)."""

    def __init__(self):
        self.answers, self.calls = {}, []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:  # numeric addresses only: never a real DNS query
            return REAL_GETADDRINFO(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        self.calls.append(name)
        answer = self.answers[name]
        addresses = answer(len(self.calls)) if callable(answer) else answer
        port = int(port or 0)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a else
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]  # fmt: skip


REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def fake_dns(monkeypatch):
    dns = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns


# Every spelling of a link-local or metadata address we know, as a URL host.
HOSTILE_HOSTS = [
    "169.254.169.254", "169.254.169.254.", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "[::169.254.169.254]",
    "[::ffff:0:169.254.169.254]", "[64:ff9b::169.254.169.254]", "[64:ff9b:1::a9fe:a9fe]", "[64:ff9b:1:a9fe:a9:fe00::]",
    "[2002:a9fe:a9fe::1]", "[2001:0:4136:e378:8000:63bf:5601:5601]",  # 6to4; Teredo (client 169.254.169.254)
    "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518", "169.0xfe.169.254", "0xA9.254.169.254",
    "[fe80::1%25eth0]", "[fe80::1]", "[fd00:ec2::254]", "[fd20:ce::254]", "100.100.100.200", "168.63.129.16",
    "0.0.0.0", "0", "[::]", "[::ffff:0.0.0.0]", "metadata.google.internal", "metadata.google.internal.", "metadata",
]  # fmt: skip
# What a name may resolve to that is as bad.
HOSTILE_ADDRESSES = [
    "169.254.169.254", "::ffff:169.254.169.254", "::169.254.169.254", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe",
    "2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:5601:5601", "fe80::1%eth0", "fe80::1", "fd00:ec2::254",
    "fd20:ce::254", "100.100.100.200", "::ffff:100.100.100.200", "0.0.0.0", "::", "224.0.0.1", "ff02::1",
]  # fmt: skip


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_every_spelling_of_a_metadata_address_is_refused_even_when_allowed(host):
    bare = host.strip("[]").replace("%25", "%")
    with pytest.raises(CallbackRefused):
        check_callback(f"http://{host}/latest/meta-data", [bare, host, bare.rstrip("."), "*.internal"])


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_a_name_resolving_to_a_blocked_address_is_refused(fake_dns, address):
    fake_dns.answers[HOOKS] = [address]
    with pytest.raises(CallbackRefused, match="blocked"):
        check_callback(f"http://{HOOKS}:8080/hook", [HOOKS])
    fake_dns.answers[HOOKS] = ["127.0.0.1", address]  # one bad answer among good ones is enough
    with pytest.raises(CallbackRefused, match="blocked"):
        check_callback(f"http://{HOOKS}/hook", ["*.test"])


def test_loopback_and_private_receivers_stay_possible_when_allowed(fake_dns):
    fake_dns.answers[HOOKS] = ["10.1.2.3", "::ffff:127.0.0.1"]
    check_callback(f"https://{HOOKS}/hook", [HOOKS])
    for url in ("http://127.0.0.1:8000/hook", "http://[::1]:8000/hook", "http://[0:0::1]/hook"):
        check_callback(url, ["127.0.0.1", "::1"])
    check_callback("http://169.254.169.254/", ["169.254.169.254"], allow_link_local=True)  # the operator's choice


MALFORMED = [
    "http://127.0.0.1/hook\r\nX-Injected: 1", "http://127.0.0.1/\n", "http://127.0.0.1/a\tb", "http://127.0.0.1/\x00",
    "http://127.0.0.1/\x7f", "http://127.0.0.1/\x85", "http://127.0.0.1/a b", " http://127.0.0.1/",
    "http://127.0.0.1/é",
    "http://müller.example/", "http://user@127.0.0.1/", "http://user:pw@127.0.0.1/", "http://@127.0.0.1/",
    "ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1:70/", "javascript:alert(1)", "//127.0.0.1/hook",
    "http:/127.0.0.1/", "http:127.0.0.1/", "http://127.0.0.1/" + "a" * 2000, "http://xn--zz.example/",
    "http://-a.example/", "http://a..example/", "http://a_b.example/", "http://%31%32%37.0.0.1/", "http:///hook",
    "http://:8000/hook", "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:99999999999/",
    "http://127.0.0.1:-1/", "http://127.0.0.1:+80/", "http://127.0.0.1:8a/", "http://127.0.0.1\\@169.254.169.254/",
    "http://127.0.0.1\\hook", "http://127.0.0.1/hook#fragment", "http://[::1/", "http://[::1]x/", "http://[v1.x]/",
    "http://127.0.0.1:80:80/", "http://" + "a" * 64 + ".example/", "http://" + "a." * 130 + "example/", "",
]  # fmt: skip


@pytest.fixture(scope="module")
def intake(tmp_path_factory):
    """An app whose models never load (it needs none): /jobs checks and stores jobs, runs none."""

    def no_models():
        raise RuntimeError("no models in this test")

    settings = Settings(models_dir=tmp_path_factory.mktemp("none"), jobs_db=tmp_path_factory.mktemp("j") / "j.sqlite3",
                        webhook_secret=SECRET, webhook_allowed_hosts=["127.0.0.1", "::1", HOOKS, "*.internal"],
                        warmup=False, cache="off")  # fmt: skip
    with TestClient(create_app(settings, no_models)) as client:
        yield client


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_callback_url_is_a_json_422(intake, url):
    answer = intake.post("/jobs", json={"text": BRIEF, "callback_url": url})
    assert answer.status_code == 422, (url, answer.text)
    assert answer.json()["error"]["code"] == "callback_refused", answer.text


@pytest.mark.parametrize("host", HOSTILE_HOSTS[:12] + ["metadata.google.internal"])
def test_the_api_refuses_hostile_hosts_and_names_before_any_connection(intake, fake_dns, host):
    fake_dns.answers[HOOKS] = ["::ffff:169.254.169.254"]
    for url in (f"http://{host}/hook", f"http://{HOOKS}/hook"):
        answer = intake.post("/jobs", json={"text": BRIEF, "callback_url": url})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "callback_refused", (url, answer.text)


def test_checking_a_url_is_linear_in_its_length():
    url = lambda n: "http://127.0.0.1/" + "a/%41?" * (n // 6)  # noqa: E731
    assert_linear("check_callback", lambda u: check_callback(u, ["127.0.0.1"], max_chars=10**7), "", 800_000, 1.0,
                  make=url)  # fmt: skip


# --- deliveries (the models run: the tiny ones) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner_client(settings_factory, tmp_path_factory):
    settings = settings_factory(
        jobs_db=str(tmp_path_factory.mktemp("hooks") / "jobs.sqlite3"), webhook_secret=SECRET,
        webhook_allowed_hosts=["127.0.0.1", "127.0.0.2", "127.0.0.3", HOOKS], webhook_max_attempts=1,
        webhook_timeout_s=300, webhook_max_in_flight=8, webhook_max_in_flight_per_host=2,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        from .conftest import wait_ready

        wait_ready(client)
        yield client


def wait_webhook(client, job_id: str, states=("delivered", "failed"), timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while (job := client.get(f"/jobs/{job_id}").json())["webhook"] not in states:
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return job


def test_the_post_goes_to_the_address_that_was_checked(runner_client, fake_dns):
    checked = Receiver()
    rebound = Receiver(host="127.0.0.2", port=checked.port)  # where a second DNS answer would send it
    try:
        # The two checks (at submission, before the delivery) see 127.0.0.1; any later lookup sees 127.0.0.2.
        fake_dns.answers[HOOKS] = lambda call: ["127.0.0.1"] if call <= 2 else ["127.0.0.2"]
        url = f"http://{HOOKS}:{checked.port}/hook"
        job_id = runner_client.post("/jobs", json={"text": BRIEF, "callback_url": url}).json()["job_id"]
        assert wait_webhook(runner_client, job_id)["webhook"] == "delivered"
        assert [d[2] for d in checked.deliveries] == [job_id] and rebound.deliveries == []
        assert checked.hosts == [f"{HOOKS}:{checked.port}"]  # the receiver sees the name it was given
        assert fake_dns.calls == [HOOKS, HOOKS]
    finally:
        checked.close()
        rebound.close()


def test_a_name_rebound_to_metadata_after_submission_is_refused_at_delivery(runner_client, fake_dns):
    receiver = Receiver()
    try:
        fake_dns.answers[HOOKS] = lambda call: ["127.0.0.1"] if call == 1 else ["::ffff:169.254.169.254"]
        url = f"http://{HOOKS}:{receiver.port}/hook"
        job_id = runner_client.post("/jobs", json={"text": BRIEF, "callback_url": url}).json()["job_id"]
        assert wait_webhook(runner_client, job_id)["webhook"] == "failed"
        assert receiver.deliveries == []
    finally:
        receiver.close()


def test_a_redirect_is_never_followed(runner_client):
    receiver = Receiver(answer=307, location="http://169.254.169.254/latest/meta-data")
    try:
        job_id = runner_client.post("/jobs", json={"text": BRIEF, "callback_url": receiver.url}).json()["job_id"]
        assert wait_webhook(runner_client, job_id)["webhook"] == "failed"  # a 3xx is a failed attempt
        assert len(receiver.deliveries) == 1
    finally:
        receiver.close()


def test_one_unusable_url_stops_no_other_webhook(runner_client, caplog):
    """A URL stored before URLs were checked strictly (CR/LF in it) fails alone: the loop delivers the rest."""
    receiver = Receiver()
    try:
        first = runner_client.post("/jobs", json={"text": BRIEF}).json()["job_id"]
        jobs_db = runner_client.app.state.settings.jobs_db
        with sqlite3.connect(jobs_db) as db:
            (owner,) = db.execute("SELECT owner FROM jobs WHERE id = ?", (first,)).fetchone()
            for n, url in enumerate(("http://127.0.0.1:1/hook\r\nX-Injected: 1", "http://127.0.0.1:1/\x00",
                                     "http://[::1/", "ftp://127.0.0.1/")):  # fmt: skip
                db.execute(
                    "INSERT INTO jobs (id, owner, status, priority, request, callback_url, result, created, updated, "
                    "webhook, webhook_due) VALUES (?, ?, 'done', 'bulk', '{}', ?, '{}', 0, 0, 'pending', ?)",
                    (f"bad-{n}", owner, url, n),
                )
        job_id = runner_client.post("/jobs", json={"text": BRIEF, "callback_url": receiver.url}).json()["job_id"]
        assert wait_webhook(runner_client, job_id)["webhook"] == "delivered"
        for n in range(4):
            assert wait_webhook(runner_client, f"bad-{n}")["webhook"] == "failed"
        assert [d[2] for d in receiver.deliveries] == [job_id]
        assert "webhook of job bad-0" in caplog.text
    finally:
        receiver.close()


def test_hanging_receivers_delay_no_other_webhook_and_each_host_has_its_bound(runner_client):
    release = threading.Event()
    hanging = Receiver(host="127.0.0.2", hold=release)
    prompt = Receiver(host="127.0.0.3")
    try:
        bodies = [{"text": f"{BRIEF} {i}", "callback_url": hanging.url} for i in range(3)]
        stuck = [runner_client.post("/jobs", json=body).json()["job_id"] for body in bodies]
        hanging.wait_until(lambda: hanging.held >= 2, "two deliveries to the hanging host")
        job_id = runner_client.post("/jobs", json={"text": BRIEF, "callback_url": prompt.url}).json()["job_id"]
        prompt.wait_for(1, timeout_s=60)  # while two hang: delivered beside them, not after them
        assert wait_webhook(runner_client, job_id)["webhook"] == "delivered"
        assert {runner_client.get(f"/jobs/{i}").json()["webhook"] for i in stuck} == {"pending"}  # none timed out
        in_flight = runner_client.app.state.jobs.deliveries_in_flight()
        assert in_flight.get("127.0.0.2") == 2 and hanging.held == 2, (in_flight, hanging.held)  # the third waits
        release.set()
        for stuck_id in stuck:
            assert wait_webhook(runner_client, stuck_id)["webhook"] == "delivered"
        assert hanging.held == 3
    finally:
        release.set()
        hanging.close()
        prompt.close()
