"""What a locked-out account is told (django-axes calls lockout_response: AXES_LOCKOUT_CALLABLE).

The API answers 429 JSON with a Retry-After header; the admin login a page saying the account is
locked, for how long, and who can unlock it. Unlocking: `python manage.py axes_reset_username <user>`
(README, "Sign-in lockout").
"""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from cmo_kb.errors import is_api


def lockout_wait():
    """(seconds, words) of the cool-off, or (None, None) when only an administrator can unlock."""
    cooloff = settings.AXES_COOLOFF_TIME
    if not cooloff:
        return None, None
    seconds = int(cooloff.total_seconds())
    minutes = max(1, round(seconds / 60))
    return seconds, f"{minutes} minute{'s' if minutes != 1 else ''}"


def lockout_message():
    seconds, words = lockout_wait()
    limit = settings.AXES_FAILURE_LIMIT
    prefix = f"This account is locked after {limit} failed sign-ins in a row."
    if seconds:
        return f"{prefix} Try again in {words}, or ask an administrator to unlock it now."
    return f"{prefix} Ask an administrator to unlock it."


def lockout_response(request, original_response=None, credentials=None):
    seconds, words = lockout_wait()
    status = settings.AXES_HTTP_RESPONSE_CODE
    if is_api(request):
        response = JsonResponse({"detail": lockout_message()}, status=status)
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {
                "title": "Account locked",
                "message": lockout_message(),
                "failure_limit": settings.AXES_FAILURE_LIMIT,
                "cooloff": words,
                "site_header": "CMO KB workbench",
            },
            status=status,
        )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
