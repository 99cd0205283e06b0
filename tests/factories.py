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
