"""Simplified characters for matching: traditional → simplified, length for length (OpenCC `t2s`, Apache-2.0).

Rules, cues and the gazetteer are written in simplified characters; documents arrive in either script.
Matching runs on the simplified view while facts keep offsets into the staged text, so the view must have
the staged text's length: OpenCC converts phrase by phrase, and a line where a phrase conversion changed
the length is converted character by character instead.
"""

from __future__ import annotations

import re
import threading

import opencc

_LOCAL = threading.local()  # one converter per thread (extraction runs in threads in a backfill)


def _convert(text: str) -> str:
    converter = getattr(_LOCAL, "converter", None)
    if converter is None:
        converter = _LOCAL.converter = opencc.OpenCC("t2s")
    return str(converter.convert(text))


# Variant forms OpenCC's t2s leaves as they are (陜西 for 陕西 on Taiwanese and converter pages), one for one.
_VARIANTS = dict(zip("陜衞淸靑鄕郷槪偸", "陕卫清青乡乡概偷", strict=True))
_VARIANT = re.compile(f"[{''.join(_VARIANTS)}]")


def _fold_variants(text: str) -> str:
    return _VARIANT.sub(lambda m: _VARIANTS[m.group()], text) if _VARIANT.search(text) else text


def to_simplified(text: str) -> str:
    """`text` in simplified characters, with exactly its length (an offset into one is one into the other)."""
    out = _fold_variants(_convert(text))
    if len(out) == len(text):
        return out
    lines = []
    for line in text.split("\n"):
        converted = _convert(line)
        if len(converted) != len(line):
            converted = "".join(c if len(c := _convert(ch)) == 1 else ch for ch in line)
        lines.append(converted)
    return _fold_variants("\n".join(lines))
