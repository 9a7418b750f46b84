"""API pieces shared by every app: the one error shape."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Raised by services when a rule forbids what was asked (e.g. a transition
    not allowed from the current status). The API answers 400, or 409 for a
    conflict with the current state; pages show the message."""

    def __init__(
        self, message: str, *, code: str = "rule", field: str | None = None, conflict: bool = False
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.conflict = conflict


class QueueUnavailable(DomainError):
    """The task broker (Redis, or the database for the ORM broker) cannot be reached, so work
    that needs a worker was not started. The API answers 503; pages show the message."""

    def __init__(self, message: str):
        super().__init__(message, code="queue_unavailable")


# Validation codes that depend on what is stored, not on the request's shape: the same
# request succeeds once the referenced row exists or the name is free again. Such an
# answer is a conflict with the current state (409), not bad input (400).
STATE_CODES = frozenset({"unique", "does_not_exist", "closed", "immutable"})


def exception_handler(exc, context):
    """Every error of the API in one shape: `detail` (a sentence for people), `code` (stable,
    for programs), `codes` (every rule the request broke) and, for invalid input, a key per
    field with its messages (nested for nested objects). Documented as ErrorSerializer in
    core/schema.py."""
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code, "codes": [exc.code]}
        if exc.field:
            body[exc.field] = [exc.message]
        if isinstance(exc, QueueUnavailable):
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(
            body, status=status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(get_error_detail(exc))  # keeps each message's code
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data, conflict = validation_body(exc)
        if conflict:
            response.status_code = status.HTTP_409_CONFLICT
    else:  # DRF answered {"detail": ErrorDetail}; Http404 and PermissionDenied included
        detail = response.data.get("detail", "")
        code = getattr(detail, "code", None) or "error"
        response.data = {**response.data, "detail": str(detail), "code": code, "codes": [code]}
    return response


def validation_body(exc) -> tuple[dict, bool]:
    """The body of a validation error, and whether it is a conflict with stored state."""
    detail, codes = exc.detail, exc.get_codes()
    if isinstance(detail, dict):
        detail = dict(detail)
    else:
        # A bare list (e.g. SearchFilter's "Null characters are not allowed.") is about no one
        # field.
        detail, codes = {"detail": detail}, {"detail": codes}
    leaves = set(_leaves(codes))
    messages = detail.pop("detail", None) or detail.get(api_settings.NON_FIELD_ERRORS_KEY)
    summary = (
        " ".join(_leaves(messages)) if messages else str(exceptions.ValidationError.default_detail)
    )
    code = next(iter(leaves)) if len(leaves) == 1 else "invalid"
    return {**detail, "detail": summary, "code": code, "codes": sorted(leaves)}, bool(
        leaves
    ) and leaves <= STATE_CODES


def _leaves(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _leaves(value)
    elif isinstance(tree, list | tuple):
        for value in tree:
            yield from _leaves(value)
    else:
        yield str(tree)
