"""Webhook and webhook-filter CRUD (contract §4.6-§4.7): registrations only, nothing is ever delivered."""

from __future__ import annotations

from typing import Any

from ._wire import SCOPE_ADMIN, SCOPE_WEBHOOK_CREATE, SCOPE_WEBHOOK_READONLY, caliper_error, is_uuid, iso_ms, new_uuid
from ._wire import utcnow as _now
from .backend import Backend
from .routing import CALIPER, Reply, Request, Route, json_body

__all__ = ["ROUTES"]

READ = frozenset({SCOPE_ADMIN, SCOPE_WEBHOOK_READONLY, SCOPE_WEBHOOK_CREATE})
WRITE = frozenset({SCOPE_ADMIN, SCOPE_WEBHOOK_CREATE})
DELETED = {"status": "success", "message": "", "errors": None}
FILTER_TYPES = ("string", "number", "boolean")
FILTER_OPERATIONS = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "notContains",
    "in",
    "notIn",
    "startsWith",
    "endsWith",
    "regexp",
)
_MISSING = object()


def _zod_type(value: Any) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _zod_issue(path: list[str | int], expected: str, value: Any) -> dict[str, Any]:
    received = _zod_type(value)
    message = "Required" if value is _MISSING else f"Expected {expected}, received {received}"
    return {"code": "invalid_type", "expected": expected, "received": received, "path": path, "message": message}


def _webhook_input(body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The WebhookInput fields and the zod-style issues found (``sensor`` is optional, ``description`` nullable)."""
    if not isinstance(body, dict):
        return {}, [_zod_issue([], "object", body)]
    spec = (
        ("name", "string", False, False),
        ("description", "string", True, False),
        ("targetUrl", "string", False, False),
        ("secret", "string", False, False),
        ("active", "boolean", False, False),
        ("sensor", "string", True, True),
    )
    fields: dict[str, Any] = {}
    issues = []
    for key, kind, nullable, optional in spec:
        value = body.get(key, _MISSING)
        if value is _MISSING and optional:
            continue
        ok = (value is None and nullable) or (_zod_type(value) == kind)
        if not ok:
            issues.append(_zod_issue([key], kind, value))
        fields[key] = value
    return fields, issues


def _zod_error(issues: list[dict[str, Any]]) -> Reply:
    return Reply(status=400, body={"error": "An error occurred", "details": issues})


def _webhook_record(fields: dict[str, Any], webhook_id: str, created: str | None, now: str) -> dict[str, Any]:
    return {
        "id": webhook_id,
        "sensor": fields.get("sensor"),
        "name": fields["name"],
        "description": fields["description"],
        "targetUrl": fields["targetUrl"],
        "secret": fields["secret"],
        "active": fields["active"],
        "createdAt": created or now,
        "updatedAt": now,
        "deletedAt": None,
    }


def _client(req: Request) -> str:
    return req.client_id or ""


def _not_found(what: str) -> Reply:
    return Reply(status=404, body=caliper_error(f"{what} not found"))


def list_webhooks(app: Backend, req: Request) -> Reply:
    """``GET /webhooks/``."""
    return Reply(status=200, body={"webhooks": app.store.docs("webhook", client_id=_client(req))})


def create_webhook(app: Backend, req: Request) -> Reply:
    """``POST /webhooks/``: 201 with the new webhook (zod-style 400 on bad input)."""
    fields, issues = _webhook_input(json_body(req))
    if issues:
        return _zod_error(issues)
    record = _webhook_record(fields, new_uuid(), None, iso_ms(_now()))
    app.store.put_doc("webhook", record["id"], record, client_id=_client(req))
    return Reply(status=201, body={"webhook": record})


def get_webhook(app: Backend, req: Request) -> Reply:
    """``GET /webhooks/{id}``."""
    record = app.store.get_doc("webhook", req.params["id"], client_id=_client(req))
    return Reply(status=200, body={"webhook": record}) if record else _not_found("Webhook")


def replace_webhook(app: Backend, req: Request) -> Reply:
    """``PUT /webhooks/{id}``: full replacement."""
    old = app.store.get_doc("webhook", req.params["id"], client_id=_client(req))
    if old is None:
        return _not_found("Webhook")
    fields, issues = _webhook_input(json_body(req))
    if issues:
        return _zod_error(issues)
    record = _webhook_record(fields, old["id"], old.get("createdAt"), iso_ms(_now()))
    app.store.put_doc("webhook", record["id"], record, client_id=_client(req))
    return Reply(status=200, body={"webhook": record})


def delete_webhook(app: Backend, req: Request) -> Reply:
    """``DELETE /webhooks/{id}`` (its filters go with it)."""
    if not app.store.delete_doc("webhook", req.params["id"], client_id=_client(req)):
        return _not_found("Webhook")
    return Reply(status=200, body=dict(DELETED))


def _set_active(app: Backend, req: Request, active: bool) -> Reply:
    record = app.store.get_doc("webhook", req.params["id"], client_id=_client(req))
    if record is None:
        return _not_found("Webhook")
    record.update(active=active, updatedAt=iso_ms(_now()))
    app.store.put_doc("webhook", record["id"], record, client_id=_client(req))
    return Reply(status=200, body={"webhook": record})


def activate_webhook(app: Backend, req: Request) -> Reply:
    """``PUT /webhooks/{id}/activate``."""
    return _set_active(app, req, True)


def deactivate_webhook(app: Backend, req: Request) -> Reply:
    """``PUT /webhooks/{id}/deactivate``."""
    return _set_active(app, req, False)


# ---------------------------------------------------------------------------------------------------- filters
def _filter_input(app: Backend, req: Request, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not isinstance(body, dict):
        return {}, [{"path": [], "message": "expected a JSON object"}]
    errors: list[dict[str, Any]] = []

    def need(key: str, ok: bool, what: str) -> None:
        if key not in body:
            errors.append({"path": [key], "message": f"{key} is required"})
        elif not ok:
            errors.append({"path": [key], "message": f"{key} must be {what}, got {body[key]!r}"})

    need("webhookId", is_uuid(body.get("webhookId")), "a UUID string")
    need("filterKey", isinstance(body.get("filterKey"), str) and bool(body.get("filterKey")), "a non-empty string")
    need("filterValue", isinstance(body.get("filterValue"), str), "a string")
    need("filterType", body.get("filterType") in FILTER_TYPES, f"one of {', '.join(FILTER_TYPES)}")
    need("filterOperation", body.get("filterOperation") in FILTER_OPERATIONS, "a known operation")
    need("active", isinstance(body.get("active"), bool), "true or false")
    if not errors and app.store.get_doc("webhook", body["webhookId"], client_id=_client(req)) is None:
        errors.append({"path": ["webhookId"], "message": f"no webhook with id {body['webhookId']}"})
    keys = ("webhookId", "filterKey", "filterValue", "filterType", "filterOperation", "active")
    return {k: body.get(k) for k in keys}, errors


def _filter_record(fields: dict[str, Any], filter_id: str, created: str | None, now: str) -> dict[str, Any]:
    return {"id": filter_id, **fields, "createdAt": created or now, "updatedAt": now, "deletedAt": None}


def list_filters(app: Backend, req: Request) -> Reply:
    """``GET /webhook-filters/``."""
    return Reply(status=200, body={"filters": app.store.docs("filter", client_id=_client(req))})


def filters_of_webhook(app: Backend, req: Request) -> Reply:
    """``GET /webhook-filters/webhook/{webhookId}``."""
    found = app.store.docs("filter", client_id=_client(req), parent=req.params["webhookId"])
    return Reply(status=200, body={"filters": found})


def create_filter(app: Backend, req: Request) -> Reply:
    """``POST /webhook-filters/``: 201 with the new filter (generic 400 on bad input)."""
    fields, errors = _filter_input(app, req, json_body(req))
    if errors:
        return Reply(status=400, body=caliper_error("Invalid webhook filter", errors))
    record = _filter_record(fields, new_uuid(), None, iso_ms(_now()))
    app.store.put_doc("filter", record["id"], record, client_id=_client(req), parent=fields["webhookId"])
    return Reply(status=201, body={"filter": record})


def get_filter(app: Backend, req: Request) -> Reply:
    """``GET /webhook-filters/{id}``."""
    record = app.store.get_doc("filter", req.params["id"], client_id=_client(req))
    return Reply(status=200, body={"filter": record}) if record else _not_found("Filter")


def replace_filter(app: Backend, req: Request) -> Reply:
    """``PUT /webhook-filters/{id}``."""
    old = app.store.get_doc("filter", req.params["id"], client_id=_client(req))
    if old is None:
        return _not_found("Filter")
    fields, errors = _filter_input(app, req, json_body(req))
    if errors:
        return Reply(status=400, body=caliper_error("Invalid webhook filter", errors))
    record = _filter_record(fields, old["id"], old.get("createdAt"), iso_ms(_now()))
    app.store.put_doc("filter", record["id"], record, client_id=_client(req), parent=fields["webhookId"])
    return Reply(status=200, body={"filter": record})


def delete_filter(app: Backend, req: Request) -> Reply:
    """``DELETE /webhook-filters/{id}``."""
    if not app.store.delete_doc("filter", req.params["id"], client_id=_client(req)):
        return _not_found("Filter")
    return Reply(status=200, body=dict(DELETED))


ROUTES = [
    Route("GET", "/webhooks", list_webhooks, CALIPER, READ),
    Route("POST", "/webhooks", create_webhook, CALIPER, WRITE),
    Route("GET", "/webhooks/{id}", get_webhook, CALIPER, READ),
    Route("PUT", "/webhooks/{id}", replace_webhook, CALIPER, WRITE),
    Route("DELETE", "/webhooks/{id}", delete_webhook, CALIPER, WRITE),
    Route("PUT", "/webhooks/{id}/activate", activate_webhook, CALIPER, WRITE),
    Route("PUT", "/webhooks/{id}/deactivate", deactivate_webhook, CALIPER, WRITE),
    Route("GET", "/webhook-filters", list_filters, CALIPER, READ),
    Route("POST", "/webhook-filters", create_filter, CALIPER, WRITE),
    Route("GET", "/webhook-filters/webhook/{webhookId}", filters_of_webhook, CALIPER, READ),
    Route("GET", "/webhook-filters/{id}", get_filter, CALIPER, READ),
    Route("PUT", "/webhook-filters/{id}", replace_filter, CALIPER, WRITE),
    Route("DELETE", "/webhook-filters/{id}", delete_filter, CALIPER, WRITE),
]
