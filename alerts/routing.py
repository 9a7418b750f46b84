"""Routing rules: which service, severity and category an alert's incident gets, and
whether it pages at all.

An integration holds an ordered list of rules:

    [{"match": [{"label": "severity", "op": "equals", "value": "critical"}], "severity": "sev1"},
     {"match": [{"label": "service", "op": "regex", "value": "judgment.*"}], "service": "Judgment"},
     {"match": [{"annotation": "runbook_url", "op": "exists"}], "category": "runbook",
      "stop": true}]

A rule matches when all its matchers do (`equals`; `regex`, anchored at both ends as
Alertmanager's `=~` is; `exists`), each on a label or an annotation. Rules apply top to
bottom: each matching rule sets the fields it names (service by name, severity, category,
page), a later one overriding an earlier one, until a matching rule says `"stop": true`.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from incidents.models import Service, Severity

OPS = ("equals", "regex", "exists")
RULE_FIELDS = {"match", "service", "severity", "category", "page", "stop"}
MATCHER_FIELDS = {"label", "annotation", "op", "value"}
MAX_RULES = 100
MAX_MATCHERS = 20
MAX_PATTERN = 200  # Python's re has no timeout: short patterns keep a hostile one cheap enough
MAX_TEXT = 100


@dataclass(frozen=True)
class Route:
    service: Service
    severity: str
    category: str = ""
    page: bool = True


def validate_rules(rules) -> dict:
    """The errors of a rule list, as a whole, keyed like the JSON: {"1": {"match": {"0":
    {"value": [...]}}}}. Empty when the rules are good. Service names must name existing
    services."""
    if not isinstance(rules, list):
        return {"non_field_errors": [_("Routing rules are a list.")]}
    if len(rules) > MAX_RULES:
        return {"non_field_errors": [_("At most %(max)d routing rules.") % {"max": MAX_RULES}]}
    errors = {}
    names = {
        rule.get("service")
        for rule in rules
        if isinstance(rule, dict) and isinstance(rule.get("service"), str)
    }
    known = (
        set(Service.objects.filter(name__in=names).values_list("name", flat=True))
        if names
        else set()
    )
    for index, rule in enumerate(rules):
        found = _rule_errors(rule, known)
        if found:
            errors[str(index)] = found
    return errors


def _rule_errors(rule, known_services: set[str]) -> dict:
    if not isinstance(rule, dict):
        return {"non_field_errors": [_("A rule is an object.")]}
    errors = {}
    unknown = set(rule) - RULE_FIELDS
    if unknown:
        errors["non_field_errors"] = [
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        ]
    matchers = rule.get("match")
    if not isinstance(matchers, list) or not matchers:
        errors["match"] = [_("A rule needs a list of at least one matcher.")]
    elif len(matchers) > MAX_MATCHERS:
        errors["match"] = [_("At most %(max)d matchers in a rule.") % {"max": MAX_MATCHERS}]
    else:
        found = {str(i): e for i, matcher in enumerate(matchers) if (e := _matcher_errors(matcher))}
        if found:
            errors["match"] = found
    if "service" in rule and (
        not isinstance(rule["service"], str) or rule["service"] not in known_services
    ):
        errors["service"] = [_("No service is named %(name)r.") % {"name": rule["service"]}]
    if "severity" in rule and rule["severity"] not in Severity.values:
        errors["severity"] = [
            _("Severity is one of %(choices)s.") % {"choices": ", ".join(Severity.values)}
        ]
    if "category" in rule and (
        not isinstance(rule["category"], str) or len(rule["category"]) > MAX_TEXT
    ):
        errors["category"] = [
            _("A category is text of at most %(max)d characters.") % {"max": MAX_TEXT}
        ]
    for flag in ("page", "stop"):
        if flag in rule and not isinstance(rule[flag], bool):
            errors[flag] = [_("Must be true or false.")]
    if not errors and not set(rule) & {"service", "severity", "category", "page", "stop"}:
        errors["non_field_errors"] = [
            _("A rule sets at least one of service, severity, category, page or stop.")
        ]
    return errors


def _matcher_errors(matcher) -> dict:
    if not isinstance(matcher, dict):
        return {"non_field_errors": [_("A matcher is an object.")]}
    errors = {}
    unknown = set(matcher) - MATCHER_FIELDS
    if unknown:
        errors["non_field_errors"] = [
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        ]
    named = [key for key in ("label", "annotation") if key in matcher]
    if len(named) != 1:
        errors["label"] = [_("A matcher names either a label or an annotation.")]
    elif (
        not isinstance(matcher[named[0]], str)
        or not matcher[named[0]]
        or len(matcher[named[0]]) > MAX_TEXT
    ):
        errors[named[0]] = [_("A name of 1 to %(max)d characters.") % {"max": MAX_TEXT}]
    op = matcher.get("op", "equals")
    if op not in OPS:
        errors["op"] = [_("op is one of %(choices)s.") % {"choices": ", ".join(OPS)}]
    elif op == "exists":
        if "value" in matcher:
            errors["value"] = [_("An `exists` matcher takes no value.")]
    elif not isinstance(matcher.get("value"), str):
        errors["value"] = [_("This matcher needs a value (text).")]
    elif op == "regex":
        pattern = matcher["value"]
        if len(pattern) > MAX_PATTERN:
            errors["value"] = [_("A pattern of at most %(max)d characters.") % {"max": MAX_PATTERN}]
        else:
            try:
                re.compile(pattern)
            except re.error as error:
                errors["value"] = [
                    _("Not a valid regular expression: %(error)s.") % {"error": error}
                ]
    return errors


def matches(matcher: dict, labels: dict, annotations: dict) -> bool:
    if "label" in matcher:
        values, name = labels, matcher["label"]
    else:
        values, name = annotations, matcher["annotation"]
    op = matcher.get("op", "equals")
    if op == "exists":
        return name in values
    value = values.get(name)
    if value is None:
        return False
    if op == "equals":
        return value == matcher["value"]
    return _compiled(matcher["value"]).fullmatch(value) is not None


_PATTERNS: dict[str, re.Pattern] = {}


def _compiled(pattern: str) -> re.Pattern:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        if len(_PATTERNS) > 1000:
            _PATTERNS.clear()
        compiled = _PATTERNS[pattern] = re.compile(pattern)
    return compiled


def route(
    integration,
    labels: dict,
    annotations: dict,
    *,
    services: dict[str, Service],
    base_service: Service | None = None,
    base_severity: str | None = None,
) -> Route:
    """Where one alert goes. `services` maps the names the rules use to services (one query per
    delivery, see services_for); a rule naming a service deleted since falls back to the default."""
    fields = {
        "service": base_service or integration.default_service,
        "severity": base_severity or integration.default_severity,
        "category": "",
        "page": True,
    }
    for rule in integration.rules or ():
        if not all(matches(matcher, labels, annotations) for matcher in rule["match"]):
            continue
        if rule.get("service") in services:
            fields["service"] = services[rule["service"]]
        for name in ("severity", "category", "page"):
            if name in rule:
                fields[name] = rule[name]
        if rule.get("stop"):
            break
    return Route(**fields)


def services_for(integration) -> dict[str, Service]:
    names = {rule["service"] for rule in integration.rules or () if rule.get("service")}
    return (
        {service.name: service for service in Service.objects.filter(name__in=names)}
        if names
        else {}
    )


def flatten(errors: dict, prefix: str = "") -> list[str]:
    """`{"1": {"match": {"0": {"value": ["bad"]}}}}` → ["rules[1].match[0].value: bad"] for
    one-line messages."""
    lines = []
    for key, value in errors.items():
        path = (
            prefix
            if key == "non_field_errors"
            else (f"{prefix}[{key}]" if key.isdigit() else f"{prefix}.{key}")
        )
        if isinstance(value, dict):
            lines.extend(flatten(value, path))
        else:
            lines.extend(f"{path.lstrip('.')}: {message}" for message in value)
    return lines
