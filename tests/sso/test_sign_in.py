"""Signing in through the company IdP: accounts made just in time, teams and roles from the IdP's
groups, kept in step at every sign-in. Every test runs the real authorization-code flow against
the IdP process (``tests.idp``)."""

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from soc2hub.models import ActivityLog, Membership, Role, User
from tests.factories import PASSWORD as LOCAL_PASSWORD
from tests.factories import UserFactory, member_of
from tests.idp.fixtures import idp_person
from tests.sso.conftest import Person


def teams_of(user) -> set[str]:
    return set(Membership.objects.filter(user=user).values_list("team__slug", flat=True))


def roles_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def log_of(user) -> list[tuple[str, str]]:
    return list(ActivityLog.objects.for_object(user).order_by("pk").values_list("verb", "message"))


def test_first_sign_in_creates_the_account_with_the_mapped_team_and_no_password(person):
    response = person.sign_in("alice")  # IdP groups: eng (→ Engineering) and all-staff (maps to nothing)

    assert response.status_code == 302 and response["Location"] == "/"
    alice = person.signed_in_as()
    assert (alice.username, alice.first_name, alice.last_name, alice.email) == (
        "alice", "Alice", "Archer", "alice@example.com")
    assert not alice.has_usable_password()
    assert teams_of(alice) == {"engineering"} and roles_of(alice) == set()
    account = SocialAccount.objects.get(user=alice)
    assert account.provider == "sso" and account.extra_data["userinfo"]["groups"] == ["all-staff", "eng"]
    assert log_of(alice) == [
        ("sso.account_created", "Alice Archer's account was created at their first sign-in through Example IdP."),
        ("sso.team_joined", "Alice Archer joined Engineering: Example IdP puts them in a group mapped to it."),
    ]
    home = person.client.get("/")
    assert home.status_code == 200 and "Engineering" in home.content.decode()


def test_a_group_can_give_a_team_and_a_role(person):
    person.sign_in("sam")  # security-team → the Security team and the Security role

    sam = person.signed_in_as()
    assert teams_of(sam) == {"security"} and roles_of(sam) == {Role.SECURITY}
    assert sam.is_security


def test_next_sign_in_follows_the_groups_the_idp_changed_and_logs_each_change(sso):
    sso.apply(users=[idp_person("gina", groups=["eng"])])
    Person().sign_in("gina")
    gina = User.objects.get(username="gina")
    assert teams_of(gina) == {"engineering"} and roles_of(gina) == set()

    sso.set_groups("gina", ["hr-staff", "leaders", "all-staff"])
    later = Person()
    later.sign_in("gina")

    assert later.signed_in_as() == gina and User.objects.filter(first_name="Gina").count() == 1
    assert teams_of(gina) == {"hr"} and roles_of(gina) == {Role.LEADERSHIP}
    mapped = "Example IdP puts them in a group mapped to it"
    no_longer = "Example IdP no longer puts them in a group mapped to it"
    assert log_of(gina)[2:] == [
        ("sso.team_joined", f"Gina Tester joined HR: {mapped}."),
        ("sso.team_left", f"Gina Tester left Engineering: {no_longer}."),
        ("sso.role_given", f"Gina Tester was given the Leadership role: {mapped}."),
    ]

    sso.set_groups("gina", ["hr-staff"])
    Person().sign_in("gina")
    assert teams_of(gina) == {"hr"} and roles_of(gina) == set()
    assert log_of(gina)[-1] == ("sso.role_removed", f"Gina Tester lost the Leadership role: {no_longer}.")


def test_signing_in_again_with_the_same_groups_changes_and_logs_nothing(sso):
    sso.apply(users=[idp_person("hank", groups=["eng"])])
    Person().sign_in("hank")
    entries = ActivityLog.objects.count()

    Person().sign_in("hank")

    assert ActivityLog.objects.count() == entries


def test_teams_and_roles_the_map_never_names_stay_as_an_administrator_set_them(sso, teams):
    sso.apply(users=[idp_person("ivy", groups=["eng"])])
    Person().sign_in("ivy")
    ivy = User.objects.get(username="ivy")
    Membership.objects.create(user=ivy, team=teams["legal"])  # Legal is not in the map
    ivy.groups.add(Group.objects.get_or_create(name=Role.AUDITORS)[0])  # nor is the Auditors role

    sso.set_groups("ivy", ["hr-staff"])
    Person().sign_in("ivy")

    assert teams_of(ivy) == {"hr", "legal"} and roles_of(ivy) == {Role.AUDITORS}


def test_name_and_email_follow_the_idp(sso):
    sso.apply(users=[idp_person("jon", groups=["eng"])])
    Person().sign_in("jon")
    sso.apply(users=[{"username": "jon", "last_name": "Married", "email": "jon.married@example.com"}])

    Person().sign_in("jon")

    jon = User.objects.get(username="jon")
    assert (jon.last_name, jon.email) == ("Married", "jon.married@example.com")
    assert log_of(jon)[-1][0] == "sso.profile_updated"


def test_a_taken_username_gets_a_number_and_the_local_account_is_never_joined(person, teams):
    """The IdP's alice shares her username and e-mail with a local account. Joining them would
    give that account to whoever controls "alice" at the IdP: she gets an account of her own."""
    local = member_of(teams["legal"], username="alice", email="alice@example.com", roles=[Role.SECURITY])

    response = person.sign_in("alice")

    assert response.status_code == 302
    newcomer = person.signed_in_as()
    assert newcomer != local and newcomer.username == "alice2" and newcomer.email == "alice@example.com"
    assert teams_of(newcomer) == {"engineering"} and roles_of(newcomer) == set()
    local.refresh_from_db()
    assert local.check_password(LOCAL_PASSWORD) and local.is_active
    assert not SocialAccount.objects.filter(user=local).exists()
    assert teams_of(local) == {"legal"} and roles_of(local) == {Role.SECURITY}


def test_an_sso_account_never_signs_in_with_a_password(person, client):
    """Else a password set on it would outlive the person's IdP account."""
    person.sign_in("alice")
    alice = User.objects.get(username="alice")
    alice.set_password("a password set some other way")
    alice.save()

    response = client.post("/accounts/login/", {"login": "alice", "password": "a password set some other way"})

    assert response.status_code == 403
    assert "This account signs in with Example IdP only" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sso_accounts_get_no_password_reset_mail(person, client, django_capture_on_commit_callbacks):
    person.sign_in("alice")
    UserFactory(username="lou_local", email="lou@example.com")

    with django_capture_on_commit_callbacks(execute=True):  # account mail leaves after commit
        client.post("/accounts/password/reset/", {"email": "alice@example.com"})
        client.post("/accounts/password/reset/", {"email": "lou@example.com"})

    assert [message.to for message in mail.outbox] == [["lou@example.com"]]


def test_sso_people_in_a_role_that_needs_a_second_factor_enrol_one_here_too(person, settings):
    """The IdP's own second factor is not visible to soc2hub, so the rule stays the same."""
    settings.MFA_REQUIRED_GROUPS = [Role.SECURITY]

    person.sign_in("sam")

    assert person.client.get("/")["Location"] == reverse("mfa_activate_totp")


def test_a_signed_in_local_account_cannot_connect_an_idp_identity_afterwards(person, personas):
    """Else the local account would become SSO-managed, its roles then taken by the IdP's groups."""
    person.client.force_login(personas["owner"])

    response = person.back_at_soc2hub(person.at_idp(person.start(process="connect"), "alice"))

    assert response.status_code == 403
    assert "soc2hub accounts are not connected to Example IdP afterwards" in response.content.decode()
    assert not SocialAccount.objects.exists()
