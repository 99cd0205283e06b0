"""A real OpenID Connect provider for the single sign-on tests: a small Django project built on
django-oidc-provider, run in its own process (``tests.idp.server``) with its own SQLite file.

It plays the company's identity provider: people sign in on its own login page, it keeps their
groups (Django groups here) and hands them to soc2hub in a ``groups`` claim, in the ID token
and at the userinfo endpoint. Tests change it only the way an IdP administrator would, through
``manage.py idp_apply`` (``tests.idp.server.Idp.apply``), never by reaching into soc2hub.
"""
