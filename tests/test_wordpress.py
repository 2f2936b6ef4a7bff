"""The WordPress plugin in a real WordPress (Debian's package + MariaDB), against a live service on tiny models.
Slow to set up (a package install on a fresh machine), so it runs only with WORDPRESS_E2E=1 (as root)."""

import os
import re
import subprocess

import httpx
import pytest

from .conftest import ROOT, free_port

pytestmark = pytest.mark.skipif(os.environ.get("WORDPRESS_E2E") != "1", reason="set WORDPRESS_E2E=1 to run")
KEY = "secret-e2e-key"


@pytest.fixture(scope="module")
def wordpress(live_server):
    setup = ROOT / "integrations" / "wordpress" / "e2e_setup.sh"
    done = subprocess.run(["bash", str(setup), live_server, str(free_port()), KEY], capture_output=True, text=True,
                          timeout=900, check=True)  # fmt: skip
    url, post_id = done.stdout.strip().splitlines()[-1].split()
    yield url, int(post_id)
    subprocess.run(["pkill", "-f", f"php -S {url.removeprefix('http://')}"], check=False)
    subprocess.run(["mysqladmin", "shutdown"], check=False, capture_output=True)


def login(url: str, user: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=300, follow_redirects=True)
    http.cookies.set("wordpress_test_cookie", "WP Cookie check")
    response = http.post("/wp-login.php", data={"log": user, "pwd": password, "wp-submit": "Log In",
                                                 "testcookie": "1", "redirect_to": url + "/wp-admin/"})  # fmt: skip
    assert "wp-admin" in str(response.url) and response.status_code == 200, response.text[:500]
    return http


def nonce_on(http: httpx.Client, post_id: int) -> str:
    page = http.get(f"/wp-admin/post.php?post={post_id}&action=edit").text
    assert KEY not in page  # the key stays on the server
    return re.search(r'id="hns-panel" data-post="\d+" data-nonce="([0-9a-f]+)"', page).group(1)


def summarize(http: httpx.Client, post_id: int, nonce: str) -> httpx.Response:
    return http.post("/wp-admin/admin-ajax.php", data={"action": "hns_summarize", "post_id": post_id, "nonce": nonce})


def test_the_action_fills_the_three_meta_fields(wordpress):
    url, post_id = wordpress
    admin = login(url, "editor-admin", "admin-pass-e2e")
    reply = summarize(admin, post_id, nonce_on(admin, post_id))
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert data["summary_hi"] and data["summary_en"] and data["translation_en"].count("\n") == 1  # two paragraphs
    page = admin.get(f"/wp-admin/post.php?post={post_id}&action=edit").text
    assert data["summary_en"].split()[0] in page  # stored as post meta and shown in the panel
    assert KEY not in admin.get("/wp-admin/options-general.php?page=hns").text


def test_without_the_capability_the_action_is_refused(wordpress):
    url, post_id = wordpress
    writer = login(url, "writer", "writer-pass-e2e")
    own_draft = int(re.search(r"post=(\d+)&amp;action=edit", writer.get("/wp-admin/edit.php").text).group(1))
    reply = summarize(writer, post_id, nonce_on(writer, own_draft))  # a valid nonce, someone else's post
    assert reply.status_code == 403 and "not allowed" in reply.json()["data"]["message"]
    assert summarize(writer, post_id, "0123456789").status_code == 403  # a forged nonce


def set_service_url(service_url: str) -> None:
    script = ("$_SERVER['HTTP_HOST']='127.0.0.1'; require '/usr/share/wordpress/wp-load.php';"
              "$s = get_option('hns_settings'); $s['url'] = getenv('HNS_URL'); update_option('hns_settings', $s);")  # fmt: skip
    subprocess.run(["php", "-r", script], env=os.environ | {"HNS_URL": service_url}, check=True, capture_output=True)


def test_errors_reach_the_editor_in_words(wordpress, live_server):
    url, post_id = wordpress
    admin = login(url, "editor-admin", "admin-pass-e2e")
    set_service_url(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        reply = summarize(admin, post_id, nonce_on(admin, post_id))
    finally:
        set_service_url(live_server)
    assert reply.status_code == 502 and "could not be reached" in reply.json()["data"]["message"]
