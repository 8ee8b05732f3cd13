import pytest
from django.test import Client


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def eva_client(evaluator):
    return login(evaluator)


@pytest.fixture
def leo_client(lead):
    return login(lead)


@pytest.fixture
def ana_client(analyst):
    return login(analyst)


def _field_value(bound):
    value = bound.value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, (list, tuple)):
        return [str(v.pk if hasattr(v, "pk") else v) for v in value]
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def _add_form(data, form):
    for name in form.fields:
        value = _field_value(form[name])
        if name == "DELETE" and not value:
            continue
        data[form.add_prefix(name)] = value


def form_data(response):
    """The POST data a browser would send for an admin change/add page as it is rendered: the main form's
    values and each inline formset's management form and existing rows (extra rows left out)."""
    data = {}
    _add_form(data, response.context["adminform"].form)
    for inline in response.context.get("inline_admin_formsets") or []:
        formset = inline.formset
        initial = formset.initial_form_count()
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(initial)
        data[f"{formset.prefix}-INITIAL_FORMS"] = str(initial)
        data[f"{formset.prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{formset.prefix}-MAX_NUM_FORMS"] = "1000"
        for form in formset.forms[:initial]:
            _add_form(data, form)
    return data


def add_inline_row(data, prefix, **fields):
    """Append an extra row to an inline formset in `data`."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for name, value in fields.items():
        data[f"{prefix}-{index}-{name}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    return data
