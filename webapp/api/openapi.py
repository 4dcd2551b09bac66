"""The API's front door, generated from the code rather than written by hand: the URL conf gives the
paths and their parameters, `api_endpoint` the methods each view accepts, each view's docstring its
summary (and, after a line `---`, any OpenAPI YAML the view adds). apispec, the marshmallow project's
OpenAPI generator, assembles the document; an endpoint added to webapp/api/urls.py appears by itself.

Request and response bodies are not described field by field here: the README's table and the 400
answers (which name each wrong field) say what a body holds.
"""
from __future__ import annotations

import inspect
import re

from apispec import APISpec
from apispec.yaml_utils import load_operations_from_docstring
from django.urls import URLPattern

PREFIX = "/api/v1/"
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
TYPES = {"id": "integer", "int": "integer"}  # everything else (str, path) is a string
ANSWERS = {"401": "No valid API token (header 'Authorization: Bearer <token>').",
           "403": "Your role in that workspace does not allow it.", "404": "No such object in your workspaces."}


def _endpoints():
    """(route, view) of every token-authenticated endpoint, in the URL conf's order."""
    from webapp.api.urls import urlpatterns

    return [(str(p.pattern), p.callback) for p in urlpatterns
            if isinstance(p, URLPattern) and getattr(p.callback, "api_methods", None)]


def _summary(view) -> tuple[str, str]:
    doc = (inspect.getdoc(view) or "").split("\n---", 1)[0].strip()
    first, _, rest = doc.partition("\n\n")
    name = view.__name__.replace("_", " ")
    return (" ".join(first.split()) or name[:1].upper() + name[1:]), " ".join(rest.split())


def openapi_document() -> dict:
    spec = APISpec(title="Tuning dashboard API", version="1", openapi_version="3.0.3",
                   info={"description": "Datasets, tuning jobs and adapters of your workspaces. Create a token on "
                                        "the API tokens page; see README.md, \"JSON API\"."})
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    for route, view in _endpoints():
        summary, description = _summary(view)
        extra = load_operations_from_docstring(inspect.getdoc(view) or "")
        parameters = [{"in": "path", "name": m["name"], "required": True,
                       "schema": {"type": TYPES.get(m["converter"] or "str", "string")}}
                      for m in PARAMETER.finditer(route)]
        operations = {}
        for method in view.api_methods:
            operation = {"summary": summary, "operationId": f"{view.__name__}_{method.lower()}",
                         "security": [{"token": []}],
                         "responses": {"200": {"description": "The answer, as JSON (or the file, for downloads)."},
                                       **{code: {"description": words} for code, words in ANSWERS.items()}}}
            if description:
                operation["description"] = description
            operation.update(extra.get(method.lower(), {}))
            operations[method.lower()] = operation
        spec.path(path=PREFIX + PARAMETER.sub(r"{\g<name>}", route), operations=operations, parameters=parameters)
    return spec.to_dict()


def endpoint_index() -> list[dict]:
    """[{"path", "methods", "summary"}] for the JSON index at /api/v1/."""
    return [{"path": PREFIX + PARAMETER.sub(r"{\g<name>}", route), "methods": list(view.api_methods),
             "summary": _summary(view)[0]} for route, view in _endpoints()]
