"""Asynchronous jobs: ``POST /jobs`` (a /summarize body, optional ``callback_url`` and ``priority``) → 202;
``GET /jobs/{id}``; ``DELETE /jobs/{id}``. The ``JobRunner`` runs queued jobs through the same pipeline (in the
job's engine lane) and delivers signed webhooks with back-off. Jobs belong to the key that created them."""

import asyncio
import json
import logging
import time
from typing import Literal

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from ..errors import CallbackRefused, JobNotFound, Overloaded, ServiceError
from ..jobs import FINISHED, Job, JobStore
from ..webhooks import check_callback, deliver
from ..workers import Deadline
from . import schemas
from .access import caller_id
from .errors import STATUS
from .routes import ERRORS, charge, summarize_out, summarize_work

log = logging.getLogger(__name__)
router = APIRouter()
WAKE_EVERY_S = 1.0  # idle workers look at the store this often (and at once when a job arrives)


class JobRequest(schemas.SummarizeRequest):
    callback_url: str | None = Field(None, max_length=2000, description="where the result is POSTed, signed")
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
    webhook: str = Field(description="none | pending | delivered | failed")


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
    charge(request, [text for _, text in articles])
    if state.ready:
        await state.runtime.pipeline.clean_all(articles, "Deva", Deadline(settings.request_timeout_s), options)
    if body.callback_url is not None:
        if settings.webhook_secret is None:
            raise CallbackRefused("this service sends no webhooks: SUMMARIZER_WEBHOOK_SECRET is not set")
        await asyncio.to_thread(check_callback, body.callback_url, settings.webhook_allowed_hosts,
                                settings.webhook_allow_link_local)  # fmt: skip
    request_body = body.model_dump(mode="json", exclude={"callback_url", "priority"}, exclude_none=True)
    job = await asyncio.to_thread(
        _store(request).add, owner_of(request), request_body, body.priority, body.callback_url, settings.max_queued_jobs
    )
    if job is None:
        raise Overloaded(f"{settings.max_queued_jobs} jobs are waiting already; retry later", 30)
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
    """``concurrency`` workers take queued jobs from the store; one loop delivers due webhooks and purges old jobs."""

    def __init__(self, store: JobStore, settings, metrics):
        self.store, self.settings, self.metrics = store, settings, metrics
        self.runtime = None
        self._key_names = {caller_id(k.key): k.name for k in settings.accepted_keys()}  # a job's owner → its key
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._running: dict[str, asyncio.Task] = {}
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def start(self, runtime) -> None:
        """Once the models are ready: the workers and the webhook loop."""
        self.runtime = runtime
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.settings.job_concurrency)]
        self._tasks.append(asyncio.create_task(self._webhooks()))

    def cancel(self, job_id: str) -> None:
        task = self._running.get(job_id)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        """Running jobs are cut off and queued again (the next start finishes them)."""
        self._stopping = True
        for task in list(self._running.values()) + self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for job_id in list(self._running):
            await asyncio.to_thread(self.store.requeue, job_id)

    async def _idle(self) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), WAKE_EVERY_S)
        except TimeoutError:
            pass

    async def _worker(self) -> None:
        while True:
            job = await asyncio.to_thread(self.store.claim)
            if job is None:
                await self._idle()
                continue
            await self._run(job)

    async def _run(self, job: Job) -> None:
        body = schemas.SummarizeRequest.model_validate(job.request)
        result = error = None
        try:
            articles, options = summarize_work(body, self.settings, job.priority, self._key_names.get(job.owner))
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
        except Overloaded as exc:  # the engines are full of other work: the job waits its turn again
            await asyncio.to_thread(self.store.requeue, job.id)
            await asyncio.sleep(exc.retry_after_s)
            return
        except TimeoutError:
            error = {"code": "deadline_exceeded", "message": f"not finished within {self.settings.job_timeout_s:g} s"}
        except ServiceError as exc:
            error = {"code": exc.code, "message": exc.message, "status": STATUS.get(type(exc), 500)}
        except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never the runner's end
            log.exception("job %s failed", job.id)
            error = {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        await asyncio.to_thread(self.store.finish, job.id, result, error)
        self.wake()  # its webhook is due

    async def _webhooks(self) -> None:
        secret = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        last_purge = 0.0
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            while True:
                now = time.time()
                if now - last_purge > 60:
                    await asyncio.to_thread(self.store.purge, now - self.settings.job_ttl_s)
                    last_purge = now
                due = await asyncio.to_thread(self.store.due_webhooks, now)
                for job in due:
                    await self._deliver(client, job, secret)
                if not due:
                    await self._idle()

    async def _deliver(self, client: httpx.AsyncClient, job: Job, secret: str) -> None:
        body = json.dumps({"job_id": job.id, "status": job.status, "result": job.result, "error": job.error},
                          ensure_ascii=False).encode()  # fmt: skip
        try:  # the name may resolve elsewhere now than when the job was accepted
            await asyncio.to_thread(check_callback, job.callback_url, self.settings.webhook_allowed_hosts,
                                    self.settings.webhook_allow_link_local)  # fmt: skip
            problem = await deliver(client, job.callback_url, body, secret, job.id)
        except ServiceError as exc:
            problem = exc.message
        if problem is None:
            await asyncio.to_thread(self.store.webhook_delivered, job.id)
            return
        attempts = job.webhook_attempts + 1
        retry_at = time.time() + min(2**attempts, 300) if attempts < self.settings.webhook_max_attempts else None
        log.warning("webhook of job %s: attempt %d failed (%s)%s", job.id, attempts, problem,
                    "" if retry_at else "; giving up")  # fmt: skip
        self.metrics.webhook_failures.inc()
        await asyncio.to_thread(self.store.webhook_failed, job.id, problem, retry_at)
