"""Which exception of a chain or group an issue is about.

A chain (`raise X from Y`, Java's `Caused by:`, JavaScript's `cause`) is one bug seen through wrappers: it
groups by its root cause, so `JobFailed(ConnectionRefused)` and `RequestFailed(ConnectionRefused)` from the
same place are one issue, while one wrapper around two different causes is two.

Exception groups (Python's ExceptionGroup, JavaScript's AggregateError, .NET's AggregateException) are
handled deliberately: when every leaf of the group is the same error, the group is that error (ten tasks
failing on the same timeout are one issue); when the leaves differ, the group itself is the issue, told
apart by the distinct kinds of its leaves.

SDKs that link exceptions (mechanism `exception_id` / `parent_id`) describe a tree; SDKs that do not send a
list with the innermost cause first, which is Sentry's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from errata.models.event import ExceptionValue

_GROUP_TYPES = {"ExceptionGroup", "BaseExceptionGroup", "AggregateError", "AggregateException"}


@dataclass(frozen=True)
class Culprit:
    """The exception to group by, and for a mixed group the leaves that tell it apart."""

    exception: ExceptionValue
    mixed_leaves: tuple[ExceptionValue, ...] = field(default=())


def is_exception_group(exception: ExceptionValue) -> bool:
    if exception.mechanism is not None and exception.mechanism.is_exception_group:
        return True
    return (exception.type or "").rsplit(".", 1)[-1] in _GROUP_TYPES


def _children(values: list[ExceptionValue]) -> dict[int, list[ExceptionValue]]:
    children: dict[int, list[ExceptionValue]] = {}
    for value in values:
        mechanism = value.mechanism
        if mechanism is not None and (mechanism.source or "").startswith("suppressed"):
            continue  # Java's suppressed exceptions happened while handling, they are not the bug
        if mechanism is not None and mechanism.parent_id is not None:
            children.setdefault(mechanism.parent_id, []).append(value)
    for siblings in children.values():
        siblings.sort(key=lambda v: v.mechanism.exception_id if v.mechanism and v.mechanism.exception_id else 0)
    return children


def _linked(values: list[ExceptionValue]) -> bool:
    return len(values) > 1 and all(v.mechanism is not None and v.mechanism.exception_id is not None for v in values)


def grouping_culprit(values: list[ExceptionValue]) -> Culprit | None:
    if not values:
        return None
    if not _linked(values):
        # No tree: innermost cause first. A group type at the end with plain leaves before it is a group.
        outer = values[-1]
        if len(values) > 1 and is_exception_group(outer):
            return _group_culprit(outer, [v for v in values[:-1] if not is_exception_group(v)])
        return Culprit(values[0])
    children = _children(values)
    top = next((v for v in values if v.mechanism is not None and v.mechanism.parent_id is None), values[-1])
    return _descend(top, children)


_MAX_DEPTH = 64


def _descend(
    node: ExceptionValue, children: dict[int, list[ExceptionValue]], seen: frozenset[int] = frozenset()
) -> Culprit:
    """Follows causes down the tree. A cycle or a tree deeper than any real chain stops where it is."""
    while True:
        assert node.mechanism is not None
        assert node.mechanism.exception_id is not None
        seen = seen | {node.mechanism.exception_id}
        below = [
            child
            for child in children.get(node.mechanism.exception_id, [])
            if child.mechanism is not None and child.mechanism.exception_id not in seen
        ]
        if not below or len(seen) > _MAX_DEPTH:
            return Culprit(node)
        if is_exception_group(node) and len(below) > 1:
            leaves = [_descend(child, children, seen) for child in below[:_MAX_DEPTH]]
            return _group_culprit(node, [leaf.exception for leaf in leaves if not leaf.mixed_leaves], leaves)
        node = below[0]  # a cause (`__cause__`, `cause`) or a group of one: the bug is further down


def _group_culprit(group: ExceptionValue, leaves: list[ExceptionValue], nested: list[Culprit] | None = None) -> Culprit:
    if nested and any(culprit.mixed_leaves for culprit in nested):
        return Culprit(
            group, tuple(leaf for culprit in nested for leaf in culprit.mixed_leaves or (culprit.exception,))
        )
    kinds = {(leaf.type or "", leaf.module or "") for leaf in leaves}
    if len(kinds) == 1:
        return Culprit(leaves[0])
    return Culprit(group, tuple(leaves))
