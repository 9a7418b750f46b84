"""API pieces shared by every app: the one error shape."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Raised by services when a rule forbids what was asked (e.g. a transition
    not allowed from the current status). The API answers 400, or 409 for a
    conflict with the current state; pages show the message."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None, conflict: bool = False):
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


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        key = exc.field or "detail"
        body = {key: [exc.message] if exc.field else exc.message, "code": exc.code}
        if isinstance(exc, QueueUnavailable):
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(body, status=status.HTTP_409_CONFLICT if exc.conflict else status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
        # A bare list (e.g. SearchFilter's "Null characters are not allowed.") becomes the same
        # {"detail": [...]} object every other error is, as the schema documents.
        exc = exceptions.ValidationError({"detail": exc.detail})
    return drf_exception_handler(exc, context)
