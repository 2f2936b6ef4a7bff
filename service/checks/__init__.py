"""Checks of the service's outputs: plain text in, findings out (no model, no torch).

``run_checks(source, translation=…, paragraphs=…, summary={"hi", "en"}, glossary=[(term, target), …])`` returns a
``Report``: its findings (``number``, ``name``, ``placeholder``, ``untranslated``, ``repetition``, ``glossary``,
``artifact``, ``empty``, ``length``) and ``review`` ("ok" or "needs_review"). ``drop_unsupported`` removes from a
summary the sentences that carry an unsupported figure or name. Every check reads its texts in linear time.
"""

from .findings import Finding, Report
from .runner import drop_unsupported, run_checks

__all__ = ["Finding", "Report", "drop_unsupported", "run_checks"]
