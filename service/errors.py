"""Typed errors raised deep in the service; ``service/api/errors.py`` maps them to HTTP in one place."""


class ServiceError(Exception):
    code = "internal_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidText(ServiceError):
    """Text the models cannot take: empty, whitespace only, or not in the expected script."""

    def __init__(self, message: str, code: str = "invalid_text"):
        super().__init__(message)
        self.code = code


class InvalidRequest(ServiceError):
    """A request whose form is wrong in a way the schema cannot say (a header's value, say)."""

    def __init__(self, message: str, code: str = "invalid_request"):
        super().__init__(message)
        self.code = code


class ArticleTooLong(ServiceError):
    code = "article_too_long"


class TooLargeForQueue(ServiceError):
    """A request that needs more queue places than the engine has: it could never be accepted, so no retry helps."""

    code = "too_large_for_queue"


class UnsupportedLanguage(ServiceError):
    code = "unsupported_language"


class Overloaded(ServiceError):
    """The engine's queue is full; the caller should retry after ``retry_after_s``."""

    code = "overloaded"

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QuotaExceeded(Overloaded):
    """The key's daily character quota is spent; ``retry_after_s`` is the time to its reset (UTC midnight)."""

    code = "quota_exceeded"


class ModelNotReady(ServiceError):
    code = "not_ready"


class ShuttingDown(ServiceError):
    code = "shutting_down"


class DeadlineExceeded(ServiceError):
    code = "deadline_exceeded"


class InferenceFailed(ServiceError):
    """One item failed inside the model even when run alone (e.g. out of memory on a single sentence)."""

    code = "inference_failed"


class CallbackRefused(ServiceError):
    """A job's callback_url that the webhook rules refuse (host not allowed, blocked address, no secret)."""

    code = "callback_refused"


class JobNotFound(ServiceError):
    code = "job_not_found"


class JobStorageFull(Overloaded):
    """The key's jobs hold its share of the job store (bodies waiting, results kept for their TTL)."""

    code = "job_storage_full"


class JobsUnavailable(ServiceError):
    """The job store cannot take work now (a full disk or store, a lock held too long, a corrupt file)."""

    code = "jobs_unavailable"

    def __init__(self, message: str, retry_after_s: int = 10):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class GlossaryNotFound(ServiceError):
    code = "glossary_not_found"


class GlossaryTooLarge(ServiceError):
    """A glossary over one of its bounds (entries, bytes, characters of a term)."""

    code = "glossary_too_large"


class TooManyGlossaries(ServiceError):
    """The key keeps as many glossaries as it may; one must be deleted first."""

    code = "too_many_glossaries"


class GlossariesUnavailable(ServiceError):
    """The glossary store did not answer in time, or failed (a locked or broken file, Redis down)."""

    code = "glossaries_unavailable"

    def __init__(self, message: str, retry_after_s: int = 5):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelFilesMissing(ServiceError):
    code = "model_files_missing"
