"""What a check reports: findings located in one output text, and the overall verdict."""

from dataclasses import dataclass, field, replace
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem in one output text.

    ``where`` names the text (``translation``, ``translation.paragraphs[i]``, ``summary.hi``, ``summary.en``) and
    ``span`` the characters of it the finding is about: the wrong figure, the unknown name, the loop; for something
    missing (a source figure, URL or glossary term the output lacks), the whole text it should have been in.
    """

    check: str
    severity: Severity
    where: str
    span: tuple[int, int]
    text: str
    detail: str

    def as_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "where": self.where, "span": list(self.span),
                "text": self.text, "detail": self.detail}  # fmt: skip

    def moved(self, where: str, offset: int) -> "Finding":
        """The same finding in a text that holds this one's text at ``offset``."""
        return replace(self, where=where, span=(self.span[0] + offset, self.span[1] + offset))


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def review(self) -> Literal["ok", "needs_review"]:
        """Any finding, error or warning, asks for an editor's look: a warning is a less certain finding, not a
        smaller one."""
        return "needs_review" if self.findings else "ok"

    def as_dict(self) -> dict:
        return {"checks": [f.as_dict() for f in self.findings], "review": self.review}
