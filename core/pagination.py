from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


def strict_page_size(paginator, request) -> int:
    """The page size asked for, at most max_page_size. DRF's own falls back to the default
    on a value that is no positive integer; the schema promises one, so anything else is a 400."""
    raw = request.query_params.get(paginator.page_size_query_param)
    if raw is None:
        return paginator.page_size
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValidationError(
            {paginator.page_size_query_param: [_("Enter a whole number of at least 1.")]}
        )
    return min(int(raw), paginator.max_page_size)


def documented(paginator, parameters: list[dict]) -> list[dict]:
    for parameter in parameters:
        if parameter["name"] == paginator.page_size_query_param:
            parameter["schema"] = {**parameter["schema"], "minimum": 1}
            parameter["description"] = _(
                "Rows per page, at most %(max)d (larger values give %(max)d)."
            ) % {"max": paginator.max_page_size}
    return parameters


class PortalPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        return strict_page_size(self, request)

    def get_page_number(self, request, paginator):
        # DRF reads `?page=` (empty) as page 1; the schema promises an integer: no such page.
        number = request.query_params.get(self.page_query_param)
        if number == "":
            raise NotFound(
                self.invalid_page_message.format(page_number=number, message=_("No page given."))
            )
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        return documented(self, super().get_schema_operation_parameters(view))


class AppendOnlyPagination(CursorPagination):
    """For tables that only grow (timeline, results, runs): no COUNT(*), no OFFSET."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def get_page_size(self, request):
        return strict_page_size(self, request)

    def get_schema_operation_parameters(self, view):
        return documented(self, super().get_schema_operation_parameters(view))
