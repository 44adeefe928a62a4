"""Where the shipped templates and the example project are, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def _first(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"none of {', '.join(map(str, candidates))} exists")


def templates_dir() -> Path:
    """The shipped SQL templates (inside the wheel, or the checkout's templates/)."""
    return _first(PACKAGE / "_shipped" / "templates", CHECKOUT / "templates")


def example_dir() -> Path:
    """The example project that ``init`` writes and ``demo`` loads."""
    shipped = PACKAGE / "_shipped" / "example"
    if shipped.is_dir():
        return shipped
    return CHECKOUT
