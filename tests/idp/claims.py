"""What the IdP says about a person: standard claims from the Django user, and their groups."""

from django.utils.translation import gettext_lazy as _
from oidc_provider.lib.claims import ScopeClaims


def userinfo(claims: dict, user) -> dict:
    claims.update(
        name=user.get_full_name(),
        given_name=user.first_name,
        family_name=user.last_name,
        preferred_username=user.username,
        email=user.email,
        email_verified=True,
    )
    return claims


class GroupsScopeClaims(ScopeClaims):
    info_groups = (_("Groups"), _("The groups you belong to."))

    def scope_groups(self) -> dict:
        return {"groups": sorted(self.user.groups.values_list("name", flat=True))}
