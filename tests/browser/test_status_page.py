"""The public status page in a real browser (issue 17, acceptance 1): an anonymous visitor, an
operator who marks a SEV1 public, posts an update and resolves it; in English and in Korean."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_flows import PHONE, expect_message

pytestmark = pytest.mark.browser

SETUP = """
from incidents import services
from incidents.models import Service
from status.models import Component, StatusPage
service = Service.objects.create(name="storefront-k8s-prod")
page = StatusPage.objects.create(
    slug="shop", title_ko="쇼핑몰 상태", title_en="Shop status", language="ko"
)
Component.objects.create(page=page, service=service, name_ko="쇼핑몰", name_en="Storefront")
incident, _ = services.open_incident(
    service=service, title="ingress OOM on node-7", severity="sev1"
)
print(incident.pk)
"""


def component(page, name):
    return page.get_by_role("listitem").filter(has_text=name)


def test_a_public_sev1_shows_as_major_outage_with_its_update_until_resolved(
    portal, new_page, log_in, t, shot, locale
):
    incident_id = int(portal.manage("shell", "-c", SETUP).strip().splitlines()[-1])
    name = "Storefront" if locale == "en" else "쇼핑몰"
    update = (
        "Checkout is failing; we are on it."
        if locale == "en"
        else "결제가 실패하고 있어 조치 중입니다."
    )

    visitor = new_page(**PHONE)  # anonymous, on a phone
    visitor.goto(f"/status/shop/?lang={locale}")
    expect(visitor.get_by_role("heading", level=1)).to_have_text(
        "Shop status" if locale == "en" else "쇼핑몰 상태"
    )
    expect(visitor.get_by_text(t("All systems operational"))).to_be_visible()
    expect(component(visitor, name)).to_contain_text(t("operational").capitalize())
    # No login form, no portal menu: the page stands on its own.
    expect(visitor.get_by_role("navigation", name=t("Main"))).to_have_count(0)

    operator = log_in("olivia")
    operator.goto(f"/incidents/{incident_id}/")
    panel = operator.locator(
        "section", has=operator.get_by_role("heading", name=t("Tell the users"))
    )
    panel.get_by_label(t("Public title (English)")).fill("Checkout unavailable")
    panel.get_by_label(t("Public title (Korean)")).fill("결제 불가")
    panel.get_by_role("button", name=t("Mark public")).click()
    expect_message(operator, t("The incident is public on its status pages."))
    panel.get_by_label(t("Status")).select_option("investigating")
    panel.get_by_label(t("Text (English)" if locale == "en" else "Text (Korean)")).fill(update)
    panel.get_by_role("button", name=t("Post public update")).click()
    expect_message(operator, t("Public update posted."))
    shot(operator, "status-1-incident-panel")

    visitor.reload()
    expect(component(visitor, name)).to_contain_text(t("major outage").capitalize())
    expect(visitor.get_by_role("main")).to_contain_text(update)
    expect(visitor.get_by_role("main")).to_contain_text(
        "Checkout unavailable" if locale == "en" else "결제 불가"
    )
    expect(visitor.get_by_role("main")).not_to_contain_text("ingress OOM")
    expect(visitor.get_by_role("main")).not_to_contain_text("storefront-k8s-prod")
    shot(visitor, "status-2-major-outage", readme="status-page")

    operator.get_by_label(t("Resolution summary")).fill("Restarted the ingress on node-7.")
    operator.get_by_role("button", name=t("Resolve"), exact=True).click()
    state = operator.locator("section", has=operator.get_by_role("heading", name=t("State")))
    expect(state).to_contain_text(t("resolved"))

    # Resolving alone shows within the page's 15 s cache; the closing update shows it at once.
    recovered = "Checkout works again." if locale == "en" else "결제가 정상화되었습니다."
    panel.get_by_label(t("Status")).select_option("resolved")
    panel.get_by_label(t("Text (English)" if locale == "en" else "Text (Korean)")).fill(recovered)
    panel.get_by_role("button", name=t("Post public update")).click()
    expect_message(operator, t("Public update posted."))

    visitor.reload()
    expect(component(visitor, name)).to_contain_text(t("operational").capitalize())
    expect(visitor.get_by_text(t("All systems operational"))).to_be_visible()
    expect(visitor.get_by_role("main")).to_contain_text(recovered)
    # The other language is one link away.
    other = "ko" if locale == "en" else "en"
    visitor.get_by_role("link", name="한국어" if other == "ko" else "English").click()
    expect(visitor.locator("html")).to_have_attribute("lang", other)
    shot(visitor, "status-3-recovered")
