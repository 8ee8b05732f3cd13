"""The OpenAPI schema (drf-spectacular) says what the API does, no more and no less.

schemathesis (`make fuzz`, .ci/fuzz) holds the running API to it with every check, so each rule below
answers a way in which the generated schema would otherwise be untrue:

- Security: an operation anonymous clients may call lists `{}` among its security requirements
  (drf-spectacular knows only DRF's own permission classes; ours are probed with an anonymous user).
- Errors: every operation documents the error answers it can give (400 for bad input, 401 for a bad
  token, 403/404/409/415 where they apply, 429), each with its JSON body.
- Formats: `?format=` is documented on reads only; there, every answer (errors too) is documented
  as JSON and as CSV (text, one row per result).
- Query parameters: an empty value means "absent" (`allowEmptyValue`); a slug filter lists the
  slugs it accepts (`enum`, read from the database when the schema is served, as the 400 for an
  unknown slug lists them); a free-text filter (`name`, `search`) has the empty schema: any text.
- Response bodies: a read-only field declared `required=False` (`rank`, `snippet`) may be absent; a
  field whose source runs through a nullable column (a deleted user's `created_by`) may be null.
"""

import copy
from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication

ERROR_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
ERROR_FIELDS = {
    "type": "object",
    "description": "Each key is the query parameter or field at fault; each message says what was wrong and what it accepts.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {
        "team": [
            "Unknown team 'shc'. Accepted: camhs, mums-power, myrecord, pathway, peer-support-workers, "
            "shared-haemodialysis-care, speaking-up."
        ]
    },
}
# A 403 or 404 says why in `detail`, or maps the parameter at fault to why: drafts asked for by a
# non-evaluator (403), a page past the last or a cursor no page gave (404).
ERROR_DETAIL_OR_FIELDS = {"oneOf": [ERROR_DETAIL, {**ERROR_FIELDS, "example": {
    "include_drafts": ["Only evaluators can export draft and in-review configurations."]}}]}
# A 403 of the write rules also names what refused it: the programme the user does not write in (or
# lead), or the published configurations a change would alter (the publish lock).
ERROR_FORBIDDEN = {"oneOf": [
    {**ERROR_DETAIL, "properties": {
        "detail": {"type": "string"},
        "programme": {"type": "string", "description": "The programme in which you lack the role the change needs."},
        "configurations": {"type": "array", "items": {"type": "string"},
                           "description": "The published configurations the change would alter."},
    }},
    ERROR_DETAIL_OR_FIELDS["oneOf"][1],
]}
# A 400 maps each parameter or field to its messages; a field holding rows (a configuration's
# wish_shifts) maps each row's index to that row's fields and messages; a body that cannot be read
# at all (malformed JSON, a NUL byte in a key) says why in `detail`.
ERROR_BAD_INPUT = {"description": ERROR_FIELDS["description"], "oneOf": [ERROR_DETAIL, {
    **ERROR_FIELDS,
    "additionalProperties": {"anyOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "object", "description": "A field holding rows: row index → {field: [message]}."},
    ]},
}]}
# A 409: a duplicate maps the fields at fault to why (as a 400 does); a delete that others depend on,
# or a clash only the database saw, says why in `detail`.
ERROR_CONFLICT = ERROR_BAD_INPUT
CSV_BODY = {
    "type": "string",
    "description": "?format=csv: a header line, then one row per result (nested objects as dotted columns, "
    "lists joined with \"; \"); an error as `parameter,error` rows.",
}

WRITES = ("POST", "PUT", "PATCH", "DELETE")
READS = ("GET", "HEAD")

# (status, schema, description): what KBAutoSchema adds to an operation that lacks it.
ERRORS = {
    "400": (ERROR_BAD_INPUT, "Bad input: a malformed request, whatever is stored: a bad type, choice, number or "
            "date, a missing or unknown field, an unknown parameter, format or filter value."),
    "401": (ERROR_DETAIL, "Not signed in, or a bad token: send `Authorization: Token <key>` (POST /api/auth/token/)."),
    "403": (ERROR_FORBIDDEN, "Signed in but not allowed: only evaluators write, only lead evaluators publish; in a "
            "programme, only its evaluators write and only its leads publish and change it (`programme` names it)."),
    "404": (ERROR_DETAIL_OR_FIELDS, "No such object, or not visible to you (drafts are for evaluators); "
            "on a list, no such page."),
    "409": (ERROR_CONFLICT, "Conflicts with the stored data: it would duplicate a stored row (the fields at fault "
            "are named), other records still depend on it, or the slug in the URL is a term of several "
            "programmes you can see (`programme` names them: add ?programme=)."),
    "415": (ERROR_DETAIL, "Unsupported body: send JSON (or a form)."),
    "422": (ERROR_BAD_INPUT, "Well formed, but the stored data refuses it: a field names a row that does not exist "
            "(or that you cannot see), or a rule across fields or rows is broken (an excerpt's text must be its "
            "source's words between its offsets, a theme must belong to the mechanism, a publishing step)."),
    "429": (ERROR_DETAIL, "Too many requests: see the Retry-After header."),
}


def _anonymous_request(method):
    """What a permission class sees of an anonymous request (enough for has_permission)."""
    return SimpleNamespace(method=method, user=AnonymousUser(), auth=None, _kb_is_evaluator=False,
                           query_params={}, data={}, GET={})


def _nullable_source(serializer, field):
    """Whether the value behind `field` can be None: some column on its source path is nullable."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    for attr in getattr(field, "source_attrs", None) or []:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if getattr(model_field, "null", False) and not model_field.many_to_many:
            return True
        model = model_field.related_model
    return False


def _is_free_text(filter_):
    from cmo_kb.filters import SearchParamFilter, TextListFilter

    return isinstance(filter_, (TextListFilter, SearchParamFilter))


def accepted_slugs(filter_, request):
    """The values a slug filter accepts for this request, or None when it is not a slug filter (or
    accepts anything). A filter can say for itself with ``schema_enum(request)``."""
    own = getattr(filter_, "schema_enum", None)
    if callable(own):
        return own(request)
    if not hasattr(filter_, "vocabulary") or not hasattr(filter_, "slug_field"):
        return None
    # The filter's own known rows (those of the programmes this client may see), each slug once (two
    # programmes may each have a `leadership` context).
    queryset = filter_.known_queryset(request)
    return list(queryset.order_by(filter_.slug_field).values_list(filter_.slug_field, flat=True).distinct())


def mock_request(method, path, view, original_request, **kwargs):
    """SPECTACULAR_SETTINGS["GET_MOCK_REQUEST"]: drf-spectacular's own, marked with whether the schema
    is being served to a client (/api/schema/) or written by `manage.py spectacular` (no request, and
    perhaps no database): only a served schema lists the slugs in the database."""
    from drf_spectacular.plumbing import build_mock_request

    request = build_mock_request(method, path, view, original_request, **kwargs)
    request.kb_schema_served = original_request is not None
    return request



# --- Versions (cmo_kb/concurrency.py): ETag, If-Match, If-None-Match, 304 and 412 ----------------

PRECONDITION_FAILED = {
    "type": "object",
    "description": "The If-Match version is not the stored one; nothing was written. `changes` lists what "
    "happened since that version, oldest first.",
    "properties": {
        "detail": {"type": "string"},
        "your_etag": {"type": "string", "description": "The ETag you sent."},
        "current_etag": {"type": "string", "description": "The stored version's ETag (GET it before retrying)."},
        "changed_fields": {"type": "array", "items": {"type": "string"},
                           "description": "Fields (and kinds of owned rows, e.g. `evidence links`) changed since."},
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": "string", "format": "date-time", "nullable": True},
                    "by": {"type": "string", "nullable": True, "description": "Username."},
                    "what": {"type": "string", "description": "The object changed: this one or a row it owns."},
                    "relation": {"type": "string", "nullable": True, "description": "Set for an owned row."},
                    "action": {"type": "string", "enum": ["added", "changed", "deleted"]},
                    "fields": {"type": "object", "nullable": True, "additionalProperties": True,
                               "description": "Field → its new value; null when the old version is unknown."},
                },
            },
        },
    },
    "required": ["detail", "your_etag", "current_etag", "changed_fields", "changes"],
}

ETAG_NOTE = (
    "The stored version of this object (its fields, many-to-many lists and owned rows such as a "
    "configuration's Wish shifts, pathways and evidence links). Send it back in If-Match to write."
)


class VersionedSchemaMixin:
    """The ETag / If-Match / If-None-Match headers and the 304 and 412 answers of versioned resources."""

    def _versioned(self):
        from cmo_kb.concurrency import VersionedWritesMixin

        return isinstance(self.view, VersionedWritesMixin)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if not self._versioned():
            return parameters
        detail = "{" in self.path
        header = OpenApiParameter.HEADER
        if detail and self.method in ("PUT", "PATCH", "DELETE"):
            parameters.append(OpenApiParameter(
                "If-Match", str, header,
                description="The ETag of the version you are changing: a 412 instead of overwriting someone "
                "else's change. Leave it out, or send `*`, to write whatever the stored version is.",
            ))
        if detail and self.method == "GET":
            parameters.append(OpenApiParameter(
                "If-None-Match", str, header, description="An ETag you hold: 304 without a body if it is current.",
            ))
        codes = {"GET": ["200", "304"], "PUT": ["200"], "PATCH": ["200"]}.get(self.method, []) if detail else (
            ["201"] if self.method == "POST" else [])
        if codes:
            parameters.append(OpenApiParameter("ETag", str, header, response=codes, description=ETAG_NOTE))
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._versioned() and "{" in self.path:
            if self.method == "GET":
                responses.setdefault("304", {"description": "Not modified: If-None-Match named the current ETag."})
            if self.method in ("PUT", "PATCH", "DELETE"):
                responses.setdefault("412", {
                    "content": {"application/json": {"schema": PRECONDITION_FAILED}},
                    "description": "Precondition failed: If-Match named an older version; nothing was written.",
                })
        return responses


class KBAutoSchema(VersionedSchemaMixin, AutoSchema):
    """drf-spectacular's AutoSchema with the rules of the module docstring."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._document_parameters(operation)
        self._document_errors(operation)
        if self.method in READS and any(p.get("name") == "format" for p in operation.get("parameters", [])):
            self._document_csv(operation)
        else:
            # A write answers JSON (drf-spectacular would list text/csv with the JSON body's schema).
            for response in operation["responses"].values():
                response.get("content", {}).pop("text/csv", None)
        return operation

    # --- security -------------------------------------------------------------------------------

    def get_auth(self):
        auths = super().get_auth()
        if auths and {} not in auths and self._anonymous_allowed():
            auths.append({})
        return auths

    def _anonymous_allowed(self):
        request = _anonymous_request(self.method)
        try:
            return all(p.has_permission(request, self.view) for p in self.view.get_permissions())
        except Exception:  # a permission that needs more of the request than we fake: say auth is needed
            return False

    # --- parameters -----------------------------------------------------------------------------

    def _get_format_parameters(self):
        # ?format=csv is for reading; a write answers JSON (the format of its request body).
        return super()._get_format_parameters() if self.method in READS else []

    def _document_parameters(self, operation):
        filterset_class = getattr(self.view, "filterset_class", None)
        if filterset_class is not None and filterset_class._meta.model is None:
            # A filterset for any model (VocabularyFilterSet) as the view uses it, bound to its model
            # (with ?programme= on a programme's own vocabulary): cmo_kb/filters.py StrictFilterBackend.
            from drf_spectacular.plumbing import get_view_model

            from cmo_kb.filters import StrictFilterBackend

            model = get_view_model(self.view)
            if model is not None:
                filterset_class = StrictFilterBackend().get_filterset_class(self.view, model._default_manager.none())
        filters = dict(filterset_class.base_filters) if filterset_class is not None else {}
        # A view that is not a list may name filters its own parameters behave as (the exports' ?programme=).
        filters.update(getattr(self.view, "schema_filters", {}))
        request = getattr(self.view, "request", None)
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "query":
                continue
            if not parameter.get("required"):
                # Every optional parameter of this API reads an empty value as absent
                # (an HTML form sends its empty fields).
                parameter["allowEmptyValue"] = True
            filter_ = filters.get(parameter["name"])
            if filter_ is not None and _is_free_text(filter_):
                # Any text is a search term ("-1.5e+131", "null" too), one or comma-separated: a query
                # string cannot tell a number or a JSON null from the text that spells it, so the
                # schema is the empty one (anything), with no type for a fuzzer to step outside. (A NUL
                # byte, which no parameter may hold, cmo_kb/middleware.py, is kept out of make fuzz's
                # data by .ci/schemathesis.toml: a pattern here made it send long lists instead.)
                parameter["schema"] = {}
                parameter.pop("explode", None)
                parameter.pop("style", None)
                continue
            if filter_ is None or not getattr(request, "kb_schema_served", False):
                continue
            slugs = accepted_slugs(filter_, request)
            # A copy: the filter's own schema dict is shared by every operation and request.
            schema = parameter["schema"] = copy.deepcopy(parameter.get("schema", {}))
            target = schema.get("items") if schema.get("type") == "array" else schema
            # (No enum when there is nothing to accept yet: JSON Schema forbids an empty one.)
            if slugs and isinstance(target, dict) and "enum" not in target:
                target["enum"] = slugs

    # --- responses ------------------------------------------------------------------------------

    def _document_errors(self, operation):
        responses = operation["responses"]
        has_path_parameters = "{" in self.path
        codes = ["400", "429"]
        if any(isinstance(a, TokenAuthentication) for a in self.view.get_authenticators()):
            codes.append("401")
        if self.method in WRITES:
            codes += ["403", "409"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["415", "422"]
        if has_path_parameters or (self.method == "GET" and self._get_paginator() is not None):
            codes.append("404")
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        if has_path_parameters and getattr(model, "programme_path", None) == "programme":
            codes.append("409")  # a programme's own term by a slug another programme shares (cmo_kb/api.py)
        # A view names further errors by action (or method, on a plain APIView): {"list": [403]}.
        extra = getattr(self.view, "schema_extra_error_codes", {})
        codes += [str(code) for code in extra.get(getattr(self.view, "action", None) or self.method.lower(), ())]
        for code in sorted(set(codes)):
            schema, description = ERRORS[code]
            response = responses.setdefault(code, {"description": description})
            if not response.get("description"):
                response["description"] = description
            # An error answer always has a body (an @extend_schema `403: None` documents none).
            response.setdefault("content", {"application/json": {"schema": schema}})
        operation["responses"] = dict(sorted(responses.items()))

    def _document_csv(self, operation):
        for response in operation["responses"].values():
            content = response.get("content")
            if content and "application/json" in content:
                content["text/csv"] = {"schema": CSV_BODY}

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # drf-spectacular offers a blank URL/e-mail as `oneOf: [format, maxLength 0]`; "" can match
        # both (a validator that does not check the format), so say anyOf, which is as strict.
        if "oneOf" in schema and {"type": "string", "maxLength": 0} in schema["oneOf"]:
            schema["anyOf"] = schema.pop("oneOf")

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction != "response":
            return schema
        instance = serializer if isinstance(serializer, serializers.BaseSerializer) else serializer()
        absent = {
            name for name, field in instance.fields.items()
            if field.read_only and getattr(field, "_kwargs", {}).get("required") is False
        }
        if absent and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in absent]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        parent = getattr(field, "parent", None)
        if direction == "response" and not meta.get("nullable") and parent is not None:
            if isinstance(parent, serializers.ListSerializer):
                parent = parent.parent
            if parent is not None and _nullable_source(parent, field):
                meta["nullable"] = True
        return meta


class ExportDownloadSchema(OpenApiViewExtension):
    """Documents the REFI-QDA downloads under /api/export/ (evidence/export_views.py), which are plain
    APIViews returning files, so `spectacular --fail-on-warn` passes. Stands aside as soon as those views
    document themselves with @extend_schema."""

    target_class = "evidence.export_views.ExportView"
    match_subclasses = True

    def view_replacement(self):
        from drf_spectacular.drainage import has_override

        target = self.target
        if has_override(target.get, "schema") or has_override(target, "schema"):
            return target

        class Documented(target):
            @extend_schema(
                summary=(target.__doc__ or "").strip().split("\n")[0] or None,
                description=(target.__doc__ or "").strip(),
                parameters=[
                    OpenApiParameter(
                        "include_drafts", OpenApiTypes.BOOL,
                        description="Evaluators only: include the draft and in-review configurations of the "
                        "programmes you write in (anyone else, or asking for programmes you do not write in, "
                        "gets a 403 naming this parameter).",
                    ),
                    OpenApiParameter(
                        "programme", {"type": "array", "items": {"type": "string"}}, explode=True,
                        description="Slug of a programme (see /api/programmes/): the export holds these "
                        "programmes (default: every programme you may see), and says which. Several values: "
                        "comma-separated or repeated.",
                    ),
                ],
                responses={
                    (200, (target.content_type or "application/octet-stream").split(";")[0]): OpenApiResponse(
                        OpenApiTypes.BINARY, description=f"The file ({target.filename})."
                    ),
                    403: OpenApiResponse(ERROR_FORBIDDEN, description="include_drafts asked for by someone who is not an evaluator."),
                },
            )
            def get(self, request, *args, **kwargs):
                return super().get(request, *args, **kwargs)

        Documented.__name__ = target.__name__
        Documented.__doc__ = target.__doc__
        return Documented


def filter_parameters(filterset_class):
    """OpenAPI parameters for a FilterSet, for views that are not lists (drf-spectacular documents
    filters on list actions only), e.g. /api/matrix/ with the configuration filters."""
    from drf_spectacular.drainage import get_override

    parameters = []
    for name, filter_ in filterset_class.base_filters.items():
        schema = dict(get_override(filter_, "field") or {"type": "string"})
        description = schema.pop("description", filter_.extra.get("help_text", ""))
        parameters.append(
            OpenApiParameter(name, schema, description=description, explode=True if schema.get("type") == "array" else None)
        )
    return parameters



# --- Request bodies: text without NUL ------------------------------------------------------------

# PostgreSQL stores no NUL character in text, so a body holding one is a 400 (cmo_kb/parsers.py); the
# schema says so of every free text it takes, as an ECMA-262 pattern (JSON Schema's dialect).
NO_NUL = "^[^\\u0000]*$"


def _forbid_nul(schema):
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NO_NUL
    for key in ("items", "additionalProperties"):
        _forbid_nul(schema.get(key))
    for sub in (schema.get("properties") or {}).values():
        _forbid_nul(sub)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            _forbid_nul(sub)


def forbid_nul_in_request_text(result, generator, request, public):
    """POSTPROCESSING_HOOKS: every string of a request body component (``…Request``) has NO_NUL."""
    for name, schema in (result.get("components", {}).get("schemas") or {}).items():
        if name.endswith("Request"):
            _forbid_nul(schema)
    return result
