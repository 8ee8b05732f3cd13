"""API tokens: exchange a password for a token, evaluators issue tokens of read-only accounts, and
``/api/me/`` says who the API thinks you are."""


from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, permissions, renderers, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from cmo_kb.api import KBAPIDefaults
from cmo_kb.permissions import request_is_evaluator
from cmo_kb.throttles import AnonThrottle, ThrottledViewMixin, UserThrottle
from cmo_kb.tokens import token_grantable_users


class ObtainTokenView(ThrottledViewMixin, ObtainAuthToken):
    """Exchange a username and password for your API token (created on first use).

    Send it as ``Authorization: Token <key>``. Analysts read with it; evaluators also write.

    After several wrong passwords in a row the account is locked: the answer is a 429 whose
    ``detail`` says for how long (see also its Retry-After header), even for the right password.
    """

    throttle_classes = [AnonThrottle, UserThrottle]
    # DRF's own list names its JSONParser, which turns a too-deep body into a 500.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    def get_serializer_context(self):
        # django-axes counts failures on, and flags a lockout on, Django's HttpRequest; DRF's Request
        # wrapper would keep the flag to itself and the lockout answer (cmo_kb/lockout.py) never come.
        return {**super().get_serializer_context(), "request": self.request._request}

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class IssueTokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class IssueTokenView(KBAPIDefaults, APIView):
    """Evaluators issue (or look up) the API token of a read-only account, e.g. an analyst's, or
    their own; superusers of any account (cmo_kb/tokens.py).

    (Tokens can also be issued in the admin, under Auth Token.)"""

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer]

    @extend_schema(
        request=IssueTokenRequestSerializer,
        responses={200: inline_serializer("IssuedToken", {"username": serializers.CharField(), "token": serializers.CharField()}),
                   403: None, 400: None},
    )
    def post(self, request):
        if not request_is_evaluator(request):
            raise exceptions.PermissionDenied("Only evaluators can issue tokens for other accounts.")
        # A serializer, so a body that is not an object (a JSON list, a number) is a 400 too.
        body = IssueTokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        username = body.validated_data["username"]
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            # Well formed; no account has the name (422, cmo_kb/errors.py validation_status).
            raise exceptions.ValidationError({"username": [f"No active account is called {username!r}."]}, code="does_not_exist")
        if not token_grantable_users(request.user).filter(pk=user.pk).exists():
            raise exceptions.PermissionDenied(
                f"Evaluators issue tokens for themselves and for read-only accounts such as analysts, "
                f"not for {username!r}: its token would act with more rights than yours."
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"username": user.username, "token": token.key})


class MeView(KBAPIDefaults, APIView):
    """Who the API thinks you are, and what you may do."""

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(allow_null=True),
                "authenticated": serializers.BooleanField(),
                "evaluator": serializers.BooleanField(help_text="Sees drafts and writes."),
                "lead": serializers.BooleanField(help_text="Also publishes."),
            },
        )
    )
    def get(self, request):
        from cmo_kb.vocabulary import user_is_lead

        user = request.user
        return Response(
            {
                "username": user.username if user.is_authenticated else None,
                "authenticated": user.is_authenticated,
                "evaluator": request_is_evaluator(request),
                "lead": user_is_lead(user),
            }
        )
