"""A signed-in person's Cognito groups -> what they may do (errata.store.projects.grant_of_groups)."""

from __future__ import annotations

from errata.cognito import looks_like_jwt
from errata.store.projects import grant_of_groups, new_api_token


def test_an_organization_group_covers_every_project_and_the_highest_scope_wins() -> None:
    grant = grant_of_groups("ann", ["errata:project:read", "errata:project:write", "staff"])
    assert grant is not None
    assert grant.allows("1", "project:write") and grant.allows("2", "project:read")
    assert not grant.allows("1", "project:admin")


def test_project_groups_grant_each_project_its_own_scope() -> None:
    grant = grant_of_groups("bo", ["errata:1:project:read", "errata:1:project:admin", "errata:7:project:read"])
    assert grant is not None
    assert grant.allows("1", "project:admin")
    assert grant.allows("7", "project:read") and not grant.allows("7", "project:write")
    assert not grant.allows("2", "project:read")
    assert not grant.allows(None, "project:read")  # organization-wide routes need an organization group
    assert grant.denial("7", "project:write") == "you have project:read; project:write is needed"
    assert grant.denial("2", "project:read") == "you have no access to project 2"


def test_groups_of_other_apps_or_malformed_grant_nothing() -> None:
    for groups in ([], ["admins"], ["errata:1:project:owner"], ["errata::project"], ["other:1:project:read"]):
        assert grant_of_groups("cy", groups) is None


def test_api_tokens_are_never_taken_for_jwts() -> None:
    assert not looks_like_jwt(new_api_token())
    assert looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln")
