"""Single sign-on through OpenID Connect: who gets in, and with which teams and roles.

django-allauth runs the authorization-code flow (state, PKCE, the code exchange) and checks the
ID token's issuer, audience and expiry; ``SsoAdapter`` decides what the identity means here:

* **Accounts just in time.** The first sign-in creates the account: username from
  ``preferred_username`` (else the e-mail's local part), sanitised and made unique with a number
  (``alice`` taken: ``alice2``); names and e-mail from the IdP; no usable password. An IdP
  identity is never joined to an existing account by e-mail or username: that would hand the
  account to whoever controls the matching IdP entry. Only the ``sub`` of an identity that
  already signed in here leads back to its account.
* **Teams and roles from the IdP's groups** (``OIDC_GROUPS_CLAIM``, read from userinfo, else
  from the ID token), through ``OIDC_GROUP_MAP``, re-synced at every sign-in: what the map grants
  is added, and what the map governs but no longer grants is removed. Teams and roles the map
  never names are left as an administrator set them. Each change lands in the activity log.
* **No mapped group, no entry.** A person none of whose groups maps to anything is refused; if
  they already had an account here it is deactivated, which runs every app's leaving steps
  (``soc2hub.services.user_deactivate``: nhi flags their identities for transfer).
* **Only through the IdP.** SSO accounts never sign in with a password (``sso_managed`` is
  checked by ``soc2hub.auth.AccountAdapter``), so disabling someone at the IdP locks them out.

A deactivated account is not reactivated by signing in again: an administrator decides that.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.shortcuts import render

from soc2hub.models import Membership, Role, Team, User
from soc2hub.services import activity_record, user_deactivate

logger = logging.getLogger(__name__)

TEAM, ROLE = "team", "role"
USERNAME_MAX = 150
_NOT_IN_USERNAME = re.compile(r"[^\w.@+-]")


@dataclass(frozen=True, order=True)
class Grant:
    """What an IdP group gives: membership of a team (by slug) or a role group."""

    kind: str
    name: str

    def __str__(self):
        return f"the {self.name} role" if self.kind == ROLE else f"team {self.name}"


# --- the group map -------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def parse_group_map(text: str) -> dict[str, frozenset[Grant]]:
    """``"eng=team:engineering; sec=role:Security; sec=team:security"`` → group → grants.

    Entries are separated by ``;`` or new lines; a group may appear several times. Group names
    are matched exactly as the IdP sends them; roles are Security, Leadership or Auditors."""
    roles = {role.value.lower(): role.value for role in Role}
    grants: dict[str, set[Grant]] = {}
    for entry in filter(None, (part.strip() for part in re.split(r"[;\n]", text or ""))):
        group, _, target = (piece.strip() for piece in entry.rpartition("="))
        kind, _, name = (piece.strip() for piece in target.partition(":"))
        if not group or kind not in (TEAM, ROLE) or not name:
            raise ImproperlyConfigured(
                f"OIDC_GROUP_MAP entry {entry!r} is not 'idp-group=team:<slug>' or 'idp-group=role:<role>'.")
        if kind == ROLE:
            if name.lower() not in roles:
                raise ImproperlyConfigured(
                    f"OIDC_GROUP_MAP entry {entry!r}: the roles are {', '.join(roles.values())}.")
            name = roles[name.lower()]
        grants.setdefault(group, set()).add(Grant(kind, name))
    return {group: frozenset(given) for group, given in grants.items()}


def group_map() -> dict[str, frozenset[Grant]]:
    return parse_group_map(settings.OIDC_GROUP_MAP)


def grants_for(groups: list[str]) -> set[Grant]:
    """What these IdP groups give here; groups the map does not name give nothing."""
    mapping = group_map()
    return {grant for group in groups for grant in mapping.get(group, ())}


def governed() -> set[Grant]:
    """Every team and role the map can give: the ones a sign-in may also take away."""
    return {grant for given in group_map().values() for grant in given}


# --- what the IdP says ---------------------------------------------------------------------------

def idp_claims(extra_data: dict) -> dict:
    """The person's claims: the ID token's, overlaid by userinfo's (fresher, often fuller)."""
    return {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}


def _claim(claims: dict, path: str):
    """``groups``, or a dotted path such as Keycloak's ``realm_access.roles``."""
    value = claims
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def idp_groups(extra_data: dict) -> list[str] | None:
    """The groups claim from userinfo, else from the ID token; None when neither carries it."""
    for source in (extra_data.get("userinfo") or {}, extra_data.get("id_token") or {}):
        value = _claim(source, settings.OIDC_GROUPS_CLAIM)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list | tuple):
            return [str(group) for group in value]
    return None


def same_subject(extra_data: dict) -> bool:
    """OIDC Core 5.3.2: the userinfo's ``sub`` must be the ID token's, or the userinfo may be
    someone else's (a substituted access token)."""
    id_sub = (extra_data.get("id_token") or {}).get("sub")
    info_sub = (extra_data.get("userinfo") or {}).get("sub")
    return not (id_sub and info_sub) or str(id_sub) == str(info_sub)


def domain_allowed(claims: dict) -> bool:
    """With ``OIDC_ALLOWED_DOMAINS`` set, the IdP's e-mail must be in one of them (and not
    marked unverified)."""
    allowed = settings.OIDC_ALLOWED_DOMAINS
    if not allowed:
        return True
    email = str(claims.get("email") or "").lower()
    return "@" in email and email.rsplit("@", 1)[1] in allowed and claims.get("email_verified") is not False


def sso_managed(user) -> bool:
    """Was this account made by single sign-on? Such accounts sign in only through the IdP."""
    return bool(user and user.pk) and SocialAccount.objects.filter(user_id=user.pk).exists()


def username_for(claims: dict) -> str:
    """``preferred_username``, else the e-mail's local part, cut to what a username may hold and
    made unique (case-insensitively) with a number: the first ``alice`` is ``alice``, the next
    one ``alice2``. Never an existing account's name."""
    raw = claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0]
    base = _NOT_IN_USERNAME.sub("", unicodedata.normalize("NFKC", str(raw or "")))[:USERNAME_MAX - 6] or "user"
    candidate, n = base, 2
    while User.objects.filter(username__iexact=candidate).exists():
        candidate, n = f"{base}{n}", n + 1
    return candidate


# --- services --------------------------------------------------------------------------------------

def _profile_from(claims: dict) -> dict:
    name_parts = str(claims.get("name") or "").partition(" ")
    return {
        "first_name": str(claims.get("given_name") or name_parts[0])[:150],
        "last_name": str(claims.get("family_name") or name_parts[2])[:150],
        "email": str(claims.get("email") or "")[:254],
    }


def sso_account_sync(*, user: User, claims: dict, grants: set[Grant], idp: str) -> list[str]:
    """Brings a person's name, e-mail, teams and roles to what the IdP says (call inside a
    transaction). Adds every grant; removes the teams and roles the map governs but no longer
    grants. Returns the changes in words, each also in the activity log."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sso_account_sync() must run inside a transaction")
    User.objects.select_for_update().only("pk").get(pk=user.pk)  # two sign-ins at once take turns
    changes = []
    profile = {field: value for field, value in _profile_from(claims).items() if value}
    before = {field: getattr(user, field) for field in profile if getattr(user, field) != profile[field]}
    if before:
        for field in before:
            setattr(user, field, profile[field])
        user.save(update_fields=list(before))
        words = f"{user}'s name or e-mail was updated from {idp}."
        activity_record(actor=None, verb="sso.profile_updated", obj=user, before=before,
                        after={field: profile[field] for field in before}, message=words)
        changes.append(words)

    wanted_teams = {grant.name for grant in grants if grant.kind == TEAM}
    wanted_roles = {grant.name for grant in grants if grant.kind == ROLE}
    governed_teams = {grant.name for grant in governed() if grant.kind == TEAM}
    governed_roles = {grant.name for grant in governed() if grant.kind == ROLE}
    teams = {team.slug: team for team in Team.objects.filter(slug__in=wanted_teams | governed_teams)}
    for slug in sorted(wanted_teams - teams.keys()):
        logger.warning("OIDC_GROUP_MAP names team %r, which does not exist: nobody is added to it", slug)
    current_teams = set(user.memberships.filter(team__slug__in=teams).values_list("team__slug", flat=True))
    current_roles = set(user.groups.filter(name__in=wanted_roles | governed_roles).values_list("name", flat=True))

    for slug in sorted((wanted_teams & teams.keys()) - current_teams):
        Membership.objects.get_or_create(user=user, team=teams[slug])
        changes.append(_record(user, "sso.team_joined", teams[slug],
                               f"{user} joined {teams[slug]}: {idp} puts them in a group mapped to it."))
    for slug in sorted((current_teams & governed_teams) - wanted_teams):
        Membership.objects.filter(user=user, team=teams[slug]).delete()
        changes.append(_record(user, "sso.team_left", teams[slug],
                               f"{user} left {teams[slug]}: {idp} no longer puts them in a group mapped to it."))
    for role in sorted(wanted_roles - current_roles):
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        changes.append(_record(user, "sso.role_given", None,
                               f"{user} was given the {role} role: {idp} puts them in a group mapped to it.",
                               after={"role": role}))
    for role in sorted((current_roles & governed_roles) - wanted_roles):
        user.groups.remove(Group.objects.get(name=role))
        changes.append(_record(user, "sso.role_removed", None,
                               f"{user} lost the {role} role: {idp} no longer puts them in a group mapped to it.",
                               before={"role": role}))
    for cached in ("_group_names", "_team_ids"):
        user.__dict__.pop(cached, None)
    return changes


def _record(user, verb, team, message, before=None, after=None) -> str:
    activity_record(actor=None, verb=verb, obj=user, before=before,
                    after=after if after is not None else ({"team": team.slug} if team else None), message=message)
    return message


def sso_account_refuse(*, user: User | None, idp: str) -> bool:
    """The IdP gives this person nothing here: an SSO account they had is deactivated (with
    every app's leaving steps). Returns whether an account was deactivated."""
    if user is None or not user.is_active or not sso_managed(user):
        return False
    return user_deactivate(user=user, actor=None,
                           reason=f"{user} was deactivated: their {idp} account has no soc2hub team or role.")


# --- the adapter -------------------------------------------------------------------------------------

def _refuse(request, message: str):
    raise ImmediateHttpResponse(render(request, "account/sso_refused.html", {"message": message}, status=403))


class SsoAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        """Nobody signs up by form (``AccountAdapter``); an IdP identity gets an account, once
        ``pre_social_login`` has found it a team or role."""
        return True

    def authenticate_by_email(self, sociallogin):
        """Never: an IdP identity is not joined to a local account with the same e-mail, whatever
        ``SOCIALACCOUNT_EMAIL_AUTHENTICATION`` or a provider's settings say."""
        return None

    def pre_social_login(self, request, sociallogin) -> None:
        """Runs after the IdP vouched for the person and allauth looked up ``sub``: refuses,
        deactivates or re-syncs before anyone is signed in."""
        idp = sociallogin.provider.name
        account = sociallogin.account
        user = sociallogin.user if sociallogin.is_existing else None
        if sociallogin.state.get("process") == "connect":
            _refuse(request, f"soc2hub accounts are not connected to {idp} afterwards. Sign out, then "
                             f"sign in with {idp}.")
        if user is not None and not user.is_active:
            logger.info("SSO sign-in refused: account %s is deactivated", user.pk)
            _refuse(request, "Your soc2hub account is deactivated; ask your administrator.")
        if not same_subject(account.extra_data):
            logger.warning("SSO sign-in refused: the userinfo's sub is not the ID token's (sub %s)", account.uid)
            _refuse(request, f"{idp} answered for two different people; sign in again.")
        claims = idp_claims(account.extra_data)
        if not domain_allowed(claims):
            logger.info("SSO sign-in refused: e-mail domain not allowed (sub %s)", account.uid)
            _refuse(request, f"Your {idp} account may not sign in to soc2hub; ask your administrator.")
        groups = idp_groups(account.extra_data)
        if groups is None:
            # Not "no groups": the IdP sent no such claim (a missing scope or mapper), so nobody
            # is deactivated for it.
            logger.warning("SSO sign-in refused: no %r claim from %s (sub %s); check OIDC_GROUPS_CLAIM and "
                           "the scopes (OIDC_SCOPES)", settings.OIDC_GROUPS_CLAIM, idp, account.uid)
            _refuse(request, f"Your {idp} account has no soc2hub team or role; ask your administrator.")
        grants = grants_for(groups)
        if not grants:
            with transaction.atomic():
                deactivated = sso_account_refuse(user=user, idp=idp)
            logger.info("SSO sign-in refused: no mapped group (sub %s)%s", account.uid,
                        f"; account {user.pk} deactivated" if deactivated else "")
            _refuse(request, f"Your {idp} account has no soc2hub team or role; ask your administrator.")
        if user is not None:
            with transaction.atomic():
                sso_account_sync(user=user, claims=claims, grants=grants, idp=idp)
        else:
            # allauth would refuse or divert a new account whose e-mail another account uses;
            # the person keeps the IdP's e-mail (populate_user) in an account of their own.
            sociallogin.email_addresses = []

    @transaction.atomic
    def save_user(self, request, sociallogin, form=None):
        """Creates the account of a first sign-in, with the teams and roles the IdP gives."""
        idp = sociallogin.provider.name
        claims = idp_claims(sociallogin.account.extra_data)
        user = sociallogin.user
        user.username = username_for(claims)
        user = super().save_user(request, sociallogin, form)  # no usable password
        activity_record(actor=None, verb="sso.account_created", obj=user, after={"username": user.username},
                        message=f"{user}'s account was created at their first sign-in through {idp}.")
        groups = idp_groups(sociallogin.account.extra_data) or []
        sso_account_sync(user=user, claims=claims, grants=grants_for(groups), idp=idp)
        return user

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        """Any failure between the IdP and here (an unknown or replayed state, a refused code, an
        ID token for another client or expired): one page that names nothing from the IdP, and
        the reason in the server log."""
        if exception is not None:
            cause = exception.__cause__
            reason = type(exception).__name__ + (f" ({type(cause).__name__})" if cause is not None else "")
        elif (extra_context or {}).get("state") is None:
            reason = "no sign-in started in this session matches the callback's state"
        else:
            reason = f"the IdP answered error={request.GET.get('error', '')[:100]!r}"
        logger.warning("SSO sign-in through %s failed: %s", provider.name, reason)
        raise ImmediateHttpResponse(render(request, "account/sso_failed.html", {"idp": provider.name}, status=400))


@checks.register(checks.Tags.security)
def check_group_map(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A wrong ``OIDC_GROUP_MAP`` shows at start-up (``manage.py check``), not at someone's sign-in."""
    try:
        mapping = group_map()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="soc2hub.E101")]
    if settings.OIDC_SERVER_URL and not mapping:
        return [checks.Warning("OIDC_SERVER_URL is set but OIDC_GROUP_MAP is empty: every single sign-on "
                               "is refused.", id="soc2hub.W101")]
    return []
