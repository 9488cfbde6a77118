import pytest

from errata.releases import is_later_release, semantic_version


@pytest.mark.parametrize(
    ("candidate", "baseline", "later"),
    [
        ("myapp@1.10.0", "myapp@1.9.2", True),
        ("myapp@1.9.2", "myapp@1.10.0", False),
        ("v2.0.0", "1.9.9", True),
        ("api@3.1.0", "api@3.1.0", False),
        ("2.0.0-rc.1", "2.0.0", False),
        ("2.0", "1.9.9", True),
    ],
)
def test_semantic_versions_compare_as_versions(candidate: str, baseline: str, later: bool) -> None:
    assert is_later_release(candidate, baseline, {}) is later


def test_other_releases_follow_deploy_order_and_unknown_ones_are_never_later() -> None:
    order = {"a1b2c3d": "2026-11-20T10:00:00.000Z", "f9e8d7c": "2026-11-25T10:00:00.000Z"}
    assert is_later_release("f9e8d7c", "a1b2c3d", order)
    assert not is_later_release("a1b2c3d", "f9e8d7c", order)
    assert not is_later_release("0000000", "a1b2c3d", order)
    assert semantic_version("build-2026-11-27") is None
