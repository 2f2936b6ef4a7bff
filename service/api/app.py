"""App factory. Models load in the background after start-up, so /healthz answers at once and /readyz says 503
until both models are loaded and a warm-up generation has run."""

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..config import Settings
from . import errors
from .middleware import RequestGuard
from .routes import VERSION, router

log = logging.getLogger(__name__)


def _default_runtime_factory(settings: Settings):
    from ..runtime import build_runtime  # torch is imported only here, never by the api package itself

    return build_runtime(settings)


async def _warm_up(runtime) -> None:
    from ..runtime import warm_up

    await warm_up(runtime)


def create_app(settings: Settings | None = None, runtime_factory=None) -> FastAPI:
    settings = settings or Settings()
    factory = runtime_factory or (lambda: _default_runtime_factory(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = app.state
        state.settings, state.runtime, state.ready, state.shutting_down, state.load_error = (
            settings, None, False, False, None
        )

        async def load():
            try:
                state.runtime = await asyncio.to_thread(factory)
                if settings.warmup:
                    await _warm_up(state.runtime)
                state.ready = True
                log.info("models loaded and warm; ready")
            except Exception as exc:  # noqa: BLE001 - reported by /readyz and by `serve`
                state.load_error = exc
                log.error("model loading failed: %s", getattr(exc, "message", exc))

        state.loader = asyncio.create_task(load())
        yield
        state.shutting_down, state.ready = True, False
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
    app.include_router(router)
    errors.install(app)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_bytes)
    return app
