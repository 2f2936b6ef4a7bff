"""Command line: ``python -m service serve | download-models | summarize-file`` (also ``hindi-news-service``)."""

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .config import Settings
from .logs import configure_logging

log = logging.getLogger("service")


def _graceful_server(config, app, grace_s: float):
    """uvicorn's server, with SIGTERM meaning: stop taking work (/readyz and new requests answer 503), let the
    requests in flight finish for up to ``grace_s``, then shut down and exit 0. A second signal stops at once."""
    import uvicorn

    class GracefulServer(uvicorn.Server):
        draining = False

        def handle_exit(self, sig, frame):
            if sig != signal.SIGTERM or self.draining or self.should_exit:
                return super().handle_exit(sig, frame)
            self.draining = True
            app.state.shutting_down, app.state.ready = True, False
            log.info("SIGTERM: refusing new work, draining %d request(s) for up to %.0f s", app.state.in_flight, grace_s)
            threading.Thread(target=self._drain, name="drain", daemon=True).start()

        def _drain(self):
            deadline = time.monotonic() + grace_s
            while app.state.in_flight > 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.should_exit = True

    return GracefulServer(config)


def serve(settings: Settings) -> int:
    import uvicorn

    from .errors import ModelFilesMissing
    from .runtime import resolve_sources

    try:  # fail fast, before the server starts, when the model files cannot be found or fetched
        for kind, source in resolve_sources(settings).items():
            log.info("%s model: %s (%s, %s)", kind, source.path, source.origin, source.revision)
    except ModelFilesMissing as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    from .api import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=False, log_config=None,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_s)),
    )  # fmt: skip
    server = _graceful_server(config, app, settings.shutdown_grace_s)
    app.state.on_load_failure = lambda: setattr(server, "should_exit", True)
    server.run()
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
    bulk = commands.add_parser("summarize-file", help="summarize a JSONL archive, resumably")
    bulk.add_argument("input", type=Path, help='JSONL, one {"id", "text"} per line')
    bulk.add_argument("-o", "--output", type=Path, required=True, help="JSONL results, appended line by line")
    bulk.add_argument("--url", help="a running service (default: in this process, with the configured models)")
    bulk.add_argument("--api-key", default=os.environ.get("SUMMARIZER_CLIENT_API_KEY"))
    bulk.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, logging.WARNING if args.command == "summarize-file" else logging.INFO)
    if args.command == "summarize-file":
        from .bulk import summarize_file

        return summarize_file(args.input, args.output, args.url, args.concurrency, args.api_key)
    return {"serve": serve, "download-models": download_models}[args.command](settings)


if __name__ == "__main__":
    sys.exit(main())
