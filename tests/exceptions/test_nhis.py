"""Exceptions can cover non-human identities; the identities are part of the signed content."""

import pytest
from django.core.exceptions import ValidationError

from exceptions import services
from exceptions.models import ExceptionRecord
from nhi.models import NonHumanIdentity
from tests.exceptions.factories import advance, fields_for, fresh, make_exception

pytestmark = pytest.mark.django_db


def identity(team, external_id):
    return NonHumanIdentity.objects.create(name=external_id, kind="access_key", provider="AWS",
                                           external_id=external_id, owner_team=team)


def test_an_exception_covers_the_requesting_teams_identities(people, teams):
    key = identity(teams["hr"], "hr-payroll-key")
    exception = services.exception_create(actor=people["owner"], nhis=[key], **fields_for(teams["hr"]))
    assert list(exception.nhis.all()) == [key]
    assert exception.signed_content()["non_human_identities"] == ["hr-payroll-key"]


def test_another_teams_identity_is_refused_without_naming_it_and_nothing_is_created(people, teams):
    key = identity(teams["engineering"], "eng-deploy-key")
    with pytest.raises(ValidationError) as refused:
        services.exception_create(actor=people["owner"], nhis=[key], **fields_for(teams["hr"]))
    # HR may not see Engineering's identities: the answer is the one for an identity that does not exist.
    assert refused.value.message_dict["nhis"] == ["No such identity."]
    assert ExceptionRecord.objects.count() == 0


def test_an_identity_the_requester_sees_but_another_team_owns_is_named(people, teams):
    from tests.factories import member_of

    both = member_of(teams["engineering"], username="hal_hr_and_engineering")
    member_of(teams["hr"], username="hal_hr_and_engineering")
    key = identity(teams["engineering"], "eng-deploy-key")
    with pytest.raises(ValidationError) as refused:
        services.exception_create(actor=both, nhis=[key], **fields_for(teams["hr"]))
    assert refused.value.message_dict["nhis"] == ["eng-deploy-key is not owned by HR."]


def test_adding_an_identity_after_signing_voids_the_signatures(people, teams):
    exception = advance(make_exception(people["owner"], teams["hr"]), "approved", people)
    signed_hash = fresh(exception).content_sha256()
    services.exception_update(exception=exception, actor=people["owner"], nhis=[identity(teams["hr"], "hr-bot")])
    exception = fresh(exception)
    assert exception.status == "submitted"
    assert exception.content_sha256() != signed_hash
    assert exception.signatures.filter(voided_at__isnull=True).count() == 0
