"""Command line: ``python -m service serve | download-models | convert-models | evaluate | summarize-file`` (also
``hindi-news-service``)."""

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path

from .config import Settings
from .logs import configure_logging

log = logging.getLogger("service")


def serve(settings: Settings) -> int:
    from .config import InvalidSetting, check_removed
    from .errors import ModelFilesMissing

    try:  # fail fast, before the server starts (and before torch loads), on unusable keys or missing model files
        check_removed(os.environ)
        settings.accepted_keys()
        from .runtime import resolve_sources

        for kind, source in resolve_sources(settings).items():
            log.info("%s model: %s (%s, %s)", kind, source.path, source.origin, source.revision)
    except InvalidSetting as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModelFilesMissing as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    from .api import create_app
    from .server import make_server

    app = create_app(settings)
    server = make_server(app, settings)
    app.state.on_load_failure = lambda: setattr(server, "should_exit", True)
    server.run()
    code = 0
    if app.state.load_error is not None:
        print(f"error: models failed to load: {getattr(app.state.load_error, 'message', app.state.load_error)}",
              file=sys.stderr)  # fmt: skip
        code = 1
    if any(t.name.startswith("engine-") and t.is_alive() for t in threading.enumerate()):
        # A batch still runs in native code: tearing the interpreter down under it aborts the process
        # ("terminate called without an active exception"). Its requests were answered; leave without teardown.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def download_models(settings: Settings, ctranslate2: bool = True) -> int:
    from . import model_store

    pins = model_store.pinned_revisions() | settings.model_revisions
    wanted = (("translation", settings.translation_model), ("summarization", settings.summarization_model))
    for kind, hub_id in wanted:
        target = model_store.store_dir(settings.models_dir, hub_id)
        revision = pins.get(hub_id, "main")
        print(f"{kind}: {hub_id}@{revision} → {target}")
        try:
            path, commit = model_store.download(hub_id, kind, revision, local_dir=target)
        except Exception as exc:  # noqa: BLE001 - one clear line per failure
            print(f"error: could not download {hub_id}: {type(exc).__name__}: {exc}. {model_store.NEXT_STEPS}",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"  done: {path} (commit {commit}, recorded in {model_store.REVISION_FILE})")
        if commit != revision:
            print(f"  {model_store.pin_hint(hub_id, revision, commit)}")
    return convert_models(settings) if ctranslate2 else 0


def convert_models(settings: Settings) -> int:
    """CTranslate2 copies of both configured models in the model store, stored in the compute type they will be loaded
    as (SUMMARIZER_CT2_COMPUTE_TYPE, chosen per model); made once, made again when a source changes."""
    from .errors import ModelFilesMissing
    from .runtime import resolve_sources

    try:
        sources = resolve_sources(settings)
    except ModelFilesMissing as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    from .engine.ct2_convert import ensure_copy, resolve_compute_type
    from .engine.device import resolve_device

    device = resolve_device(settings.device)
    for kind, source in sources.items():
        quantization = resolve_compute_type(settings.ct2_compute_type, device, kind)
        path, made = ensure_copy(kind, source, settings.models_dir, quantization)
        print(f"{kind}: {source.spec} → {path} ({'converted' if made else 'up to date'})")
    return 0


def at_least(minimum: float, kind=int):
    """An argparse type: a number of ``kind`` not below ``minimum`` (``--concurrency 0`` would wait for ever)."""

    def parse(value: str):
        number = kind(value)
        if not number >= minimum:  # NaN too
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in its "invalid int value" message
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start the HTTP server (settings from SUMMARIZER_* variables)")
    download = commands.add_parser("download-models", help="fetch the two models at their pinned revisions into models/")
    download.add_argument("--no-ctranslate2", action="store_true", help="do not make their CTranslate2 copies")
    commands.add_parser("convert-models", help="write CTranslate2 copies of the two models into the model store")
    evaluate = commands.add_parser("evaluate", help="chrF++ and ROUGE of the configured models on a reference file")
    evaluate.add_argument("references", type=Path, help='JSONL: {"text", "reference_en"?, "reference_summary_hi"?}')
    evaluate.add_argument("-o", "--output", type=Path, help="write the JSON report here too")
    bulk = commands.add_parser("summarize-file", help="summarize a JSONL archive, resumably")
    bulk.add_argument("input", type=Path, help='JSONL, one {"id", "text"} per line (bad lines go to the errors file)')
    bulk.add_argument("-o", "--output", type=Path, required=True,
                      help="JSONL results, appended line by line, each what POST /summarize answers; failures with "
                      "their line number in OUTPUT's .errors.jsonl sibling")  # fmt: skip
    bulk.add_argument("--url", help="a running service (default: in this process, with the configured models)")
    bulk.add_argument("--api-key", default=os.environ.get("SUMMARIZER_CLIENT_API_KEY"))
    bulk.add_argument("--concurrency", type=at_least(1), default=8, help="articles in flight")
    bulk.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster (auto, HOST:PORT): pip install '.[ray]'")
    bulk.add_argument("--ray-actors", type=at_least(1), help="model actors (default: one per GPU, or 1)")
    bulk.add_argument("--ray-actor-cpus", type=at_least(0, float), default=1.0, help="CPUs each actor reserves")
    bulk.add_argument("--ray-actor-gpus", type=at_least(0, float),
                      help="GPUs each actor reserves (default: 1 if the cluster has any)")  # fmt: skip
    bulk.add_argument("--ray-batch-size", type=at_least(1), default=16, help="articles an actor takes at once")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError: a SUMMARIZER_* variable that does not parse
        print(f"error: invalid setting: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    configure_logging(settings.log_format, logging.WARNING if args.command == "summarize-file" else logging.INFO)
    if args.command == "summarize-file":
        from .bulk import summarize_file

        if args.ray:
            try:
                from .deploy.ray_archive import summarize_file_on_ray
            except ImportError as exc:
                if (exc.name or "").split(".")[0] not in ("ray", "pyarrow"):
                    raise
                print("error: --ray needs the optional ray extra: pip install -e '.[ray]' (docs/SCALING.md)",
                      file=sys.stderr)  # fmt: skip
                return 2
            return summarize_file_on_ray(args)
        return summarize_file(args.input, args.output, args.url, args.concurrency, args.api_key)
    if args.command == "evaluate":
        from .evaluate import evaluate as run_evaluation

        report = json.dumps(run_evaluation(args.references, settings), indent=2, ensure_ascii=False)
        print(report)
        if args.output:
            args.output.write_text(report + "\n", encoding="utf-8")
        return 0
    if args.command == "download-models":
        return download_models(settings, ctranslate2=not args.no_ctranslate2)
    return {"serve": serve, "convert-models": convert_models}[args.command](settings)


if __name__ == "__main__":
    sys.exit(main())
