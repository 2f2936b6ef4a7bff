"""The ``number`` check: a translation has every figure of its source and no other; a summary has no figure the
article does not support. Figures are compared as values (see ``figures``), so ``2.5 लाख`` = ``250,000`` and
``पांच`` = ``five`` = ``5``."""

from .figures import Figure, figures
from .findings import Finding
from .surface import masked


def figures_of(text: str) -> list[Figure]:
    """The figures of a text, those inside a URL, e-mail or handle left out (the ``placeholder`` check has those)."""
    return figures(masked(text))


def keys_of(found: list[Figure]) -> set:
    return {key for figure in found for key in figure.keys}


def _severity(figure: Figure) -> str:
    return "warning" if figure.kind == "weekday" else "error"  # a weekday is sometimes left out on purpose


def check_translation(source: str, output: str, where: str) -> list[Finding]:
    """Figures of the output the source lacks (a wrong figure is found here, with what the source has instead), and
    figures of the source the output lacks (reported on the whole output: it is where they should have been)."""
    source_figures, output_figures = figures_of(source), figures_of(output)
    source_keys, output_keys = keys_of(source_figures), keys_of(output_figures)
    missing = [f for f in source_figures if not f.soft and not f.keys & output_keys]
    extra = [f for f in output_figures if not f.soft and not f.keys & source_keys]
    findings = []
    for i, figure in enumerate(extra):
        instead = f"; the source has {missing[i].describe()}" if i < len(missing) else ""
        detail = f"{figure.describe()} is not in the source{instead}"
        findings.append(Finding("number", _severity(figure), where, (figure.start, figure.end), figure.text, detail))
    for figure in missing[len(extra) :]:
        detail = f"the source's {figure.describe()} is missing"
        findings.append(Finding("number", _severity(figure), where, (0, len(output)), figure.text, detail))
    return findings


def check_summary(supported: set, output: str, where: str) -> list[Finding]:
    """Figures of a summary that none of the article's figures (``supported``: their keys) support."""
    findings = []
    for figure in figures_of(output):
        if not figure.soft and not figure.keys & supported:
            detail = f"{figure.describe()} is not in the article"
            findings.append(Finding("number", "error", where, (figure.start, figure.end), figure.text, detail))
    return findings
