"""Release order, for regressions: is release B later than release A?

Semantic versions compare as such (`myapp@1.10.0` > `myapp@1.9.2`; the package prefix before `@` and a
leading `v` are ignored). Anything else (git SHAs, build numbers, dates) is ordered by when the release was
deployed, else first seen, from the releases table.
"""

from __future__ import annotations

from collections.abc import Mapping

import semver


def semantic_version(release: str) -> semver.Version | None:
    text = release.rsplit("@", 1)[-1].strip()
    text = text[1:] if text[:1] in ("v", "V") else text
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def is_later_release(candidate: str, baseline: str, order: Mapping[str, str]) -> bool:
    """`order` maps a release to its deploy (or first-seen) time, ISO 8601: the fallback when either side is
    not a semantic version. An unknown release is not called later: no regression on a guess."""
    if candidate == baseline:
        return False
    new, old = semantic_version(candidate), semantic_version(baseline)
    if new is not None and old is not None:
        return new > old
    if candidate in order and baseline in order:
        return order[candidate] > order[baseline]
    return False
