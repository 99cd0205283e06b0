import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Personas are created with a password; the production hasher costs ~0.3 s a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
