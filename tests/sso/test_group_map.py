"""OIDC_GROUP_MAP and usernames: the rules single sign-on applies, without an IdP."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from soc2hub.models import Role
from soc2hub.sso import ROLE, TEAM, Grant, check_group_map, grants_for, idp_groups, parse_group_map, username_for
from tests.factories import UserFactory


def test_the_map_gives_teams_and_roles_and_a_group_may_give_several():
    mapping = parse_group_map("eng=team:engineering;\n sec = role:security ; sec=team:security;;")

    assert mapping == {"eng": {Grant(TEAM, "engineering")},
                       "sec": {Grant(ROLE, Role.SECURITY), Grant(TEAM, "security")}}


@pytest.mark.parametrize("entry", ["eng", "eng=engineering", "eng=team:", "=team:x", "eng=role:Admins",
                                   "eng=group:x"])
def test_a_wrong_entry_is_refused_naming_it(entry):
    with pytest.raises(ImproperlyConfigured, match="OIDC_GROUP_MAP entry"):
        parse_group_map(entry)


def test_manage_py_check_reports_a_wrong_map(settings):
    settings.OIDC_GROUP_MAP = "eng=teams:engineering"

    [error] = check_group_map()

    assert error.id == "soc2hub.E101" and "eng=teams:engineering" in error.msg


def test_groups_the_map_does_not_name_give_nothing(settings):
    settings.OIDC_GROUP_MAP = "eng=team:engineering"

    assert grants_for(["eng", "all-staff"]) == {Grant(TEAM, "engineering")}
    assert grants_for(["all-staff"]) == set()


def test_the_groups_claim_comes_from_userinfo_else_the_id_token_and_may_be_nested(settings):
    assert idp_groups({"userinfo": {"groups": ["a"]}, "id_token": {"groups": ["b"]}}) == ["a"]
    assert idp_groups({"userinfo": {"sub": "1"}, "id_token": {"groups": ["b"]}}) == ["b"]
    assert idp_groups({"userinfo": {"groups": []}}) == []
    assert idp_groups({"userinfo": {"sub": "1"}}) is None
    settings.OIDC_GROUPS_CLAIM = "realm_access.roles"
    assert idp_groups({"id_token": {"realm_access": {"roles": ["eng"]}}}) == ["eng"]


@pytest.mark.django_db
def test_usernames_are_sanitised_and_never_an_existing_one():
    UserFactory(username="Alice")
    UserFactory(username="alice2")

    assert username_for({"preferred_username": "alice"}) == "alice3"  # case-insensitively taken
    assert username_for({"preferred_username": "bob smith/../root"}) == "bobsmith..root"
    assert username_for({"email": "carol.x@example.com"}) == "carol.x"
    assert username_for({"preferred_username": "<>"}) == "user"
    assert len(username_for({"preferred_username": "z" * 400})) <= 150


@pytest.mark.parametrize("extra_data, same", [
    ({"id_token": {"sub": "1"}, "userinfo": {"sub": "1"}}, True),
    ({"id_token": {"sub": "1"}, "userinfo": {"sub": "2"}}, False),
    ({"id_token": {"sub": "1"}}, True),
    ({"userinfo": {"sub": "2"}}, True),
])
def test_the_userinfo_must_be_about_the_person_the_id_token_names(extra_data, same):
    from soc2hub.sso import same_subject

    assert same_subject(extra_data) is same
