"""Every command the README and docs/*.md show — `python scripts/X.py …` and `python -m service …` — uses only
options its parser has, with values among its choices: a renamed or removed flag fails here, not in a reader's
terminal. Placeholders (OUT, PID, B …) and [optional] brackets are allowed."""

import argparse
import importlib
import re
import shlex

import pytest

from service.__main__ import build_parser

from .conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Code in Markdown: fenced blocks, indented blocks (one command a line, `\` continues it), and inline spans (which
# may wrap across lines).
BLOCKS = re.compile(r"^```[^\n]*\n(.*?)^```|((?:^(?: {4}|\t)[^\n]*\n?)+)", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")
COMMAND = re.compile(r"(?:^|\s|\()(?:\S*python3?\s+)?(scripts/\w+\.py|-m service)(?=\s|$)(.*)")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_.:]*")  # OUT, PID, IN.jsonl's kin, HEAD:6379


def code_lines(text: str) -> list[str]:
    lines = []
    for block in BLOCKS.finditer(text):
        body = re.sub(r"\\\n\s*", " ", block.group(1) or block.group(2))
        lines += body.splitlines()
    prose = BLOCKS.sub("", text)
    lines += [" ".join(span.split()) for span in INLINE.findall(prose)]
    return lines


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(document, program, argument words) of every command shown; shell operators and comments end a command."""
    found = []
    for doc in DOCS:
        for line in code_lines(doc.read_text(encoding="utf-8")):
            for part in re.split(r"&&|\|\||;|\s#\s|\|(?=\s)", line):
                if match := COMMAND.search(part):
                    words = shlex.split(match.group(2).replace("[", " ").replace("]", " "), posix=True)
                    found.append((doc.name, match.group(1), words))
    return found


class _Parser(Exception):
    def __init__(self, parser):
        self.parser = parser


def script_parser(script: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser a script's main() builds, taken at its parse_args call (nothing of the script runs after)."""
    module = importlib.import_module(script.removesuffix(".py").replace("/", "."))

    def capture(self, *args, **kwargs):
        raise _Parser(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Parser) as caught:
        module.main()
    monkeypatch.undo()
    return caught.value.parser


def service_parser(words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The subcommand's parser and the words after the subcommand."""
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert words and words[0] in commands.choices, f"no subcommand {words[:1]} (has {sorted(commands.choices)})"
    return commands.choices[words[0]], words[1:]


def bad_options(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """Options the parser does not have, and values outside an option's choices."""
    problems = []
    options = parser._option_string_actions  # argparse's table of every option string it accepts
    for index, word in enumerate(words):
        if not word.startswith("-") or word == "-":
            continue
        flag, _, inline = word.partition("=")
        action = options.get(flag)
        if action is None:
            problems.append(f"{flag}: no such option")
            continue
        value = inline or (words[index + 1] if index + 1 < len(words) and action.nargs != 0 else "")
        if action.choices and value and not PLACEHOLDER.fullmatch(value):
            problems += [f"{flag} {v}: not one of {sorted(action.choices)}" for v in value.split("|")
                         if v not in action.choices]  # fmt: skip
    return problems


COMMANDS = documented_commands()


def test_the_docs_show_commands_of_both_kinds():
    programs = {program for _, program, _ in COMMANDS}
    assert "-m service" in programs and {"scripts/benchmark.py", "scripts/make_test_models.py"} <= programs
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("doc,program,words", COMMANDS, ids=[f"{d}:{p} {' '.join(w)}" for d, p, w in COMMANDS])
def test_documented_command_parses(doc, program, words, monkeypatch):
    if program == "-m service":
        parser, words = service_parser(words)
    else:
        assert (ROOT / program).is_file(), f"{doc} shows {program}, which does not exist"
        parser = script_parser(program, monkeypatch)
    assert bad_options(parser, words) == [], f"{doc}: {program} {' '.join(words)}"


def test_a_removed_flag_or_choice_is_caught(monkeypatch):
    parser = script_parser("scripts/benchmark.py", monkeypatch)
    assert bad_options(parser, ["--quick", "--ct2", "int8"]) == []
    assert bad_options(parser, ["--quick", "--quantize", "int8"]) == ["--quantize: no such option"]
    [problem] = bad_options(parser, ["--ct2=int4"])
    assert problem.startswith("--ct2 int4: not one of ['bfloat16', 'float16', 'float32', 'int8'")
    subcommand, rest = service_parser(["summarize-file", "IN", "-o", "OUT", "--workers", "4"])
    assert bad_options(subcommand, rest) == ["--workers: no such option"]
