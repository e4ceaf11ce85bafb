"""The ``channels`` command's ``pattern``: a glob as Centrifugo reads it
(gobwas/glob without separators): ``*`` any run of characters, ``?`` one
character, ``[abc]``/``[a-z]``/``[!abc]`` a character class, ``{a,b}`` one
of the alternatives, ``\\`` escapes the next character.

Matching is linear-time per alternative (the two-pointer walk that goes
back to the last ``*`` only), never a regular expression a hostile pattern
could make exponential; a pattern is at most :data:`MAX_PATTERN` characters
and :data:`MAX_ALTERNATIVES` expansions, else ``bad request``.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.dialects.v2api.errors import BAD_REQUEST, ApiError

MAX_PATTERN = 512
MAX_ALTERNATIVES = 64


@dataclass(frozen=True, slots=True)
class _Class:
    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def has(self, char: str) -> bool:
        return any(low <= char <= high for low, high in self.ranges) != self.negated


#: A token: a literal character, "?" (any one), "*" (any run) or a class.
_Token = str | _Class
_ANY = "\x00?"
_STAR = "\x00*"


def _bad(why: str) -> ApiError:
    return ApiError(BAD_REQUEST, f"bad request: pattern: {why}")


def _expand(pattern: str) -> list[str]:
    """The pattern with its ``{a,b}`` groups expanded (escapes kept)."""
    depth, start, i = 0, -1, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                return _expand_group(pattern, start, i)
        i += 1
    if depth:
        raise _bad("unclosed {")
    return [pattern]


def _expand_group(pattern: str, start: int, end: int) -> list[str]:
    parts, depth, last, i = [], 0, start + 1, start + 1
    while i < end:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        depth += char == "{"
        depth -= char == "}"
        if char == "," and depth == 0:
            parts.append(pattern[last:i])
            last = i + 1
        i += 1
    parts.append(pattern[last:end])
    out: list[str] = []
    for part in parts:
        out += _expand(pattern[:start] + part + pattern[end + 1:])
        if len(out) > MAX_ALTERNATIVES:
            raise _bad("too many alternatives")
    return out


def _class(pattern: str, i: int) -> tuple[_Class, int]:
    """The class starting after ``[`` at ``i``; the index after its ``]``."""
    negated = i < len(pattern) and pattern[i] == "!"
    i += negated
    ranges: list[tuple[str, str]] = []
    while i < len(pattern) and pattern[i] != "]":
        low = pattern[i + 1] if pattern[i] == "\\" and i + 1 < len(pattern) else pattern[i]
        i += 2 if pattern[i] == "\\" else 1
        high = low
        if i + 1 < len(pattern) and pattern[i] == "-" and pattern[i + 1] != "]":
            high = pattern[i + 1]
            i += 2
        ranges.append((low, high))
    if i >= len(pattern):
        raise _bad("unclosed [")
    return _Class(tuple(ranges), negated), i + 1


def _tokens(pattern: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        elif char == "*":
            if not out or out[-1] != _STAR:
                out.append(_STAR)
            i += 1
        elif char == "?":
            out.append(_ANY)
            i += 1
        elif char == "[":
            token, i = _class(pattern, i + 1)
            out.append(token)
        else:
            out.append(char)
            i += 1
    return out


def _one(token: _Token, char: str) -> bool:
    if isinstance(token, _Class):
        return token.has(char)
    return token == _ANY or token == char


def _matches(tokens: list[_Token], text: str) -> bool:
    t = s = 0
    star, mark = -1, 0
    while s < len(text):
        if t < len(tokens) and tokens[t] == _STAR:
            star, mark = t, s
            t += 1
        elif t < len(tokens) and _one(tokens[t], text[s]):
            t += 1
            s += 1
        elif star >= 0:
            t, mark = star + 1, mark + 1
            s = mark
        else:
            return False
    while t < len(tokens) and tokens[t] == _STAR:
        t += 1
    return t == len(tokens)


class Pattern:
    """A compiled pattern; ``ApiError(bad request)`` for one that does not
    compile or is too large."""

    __slots__ = ("_alternatives",)

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_PATTERN:
            raise _bad("too long")
        self._alternatives = [_tokens(p) for p in _expand(pattern)]

    def match(self, name: str) -> bool:
        return any(_matches(tokens, name) for tokens in self._alternatives)
