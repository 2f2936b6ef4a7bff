"""App factory. Models load in the background after start-up, so /healthz answers at once and /readyz says 503
until both models are loaded and a warm-up generation has run."""

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from ..config import Settings
from . import errors
from .access import AccessGuard
from .metrics import Metrics, ObserveRequests
from .middleware import RequestGuard
from .routes import STATIC_DIR, VERSION, router

log = logging.getLogger(__name__)


def _default_runtime_factory(settings: Settings, metrics: Metrics):
    from ..runtime import build_runtime  # torch is imported only here, never by the api package itself

    return build_runtime(settings, observer=metrics)


async def _warm_up(runtime) -> None:
    from ..runtime import warm_up

    await warm_up(runtime)


def create_app(settings: Settings | None = None, runtime_factory=None) -> FastAPI:
    """``runtime_factory`` (tests, benchmarks) replaces loading the models named by the settings."""
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
                state.ready = True
                metrics.ready.set(1)
                log.info("models loaded and warm; ready")
            except Exception as exc:  # noqa: BLE001 - reported by /readyz and by `serve`
                state.load_error = exc
                log.error("model loading failed: %s", getattr(exc, "message", exc))
                if state.on_load_failure is not None:  # `serve` stops the process: a broken model never heals
                    state.on_load_failure()

        state.loader = asyncio.create_task(load())
        yield
        state.shutting_down, state.ready = True, False
        metrics.ready.set(0)
        if not state.loader.done():
            await asyncio.wait({state.loader}, timeout=60)
        if state.runtime is not None:
            await asyncio.to_thread(state.runtime.close)

    app = FastAPI(
        title="Hindi news summarization and translation",
        version=VERSION,
        description="POST a Hindi article to /summarize: English translation (IndicTrans2) and Hindi + English "
        "summaries (mT5) in one call. Errors are JSON: {\"error\": {\"code\", \"message\", \"request_id\"}}.",
        lifespan=lifespan,
    )
    state = app.state
    state.settings, state.metrics, state.runtime, state.load_error = settings, metrics, None, None
    state.ready, state.shutting_down, state.in_flight, state.on_load_failure = False, False, 0, None
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    # Starlette runs the last-added middleware first: CORS → request id and body checks → metrics → keys/rate.
    app.add_middleware(AccessGuard, keys=settings.accepted_keys(), rate_per_minute=settings.rate_limit_per_minute,
                       burst=settings.rate_limit_burst)  # fmt: skip
    app.add_middleware(ObserveRequests, metrics=metrics, state=state)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app
