"""Asynchronous jobs: ``POST /jobs`` (a /summarize body, optional ``callback_url`` and ``priority``) → 202;
``GET /jobs/{id}``; ``DELETE /jobs/{id}``. The ``JobRunner`` runs queued jobs through the same pipeline (in the
job's engine lane) and delivers signed webhooks with back-off. Jobs belong to the key that created them."""

import asyncio
import json
import logging
import time
from dataclasses import replace
from typing import Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from ..errors import CallbackRefused, GlossariesUnavailable, JobNotFound, JobsUnavailable, Overloaded, ServiceError
from ..jobs import Bounds, Job, JobStore
from ..webhooks import check_callback, deliver, parse_callback, resolve_callback
from ..workers import Deadline
from . import schemas
from .access import caller_id
from .errors import STATUS
from .routes import ERRORS, _key_name, charge, glossary_of, summarize_out, summarize_work

log = logging.getLogger(__name__)
router = APIRouter()
WAKE_EVERY_S = 1.0  # idle workers look at the store this often (and at once when a job arrives)
STORE_RETRY_MAX_S = 10.0  # a write the store refused is tried again, backing off up to this


class JobRequest(schemas.SummarizeRequest):
    callback_url: str | None = Field(
        None, description="where the result is POSTed, signed: http(s), printable ASCII, at most WEBHOOK_MAX_URL_CHARS"
    )
    priority: Literal["interactive", "bulk"] = Field(
        "bulk", description="interactive jobs are batched ahead of bulk work"
    )

    @model_validator(mode="after")
    def _one_priority(self):
        if "priority" in self.options.model_fields_set:
            raise ValueError("a job's priority is the top-level 'priority', not options.priority")
        return self


class JobAccepted(BaseModel):
    job_id: str
    status_url: str


class JobOut(BaseModel):
    job_id: str
    status: str = Field(description="queued | running | done | failed | cancelled")
    priority: str
    created: float
    updated: float
    result: dict | None = Field(None, description="when done: what /summarize would have answered")
    error: dict | None = Field(None, description="when failed: {code, message}")
    webhook: str = Field(
        description="none (no callback_url, or not finished, or cancelled) | pending (due or being retried) | "
        "delivered (a 2xx answer) | failed (given up: attempts spent, or the URL can no longer be used)"
    )


def owner_of(request: Request) -> str:
    """The key's hash when keys are configured; with an open service every caller is one owner (job ids are
    unguessable 128-bit tokens)."""
    caller = getattr(request.state, "caller", "")
    return caller if caller.startswith("key:") else "open"


def job_out(job: Job) -> JobOut:
    return JobOut(job_id=job.id, status=job.status, priority=job.priority, created=job.created, updated=job.updated,
                  result=job.result, error=job.error, webhook=job.webhook)  # fmt: skip


def _store(request: Request) -> JobStore:
    return request.app.state.jobs.store


@router.post("/jobs", status_code=202, response_model=JobAccepted, responses=ERRORS,
             summary="Queue a /summarize job; its result is polled or sent to callback_url")  # fmt: skip
async def submit_job(body: JobRequest, request: Request):
    state = request.app.state
    settings, runner = state.settings, state.jobs
    # The same checks as /summarize, now rather than when the job runs (while the models load, when it runs).
    articles, options = summarize_work(body, settings)
    await glossary_of(state, body.options, _key_name(request))  # 404 now for a glossary the key does not have
    charge(request, [text for _, text in articles])
    if state.ready:
        pipeline = state.runtime.pipeline
        languages = pipeline.languages_of(options, len(articles))
        await pipeline.clean_all(articles, languages, Deadline(settings.request_timeout_s), options)
    if body.callback_url is not None:
        if settings.webhook_secret is None:
            raise CallbackRefused("this service sends no webhooks: SUMMARIZER_WEBHOOK_SECRET is not set")
        await runner.check_callback(body.callback_url)
    request_body = body.model_dump(mode="json", exclude={"callback_url", "priority"}, exclude_none=True)
    bounds = Bounds(settings.max_queued_jobs, int(settings.jobs_max_mb * 1e6), int(settings.jobs_max_mb_per_key * 1e6),
                    settings.job_ttl_s)  # fmt: skip
    job = await asyncio.to_thread(_store(request).add, owner_of(request), request_body, body.priority,
                                  body.callback_url, bounds)  # fmt: skip
    runner.wake()
    status_url = f"/jobs/{job.id}"
    return JSONResponse({"job_id": job.id, "status_url": status_url}, 202, headers={"Location": status_url})


@router.get("/jobs/{job_id}", response_model=JobOut, responses={404: {"model": schemas.ErrorOut}})
async def get_job(job_id: str, request: Request):
    job = await asyncio.to_thread(_store(request).get, job_id[:64], owner_of(request))
    if job is None:
        raise JobNotFound(f"no job {job_id[:64]!r} for this key")
    return job_out(job)


@router.delete("/jobs/{job_id}", response_model=JobOut, responses={404: {"model": schemas.ErrorOut}})
async def cancel_job(job_id: str, request: Request):
    """Cancels a queued or running job (no result, no webhook); a finished job is answered as it is."""
    job = await asyncio.to_thread(_store(request).cancel, job_id[:64], owner_of(request))
    if job is None:
        raise JobNotFound(f"no job {job_id[:64]!r} for this key")
    request.app.state.jobs.cancel(job.id)
    return job_out(job)


class JobRunner:
    """``concurrency`` workers take queued jobs from the store; one loop starts due webhook deliveries (at most
    ``WEBHOOK_MAX_IN_FLIGHT`` at once, ``WEBHOOK_MAX_IN_FLIGHT_PER_HOST`` per host) and purges old jobs. Nothing one
    job, one webhook or the store does ends a worker or the loop: a failed store write is tried again until it
    lands, so every job ends finished, or queued again."""

    def __init__(self, store: JobStore, settings, metrics, glossaries=None):
        self.store, self.settings, self.metrics = store, settings, metrics
        self.glossaries = glossaries  # the keys' glossaries: a job's is looked up when it runs
        self.runtime = None
        self._key_names = {caller_id(k.key): k.name for k in settings.accepted_keys()}  # a job's owner → its key
        self._work = asyncio.Event()
        self._hooks = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._running: dict[str, asyncio.Task] = {}
        self._deliveries: dict[str, tuple[str, asyncio.Task]] = {}  # job id → (host, task)
        self._stopping = False

    def wake(self) -> None:
        self._work.set()
        self._hooks.set()

    def availability(self) -> dict:
        """For /readyz: whether the job store works, and if not, why."""
        return {"available": self.store.problem is None, "problem": self.store.problem}

    def deliveries_in_flight(self) -> dict[str, int]:
        """Webhooks being delivered now, by host."""
        hosts = [host for host, _ in self._deliveries.values()]
        return {host: hosts.count(host) for host in set(hosts)}

    async def check_callback(self, url: str) -> None:
        """``CallbackRefused`` unless webhooks may go to ``url`` (resolving its host takes at most
        WEBHOOK_TIMEOUT_S)."""
        s = self.settings
        check = asyncio.to_thread(check_callback, url, s.webhook_allowed_hosts, s.webhook_allow_link_local,
                                  s.webhook_max_url_chars)  # fmt: skip
        try:
            await asyncio.wait_for(check, s.webhook_timeout_s)
        except TimeoutError:
            raise CallbackRefused(f"callback host did not resolve within {s.webhook_timeout_s:g} s") from None

    def start(self, runtime) -> None:
        """Once the models are ready: the workers (after the jobs the last stop cut off are queued again) and the
        webhook loop."""
        self.runtime = runtime
        if self.settings.job_concurrency > 0:
            recovered = asyncio.create_task(self._requeue_cut_off())
            self._tasks = [recovered] + [
                asyncio.create_task(self._worker(recovered)) for _ in range(self.settings.job_concurrency)
            ]
        self._tasks.append(asyncio.create_task(self._webhooks()))

    def cancel(self, job_id: str) -> None:
        task = self._running.get(job_id)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        """Running jobs are cut off and queued again (the next start finishes them); deliveries in flight stay
        pending."""
        self._stopping = True
        tasks = self._tasks + [task for _, task in self._deliveries.values()]
        for task in list(self._running.values()) + tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job_id in list(self._running):
            try:
                await asyncio.to_thread(self.store.requeue, job_id)
            except JobsUnavailable:
                pass  # still running in the store: the next start queues it again

    async def _idle(self, event: asyncio.Event) -> None:
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), WAKE_EVERY_S)
        except TimeoutError:
            pass

    async def _until_stored(self, write, *args):
        """``write(*args)`` in a thread, tried again while the store is unavailable (the store logs why)."""
        delay = WAKE_EVERY_S
        while True:
            try:
                return await asyncio.to_thread(write, *args)
            except JobsUnavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORE_RETRY_MAX_S)

    async def _requeue_cut_off(self) -> None:
        if requeued := await self._until_stored(self.store.requeue_running):
            log.info("%d jobs cut off by the last stop are queued again", requeued)

    async def _worker(self, recovered: asyncio.Task) -> None:
        await recovered
        while True:
            try:
                job = await asyncio.to_thread(self.store.claim)
            except JobsUnavailable:
                job = None
            except Exception:  # noqa: BLE001 - a worker never ends
                log.exception("taking a job from the store failed")
                job = None
            if job is None:
                await self._idle(self._work)
                continue
            await self._run(job)

    async def _run(self, job: Job) -> None:
        result = error = None
        try:
            body = schemas.SummarizeRequest.model_validate(job.request)
            key_name = self._key_names.get(job.owner)
            articles, options = summarize_work(body, self.settings, job.priority, key_name)
            options = replace(options, glossary=await glossary_of(self, body.options, key_name))
            deadline = Deadline(self.settings.job_timeout_s)
            task = asyncio.create_task(self.runtime.pipeline.process(articles, options, deadline))
            self._running[job.id] = task
            try:
                results = await asyncio.wait_for(task, self.settings.job_timeout_s)
            finally:
                self._running.pop(job.id, None)
                deadline.abandon()
            out = summarize_out(body, results, self.runtime, self.metrics)
            result = out.model_dump(mode="json")
        except asyncio.CancelledError:
            if self._stopping:
                raise
            return  # cancelled by DELETE: the store says so already
        except (Overloaded, GlossariesUnavailable) as exc:  # engines full, or its glossary's store out: it waits again
            await self._until_stored(self.store.requeue, job.id)
            await asyncio.sleep(exc.retry_after_s)
            return
        except TimeoutError:
            error = {"code": "deadline_exceeded", "message": f"not finished within {self.settings.job_timeout_s:g} s"}
        except ServiceError as exc:
            error = {"code": exc.code, "message": exc.message, "status": STATUS.get(type(exc), 500)}
        except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never the runner's end
            log.exception("job %s failed", job.id)
            error = {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        await self._until_stored(self.store.finish, job.id, result, error)  # the result waits in memory meanwhile
        self.wake()  # its webhook is due

    async def _webhooks(self) -> None:
        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        last_purge = 0.0
        # No keep-alive: each delivery connects to the address just checked. No proxies or .netrc from the
        # environment: a webhook goes straight to its checked address, without credentials.
        client = httpx.AsyncClient(timeout=self.settings.webhook_timeout_s, follow_redirects=False, trust_env=False,
                                   limits=httpx.Limits(max_keepalive_connections=0))  # fmt: skip
        async with client:
            while True:
                try:
                    now = time.time()
                    if now - last_purge > 60:
                        await asyncio.to_thread(self.store.purge, now - self.settings.job_ttl_s)
                        last_purge = now
                    for job in await self._due_webhooks(now):
                        self._start_delivery(client, job, secret)
                except JobsUnavailable:
                    pass  # the store logs it; tried again at the next round
                except Exception:  # noqa: BLE001 - the loop never ends
                    log.exception("the webhook loop's round failed")
                await self._idle(self._hooks)

    async def _due_webhooks(self, now: float) -> list[Job]:
        """Due webhooks the bounds leave room for, passing over hosts at their bound."""
        room = self.settings.webhook_max_in_flight - len(self._deliveries)
        if room <= 0:
            return []
        busy = set(self._deliveries)
        per_host: dict[str, int] = {}
        for host, _ in self._deliveries.values():
            per_host[host] = per_host.get(host, 0) + 1

        def wanted(job_id: str, url: str) -> bool:
            host = _host_of(url)
            if job_id in busy or per_host.get(host, 0) >= self.settings.webhook_max_in_flight_per_host:
                return False
            per_host[host] = per_host.get(host, 0) + 1
            return True

        return await asyncio.to_thread(self.store.due_webhooks, now, wanted, room)

    def _start_delivery(self, client: httpx.AsyncClient, job: Job, secret: str) -> None:
        task = asyncio.create_task(self._deliver(client, job, secret))
        self._deliveries[job.id] = (_host_of(job.callback_url), task)

        def done(_):
            self._deliveries.pop(job.id, None)
            self._hooks.set()  # room for the next one

        task.add_done_callback(done)

    async def _deliver(self, client: httpx.AsyncClient, job: Job, secret: str) -> None:
        timeout_s = self.settings.webhook_timeout_s
        try:
            body = json.dumps({"job_id": job.id, "status": job.status, "result": job.result, "error": job.error},
                              ensure_ascii=False).encode()  # fmt: skip
            problem, final = await asyncio.wait_for(self._attempt(client, job, body, secret), timeout_s)
        except TimeoutError:
            problem, final = f"no answer within {timeout_s:g} s (SUMMARIZER_WEBHOOK_TIMEOUT_S)", False
        except Exception as exc:  # noqa: BLE001 - one webhook's failure never stops the others
            log.exception("webhook of job %s failed unexpectedly; given up", job.id)
            problem, final = f"{type(exc).__name__}: {exc}", True
        try:
            await self._record(job, problem, final)
        except Exception:  # noqa: BLE001 - it stays pending in the store and is tried again at a later round
            log.exception("recording the webhook of job %s failed", job.id)

    async def _attempt(self, client: httpx.AsyncClient, job: Job, body: bytes, secret: str) -> tuple[str | None, bool]:
        """(what went wrong or None, whether it can never work)."""
        s = self.settings
        try:
            callback = parse_callback(job.callback_url, s.webhook_max_url_chars)
        except CallbackRefused as exc:  # stored before URLs were checked strictly: it never becomes valid
            return exc.message, True
        try:  # the name may resolve elsewhere now than when the job was accepted
            target = await asyncio.to_thread(resolve_callback, callback, s.webhook_allowed_hosts,
                                             s.webhook_allow_link_local)  # fmt: skip
        except CallbackRefused as exc:
            return exc.message, False
        return await deliver(client, target, body, secret, job.id), False

    async def _record(self, job: Job, problem: str | None, final: bool) -> None:
        """The outcome, written once the store takes it (meanwhile the delivery keeps its place: not sent again)."""
        if problem is None:
            await self._until_stored(self.store.webhook_delivered, job.id)
            return
        attempts = job.webhook_attempts + 1
        give_up = final or attempts >= self.settings.webhook_max_attempts
        retry_at = None if give_up else time.time() + min(2**attempts, 300)
        log.warning("webhook of job %s: attempt %d failed (%s)%s", job.id, attempts, problem,
                    "; giving up" if give_up else "")  # fmt: skip
        self.metrics.webhook_failures.inc()
        await self._until_stored(self.store.webhook_failed, job.id, problem, retry_at)


def _host_of(url: str | None) -> str:
    """The host a delivery counts against (a URL that cannot be split counts as one host of its own)."""
    try:
        return (urlsplit(url or "").hostname or "").rstrip(".")
    except ValueError:
        return ""
