"""The ``number`` check: a translation has every figure of its source and no other; a summary has no figure the
article does not support. Figures are compared as values (see ``figures``), so ``2.5 लाख`` = ``250,000`` and
``पांच`` = ``five`` = ``5``.

The texts come ``masked`` (``surface.masked``): a URL's, e-mail's or handle's digits are the ``placeholder``
check's, no figures.
"""

from .figures import Figure, figures
from .findings import Finding


def keys_of(masked_text: str) -> set:
    """Every key of every figure of a text: what it supports."""
    return {key for figure in figures(masked_text) for key in figure.keys}


def _severity(figure: Figure) -> str:
    return "warning" if figure.kind == "weekday" else "error"  # a weekday is sometimes left out on purpose


def check_translation(masked_source: str, masked_output: str, where: str) -> list[Finding]:
    """Figures of the output the source lacks (a wrong figure is found here, with what the source has instead), and
    figures of the source the output lacks (reported on the whole output: it is where they should have been)."""
    source_figures, output_figures = figures(masked_source), figures(masked_output)
    source_keys = {key for figure in source_figures for key in figure.keys}
    output_keys = {key for figure in output_figures for key in figure.keys}
    missing = [f for f in source_figures if not f.soft and not f.keys & output_keys]
    extra = [f for f in output_figures if not f.soft and not f.keys & source_keys]
    findings = []
    for i, figure in enumerate(extra):
        instead = f"; the source has {missing[i].describe()}" if i < len(missing) else ""
        detail = f"{figure.describe()} is not in the source{instead}"
        findings.append(Finding("number", _severity(figure), where, (figure.start, figure.end), figure.text, detail))
    for figure in missing[len(extra) :]:
        detail = f"the source's {figure.describe()} is missing"
        findings.append(Finding("number", _severity(figure), where, (0, len(masked_output)), figure.text, detail))
    return findings


def check_summary(supported: set, masked_output: str, where: str) -> list[Finding]:
    """Figures of a summary that none of the article's figures (``supported``: their keys) support."""
    findings = []
    for figure in figures(masked_output):
        if not figure.soft and not figure.keys & supported:
            detail = f"{figure.describe()} is not in the article"
            findings.append(Finding("number", "error", where, (figure.start, figure.end), figure.text, detail))
    return findings
