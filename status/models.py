"""Public status pages: what the people affected may see, and whom to tell.

Nothing here is public unless it was written to be: a component's public name,
a public incident's public title, public updates and rendered notices. Internal
fields of incidents (notes, timeline, names, channels) are never read by the
public views (status.services.snapshot builds what they show).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField
from core.outbound import validate_outbound_url
from incidents.models import Incident, NotificationChannel, Service


class Language(models.TextChoices):
    KO = "ko", _("Korean")
    EN = "en", _("English")


LANGUAGE_CODES = tuple(Language.values)


class ComponentState(models.TextChoices):
    # Declared from best to worst: the worst of several wins (status.services.worst).
    OPERATIONAL = "operational", _("operational")
    DEGRADED = "degraded", _("degraded performance")
    PARTIAL = "partial_outage", _("partial outage")
    MAJOR = "major_outage", _("major outage")


class StatusPage(models.Model):
    slug = models.SlugField(
        _("slug"), max_length=50, unique=True, help_text=_("The page is public at /status/<slug>/.")
    )
    title_ko = models.CharField(_("title (Korean)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    language = models.CharField(
        _("default language"), max_length=2, choices=Language.choices, default=Language.KO
    )
    services = models.ManyToManyField(
        Service, verbose_name=_("components"), through="Component", related_name="status_pages"
    )
    channels = models.ManyToManyField(
        NotificationChannel,
        verbose_name=_("team channels"),
        blank=True,
        related_name="+",
        help_text=_("Offered when a notice is sent."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("status page")
        verbose_name_plural = _("status pages")

    def __str__(self):
        return self.slug

    def get_absolute_url(self):
        return reverse("status:page", args=[self.slug])

    def title(self, language: str) -> str:
        return self.title_en if language == Language.EN else self.title_ko


class Component(models.Model):
    """A service as the public sees it: under its public name, never the internal one."""

    page = models.ForeignKey(
        StatusPage,
        verbose_name=_("status page"),
        on_delete=models.CASCADE,
        related_name="components",
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="+"
    )
    name_ko = models.CharField(_("public name (Korean)"), max_length=100)
    name_en = models.CharField(_("public name (English)"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    override = models.CharField(
        _("state override"),
        max_length=20,
        choices=ComponentState.choices,
        blank=True,
        help_text=_("Empty: derived from the open public incidents."),
    )

    class Meta:
        ordering = ["page", "position", "id"]
        verbose_name = _("component")
        verbose_name_plural = _("components")
        constraints = [
            models.UniqueConstraint(
                fields=["page", "service"], name="one_component_per_page_service"
            )
        ]

    def __str__(self):
        return f"{self.page} · {self.name_en}"

    def name(self, language: str) -> str:
        return self.name_en if language == Language.EN else self.name_ko


class PublicIncident(models.Model):
    """An incident marked public, under a title written for the public."""

    incident = models.OneToOneField(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="public"
    )
    title_ko = models.CharField(_("public title (Korean)"), max_length=200, blank=True)
    title_en = models.CharField(_("public title (English)"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("marked public"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("marked public by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("public incident")
        verbose_name_plural = _("public incidents")
        constraints = [
            models.CheckConstraint(
                condition=~Q(title_ko="") | ~Q(title_en=""), name="public_incident_has_a_title"
            )
        ]

    def __str__(self):
        return self.title_en or self.title_ko

    def title(self, language: str) -> str:
        first, second = (
            (self.title_en, self.title_ko)
            if language == Language.EN
            else (self.title_ko, self.title_en)
        )
        return first or second


class UpdateStatus(models.TextChoices):
    INVESTIGATING = "investigating", _("investigating")
    IDENTIFIED = "identified", _("identified")
    MONITORING = "monitoring", _("monitoring")
    RESOLVED = "resolved", _("resolved")


class PublicUpdate(models.Model):
    public_incident = models.ForeignKey(
        PublicIncident,
        verbose_name=_("public incident"),
        on_delete=models.CASCADE,
        related_name="updates",
    )
    status = models.CharField(_("status"), max_length=15, choices=UpdateStatus.choices)
    text_ko = models.TextField(_("text (Korean)"), blank=True)
    text_en = models.TextField(_("text (English)"), blank=True)
    posted_at = models.DateTimeField(_("posted"), default=timezone.now, db_index=True)
    # Kept for the team; never shown publicly.
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-posted_at", "-id"]
        verbose_name = _("public update")
        verbose_name_plural = _("public updates")
        constraints = [
            models.CheckConstraint(
                condition=~Q(text_ko="") | ~Q(text_en=""), name="public_update_has_a_text"
            )
        ]

    def __str__(self):
        return f"{self.public_incident} · {self.status}"

    def text(self, language: str) -> str:
        first, second = (
            (self.text_en, self.text_ko)
            if language == Language.EN
            else (self.text_ko, self.text_en)
        )
        return first or second


class NoticeKind(models.TextChoices):
    STARTED = "started", _("outage started")
    UPDATE = "update", _("update")
    RECOVERED = "recovered", _("recovered")


class NoticeTemplate(models.Model):
    """The text of one kind of notice in one language, a Django template over plain values
    (status.services.notice_context lists them)."""

    kind = models.CharField(_("kind"), max_length=10, choices=NoticeKind.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["kind", "language"]
        verbose_name = _("notice template")
        verbose_name_plural = _("notice templates")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "language"], name="one_notice_template_per_language"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.language})"

    def clean(self):
        from status.services import check_template  # the rendering rules live with the rendering

        check_template(self)


class Notice(models.Model):
    """A notice as it was sent: its text in both languages, written when it was queued.
    Its deliveries are incidents.Notification rows keyed `status:<id>`, one per recipient."""

    page = models.ForeignKey(
        StatusPage, verbose_name=_("status page"), on_delete=models.CASCADE, related_name="notices"
    )
    incident = models.ForeignKey(
        Incident, verbose_name=_("incident"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=NoticeKind.choices)
    subject_ko = models.CharField(_("subject (Korean)"), max_length=300)
    text_ko = models.TextField(_("text (Korean)"))
    subject_en = models.CharField(_("subject (English)"), max_length=300)
    text_en = models.TextField(_("text (English)"))
    channels = models.ManyToManyField(
        NotificationChannel, verbose_name=_("team channels"), blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self):
        return f"{self.get_kind_display()} #{self.incident_id}"

    @property
    def outbox_key(self) -> str:
        return f"status:{self.pk}"

    def subject(self, language: str) -> str:
        return self.subject_en if language == Language.EN else self.subject_ko

    def text(self, language: str) -> str:
        return self.text_en if language == Language.EN else self.text_ko


class SubscriberKind(models.TextChoices):
    EMAIL = "email", _("e-mail")
    WEBHOOK = "webhook", _("webhook")


CONFIRMATION_VALID = timedelta(days=7)
# One confirmation mail per address per this long, however often the form is sent.
CONFIRMATION_RESEND_AFTER = timedelta(hours=24)


def new_token() -> str:
    return secrets.token_urlsafe(32)


class SubscriberQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(confirmed_at__isnull=False)


class Subscriber(models.Model):
    """An e-mail address (double opt-in through the public form) or a machine's webhook (added
    by a manager, so the public form can never make the portal post to a URL)."""

    page = models.ForeignKey(
        StatusPage,
        verbose_name=_("status page"),
        on_delete=models.CASCADE,
        related_name="subscribers",
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=SubscriberKind.choices, default=SubscriberKind.EMAIL
    )
    email = models.EmailField(_("e-mail"), blank=True)
    url = EncryptedTextField(_("webhook URL"), max_length=500, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.KO
    )
    # Confirms and unsubscribes: whoever holds the mail holds the address.
    token = models.CharField(
        max_length=64,
        unique=True,
        default=new_token,
        editable=False,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$")],
    )
    created_at = models.DateTimeField(_("subscribed"), default=timezone.now)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["page", "-created_at"]
        verbose_name = _("subscriber")
        verbose_name_plural = _("subscribers")
        constraints = [
            models.UniqueConstraint(
                fields=["page", "email"],
                condition=Q(kind="email"),
                name="one_subscription_per_page_email",
            ),
            models.CheckConstraint(
                condition=(Q(kind="email") & ~Q(email="")) | (Q(kind="webhook") & Q(email="")),
                name="subscriber_email_iff_email_kind",
            ),
        ]

    def __str__(self):
        return self.email if self.kind == SubscriberKind.EMAIL else f"webhook #{self.pk}"

    def clean(self):
        if self.kind == SubscriberKind.WEBHOOK:
            if not self.url:
                raise ValidationError({"url": _("A webhook subscriber needs a URL.")})
            try:
                validate_outbound_url(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc}) from None
        elif not self.email:
            raise ValidationError({"email": _("An e-mail subscriber needs an address.")})

    @property
    def target(self) -> str:
        return self.email if self.kind == SubscriberKind.EMAIL else self.url

    def confirmation_expired(self, now) -> bool:
        return self.confirmed_at is None and now - self.created_at > CONFIRMATION_VALID
