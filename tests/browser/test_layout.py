"""Every page keeps its frame (issue 23, item 5 and acceptance 3): each top-level page, on a
1366 px desktop and a 390 px phone, in English and in Korean, fits the window. Nothing pushes the
page wider than the screen, and nothing spills out of its box, except inside a scroll area that
is marked as one (`.table-wrap`: edge shadows say there is more sideways).

The pages are the ones the menu links to (and the account menu), read from the page itself, so
a new app's page is checked as soon as it is in the menu, and the first row each of them links to
(an incident, a probe, a checklist run…). Screenshots: var/screenshots/<locale>/layout-*.png.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser.test_flows import PHONE

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1366, "height": 900}}
SCROLL_AREA = ".table-wrap"
# Status words and badges read as one word: "정상" never becomes "정" over "상".
BADGES = ".status, .sev, .pm-status, .tag"

# What sticks out of the window or out of its own box, outside a marked scroll area. Elements
# moved off-screen on purpose (the skip link, a card table's hidden head) are left of 0.
OVERFLOW = """([scrollArea, badges]) => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
    " «" + (el.innerText || el.value || "").trim().slice(0, 40) + "»";
  if (document.documentElement.scrollWidth > window.innerWidth) {
    found.push(
      `page: ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(scrollArea) && !el.matches(scrollArea)) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const hidden = style.display === "none" || style.visibility === "hidden";
    if (hidden || box.width === 0 || box.right <= 0) continue;
    if (box.right > width + 1) {
      found.push(`${describe(el)}: right edge at ${Math.round(box.right)} px`);
      continue;
    }
    // Spilling is judged on the portal's own frame and content (the Django admin lays its sidebar
    // over a margin on purpose), and not inside drawings.
    if (el.matches(scrollArea) || style.display === "inline" || el.clientWidth === 0) continue;
    if (!el.closest("main#main, header.topbar") || el instanceof SVGElement) continue;
    // Clipping on purpose (a visually hidden label) is not spilling.
    if (el.scrollWidth > el.clientWidth + 1 && !["hidden", "clip"].includes(style.overflowX)) {
      const scrolls = ["auto", "scroll"].includes(style.overflowX);
      const what = scrolls ? "scrolls sideways unmarked" : "content spills out";
      found.push(`${describe(el)}: ${what}` +
        ` (${el.scrollWidth} px in ${el.clientWidth} px)`);
    }
  }
  for (const el of document.body.querySelectorAll(badges)) {
    // The lines each of its words takes (the box itself may be stretched by a flex row).
    const texts = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const rects = [...range.getClientRects()].filter((r) => r.width > 0);
      const lines = new Set(rects.map((r) => Math.round(r.top)));
      if (lines.size > 1) found.push(`${describe(el)}: breaks over ${lines.size} lines`);
    }
  }
  return found;
}"""


def menu_pages(page) -> list[str]:
    """The addresses the main menu and the account menu link to, in their order."""
    links = page.locator("#main-nav a, .account .menu a")
    return list(
        dict.fromkeys(links.evaluate_all("links => links.map(a => a.getAttribute('href'))"))
    )


@pytest.fixture(scope="module")
def pages(browser, portal, locale):
    context = browser.new_context(base_url=portal.url, **DESKTOP)
    page = context.new_page()
    page.goto("/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{portal.url}/")
    found = ["/", *menu_pages(page)]
    # Each list's first row too (an incident, a probe, a run…): the demo data fills them.
    for address in list(found):
        page.goto(address)
        deeper = page.locator("main#main a").evaluate_all(
            "(links, base) => links.map(a => a.getAttribute('href')).filter(href => href && "
            "href.startsWith(base) && /^\\/[\\w-]+\\/(?:[\\w-]+\\/)?\\d+\\/$/.test(href))",
            address,
        )
        if deeper and address != "/" and deeper[0] not in found:
            found.append(deeper[0])
    context.close()
    return found


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_top_level_page_fits_the_window(log_in, pages, shot, t, device):
    # the menu was read: dashboard, incidents, checklists, probes, backups…
    assert len(pages) >= 10, pages
    page = log_in("admin", **(DESKTOP if device == "desktop" else PHONE))
    problems = {}
    for address in pages:
        response = page.goto(address)
        assert response.status == 200, f"{address}: {response.status}"
        page.wait_for_load_state("load")
        name = address.strip("/").replace("/", "-") or "dashboard"
        shot(page, f"layout-{device}-{name}")
        found = page.evaluate(OVERFLOW, [SCROLL_AREA, BADGES])
        if found:
            problems[address] = found[:8]
    assert not problems, "\n".join(
        f"{address}:\n  " + "\n  ".join(found) for address, found in problems.items()
    )


def test_the_menu_is_one_line_on_a_1366_px_desktop(log_in, t):
    page = log_in("admin", **DESKTOP)
    nav = page.get_by_role("navigation", name=t("Main"))
    links = nav.get_by_role("link")
    expect(links.first).to_be_visible()
    tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(links.count()))}
    assert len(tops) == 1, f"the menu takes {len(tops)} lines"
    topbar = page.locator("header.topbar").bounding_box()
    assert topbar["height"] < 60, topbar


def test_the_admin_incident_list_gives_titles_room(log_in):
    page = log_in("admin", **DESKTOP)
    page.goto("/admin/incidents/incident/")
    titles = page.locator("#result_list .field-title")
    expect(titles.first).to_be_visible()
    assert titles.count() >= 3  # the demo's incidents
    for i in range(titles.count()):
        title = titles.nth(i)
        line = title.evaluate("el => parseFloat(getComputedStyle(el).lineHeight) || 20")
        assert title.bounding_box()["height"] <= 2.5 * line + 12, (
            f"«{title.inner_text()}» takes more than two lines"
        )
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
