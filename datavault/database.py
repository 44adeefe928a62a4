"""Engines: URL resolution, per-connection preparation, and readable connection errors; and
URLs as they are shown, with their secrets masked.

A URL's password (``user:password@``) and its secret query parameters (``password=``,
``sslpassword=``, ``token=``, ``api_key=``, ...) never leave the process in clear: every
place that prints, logs or stores a URL shows it by ``shown_url``, and every message that may
repeat one (a driver's error, a batch's failure) goes through ``redact``.

What the toolkit composes from a URL (``shown_url``; a database input's description, which the
batch ledger stores) is masked by its structure only, never by looking for a secret's value:
a password that is also the user's name or a table's keeps those as they are. Text from
outside (a driver's error, an exception's text, a log record) has its URLs masked by their
structure too, and the rest of it by the values of the secrets this process has seen.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from datavault.diagnostics import DatavaultError
from datavault.dialects import DEFAULT, Dialect, get_dialect
from datavault.model import Settings


def resolve_url(project_root: Path, settings: Settings, url: str | None,
                profile: str | None = None) -> str:
    """The database URL: --url, else DATAVAULT_URL, else the config's profile, else the
    default engine's file in the project (``dialects.DEFAULT``).

    Every place that was tried is named when none gives a URL.
    """
    if url:
        return _in_project(url, project_root)
    if os.environ.get("DATAVAULT_URL"):
        return _in_project(os.environ["DATAVAULT_URL"], project_root)
    profiles = dict(settings.profiles)
    chosen = profile or os.environ.get("DATAVAULT_PROFILE") or settings.profile
    if chosen:
        if chosen not in profiles:
            raise DatavaultError(
                f"unknown profile {chosen!r}; config/datavault.yml defines: "
                f"{', '.join(profiles) or 'none'}"
            )
        body = dict(profiles[chosen])
        if "url" in body:
            return _in_project(body["url"], project_root)
        variable = body["url_env"]
        if not os.environ.get(variable):
            raise DatavaultError(
                f"profile {chosen!r} reads its URL from ${variable}, which is not set; "
                f"set it, or pass --url, or set DATAVAULT_URL"
            )
        return _in_project(os.environ[variable], project_root)
    return get_dialect(DEFAULT).default_url(project_root)


def _in_project(url: str, project_root: Path) -> str:
    """``url`` as its engine reads it from the project (a relative database file is in the
    project folder)."""
    parsed = with_driver(url)
    try:
        dialect = get_dialect(parsed.get_backend_name())
    except DatavaultError:  # connecting says so
        return url
    resolved = dialect.resolve_url(parsed, project_root)
    return url if resolved is parsed else resolved.render_as_string(hide_password=False)


def with_driver(url: str) -> sa.URL:
    """Parse a URL, giving it the driver the toolkit installs when it names none.

    A malformed URL is reported without repeating it: it may hold a password.
    """
    parsed = _parse(url)
    if "+" not in parsed.drivername:
        try:
            driver = get_dialect(parsed.drivername).default_driver
        except DatavaultError:
            driver = None
        if driver:
            parsed = parsed.set(drivername=driver)
    return parsed


def vault_dialect(url: str) -> Dialect:
    """The dialect of a vault's URL (an unknown engine refused before anything connects)."""
    return get_dialect(with_driver(url).get_backend_name())


def connect(url: str) -> tuple[sa.Engine, Dialect]:
    """An engine whose connections are prepared by the URL's dialect, checked by one query."""
    parsed = with_driver(url)
    dialect = get_dialect(parsed.get_backend_name())
    try:
        engine = sa.create_engine(parsed, **dialect.engine_options())
    except Exception as exc:
        raise DatavaultError(f"cannot use database URL {shown_url(parsed)}: "
                             f"{redact(str(exc))}") from None
    dialect.adapt(engine.dialect)

    @event.listens_for(engine, "connect")
    def _prepare(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dialect.prepare_connection(dbapi_connection)

    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatavaultError(f"cannot connect to {shown_url(parsed)}: {redact(reason)}") from None
    return engine, dialect


# ---- secrets ----------------------------------------------------------------------------
MASK = "***"
#: what stands for a URL that cannot be read, so cannot be masked part by part
MALFORMED = "(a malformed database URL, not shown: it may hold a password)"
# query parameters whose value is a secret, by a part of their name (any case; "_" and "-"
# left out): password, passwd, sslpassword, passphrase, pwd, secret, client_secret, token,
# access_token, credentials, api_key, apikey; and a name ending or starting in "key" (key,
# sslkey, private_key, account_key, ...), and the signature of a signed URL
_SECRET_PARTS = ("pass", "pwd", "secret", "token", "credential", "apikey")
_SECRET_NAMES = ("sig", "signature", "auth", "authorization")
# a rendered placeholder that quote_plus leaves as it is, replaced by MASK afterwards
_PLACEHOLDER = "datavaultmaskedsecret"
# text that starts like a URL (a scheme, then ://), up to a space or a quote, without the
# punctuation of the sentence around it
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"]*[^\s'".,;:)\]}>]""")
# a malformed URL's parts that may be secrets: the password of user:password@ (which runs to
# the last @ before the query), query values
_USER_COLON = re.compile(r"://[^/?#@:\s]*:")
_PARAMETER = re.compile(r"[?&;]([^=&;#\s]+)=([^&;#\s]*)")
# secrets of fewer characters are masked inside URLs only: replacing them anywhere in a text
# would mangle it
_SHORTEST_MASKED_ANYWHERE = 4
# the secrets of every URL this process has parsed, in each form a message may show them, and
# a pattern that finds any of them where it is not part of a longer word
_seen_secrets: set[str] = set()
_seen_pattern: re.Pattern[str] | None = None


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter of this name holds a secret (any case)."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return (any(part in key for part in _SECRET_PARTS) or key.endswith("key")
            or key.startswith("key") or key in _SECRET_NAMES)


def shown_url(url: str | sa.URL) -> str:
    """A URL as it may be printed, logged or stored: user, host, port, database and other
    parameters as they are, the password and every secret query parameter as ``***``. A
    URL without secrets is returned as it was given; a malformed one is not shown at all."""
    if isinstance(url, str):
        try:
            parsed = _parse(url)
        except DatavaultError:
            return MALFORMED
    else:
        parsed = url
        _remember(parsed)
    secret = [name for name in parsed.query if is_secret_parameter(name)]
    if parsed.password is None and not secret:
        return url if isinstance(url, str) else parsed.render_as_string(hide_password=False)
    masked = parsed.update_query_dict(
        {name: _masked(parsed.query[name]) for name in secret})
    return masked.render_as_string(hide_password=True).replace(_PLACEHOLDER, MASK)


def mask_urls(text: str) -> str:
    """``text`` with every URL in it shown by ``shown_url``, and nothing else changed: for
    text the toolkit composes (a database input's description, as the ledger stores it)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda match: _shown_in_text(match.group(0))[0], text)


def redact(text: str) -> str:
    """``text`` with every URL in it shown by ``shown_url``, and every secret of the URLs
    this process has parsed replaced by ``***`` outside those URLs (a URL's user name, or a
    parameter that is not a secret, stays as it is even when it equals a password): for
    messages from outside that may repeat a URL or its parts (a driver's error, an
    exception's text, a log record)."""
    # the URLs are read first, so that the secrets they hold are known for the rest
    pieces: list[tuple[str, bool]] = []  # (text, whether secrets' values are masked in it)
    outside = 0
    for match in (_URL_IN_TEXT.finditer(text) if "://" in text else ()):
        shown, structural = _shown_in_text(match.group(0))
        pieces += [(text[outside:match.start()], True), (shown, not structural)]
        outside = match.end()
    pieces.append((text[outside:], True))
    pattern = _seen_pattern
    return "".join(pattern.sub(MASK, piece) if by_value and pattern is not None else piece
                   for piece, by_value in pieces)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record with its message redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def redact_logging() -> None:
    """Redact what every handler of the root logger writes (after a ``fileConfig``)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def _parse(url: str) -> sa.URL:
    """``make_url``, remembering the URL's secrets; a malformed URL is a DatavaultError that
    does not repeat it (nor the exception's text, which may)."""
    password = _userinfo_password(url) if isinstance(url, str) else None
    try:
        if password is not None and "@" in password:  # else read as far as its first @
            raise ValueError("an @ in the password")
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError) as exc:
        _remember_malformed(url)
        reason = ("an @ in the password or the database name must be percent-encoded as %40"
                  if str(exc) == "an @ in the password" else
                  "its port is not a number" if "int()" in str(exc) else
                  "expected dialect+driver://user@host:port/database")
        raise DatavaultError(f"not a database URL ({reason}; the URL is not shown, as it "
                             "may hold a password)") from None
    _remember(parsed)
    return parsed


def _masked(value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    return _PLACEHOLDER if isinstance(value, str) else tuple(_PLACEHOLDER for _ in value)


def _shown_in_text(text: str) -> tuple[str, bool]:
    """A URL found in a text as it may be shown, and whether it was masked by its structure
    (a URL that cannot be read is hidden when a part of it may be a secret, else kept as
    it is, to be masked by the values of the secrets seen)."""
    try:
        _parse(text)
    except DatavaultError:
        return (MALFORMED, True) if _secrets_of_malformed(text) else (text, False)
    return shown_url(text), True


def _remember(parsed: sa.URL) -> None:
    values = [] if parsed.password is None else [str(parsed.password)]
    for name, value in parsed.query.items():
        if is_secret_parameter(name):
            values += [value] if isinstance(value, str) else list(value)
    _remember_values(values)


def _remember_malformed(url: str) -> None:
    values = _secrets_of_malformed(url)
    _remember_values(values + [unquote(v) for v in values] + [unquote_plus(v) for v in values])


def _secrets_of_malformed(url: str) -> list[str]:
    """What may be secrets in a URL that cannot be read: a password before @ (and each part
    of it between @s, as a parser that stops at the first @ would split it), the values of
    secret query parameters."""
    password = _userinfo_password(url)
    values = [password, *password.split("@")] if password else []
    return [v for v in values if v] + [value for name, value in _PARAMETER.findall(url)
                                       if value and is_secret_parameter(name)]


def _userinfo_password(url: str) -> str | None:
    """The text between the user's ``:`` and the last ``@`` before the query, as given: the
    password of ``user:password@host``, also when an ``@`` in it is not percent-encoded."""
    user = _USER_COLON.search(url)
    if user is None:
        return None
    rest = url[user.end():]
    first = rest.find("@")
    if first < 0:
        return None
    query = rest.find("?", first)
    return rest[:(rest if query < 0 else rest[:query]).rindex("@")]


def _remember_values(values: list[str]) -> None:
    global _seen_pattern
    forms = {form for value in values
             for form in (value, quote(value, safe=""), quote_plus(value),
                          quote(value, safe=" +"))
             if len(form) >= _SHORTEST_MASKED_ANYWHERE and form != quote(MASK, safe="")}
    if forms - _seen_secrets:
        _seen_secrets.update(forms)
        _seen_pattern = re.compile("|".join(
            _bounded(form) for form in sorted(_seen_secrets, key=len, reverse=True)))


def _bounded(secret: str) -> str:
    """A pattern of ``secret`` where it is not a part of a longer word (``postgres`` as a
    password leaves ``postgresql`` alone)."""
    before = r"(?<![A-Za-z0-9])" if secret[0].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if secret[-1].isalnum() else ""
    return before + re.escape(secret) + after
