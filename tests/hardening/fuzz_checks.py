"""schemathesis hooks for the schema fuzz run (loaded through tests/hardening/schemathesis.toml).

positive_data_acceptance fails any 400 to a request its schema allows. Some rules depend on
more than a JSON schema can state: a URL or address that Django's validators check more
strictly than the `uri` and `email` formats, rules across fields ("the due window must be
positive", "a step needs a tier or a contact"), the kind-specific config of a probe or a
backup target. The API answers these with a 400 whose `codes` name the rules; a request
refused for them is accepted here. A 400 for anything else — a type, a format, a
missing or null field the schema allows — is still a failure.
"""

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Codes that depend on stored rows (core.errors.STATE_CODES): alone they answer 409; beside a
# rule's code the answer is the rule's 400.
STATE_CODES = frozenset({"unique", "does_not_exist", "closed", "immutable"})
RULE_CODES = frozenset(
    {
        "rule",  # a rule across fields, against the clock or of the portal's services
        "url",  # an http(s) URL that Django's URLValidator takes (the schema: format uri)
        "email",  # an address that Django's EmailValidator takes (the schema: format email)
        "cron",  # a cron expression croniter reads
        "config",  # a probe's or backup target's settings for its kind (paths, DSN, thresholds)
        "json",  # a multipart field that holds JSON text (runbook import choices)
        "bad_runbook",  # an uploaded file that is no markdown runbook (the schema: format binary)
        "blank",  # text of spaces only: blank once trimmed, which minLength cannot see
        "min_value",  # a duration's lower bound (the schema can bound numbers, not "HH:MM:SS")
        "max_value",
        # A maintenance window longer than the principal's role may make (7 days, 366 days).
        "too_long",
        "reserved",  # a dedup key in the portal's own namespaces (probe:, alert:, backup:)
        "refused_address",  # a link-local or cloud-metadata host (a valid uri, refused by policy)
        "depth",  # JSON nested deeper than PORTAL_JSON_MAX_DEPTH
        "outside_roots",  # a path outside PORTAL_FILE_ROOTS
        "portal_own_path",  # a path into the portal's own data, code or backups
    }
)


@schemathesis.check
def positive_data_acceptance_except_rules(ctx, response, case):
    if response.status_code == 400:
        try:
            codes = set(response.json().get("codes") or ["?"])
        except ValueError:
            codes = {"?"}
        if codes <= RULE_CODES | STATE_CODES:
            return None
    return positive_data_acceptance(ctx, response, case)
