"""Careful reading of the small text files csrules loads (policies, holiday schedules).

A policy or schedule file may come from anywhere a user points the command
line at, so it is read defensively: only a regular file (never a FIFO, a
device or a directory, which could block or never end), at most
:data:`MAX_FILE_BYTES` bytes, strict UTF-8, and with its nesting bounded
before a parser sees it (deep nesting exhausts the parsers' recursion, and
very long dotted TOML keys take time that grows with the cube of their
length).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_KEY_PARTS",
    "MAX_NESTING",
    "FileRefusedError",
    "parse_json",
    "parse_toml",
    "read_text",
]

MAX_FILE_BYTES: Final = 1 << 20
"""The largest policy or schedule file read, in bytes (1 MiB)."""

MAX_NESTING: Final = 32
"""The deepest nesting of arrays and inline tables (or JSON arrays and objects) accepted."""

MAX_KEY_PARTS: Final = 64
"""The most dots outside quoted strings on one TOML line (so the longest dotted key)."""

_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK: Final = 1 << 16

# Lexical tokens of TOML that matter for nesting: strings and comments are
# skipped whole (whatever they contain), brackets, dots and newlines counted.
_TOML_TOKENS: Final = re.compile(
    r'"""(?:\\[\s\S]|[^\\"]|"(?!""))*"{3,5}'
    r"|'''(?:[^']|'(?!''))*'{3,5}"
    r'|"(?:\\.|[^"\\\n])*"'
    r"|'[^'\n]*'"
    r"|#[^\n]*"
    r"|[\[\]{}.\n]"
)
_JSON_TOKENS: Final = re.compile(r'"(?:\\.|[^"\\])*"|[\[\]{}\n]')


class FileRefusedError(Exception):
    """A file is not read or parsed (internal: callers raise their own error).

    Attributes:
        reason: what is wrong.
        where: the place in the file (``"line 3"``), or ``"-"`` for the whole file.
    """

    def __init__(self, reason: str, where: str = "-") -> None:
        self.reason = reason
        self.where = where
        super().__init__(reason)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"


def read_text(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> str:
    """The text of a regular UTF-8 file of at most ``limit`` bytes.

    The file is opened without blocking, checked to be a regular file and
    no larger than ``limit`` before anything is read, and at most
    ``limit + 1`` bytes are read (a file that grows, or reports a wrong size,
    is still refused).

    Raises:
        FileRefusedError: the file cannot be opened, is not a regular file,
            is too large or is not UTF-8.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        raise FileRefusedError(f"cannot read the file: {err.strerror or err}") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise FileRefusedError(f"cannot read the file: it is {kind}, not a regular file")
        too_large = f"the file is larger than {limit} bytes, the most accepted"
        if info.st_size > limit:
            raise FileRefusedError(f"{too_large} (it has {info.st_size})")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise FileRefusedError(too_large)
    except OSError as err:
        raise FileRefusedError(f"cannot read the file: {err.strerror or err}") from err
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        reason = (
            f"not UTF-8 text: the byte {raw[err.start]:#04x} at offset {err.start} "
            "cannot be decoded; save the file as UTF-8"
        )
        raise FileRefusedError(reason, f"line {line}") from err


def _check_nesting(text: str, tokens: re.Pattern[str], count_dots: bool) -> None:
    depth = 0
    line = 1
    dots = 0
    for match in tokens.finditer(text):
        token = match[0]
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                reason = (
                    f"nested more than {MAX_NESTING} levels deep "
                    "(arrays and tables inside one another)"
                )
                raise FileRefusedError(reason, f"line {line}")
        elif token in "]}":
            depth -= 1
        elif token == "\n":
            line += 1
            dots = 0
        elif token == ".":
            dots += 1
            if count_dots and dots > MAX_KEY_PARTS:
                reason = (
                    f"more than {MAX_KEY_PARTS} dots outside quoted strings on one line "
                    f"(a dotted key of more than {MAX_KEY_PARTS} parts)"
                )
                raise FileRefusedError(reason, f"line {line}")
        else:
            line += token.count("\n")


def _digits(err: BaseException) -> str:
    if isinstance(err, ValueError) and "digits" in str(err):
        return "a number has too many digits"
    return str(err)  # pragma: no cover - nesting is checked before parsing


def parse_toml(text: str) -> dict[str, Any]:
    """Parse TOML text whose nesting and dotted keys are within the limits.

    Raises:
        FileRefusedError: the text is too deeply nested or is not valid TOML.
    """
    _check_nesting(text, _TOML_TOKENS, count_dots=True)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FileRefusedError(f"not valid TOML: {err}") from err
    except (ValueError, RecursionError) as err:  # a number too long to convert, ...
        raise FileRefusedError(f"not valid TOML: {_digits(err)}") from err


def parse_json(text: str, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    """Parse JSON text whose nesting is within the limits.

    ``object_pairs_hook`` is passed to :func:`json.loads`; it should mark a
    problem in what it returns rather than raise.

    Raises:
        FileRefusedError: the text is too deeply nested or is not valid JSON.
    """
    _check_nesting(text, _JSON_TOKENS, count_dots=False)
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as err:
        raise FileRefusedError(f"not valid JSON: {err}") from err
    except (ValueError, RecursionError) as err:  # a number too long to convert, ...
        raise FileRefusedError(f"not valid JSON: {_digits(err)}") from err
