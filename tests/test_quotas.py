"""Daily character quotas: a refused request is not charged, and the day's charges outlive a restart."""

import time

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.api.access import DailyQuotas
from service.config import Settings

from .conftest import wait_ready

HINDI_40 = "भाजपा ने आज दिल्ली में एक बड़ी बैठक की।"  # 38 characters
CMS = {"X-API-Key": "cms-secret"}


def test_the_days_charges_survive_a_restart(tmp_path):
    path, now = tmp_path / "quotas" / "quotas.sqlite3", time.time()
    midnight = (now // 86400 + 1) * 86400
    first = DailyQuotas(path)
    assert first.charge("cms", 100, 80, now=now) == 0
    first.close()
    again = DailyQuotas(path)  # the next process
    assert again.charge("cms", 100, 30, now=now) == midnight - now  # spent: seconds to the reset
    assert again.charge("other", 100, 30, now=now) == 0  # per key
    assert again.charge("cms", 100, 30, now=midnight + 1) == 0  # a new day


def test_settings_put_the_quota_file_beside_the_other_state_files(tmp_path):
    assert Settings(models_dir=tmp_path).quotas_path() == tmp_path / "quotas" / "quotas.sqlite3"
    assert Settings(models_dir=tmp_path, quotas_db=tmp_path / "q.db").quotas_path() == tmp_path / "q.db"


@pytest.fixture(scope="module")
def quota_client(settings_factory):
    keys = [{"key": "cms-secret", "name": "cms", "daily_chars": 100}]
    settings = settings_factory(api_keys=keys, max_article_chars=60, max_queued_items=3, rate_limit_per_minute=0)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client


def test_refused_requests_are_not_charged(quota_client):
    refusals = [  # each is answered after the route charged it, before any model work
        ("/summarize", {"text": HINDI_40 * 2}, 413, "article_too_long"),  # 76 characters, over the article limit
        ("/summarize", {"text": "a plain English sentence, no Hindi"}, 422, "unsupported_language"),
        ("/translate", {"texts": [HINDI_40, "दूसरा वाक्य। तीसरा वाक्य। चौथा वाक्य।"]}, 413, "too_large_for_queue"),
        ("/jobs", {"text": HINDI_40, "callback_url": "http://127.0.0.1:9/hook"}, 422, "callback_refused"),  # no secret
    ]
    for path, body, status, code in refusals:
        for _ in range(3):  # 3 × each: far over the quota if they were charged
            answer = quota_client.post(path, json=body, headers=CMS)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
    ok = quota_client.post("/summarize", json={"text": HINDI_40, "options": {"summary_languages": []}}, headers=CMS)
    assert ok.status_code == 200, ok.text
    # 38 charged of 100: the next 38 fit, then the quota is spent and that refusal takes nothing
    assert quota_client.post("/translate", json={"text": HINDI_40}, headers=CMS).status_code == 200
    for _ in range(2):
        spent = quota_client.post("/translate", json={"text": HINDI_40}, headers=CMS)
        assert spent.status_code == 429 and spent.json()["error"]["code"] == "quota_exceeded"


def test_a_restarted_service_keeps_the_days_charges(settings_factory, tmp_path):
    keys = [{"key": "cms-secret", "name": "cms", "daily_chars": 50}]
    settings = settings_factory(api_keys=keys, quotas_db=str(tmp_path / "quotas.sqlite3"), warmup=False)
    for expected in (200, 429):  # 38 characters of 50 charged before the restart: 38 more do not fit after it
        with TestClient(create_app(settings)) as client:
            wait_ready(client)
            assert client.post("/translate", json={"text": HINDI_40}, headers=CMS).status_code == expected


@pytest.mark.parametrize("status, given_back", [(400, True), (413, True), (422, True), (429, True), (503, True),
                                                (200, False), (202, False), (499, False), (500, False), (504, False)])
def test_which_answers_give_the_charge_back(status, given_back):
    from service.api.access import refused

    assert refused(status) is given_back  # a hang-up (499) or a failure after the work began keeps its charge
