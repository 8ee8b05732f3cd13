"""URLs of the REST API, mounted at /api/.

Resources (plural nouns, slug lookups; evidence links by id), the matrix, tokens, and the OpenAPI
schema with Swagger UI and ReDoc served from drf-spectacular-sidecar's static files (no CDN).
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from cmo_kb.api_docs import RedocView, SwaggerView, redoc_bundle_view
from cmo_kb.throttles import API_THROTTLES
from cmo_kb.token_views import IssueTokenView, MeView, ObtainTokenView
from evidence import api as evidence_api
from evidence.agreement_api import AgreementView
from evidence.refi_qda_api import RefiQdaImportView
from evidence import codes_api
from evidence.import_api import ImportRunViewSet
from mechanisms import api as mechanisms_api
from mechanisms.chain_api import ChainViewSet
from mechanisms.import_api import ConfigurationImportView
from mechanisms.theory_api import TheoryViewSet
from projects import api as projects_api

router = DefaultRouter()
router.register("programmes", projects_api.ProgrammeViewSet, basename="programme")
router.register(r"programmes/(?P<programme_slug>[^/.]+)/members", projects_api.ProgrammeMemberViewSet,
                basename="programme-member")
router.register("teams", projects_api.TeamViewSet, basename="team")
router.register("mechanisms", mechanisms_api.MechanismViewSet, basename="mechanism")
router.register("themes", mechanisms_api.ThemeViewSet, basename="theme")
router.register("wish-dimensions", mechanisms_api.WishDimensionViewSet, basename="wish-dimension")
router.register("quality-domains", projects_api.QualityDomainViewSet, basename="quality-domain")
router.register("relationship-levels", projects_api.RelationshipLevelViewSet, basename="relationship-level")
router.register("pathways", mechanisms_api.PathwayViewSet, basename="pathway")
router.register("contexts", mechanisms_api.ContextViewSet, basename="context")
router.register("outcomes", mechanisms_api.OutcomeViewSet, basename="outcome")
router.register("outcome-kinds", mechanisms_api.OutcomeKindViewSet, basename="outcome-kind")
router.register("relationship-pairs", mechanisms_api.RelationshipPairViewSet, basename="relationship-pair")
router.register("configurations", mechanisms_api.ConfigurationViewSet, basename="configuration")
router.register("frameworks", mechanisms_api.FrameworkViewSet, basename="framework")
router.register("concept-mappings", mechanisms_api.ConceptMappingViewSet, basename="concept-mapping")
router.register("chains", ChainViewSet, basename="chain")
router.register("theories", TheoryViewSet, basename="theory")
router.register("sources", evidence_api.SourceViewSet, basename="source")
router.register("excerpts", evidence_api.ExcerptViewSet, basename="excerpt")
router.register("evidence-links", evidence_api.EvidenceLinkViewSet, basename="evidence-link")
router.register("speaker-roles", evidence_api.SpeakerRoleViewSet, basename="speaker-role")
router.register("waves", evidence_api.WaveViewSet, basename="wave")
router.register("codes", codes_api.CodeViewSet, basename="code")
router.register("codings", codes_api.CodingViewSet, basename="coding")
# Background imports (evidence/import_runs.py); /imports/configurations/ above is the synchronous door.
router.register("imports", ImportRunViewSet, basename="import-run")

app_name = "api"

urlpatterns = [
    path("matrix/", mechanisms_api.MatrixView.as_view(), name="matrix"),
    path("agreement/", AgreementView.as_view(), name="agreement"),
    path("imports/configurations/", ConfigurationImportView.as_view(), name="import-configurations"),
    path("imports/refi-qda/", RefiQdaImportView.as_view(), name="import-refi-qda"),
    path("auth/token/", ObtainTokenView.as_view(), name="token"),
    path("auth/tokens/", IssueTokenView.as_view(), name="issue-token"),
    path("auth/me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(throttle_classes=API_THROTTLES), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema", throttle_classes=API_THROTTLES), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema", throttle_classes=API_THROTTLES), name="redoc"),
    path("redoc/redoc.standalone.js", redoc_bundle_view, name="redoc-bundle"),
    path("", include(router.urls)),
]
