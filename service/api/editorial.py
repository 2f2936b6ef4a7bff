"""What editors use besides /summarize: ``POST /check`` (the checks over their own text) and their key's glossaries
(``PUT``, ``GET``, ``DELETE /glossaries/{name}``, ``GET /glossaries``). A glossary belongs to the key that made it:
another key gets 404, as if it did not exist."""

import asyncio

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from .. import review
from ..errors import ArticleTooLong, GlossaryNotFound, GlossaryTooLarge, InvalidRequest
from ..glossaries import NAME_PATTERN, TABLE_TYPES, Limits, check_entries, parse_table
from . import schemas
from .errors import _describe as describe_invalid
from .routes import ERRORS, _key_name, _run, _runtime, glossary_of, memory_scope

router = APIRouter()
GlossaryName = Path(pattern=NAME_PATTERN, description="letters, digits, '.', '_', '-'; at most 64")
TABLE_EXAMPLE = "source,target\nभाजपा,BJP\nविधायक,MLA\n"


def _owner(request: Request) -> str:
    """Whose glossaries: the API key's name (an open service, without keys, is one owner)."""
    return memory_scope(_key_name(request))


@router.post("/check", response_model=schemas.Review, responses=ERRORS,
             summary="Check a translation and/or summaries of an article (an editor's own text)")  # fmt: skip
async def check(body: schemas.CheckRequest, request: Request):
    settings = request.app.state.settings
    runtime = _runtime(request)
    if len(body.source) > settings.max_article_chars:
        raise ArticleTooLong(f"source: {len(body.source)} characters, over the limit of {settings.max_article_chars}")
    summary = body.summary.model_dump() if body.summary else {}
    for where, text in [("translation", body.translation)] + [(f"summary.{k}", v) for k, v in summary.items()]:
        if text is not None and len(text) > settings.max_check_chars:
            raise ArticleTooLong(f"{where}: {len(text)} characters, over the limit of {settings.max_check_chars} "
                                 "(SUMMARIZER_MAX_CHECK_CHARS)")  # fmt: skip
    glossary = await glossary_of(request.app.state, body, _key_name(request))

    def work(deadline):
        return runtime.pipeline.text_workers.run(deadline, review.review_article, body.source, body.translation, None,
                                                 summary, glossary)  # fmt: skip

    outcome = await _run(request, work)
    if isinstance(outcome, JSONResponse):
        return outcome
    return review.as_meta(outcome[0], settings.max_findings)


# --- glossaries ------------------------------------------------------------------------------------------------------
def _entries_of(body: bytes, content_type: str, limits: Limits):
    """A PUT body (JSON ``{"entries": [...]}``, or a CSV or TSV table) → the entries, checked."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media in TABLE_TYPES:
            pairs = parse_table(body.decode("utf-8-sig"), TABLE_TYPES[media])
        else:
            pairs = [(e.source, e.target) for e in schemas.GlossaryIn.model_validate_json(body).entries]
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the glossary is not UTF-8 text (byte {exc.start})", "invalid_glossary") from None
    except ValidationError as exc:
        raise InvalidRequest(describe_invalid(exc)[2], "invalid_glossary") from None
    return check_entries(pairs, limits, limits.entries, "SUMMARIZER_MAX_GLOSSARY_ENTRIES")


@router.put(
    "/glossaries/{name}",
    response_model=schemas.GlossaryInfo,
    responses=ERRORS | {409: {"model": schemas.ErrorOut, "description": "the key keeps its most glossaries"}},
    summary="Create or replace one of this key's glossaries",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": schemas.GlossaryIn.model_json_schema()},
        "text/csv": {"schema": {"type": "string"}, "example": TABLE_EXAMPLE},
        "text/tab-separated-values": {"schema": {"type": "string"}, "example": TABLE_EXAMPLE.replace(",", "\t")},
    }}},
)  # fmt: skip
async def put_glossary(request: Request, name: str = GlossaryName):
    state = request.app.state
    limits = Limits.of(state.settings)
    body = await request.body()  # read whole (and bounded by MAX_REQUEST_BYTES) by the request guard
    if len(body) > limits.body_bytes:
        raise GlossaryTooLarge(f"the glossary is {len(body)} bytes; the limit is {limits.body_bytes} "
                               "(SUMMARIZER_MAX_GLOSSARY_BYTES)")  # fmt: skip
    content_type, owner = request.headers.get("content-type", ""), _owner(request)

    def store():
        entries = _entries_of(body, content_type, limits)
        return state.glossaries.put(owner, name, entries, limits.per_key)

    return (await asyncio.to_thread(store)).summary()


@router.get("/glossaries/{name}", response_model=schemas.GlossaryOut, responses={404: {"model": schemas.ErrorOut}},
            summary="One of this key's glossaries, its entries included")  # fmt: skip
async def get_glossary(request: Request, name: str = GlossaryName):
    stored = await asyncio.to_thread(request.app.state.glossaries.get, _owner(request), name)
    if stored is None:
        raise GlossaryNotFound(f"no glossary {name!r} for this key")
    entries = [{"source": s, "target": t} for s, t in stored.entries]
    return {"name": stored.name, "version": stored.version, "entries": entries, "updated": stored.updated}


@router.delete("/glossaries/{name}", status_code=204, responses={404: {"model": schemas.ErrorOut}},
               summary="Delete one of this key's glossaries")  # fmt: skip
async def delete_glossary(request: Request, name: str = GlossaryName):
    if not await asyncio.to_thread(request.app.state.glossaries.delete, _owner(request), name):
        raise GlossaryNotFound(f"no glossary {name!r} for this key")
    return Response(status_code=204)


@router.get("/glossaries", response_model=schemas.GlossaryList, summary="This key's glossaries (without entries)")
async def list_glossaries(request: Request):
    return {"glossaries": await asyncio.to_thread(request.app.state.glossaries.summaries, _owner(request))}
