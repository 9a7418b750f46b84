"""django-q2 entry points: thin, id-based."""

from status import services


def send_confirmation(subscriber_id: int) -> bool:
    """After a subscription request commits: mail the confirmation link."""
    return services.send_confirmation(subscriber_id=subscriber_id)
