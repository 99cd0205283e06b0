def roles(request):
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    return {
        "user_is_security": signed_in and user.is_security,
        "user_is_leadership": signed_in and user.is_leadership,
        "user_is_auditor": signed_in and user.is_auditor,
    }
