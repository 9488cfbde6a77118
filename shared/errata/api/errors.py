"""Every error the API answers, as problem+json, mapped once by exception type."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from errata.api.context import problem_response
from errata.source_control.webhooks import InvalidWebhook, WebhookRejected
from errata.store.integrations import TicketInProgress
from errata.trackers.ticket_facts import TrackerFailed
from errata.trackers.tickets import TrackerNotConfigured


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
    def not_found(error: NotFoundError) -> Response[Any]:
        return problem_response(404, str(error.msg), "not_found")

    @app.not_found
    def no_route(error: Exception) -> Response[Any]:
        event = app.current_event
        return problem_response(404, f"no route {event.http_method} {event.path}", "no_route")

    @app.exception_handler(BadRequestError)  # type: ignore[untyped-decorator]
    def bad_request(error: BadRequestError) -> Response[Any]:
        return problem_response(400, str(error.msg), "bad_request")

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(error: RequestValidationError) -> Response[Any]:
        """422 with the reason of each error (Powertools' default drops `msg`), never the input echoed back."""
        errors = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in error.errors()]
        summary = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(422, summary or "invalid request", "invalid_request", errors=errors)

    @app.exception_handler(RecursionError)  # type: ignore[untyped-decorator]
    def nested_too_deeply(error: RecursionError) -> Response[Any]:
        """A body nested thousands of levels deep exhausts the JSON parser's recursion (Powertools parses
        bodies with `json.loads`): the client's fault, not a 500."""
        return problem_response(400, "the request body is nested too deeply to be parsed", "invalid_json")

    @app.exception_handler(WebhookRejected)  # type: ignore[untyped-decorator]
    def webhook_rejected(error: WebhookRejected) -> Response[Any]:
        return problem_response(401, str(error), "invalid_signature")

    @app.exception_handler(InvalidWebhook)  # type: ignore[untyped-decorator]
    def invalid_webhook(error: InvalidWebhook) -> Response[Any]:
        return problem_response(400, str(error), "invalid_webhook")

    @app.exception_handler(TrackerNotConfigured)  # type: ignore[untyped-decorator]
    def tracker_not_configured(error: TrackerNotConfigured) -> Response[Any]:
        return problem_response(409, str(error), "tracker_not_configured")

    @app.exception_handler(TicketInProgress)  # type: ignore[untyped-decorator]
    def ticket_in_progress(error: TicketInProgress) -> Response[Any]:
        return problem_response(409, str(error), "ticket_in_progress", {"Retry-After": "5"})

    @app.exception_handler(TrackerFailed)  # type: ignore[untyped-decorator]
    def tracker_failed(error: TrackerFailed) -> Response[Any]:
        """The tracker's own reason, as a gateway error: the request was fine, the tracker was not."""
        return problem_response(502, str(error), "tracker_failed")
