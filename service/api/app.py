"""App factory. Models load in the background after start-up, so /healthz answers at once and /readyz says 503
until both models are loaded and a warm-up generation has run."""

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

from .. import review
from ..config import Settings
from . import errors
from ..glossaries import open_glossaries
from ..jobs import JobStore
from .access import DOCS_ASSETS, AccessGuard, DailyQuotas
from .editorial import router as editorial_router
from .jobs import JobRunner
from .jobs import router as jobs_router
from .metrics import Metrics, ObserveRequests
from .middleware import RequestGuard
from .routes import STATIC_DIR, VERSION, router

log = logging.getLogger(__name__)
ENGINE_STOP_S = 2.0


def _default_runtime_factory(settings: Settings, metrics: Metrics):
    from ..runtime import build_runtime  # torch is imported only here, never by the api package itself

    return build_runtime(settings, observer=metrics)


async def _warm_up(runtime) -> None:
    from ..runtime import warm_up

    await warm_up(runtime)


def create_app(settings: Settings | None = None, runtime_factory=None, wait_for_models: bool = False) -> FastAPI:
    """``runtime_factory`` (tests, benchmarks) replaces loading the models named by the settings. With
    ``wait_for_models`` the app's start lasts until the models are loaded (Ray Serve routes to a replica once its
    start is over); otherwise they load in the background and /readyz tells."""
    settings = settings or Settings()
    metrics = Metrics()
    factory = runtime_factory or (lambda: _default_runtime_factory(settings, metrics))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state

        async def load():
            try:
                state.runtime = await asyncio.to_thread(factory)
                metrics.watch_runtime(state.runtime)
                if settings.warmup:
                    await _warm_up(state.runtime)
                await asyncio.to_thread(review.load_word_lists)
                # What is loaded now lives as long as the process: full collections skip it. Each one walked it all
                # while holding the GIL (100+ ms stalls of the event loop under load, with the checks' word lists).
                gc.freeze()
                state.jobs.start(state.runtime)
                state.ready = True
                metrics.ready.set(1)
                log.info("models loaded and warm; ready")
            except Exception as exc:  # noqa: BLE001 - reported by /readyz and by `serve`
                state.load_error = exc
                log.error("model loading failed: %s", getattr(exc, "message", exc))
                if state.on_load_failure is not None:  # `serve` stops the process: a broken model never heals
                    state.on_load_failure()

        state.loop = asyncio.get_running_loop()
        # Jobs are accepted from the first moment (durably), and run once the models are ready. A store that cannot
        # be opened (a corrupt file, a full disk) never stops the start: /jobs answers 503 and /readyz says why.
        jobs_db = settings.jobs_db or Path(settings.models_dir) / "jobs" / "jobs.sqlite3"
        store = await asyncio.to_thread(JobStore, jobs_db, settings.jobs_lock_timeout_s)
        state.jobs = JobRunner(store, settings, metrics, state.glossaries)
        metrics.watch_jobs(store)
        state.loader = asyncio.create_task(load())
        if wait_for_models:
            await state.loader
        yield
        state.shutting_down, state.ready = True, False
        metrics.ready.set(0)
        if not state.loader.done():
            await asyncio.wait({state.loader}, timeout=60)
        await state.jobs.stop()
        gc.unfreeze()  # the app's objects may be collected again (a process that makes many apps: the tests)
        await asyncio.to_thread(store.close)
        state.quotas.close()
        state.glossaries.close()
        if state.runtime is not None:  # a batch still running is not waited for long: its requests were answered
            await asyncio.to_thread(state.runtime.close, ENGINE_STOP_S)

    app = FastAPI(
        docs_url=None,  # served below from packaged assets: the default fetches Swagger UI from a CDN
        redoc_url=None,
        title="Hindi news summarization and translation",
        version=VERSION,
        description="POST a Hindi article to /summarize: English translation (IndicTrans2) and Hindi + English "
        "summaries (mT5) in one call. Errors are JSON: {\"error\": {\"code\", \"message\", \"request_id\"}}.",
        lifespan=lifespan,
    )
    state = app.state
    state.settings, state.metrics, state.runtime, state.load_error = settings, metrics, None, None
    state.ready, state.shutting_down, state.in_flight, state.on_load_failure = False, False, 0, None
    state.quotas = DailyQuotas(settings.quotas_path())
    state.glossaries = open_glossaries(settings)  # opened at its first use: a broken store fails only its calls
    state.request_tasks = set()  # the work of each request in flight, cut off when the shutdown grace is over

    def cut_off():
        for task in list(state.request_tasks):
            task.cancel()

    state.cut_off = cut_off
    app.include_router(router)
    app.include_router(jobs_router)
    app.include_router(editorial_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} – API", swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css", swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )  # fmt: skip

    errors.install(app)
    # Starlette runs the last-added middleware first: CORS → request id and body checks → metrics → keys/rate.
    app.add_middleware(AccessGuard, keys=settings.accepted_keys(), rate_per_minute=settings.rate_limit_per_minute,
                       burst=settings.rate_limit_burst, failures_per_minute=settings.auth_failures_per_minute)  # fmt: skip
    app.add_middleware(ObserveRequests, metrics=metrics, state=state)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_bytes, body_timeout_s=settings.body_timeout_s)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app
