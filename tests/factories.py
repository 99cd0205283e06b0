import factory
from django.contrib.auth.models import Group

from controls.models import Control, Criterion
from soc2hub.models import Membership, Role, Team, TeamFunction, User

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=name)[0])
        if create:
            self.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.LazyAttribute(lambda t: t.name.lower().replace(" ", "-"))
    function = TeamFunction.OTHER


def member_of(team: Team, **kwargs) -> User:
    user = UserFactory(**kwargs)
    Membership.objects.get_or_create(user=user, team=team)
    return user


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Criterion
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"CC{(n % 9) + 1}.{(n // 9) % 9 + 1}")
    category = "security"
    series = factory.LazyAttribute(lambda c: c.code.split(".")[0])
    series_name = "Test series"
    title = factory.LazyAttribute(lambda c: f"Criterion {c.code}")
    summary = "A criterion made for a test."


class ControlFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Control
        skip_postgeneration_save = True

    ref = factory.Sequence(lambda n: f"TST-{n:03d}")
    name = factory.Sequence(lambda n: f"Test control {n}")
    description = "A control made for a test."

    @factory.post_generation
    def criteria(self, create, extracted, **kwargs):
        if create and extracted:
            self.criteria.set(extracted)


__all__ = ["PASSWORD", "Role", "UserFactory", "TeamFactory", "member_of", "CriterionFactory", "ControlFactory"]


def second_factor(user: User) -> str:
    """An unused second-factor code for ``user`` (a recovery code: no clock, never replayed),
    enrolling them with an authenticator app first if they have none. Tests of TOTP codes
    themselves use ``totp_now``."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    from soc2hub.auth import second_factor_enrol

    codes = second_factor_enrol(user=user, secret=TOTP_SECRET)
    if not codes:  # all ten used: start a new set, as "regenerate" on the page does
        Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).delete()
        codes = RecoveryCodes.activate(user).get_unused_codes()
    return codes[0]


TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32; every test person who enrols gets it


def totp_now(secret: str = TOTP_SECRET, *, offset: int = 0) -> str:
    """The code an authenticator app shows now (``offset`` 30-second steps away)."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))
