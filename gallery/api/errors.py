"""The REST API's errors: one JSON shape, `{"detail": <words>, "errors"?: {field: [...]}}`.

Domain code raises Django's own (Http404, PermissionDenied) or these; the handlers installed
on the API turn each into its status, so a route says what went wrong, not how to answer.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI

from gallery.api.auth import Forbidden, Refused


class Invalid(Exception):
    """400: the request asks for something that cannot be done as asked."""

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors


class TooMany(Exception):
    """429: a rate limit or a budget; `retry_after` seconds when waiting will help."""

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Conflict(Exception):
    """409: the object is not in a state that allows this (cancel a finished generation)."""


def install(api: NinjaAPI) -> None:
    def answer(request: HttpRequest, status: int, detail: str, **extra) -> HttpResponse:
        body = {"detail": detail} | {k: v for k, v in extra.items() if v is not None}
        return api.create_response(request, body, status=status)

    @api.exception_handler(Refused)
    def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
        response = answer(request, 401, str(exc))
        response["WWW-Authenticate"] = 'Bearer realm="atelier"'
        return response

    @api.exception_handler(Forbidden)
    def forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
        return answer(request, 403, str(exc))

    @api.exception_handler(PermissionDenied)
    def denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return answer(request, 403, "Your role in this team cannot change this.")

    @api.exception_handler(Http404)
    def missing(request: HttpRequest, exc: Http404) -> HttpResponse:
        return answer(request, 404, "Not found (or not in this token's team).")

    @api.exception_handler(Invalid)
    def invalid(request: HttpRequest, exc: Invalid) -> HttpResponse:
        return answer(request, 400, str(exc), errors=exc.errors)

    @api.exception_handler(Conflict)
    def conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
        return answer(request, 409, str(exc))

    @api.exception_handler(TooMany)
    def too_many(request: HttpRequest, exc: TooMany) -> HttpResponse:
        response = answer(request, 429, str(exc))
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response


__all__ = ["Conflict", "Invalid", "TooMany", "install"]
