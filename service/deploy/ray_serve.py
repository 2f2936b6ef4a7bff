"""The service as a Ray Serve application: ``serve run deploy/ray/serve.yaml`` (or ``serve deploy``).

Each replica is the whole service — our FastAPI app, its own runtime (both models) and its own schedulers, so the
cross-request batching that pools sentences stays inside the replica (``@serve.batch`` cannot pool the sentences
of different articles). A replica's start waits until its models are loaded and warm, so Serve routes to it only
then; ``check_health`` fails once its models failed to load, and Serve replaces it. Settings come from the
``SUMMARIZER_*`` variables of the application's ``runtime_env`` (deploy/ray/serve.yaml).
"""

from ray import serve

from ..api import create_app
from ..config import Settings

def build_app():
    """Runs on each replica: the app, whose lifespan loads the models before the replica takes requests."""
    return create_app(Settings(), wait_for_models=True)


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
