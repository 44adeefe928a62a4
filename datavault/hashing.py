"""Canonical text and hash rules of SEMANTICS.md section 1, engine-free.

This module is the one place where the hashing rule lives. SQLite calls it through functions
registered on the connection; the PostgreSQL dialect renders SQL that must give the same bytes,
which the property tests check against this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

ALGORITHMS = {"md5": 16, "sha256": 32}
ASCII_SPACE = " \t\r\n\f\v"
MISSING = "\\N"
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def zero_key(algorithm: str) -> bytes:
    """The all-zero key that stands for a business key whose parts are all missing."""
    return bytes(ALGORITHMS[algorithm])


def digest(text: str, algorithm: str) -> bytes:
    """Hash the UTF-8 bytes of ``text`` with MD5 or SHA-256."""
    return hashlib.new(algorithm, text.encode("utf-8")).digest()


def canonical(value: object, type_name: str) -> str:
    """The canonical text of one non-NULL value of a declared column type."""
    if type_name == "text":
        return str(value)
    if type_name == "integer":
        return str(int(value))  # type: ignore[call-overload]
    if type_name == "decimal":
        return decimal_text(Decimal(value))  # type: ignore[arg-type]
    if type_name == "date":
        assert isinstance(value, dt.date)
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if type_name == "timestamp":
        assert isinstance(value, dt.datetime)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
    if type_name == "boolean":
        return "true" if value else "false"
    if type_name == "uuid":
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    if type_name == "float":
        return float_text(float(value))  # type: ignore[arg-type]
    raise ValueError(f"unknown column type {type_name!r}")


def decimal_text(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing fraction zeros, ``0`` for zero."""
    if not value.is_finite():
        raise ValueError(f"decimal value {value} is not finite")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def float_text(value: float) -> str:
    """The shortest text that reads back to the same double.

    The digits are the shortest round-trip digits (Python's ``repr``); the layout is the one
    PostgreSQL prints (fixed notation for decimal exponents from -4 to 14, else ``d.ddde+XX``),
    so that both engines give the same text. A zero is ``0`` whatever its sign: -0.0 equals
    0.0, and SQLite keeps no sign on a stored zero.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    prefix = "-" if sign else ""
    if value == 0:
        return "0"
    text = "".join(map(str, digits)).rstrip("0") or "0"
    # decimal exponent of the first significant digit
    assert isinstance(exponent, int)
    point = len(digits) + exponent - 1
    stripped = text.lstrip("0")
    point -= len(text) - len(stripped)
    text = stripped
    if -4 <= point < 15:
        if point < 0:
            body = "0." + "0" * (-point - 1) + text
        elif point + 1 >= len(text):
            body = text + "0" * (point + 1 - len(text))
        else:
            body = text[: point + 1] + "." + text[point + 1 :]
        return prefix + body
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{prefix}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"


def escape(text: str) -> str:
    """Escape ``\\`` and ``|`` so that no two different lists of parts join to one string."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def key_part(value: object, type_name: str) -> str | None:
    """One business key part: trimmed, ASCII upper-cased, escaped; None when missing."""
    if value is None:
        return None
    text = canonical(value, type_name).strip(ASCII_SPACE).translate(_UPPER)
    if text == "":
        return None
    return escape(text)


def key_string(parts: Iterable[tuple[object, str]]) -> str | None:
    """The key string of (value, type) parts; None when every part is missing."""
    texts = [key_part(value, type_name) for value, type_name in parts]
    if all(text is None for text in texts):
        return None
    return "|".join(MISSING if text is None else text for text in texts)


def hash_key(parts: Sequence[tuple[object, str]], algorithm: str) -> bytes:
    """The hash key of a hub or link; the zero key when every part is missing."""
    text = key_string(parts)
    return zero_key(algorithm) if text is None else digest(text, algorithm)


def code_text(parts: Iterable[tuple[object, str]]) -> str | None:
    """The text of a reference table's code (SEMANTICS.md section 9): each part's canonical
    text, neither trimmed nor case-folded, escaped, joined with ``|``; None when a part is
    missing (NULL, or text that is empty or only ASCII white space). Two codes are one code
    exactly when their texts are equal (an integer ``007`` is ``7``; ``mm`` is not ``Mm``)."""
    texts = []
    for value, type_name in parts:
        if value is None:
            return None
        text = canonical(value, type_name)
        if type_name == "text" and not text.strip(ASCII_SPACE):
            return None
        texts.append(escape(text))
    return "|".join(texts)


def hash_diff_string(items: Iterable[tuple[str, object, str]]) -> str:
    """``name=value`` for every non-NULL payload column, sorted by name, joined with ``|``."""
    pairs = sorted(
        (name, escape(canonical(value, type_name)))
        for name, value, type_name in items
        if value is not None
    )
    return "|".join(f"{name}={text}" for name, text in pairs)


def hash_diff(items: Iterable[tuple[str, object, str]], algorithm: str) -> bytes:
    """The hash diff of a satellite row's payload."""
    return digest(hash_diff_string(items), algorithm)


def set_hash_diff(member_diffs: Iterable[bytes], algorithm: str) -> bytes:
    """The hash diff of a set of members (SEMANTICS.md section 7): their distinct hash diffs
    as lower-case hexadecimal, sorted, joined with ``|``, hashed; the empty set (a deletion)
    has the zero hash diff."""
    texts = sorted({bytes(d).hex() for d in member_diffs})
    return digest("|".join(texts), algorithm) if texts else zero_key(algorithm)
