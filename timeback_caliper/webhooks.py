"""``client.webhooks``: webhook and webhook-filter registrations on the Caliper back end (contract §4.6-4.7).

The client manages registrations only. The payload the service posts to a webhook, and any signature on it, are
not documented (contract §11), so this module offers no ``verify()``: there is no scheme to check against.

Secrets: a webhook's ``secret`` travels in request and response bodies, so every call here asks the HTTP layer
not to log bodies (``sensitive=True``), models keep it out of ``repr``, log lines name webhooks by id only, and an
error's message and kept body show ``***`` in its place (also where a server echoes the input).
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from ._http import HttpResponse, HttpTransport
from .errors import ApiError, CaliperValidationError, Problem, UnexpectedResponseError
from .models.webhooks import Webhook, WebhookFilter, WebhookFilterInput, WebhookInput

__all__ = ["WebhookFilters", "Webhooks"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_WEBHOOKS = "/webhooks/"  # collection paths end with "/" as documented
_WEBHOOK = "/webhooks/{id}"
_FILTERS = "/webhook-filters/"
_FILTER = "/webhook-filters/{id}"
_FILTERS_OF = "/webhook-filters/webhook/{id}"


def _id(name: str, value: Any) -> str:
    """A path id, percent-encoded completely (contract §3.1)."""
    if isinstance(value, uuid.UUID):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise CaliperValidationError(
            f"{name} must be a non-empty string: nothing was sent", [Problem(name, f"got {value!r}", "type")]
        )
    return quote(value, safe="")


MASK = "***"


def _masked(value: Any, secret: str | None) -> Any:
    """``value`` with every ``secret`` key's value, and every echo of ``secret`` in a string, replaced by ``***``."""
    if isinstance(value, dict):
        return {k: MASK if k == "secret" and isinstance(v, str) else _masked(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secret) for v in value]
    if isinstance(value, str) and secret:
        return value.replace(secret, MASK)
    return value


def _read(reply: HttpResponse, reader: Callable[[Any], T]) -> T:
    try:
        return reader(reply.body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a safety net: readers are meant to be total
        # The body is kept for diagnosis, as on every UnexpectedResponseError, but without any webhook's secret.
        raise UnexpectedResponseError(
            str(exc), status_code=reply.status_code, body=_masked(reply.body, None), request_id=reply.request_id
        ) from exc


def _webhook_body(webhook: WebhookInput) -> dict[str, Any]:
    if not isinstance(webhook, WebhookInput):
        raise TypeError(f"expected a WebhookInput, got {type(webhook).__name__}")
    body: dict[str, Any] = {
        "name": webhook.name,
        "description": webhook.description,  # a required key: sent as null when None
        "targetUrl": webhook.target_url,
        "secret": webhook.secret,
        "active": webhook.active,
    }
    if webhook.sensor is not None:  # optional: left out rather than sent as null
        body["sensor"] = webhook.sensor
    return body


def _filter_body(spec: WebhookFilterInput) -> dict[str, Any]:
    if not isinstance(spec, WebhookFilterInput):
        raise TypeError(f"expected a WebhookFilterInput, got {type(spec).__name__}")
    return {
        "webhookId": spec.webhook_id,
        "filterKey": spec.filter_key,
        "filterValue": spec.filter_value,
        "filterType": spec.filter_type,
        "filterOperation": spec.filter_operation,
        "active": spec.active,
    }


class WebhookFilters:
    """``client.webhooks.filters``: which events reach a webhook."""

    def __init__(self, http: HttpTransport) -> None:
        self._http = http

    def list(self, *, webhook_id: str | uuid.UUID | None = None) -> builtins.list[WebhookFilter]:
        """Every filter (``GET /webhook-filters/``), or those of one webhook (``/webhook-filters/webhook/{id}``).

        Raises:
            ApiError, TransportError; UnexpectedResponseError: a 2xx answer without a filters list.
        """
        path = _FILTERS if webhook_id is None else _FILTERS_OF.format(id=_id("webhook_id", webhook_id))
        return _read(self._http.request("GET", path), WebhookFilter.list_from_reply)

    def get(self, filter_id: str | uuid.UUID) -> WebhookFilter:
        """One filter (``GET /webhook-filters/{id}``).

        Raises:
            NotFoundError: unknown id; UnexpectedResponseError: a 2xx answer without a filter object.
        """
        path = _FILTER.format(id=_id("filter_id", filter_id))
        return _read(self._http.request("GET", path), WebhookFilter.from_reply)

    def create(self, spec: WebhookFilterInput) -> WebhookFilter:
        """Add a filter to a webhook (``POST /webhook-filters/``).

        Args:
            spec: The filter; its fields were checked when it was built.

        Raises:
            BadRequestError: the server refused it (generic error shape); UnexpectedResponseError as above.
        """
        reply = self._http.request("POST", _FILTERS, json=_filter_body(spec))
        created = _read(reply, WebhookFilter.from_reply)
        logger.debug("created webhook filter %s on webhook %s", created.id, created.webhook_id)
        return created

    def update(self, filter_id: str | uuid.UUID, spec: WebhookFilterInput) -> WebhookFilter:
        """Replace a filter (``PUT /webhook-filters/{id}``); ``WebhookFilter.to_input()`` is a starting point."""
        path = _FILTER.format(id=_id("filter_id", filter_id))
        return _read(self._http.request("PUT", path, json=_filter_body(spec)), WebhookFilter.from_reply)

    def delete(self, filter_id: str | uuid.UUID) -> None:
        """Delete a filter (``DELETE /webhook-filters/{id}``); any 2xx is success."""
        self._http.request("DELETE", _FILTER.format(id=_id("filter_id", filter_id)))
        logger.debug("deleted webhook filter %s", filter_id)


class Webhooks:
    """``client.webhooks``: register, change, switch on and off, and remove webhooks; ``.filters`` for their filters."""

    def __init__(self, http: HttpTransport) -> None:
        self._http = http
        self.filters = WebhookFilters(http)
        """Webhook filters: ``client.webhooks.filters.list(webhook_id=...)``."""

    def list(self) -> builtins.list[Webhook]:
        """Every webhook of these credentials (``GET /webhooks/``).

        Raises:
            ApiError, TransportError; UnexpectedResponseError: a 2xx answer without a webhooks list.
        """
        return _read(self._request("GET", _WEBHOOKS), Webhook.list_from_reply)

    def get(self, webhook_id: str | uuid.UUID) -> Webhook:
        """One webhook (``GET /webhooks/{id}``).

        Raises:
            NotFoundError: unknown id; UnexpectedResponseError: a 2xx answer without a webhook object.
        """
        return _read(self._request("GET", _WEBHOOK.format(id=_id("webhook_id", webhook_id))), Webhook.from_reply)

    def create(self, webhook: WebhookInput) -> Webhook:
        """Register a webhook (``POST /webhooks/``).

        Args:
            webhook: The registration; its fields were checked when it was built.

        Raises:
            BadRequestError: the server refused it (``errors`` holds its per-field details);
                UnexpectedResponseError: a 2xx answer without a webhook object.
        """
        created = _read(self._request("POST", _WEBHOOKS, json=_webhook_body(webhook)), Webhook.from_reply)
        logger.debug("created webhook %s", created.id)
        return created

    def update(self, webhook_id: str | uuid.UUID, webhook: WebhookInput) -> Webhook:
        """Replace every field of a webhook (``PUT /webhooks/{id}``).

        To change one field, start from the current one: ``attrs.evolve(hook.to_input(), target_url=...)``.

        Raises:
            BadRequestError, NotFoundError; UnexpectedResponseError: a 2xx answer without a webhook object.
        """
        path = _WEBHOOK.format(id=_id("webhook_id", webhook_id))
        return _read(self._request("PUT", path, json=_webhook_body(webhook)), Webhook.from_reply)

    def delete(self, webhook_id: str | uuid.UUID) -> None:
        """Delete a webhook (``DELETE /webhooks/{id}``); any 2xx is success."""
        self._request("DELETE", _WEBHOOK.format(id=_id("webhook_id", webhook_id)))
        logger.debug("deleted webhook %s", webhook_id)

    def activate(self, webhook_id: str | uuid.UUID) -> Webhook:
        """Switch a webhook on (``PUT /webhooks/{id}/activate``); returns it with ``active=True``."""
        path = _WEBHOOK.format(id=_id("webhook_id", webhook_id)) + "/activate"
        return _read(self._request("PUT", path), Webhook.from_reply)

    def deactivate(self, webhook_id: str | uuid.UUID) -> Webhook:
        """Switch a webhook off (``PUT /webhooks/{id}/deactivate``); returns it with ``active=False``."""
        path = _WEBHOOK.format(id=_id("webhook_id", webhook_id)) + "/deactivate"
        return _read(self._request("PUT", path), Webhook.from_reply)

    def _request(self, method: str, path: str, *, json: dict[str, Any] | None = None) -> HttpResponse:
        # Webhook bodies, in both directions, carry the secret in clear: never let them reach a DEBUG log.
        try:
            return self._http.request(method, path, json=json, sensitive=True)
        except ApiError as exc:
            # A server may echo the input (a zod error quoting the value): mask the secret in what the error shows.
            secret = json.get("secret") if json else None
            exc.message = _masked(exc.message, secret)
            exc.args = (exc.message,)
            exc.body, exc.errors = _masked(exc.body, secret), _masked(exc.errors, secret)
            raise
