"""The FastAPI application: ``create_app(settings)`` builds it; the lifespan owns the models and engines."""

from .app import create_app

__all__ = ["create_app"]
