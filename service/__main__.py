"""Command line: ``python -m service serve`` | ``download-models`` (also installed as ``hindi-news-service``)."""

import argparse
import logging
import signal
import sys

from .config import Settings


def serve(settings: Settings) -> int:
    import uvicorn

    from .errors import ModelFilesMissing
    from .runtime import resolve_sources

    try:  # fail fast, before the server starts, when the model files cannot be found or fetched
        for kind, source in resolve_sources(settings).items():
            logging.getLogger("service").info("%s model: %s (%s, %s)", kind, source.path, source.origin, source.revision)
    except ModelFilesMissing as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    from .api import create_app

    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, timeout_graceful_shutdown=30)
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; a clean SIGTERM shutdown is
    # a normal exit here, so the re-raised signal lands on a handler that ignores it and the exit code is 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run()
    if app.state.load_error is not None:
        print(f"error: models failed to load: {getattr(app.state.load_error, 'message', app.state.load_error)}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def download_models(settings: Settings) -> int:
    from . import model_store

    pins = model_store.pinned_revisions() | settings.model_revisions
    wanted = (("translation", settings.translation_model), ("summarization", settings.summarization_model))
    for kind, hub_id in wanted:
        target = model_store.store_dir(settings.models_dir, hub_id)
        revision = pins.get(hub_id, "main")
        print(f"{kind}: {hub_id}@{revision} → {target}")
        try:
            path = model_store.download(hub_id, kind, revision, local_dir=target)
        except Exception as exc:  # noqa: BLE001 - one clear line per failure
            print(f"error: could not download {hub_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(f"  done: {path} (revision {(path / model_store.REVISION_FILE).read_text().strip()})")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start the HTTP server (settings from SUMMARIZER_* variables)")
    commands.add_parser("download-models", help="fetch the two models at their pinned revisions into models/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    return {"serve": serve, "download-models": download_models}[args.command](settings)


if __name__ == "__main__":
    sys.exit(main())
