"""The service as a Ray Serve application: ``serve run deploy/ray/serve.yaml`` (or ``serve deploy``).

Each replica is the whole service — our FastAPI app, its own runtime (both models) and its own schedulers, so the
cross-request batching that pools sentences stays inside the replica (``@serve.batch`` cannot pool the sentences
of different articles). A replica's start waits until its models are loaded and warm, so Serve routes to it only
then; ``check_health`` fails once its models failed to load, and Serve replaces it. Settings come from the
``SUMMARIZER_*`` variables of the application's ``runtime_env`` (deploy/ray/serve.yaml).

Every answer names the replica that made it (``X-Served-By: <node id>/<replica id>``): which GPU box to look at.
"""

import ray
from ray import serve

from ..api import create_app
from ..config import Settings


class ServedBy:
    """Pure ASGI (no buffering of the body): adds ``X-Served-By`` to every response's head."""

    def __init__(self, app, name: str):
        self.app, self.header = app, (b"x-served-by", name.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_name(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_name)


def build_app():
    """Runs on each replica: the app, whose lifespan loads the models before the replica takes requests."""
    app = create_app(Settings(), wait_for_models=True)
    context = ray.get_runtime_context()
    app.add_middleware(ServedBy, name=f"{context.get_node_id()[:12]}/{serve.get_replica_context().replica_id.unique_id}")
    return app


@serve.deployment
@serve.ingress(build_app)
class NewsSummarizer:
    def check_health(self) -> None:
        # Serve keeps the app it built in ``_asgi_app`` (ray 2.60; pinned by the extra).
        app = getattr(self, "_asgi_app", None)
        if app is None or app.state.load_error is not None or app.state.shutting_down:
            raise RuntimeError(f"not serving: {getattr(getattr(app, 'state', None), 'load_error', 'no app yet')}")


def app_builder(args: dict):
    """``import_path: service.deploy.ray_serve:app_builder``; the deployment's options come from the config file."""
    return NewsSummarizer.bind()
