"""The trend charts as people see them (issue 22, acceptance 3): the dashboard's MTTR per day and
the reports page's MTTA/MTTR per month by severity and incidents per week by service, drawn from the
demo data, in English and Korean, light and dark, on a desktop and a 390 px phone. Each drawing is
visible, inside the window, coloured by the scheme in use, and its figures are one click away.
Screenshots: var/screenshots/<locale>/charts-<page>-<scheme>-<device>.png.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_flows import PHONE

pytestmark = pytest.mark.browser

DESKTOP = {"viewport": {"width": 1366, "height": 900}}
# The scheme's accent colour, which the first series is filled with (portal.css).
ACCENT = {"light": "rgb(31, 95, 191)", "dark": "rgb(127, 176, 255)"}

# Where each drawing sits in the window, and the colours it was painted with.
MEASURE = """(svg) => {
  const box = svg.getBoundingClientRect();
  const bar = svg.querySelector("rect.series-0");
  const label = svg.querySelector(".chart-label text");
  return {left: box.left, right: box.right, width: box.width, height: box.height,
          window: document.documentElement.clientWidth,
          pageWidth: document.documentElement.scrollWidth,
          bars: svg.querySelectorAll("rect").length,
          barFill: bar ? getComputedStyle(bar).fill : null,
          labelFill: getComputedStyle(label).fill,
          background: getComputedStyle(document.body).backgroundColor,
          // What sticks out, to name in a failure.
          wide: [...document.querySelectorAll("main *")]
            .filter((el) =>
              el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 6)
            .map((el) =>
              `${el.tagName}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)};
}"""


def check_charts(page, count: int, scheme: str):
    charts = page.locator("svg.bar-trend")
    expect(charts).to_have_count(count)
    for index in range(count):
        chart = charts.nth(index)
        expect(chart).to_be_visible()
        found = chart.evaluate(MEASURE)
        assert found["left"] >= 0 and found["right"] <= found["window"] + 1, found
        assert found["pageWidth"] <= found["window"], found["wide"]
        assert found["width"] > 300 and found["height"] > 60, found  # a real drawing, not a dot
        assert found["bars"] > 0 and found["barFill"] == ACCENT[scheme], found
        assert found["labelFill"] != found["background"], found


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_dashboard_and_reports_draw_their_trends_inside_the_window(
    log_in, t, shot, locale, scheme, device
):
    options = dict(PHONE if device == "phone" else DESKTOP)
    page = log_in("max", color_scheme=scheme, **options)
    expect(
        page.locator("figcaption", has_text=t("Median MTTR per day, last %(days)d days", days=30))
    ).to_be_visible()
    check_charts(page, 1, scheme)
    shot(page, f"charts-dashboard-{scheme}-{device}")

    page.goto("/incidents/reports/")
    expect(page.get_by_role("heading", name=t("Trends"))).to_be_visible()
    for title in (
        "MTTA per month by severity (mean)",
        "MTTR per month by severity (mean)",
        "Incidents per week by service",
    ):
        expect(page.locator("figcaption", has_text=t(title))).to_be_visible()
    # The three trends, then the report's own four: incidents, median MTTA and MTTR per month,
    # MTTR p95 per severity (core.charts draws them all).
    check_charts(page, 7, scheme)
    shot(page, f"charts-reports-{scheme}-{device}")
    # The drawings themselves at their real size, to read their type and colours.
    for index, name in enumerate(("mtta", "mttr", "weekly")):
        page.locator("figure.svg-chart").nth(index).screenshot(
            path=str(SCREENSHOTS / locale / f"charts-reports-{name}-{scheme}-{device}.png")
        )

    # The figures behind a drawing, for a screen reader or a reader who wants numbers.
    figure = page.locator("figure.svg-chart").filter(has_text=t("Incidents per week by service"))
    figure.locator("summary").click()
    table = figure.locator("table.chart-table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr").first).to_be_visible()

    # A backup target's size and duration of its recent runs (the demo's target has run once).
    page.goto("/backups/")
    page.locator("main a[href*='/backups/targets/']").first.click()
    expect(page.locator("figcaption", has_text=t("Backup size, recent runs"))).to_be_visible()
    check_charts(page, 2, scheme)
    shot(page, f"charts-backup-{scheme}-{device}")
