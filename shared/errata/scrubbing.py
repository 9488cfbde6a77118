"""Server-side scrubbing of secrets and personal data, applied once, before anything is derived or stored.

SDKs filter some headers themselves when `send_default_pii` is off, but not query strings, form data,
messages or variables such as `secret_token`; an SDK with PII on, or an old one, filters nothing. So the
server does, before the title, culprit, routes and tags are taken from the event (a secret in a message
would otherwise show in the issue list). The rules are at least Relay's defaults:
- values of keys that name a secret (Relay's default fields: password, secret, passwd, api_key, apikey,
  auth, credentials, mysql_pwd, privatekey, private_key, token, session...), plus short names Relay misses
  (`pw`, `pwd`, `pass`, `db_pass`, `passphrase`, `sig`, `ssn`, `cvv`, `pin`);
- in any text: `key=value` and `"key": "value"` with such a key, `password is hunter2`, Bearer/Basic
  credentials, URL user info, PEM private keys, credit card numbers (Luhn-checked), US social security
  numbers, IBANs (mod-97 checked), and tokens known by their prefix (AWS access key ids, Stripe, GitHub,
  GitLab, Slack, Google API keys, npm, JWTs);
- a secret found in one place is filtered everywhere else it appears (the formatted message's password is
  also `logentry.params[1]` and a frame's local variable);
- IP addresses, when the project asks for it (Relay's `scrubIpAddresses`).
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

FILTERED = "[Filtered]"

# Substrings that make a key name sensitive (Sentry's DEFAULT_SCRUBBED_FIELDS and a few more).
_KEY_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "auth",
    "credential",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "private-key",
    "cookie",
    "session",
    "csrf",
    "signature",
    "x-forwarded-for",
    "x_forwarded_for",
    "x-real-ip",
    "x_real_ip",
    "jwt",
    "access_key",
    "secret_key",
)
# Whole words (split on `_`, `-`, `.`, spaces and camelCase) that are sensitive only on their own: `pass`,
# not `passenger`; `sig`, not `design`.
_KEY_TOKENS = frozenset(
    {"pw", "pwd", "pass", "sig", "ssn", "cvv", "cvc", "pin", "otp", "sid", "passcode", "2fa", "mfa", "sas"}
)
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
_BEARER = re.compile(r"\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+@")
# `token=abc` in any text: query strings quoted in URLs, reprs of requests, form bodies, log lines.
# The look-behind starts a key only where a word starts: a 16 KB word is one attempt, not 16,000.
_KEY = r"(?<![\w.-])(?P<key>[A-Za-z_][\w.-]*)"
_KEY_VALUE = re.compile(_KEY + r"(?P<sep>\s*=\s*|\s*:(?!//)\s*)(?P<value>[^&\s'\"<>,;)\]}]+)")
# `secret_token = "tok_live_abc"` in source context lines and logged dicts.
_KEY_QUOTED = re.compile(_KEY + r"(?P<sep>[\"']?\s*[:=]\s*)(?P<quote>[\"'])(?P<value>[^\"'\n]*)(?P=quote)")
# Free text: `password is hunter2`, `the api key was abc123`, `password hunter2`.
_PROSE = re.compile(
    r"\b(?P<key>pass(?:word|wd|phrase|code)?|secret|api[ _-]?key|token|pin)\b(?P<sep>\s+(?:is|was|=|:)?\s*)"
    r"(?P<value>(?!is\b|was\b|for\b|of\b|\[Filtered\])[^\s,;.'\"]{3,})",
    re.IGNORECASE,
)
_KNOWN_TOKENS = re.compile(
    r"\b(?:"
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}"  # AWS access key ids
    r"|(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|npm_[A-Za-z0-9]{36}"  # npm
    r"|errata_[A-Za-z0-9_-]{40,}"  # Errata's own API tokens
    r"|eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"  # JWTs
    r")\b"
)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-fA-F]{1,4}:)+:")
# What a match of each rule must contain (the prefilter of _Scrubber.text): one search of literals each.
_WITHOUT_DIGITS = str.maketrans("", "", "0123456789")
_BEARER_WORDS = re.compile("bearer|basic|token|digest")
_PROSE_WORDS = re.compile("pass|secret|api|token|pin")
_KNOWN_TOKEN_HINTS = re.compile(
    r"A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA|Iza)|_live_|_test_|gh|glpat-|xox|npm_|errata_|eyJ"
)
_IP_KEYS = frozenset({"ip_address", "remote_addr", "client_ip", "ip"})
# Strings the rules left as they were, per container: events of one issue repeat most of theirs (frames'
# context lines, breadcrumbs, headers), and a string no rule changed made no rule remember a secret either
# (each rule that remembers one replaces it), so it is returned at once. Bounded: emptied when full.
_CLEAN: set[tuple[bool, str]] = set()
_CLEAN_KEPT = 20_000
_CLEAN_MAX_CHARS = 512
_MAX_DEPTH = 128
# A secret is searched for elsewhere only when it looks like one: long enough ("1234" would filter line
# numbers) and not a plain word ("failed" after `auth:` is not a password worth filtering everywhere).
_MIN_PROPAGATED = 6
_PLAIN_WORD = re.compile(r"[a-z]+|[A-Z][a-z]+")
# Fields that name code, not data: grouping and symbolication read them, a secret is never one of them.
_CODE_FIELDS = frozenset({"function", "raw_function", "symbol", "module", "package", "filename", "abs_path", "type"})


def scrub_event(payload: dict[str, Any], *, scrub_ip_addresses: bool = False) -> dict[str, Any]:
    """A copy of the event with sensitive keys and values filtered; the input is not changed."""
    scrubber = _Scrubber(scrub_ip_addresses)
    scrubbed = scrubber.value(payload, 0, None)
    request = scrubbed.get("request")
    if isinstance(request, dict) and isinstance(request.get("query_string"), str):
        request["query_string"] = _scrub_query(request["query_string"])
    if scrubber.found:
        scrubbed = scrubber.propagate(scrubbed)
    return scrubbed  # type: ignore[no-any-return]


def scrub_text(text: str, *, scrub_ip_addresses: bool = False) -> str:
    """One string scrubbed by the text rules (a route, a message outside an event)."""
    return _Scrubber(scrub_ip_addresses).text(text)


def is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and _is_sensitive_name(key)


@functools.lru_cache(maxsize=8192)
def _is_sensitive_name(key: str) -> bool:
    """Cached: an event repeats the same few hundred key names (`function`, `lineno`, header names), and
    this check was a third of the scrubbing's CPU."""
    if not key:
        return False
    lowered = key.lower()
    if any(word in lowered for word in _KEY_WORDS):
        return True
    return any(token in _KEY_TOKENS for token in _TOKEN_SPLIT.split(_CAMEL.sub("_", key).lower()))


class _Scrubber:
    def __init__(self, scrub_ip_addresses: bool) -> None:
        self._ips = scrub_ip_addresses
        self.found: set[str] = set()

    def value(self, value: Any, depth: int, key: object) -> Any:
        if depth > _MAX_DEPTH:
            return FILTERED
        if isinstance(value, dict):
            return {k: self._keyed(k, item, depth) for k, item in value.items()}
        if isinstance(value, list):
            # Headers and tags may come as [name, value] pairs.
            if len(value) == 2 and isinstance(value[0], str) and is_sensitive_key(value[0]) and _has_content(value[1]):
                self._remember(value[1])
                return [value[0], FILTERED]
            return [self.value(item, depth + 1, key) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _keyed(self, key: Any, item: Any, depth: int) -> Any:
        if self._ips and key in _IP_KEYS and isinstance(item, str):
            return None  # removed, as Relay does: "[Filtered]" would make every such user one user
        if _has_content(item) and is_sensitive_key(key):
            self._remember(item)
            return FILTERED
        return self.value(item, depth + 1, key)

    def _remember(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            return
        text = str(value)
        if len(text) >= _MIN_PROPAGATED and text != FILTERED and not _PLAIN_WORD.fullmatch(text):
            self.found.add(text)

    def text(self, text: str) -> str:
        """Each rule runs only where the text holds what any match of it must hold (a `=` or `:` for a
        key-value, 9 digits for a social security number, ...): most strings of an event hold none, and
        eleven regex passes over every string were most of the processor's CPU. A rule's replacement adds
        only `[Filtered]`, which holds none of these, so testing the text as it came in skips no match."""
        if len(text) < 3 or (self._ips, text) in _CLEAN:
            return text
        scrubbed = self._rules(text)
        if scrubbed == text and len(text) <= _CLEAN_MAX_CHARS:
            if len(_CLEAN) >= _CLEAN_KEPT:
                _CLEAN.clear()
            _CLEAN.add((self._ips, text))
        return scrubbed

    def _rules(self, text: str) -> str:
        # Outside ASCII, a case-insensitive rule matches more than lower() shows (the Kelvin sign is a `k`)
        # and `\d` matches every script's digits: there, every rule runs.
        ascii_text = text.isascii()
        lowered = text.lower() if ascii_text else ""
        digits = len(text) - len(text.translate(_WITHOUT_DIGITS)) if ascii_text else 99
        if "PRIVATE KEY-----" in text:
            text = _PEM.sub(FILTERED, text)
        if not ascii_text or _BEARER_WORDS.search(lowered):
            text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
        if "://" in text and "@" in text:
            text = _URL_USERINFO.sub(f"{FILTERED}@", text)
        if _KNOWN_TOKEN_HINTS.search(text):
            text = _KNOWN_TOKENS.sub(self._filter_match, text)
        if "=" in text or ":" in text:
            if "'" in text or '"' in text:
                text = _KEY_QUOTED.sub(self._keyed_match, text)
            text = _KEY_VALUE.sub(self._keyed_match, text)
        if not ascii_text or _PROSE_WORDS.search(lowered):
            text = _PROSE.sub(self._prose_match, text)
        if digits >= 13:
            text = _CARD.sub(_filter_card, text)
        if digits >= 9:
            text = _SSN.sub(FILTERED, text)
        if digits >= 2 and len(text) >= 12:
            text = _IBAN.sub(_filter_iban, text)
        if self._ips and ("." in text or ":" in text):
            text = _IPV6.sub(FILTERED, _IPV4.sub(FILTERED, text))
        return text

    def _filter_match(self, match: re.Match[str]) -> str:
        self._remember(match.group(0))
        return FILTERED

    def _keyed_match(self, match: re.Match[str]) -> str:
        if not is_sensitive_key(match.group("key")) or match.group("value") == FILTERED:
            return match.group(0)
        self._remember(match.group("value"))
        quote = match.groupdict().get("quote") or ""
        return f"{match.group('key')}{match.group('sep')}{quote}{FILTERED}{quote}"

    def _prose_match(self, match: re.Match[str]) -> str:
        self._remember(match.group("value"))
        return f"{match.group('key')}{match.group('sep')}{FILTERED}"

    def propagate(self, value: Any) -> Any:
        """Every other occurrence of a secret found above, filtered too (iteratively, in place)."""
        secrets = sorted(self.found, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(s) for s in secrets))
        stack = [value]
        while stack:
            node = stack.pop()
            entries: Any = node.items() if isinstance(node, dict) else enumerate(node)
            for key, item in list(entries):
                if key in _CODE_FIELDS:
                    continue
                if isinstance(item, str) and item != FILTERED and pattern.search(item):
                    node[key] = pattern.sub(FILTERED, item)
                elif isinstance(item, int) and not isinstance(item, bool) and str(item) in self.found:
                    node[key] = FILTERED
                elif isinstance(item, dict | list):
                    stack.append(item)
        return value


def _filter_card(match: re.Match[str]) -> str:
    # Only numbers that pass the Luhn check: millisecond timestamps and order ids are not cards.
    digits = [int(c) for c in match.group(0) if c.isdigit()]
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return FILTERED if total % 10 == 0 else match.group(0)


def _filter_iban(match: re.Match[str]) -> str:
    # ISO 13616: move the country and check digits to the end, letters to numbers, the remainder mod 97 is 1.
    compact = match.group(0).replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return match.group(0)
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return FILTERED if int(number) % 97 == 1 else match.group(0)


def _scrub_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return query
    return urlencode([(key, FILTERED if is_sensitive_key(key) else value) for key, value in pairs], safe="[]")


def _has_content(value: Any) -> bool:
    return value not in (None, "", [], {})
