"""Request rates of the REST API: anonymous clients by IP, signed-in clients by user; the rates are
read at request time so settings overrides (tests, env) take effect."""


from rest_framework import throttling
from rest_framework.settings import api_settings


def _rate(scope):
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


class AnonThrottle(throttling.AnonRateThrottle):
    """Anonymous clients, by IP; the rate is REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon'],
    read at request time so settings overrides (tests, env) take effect."""

    def get_rate(self):
        return _rate(self.scope)


class UserThrottle(throttling.UserRateThrottle):
    """Signed-in clients (token or session), by user; rate from DEFAULT_THROTTLE_RATES['user']."""

    def get_rate(self):
        return _rate(self.scope)



API_THROTTLES = [AnonThrottle, UserThrottle]
