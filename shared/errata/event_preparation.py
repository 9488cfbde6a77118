"""One event from the stream made ready to count: every step that reads or changes the payload, in order.

1. normalize (errata.normalization): every field within the limits its storage allows;
2. a stack trace printed in a message becomes frames (errata.stacktrace_text);
3. symbolicate: minified JavaScript and ProGuard frames name the original code;
4. scrub (errata.scrubbing): before anything is derived, so no title, culprit, route, tag or user key holds
   a secret;
5. fingerprint (errata.grouping): the issue, its title and culprit.

The processor runs this per record; the fuzz tests run it on hostile events, so both exercise one path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from errata.grouping.fingerprint import Grouping, fingerprint_event
from errata.grouping.rules import parse_rules
from errata.models.event import SentryEvent
from errata.normalization import normalize_event
from errata.scrubbing import scrub_event
from errata.stacktrace_text import attach_text_stacktrace
from errata.store.projects import ProjectSettings

if TYPE_CHECKING:
    from errata.symbolication.symbolicator import Symbolicator


@dataclass(frozen=True)
class PreparedEvent:
    payload: dict[str, Any]  # what is stored: normalized, symbolicated, scrubbed
    event: SentryEvent  # the typed view of that payload
    grouping: Grouping


def prepare_event(
    project_id: str,
    payload: dict[str, Any],
    settings: ProjectSettings,
    symbolicator: Symbolicator | None = None,
) -> PreparedEvent:
    """`payload` is the client's event; it is changed in place."""
    payload = normalize_event(payload)
    payload = attach_text_stacktrace(SentryEvent.model_validate(payload), payload)
    if symbolicator is not None:
        symbolicator.symbolicate(project_id, payload)
    payload = scrub_event(payload, scrub_ip_addresses=settings.scrub_ip_addresses)
    event = SentryEvent.model_validate(payload)
    return PreparedEvent(payload, event, fingerprint_event(event, parse_rules(settings.fingerprint_rules)))
