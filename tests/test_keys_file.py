"""Keys that would run the service open or accept an empty credential stop it at start-up, naming the place and never
the key: blank after stripping any whitespace or invisible character, or holding a character no header carries."""

import json
import subprocess
import sys

import pytest

from service.config import InvalidSetting, Settings

from .conftest import ROOT, free_port, service_env

# Every spelling of "no key": empty, ASCII and Unicode whitespace, zero-width characters and BOMs, as JSON
# escapes, in a JSON string line or an object's "key" (a plain line of them is a blank line: skipped).
BLANK_KEYS = {
    "empty JSON string": '""',
    "JSON string of spaces and a tab": '" \\t "',
    "object with an empty key": '{"key": ""}',
    "object with a tab": '{"key": "\\t", "name": "cms"}',
    "object with NBSP and ideographic space": '{"key": "\\u00a0\\u3000"}',
    "object with em space": '{"key": "\\u2003"}',
    "zero-width space as a JSON escape": '"\\u200b"',
    "zero-width joiner and BOMs as JSON escapes": '"\\u200d\\ufeff\\ufeff"',
    "object with a word joiner and a BOM": '{"key": "\\u2060\\ufeff"}',
}
UNSENDABLE_KEYS = {
    "NUL inside": '{"key": "ab\\u0000cd"}',
    "control character, raw": "ab\x01cd",
    "escape character": '"ab\\u001bcd"',
    "DEL": "ab\x7fcd",
    "NBSP inside": "ab\u00a0cd",
    "zero-width space inside": "ab\u200bcd",
    "space inside": "ab cd",
    "non-ASCII letter": "schlüssel",
}


def settings_of(tmp_path, lines: list[str], **env) -> Settings:
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Settings(api_keys_file=keys, **env)


@pytest.mark.parametrize("line", BLANK_KEYS.values(), ids=BLANK_KEYS.keys())
def test_a_blank_key_alone_or_among_good_ones_is_refused(tmp_path, line):
    for lines, number in (([line], 1), (["good-key-1", line, '{"key": "good-key-2", "name": "cms"}'], 2)):
        with pytest.raises(InvalidSetting, match=f"line {number}: the key is blank"):
            settings_of(tmp_path, lines).accepted_keys()


@pytest.mark.parametrize("line", UNSENDABLE_KEYS.values(), ids=UNSENDABLE_KEYS.keys())
def test_a_key_with_a_character_no_header_carries_is_refused_without_showing_it(tmp_path, line):
    with pytest.raises(InvalidSetting, match="line 2: the key holds U\\+") as raised:
        settings_of(tmp_path, ["good-key", line]).accepted_keys()
    assert "ab" not in str(raised.value) and "schl" not in str(raised.value)


@pytest.mark.parametrize("key", ["", " ", "\t", "\u00a0", "\u3000", "\u200b", "\ufeff", {"key": "\u2003"}, "a\x00b"])
def test_blank_or_unsendable_keys_in_the_environment_are_refused(key):
    with pytest.raises(InvalidSetting, match="SUMMARIZER_API_KEYS item 2"):
        Settings(api_keys=["good-key", key]).accepted_keys()


def test_invisible_characters_around_a_key_are_stripped_and_lines_of_them_skipped(tmp_path):
    lines = ["\ufeff\u00a0key-one\u200b\u3000", "\u200b", "\u2003", '"key-two"', '{"key": "\\ufeffkey-three\\t"}']
    assert [k.key for k in settings_of(tmp_path, lines).accepted_keys()] == ["key-one", "key-two", "key-three"]
    with pytest.raises(InvalidSetting, match="holds no key"):  # a file of invisible lines only gives no key
        settings_of(tmp_path, ["\u200b", "\u00a0\t", "\ufeff"]).accepted_keys()


@pytest.mark.parametrize("content", ['""', '{"key": " "}', '"\\u200b"', 'good-key\n{"key": "\\u3000"}'],
                         ids=["empty string", "object of a space", "zero-width space", "blank among good"])  # fmt: skip
def test_serve_stops_with_exit_2_on_a_blank_key(tmp_path, content):
    keys = tmp_path / "keys.txt"
    keys.write_text(content + "\n", encoding="utf-8")
    env = service_env(api_keys_file=keys, offline="true", models_dir=tmp_path / "models", port=free_port())
    done = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "the key is blank" in done.stderr.strip().splitlines()[-1]


def test_serve_stops_on_a_blank_key_in_the_environment(tmp_path):
    env = service_env(api_keys=json.dumps(["good-key", "\u00a0"]), offline="true", models_dir=tmp_path / "m",
                      port=free_port())  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "SUMMARIZER_API_KEYS item 2: the key is blank" in done.stderr
