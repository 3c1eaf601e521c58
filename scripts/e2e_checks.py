"""What a person should see in the Dagster UI after the demo ran; used by `scripts/e2e.py`.

Each check opens one page, waits for it to SETTLE (`e2e_browser.settle`: what it is about is on
screen and nothing is loading any more), only then reads it, asserts with Playwright's web-first
assertions (which retry until their timeout), and saves a screenshot. No fixed sleeps. Expected
values come from the local PostHog Endpoints server's own API and from Dagster's GraphQL API
(separate implementations from the integration and from the UI), not from the code under test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from e2e_browser import TIMEOUT_MS, BrowserError, settle, shoot
from playwright.sync_api import Locator, Page, expect

from endpoints_dagster.local.process import LocalServer

LOCATION = "endpoints_demo"
#: Every asset of the demo project, by the name its node shows.
ASSETS = {
    "daily_signups": "partitioned",
    "events_by_browser": "unpartitioned",  # discovered by the component in demo_defs/
    "revenue_by_country": "unpartitioned",
    "top_events": "unpartitioned",
    "signup_to_purchase_funnel": "unpartitioned",
    "weekly_active_users": "unpartitioned",
    "feature_usage_by_plan": "unpartitioned",
    "kpi_report": "unpartitioned",
}
#: The endpoint whose latest materialization is inspected, with the variables the demo gives it.
SHOWN_ENDPOINT, SHOWN_VARIABLES = "revenue_by_country", {"plan": "pro"}
SLOW_ENDPOINT = "top_events"
SENSOR, SENSOR_JOB = "revenue_by_country_executed", "kpi_report_job"
SCHEDULE, SCHEDULE_JOB, SCHEDULE_CRON = "daily_signups_schedule", "daily_signups_job", "0 1 * * *"
PREVIEW_ROWS_CHECKED = 5


class CheckFailed(AssertionError):
    """The page does not show what a person should see."""


@dataclass
class Context:
    web: str  # the Dagster webserver
    server: LocalServer  # the local PostHog Endpoints server
    run_id: str  # the run of the unpartitioned assets (with the slow endpoint)
    shots: Path  # screenshots folder
    graphql: Callable[..., dict[str, Any]]  # Dagster's GraphQL API: graphql(query, **variables) -> data

    def url(self, path: str) -> str:
        return self.web + path


def require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


ASSET_NODES = "{ assetNodes { id } }"
RUN_MESSAGES = """query($id: ID!) { runOrError(runId: $id) { ... on Run {
  eventConnection { events { ... on MessageEvent { message } } } } } }"""


def asset_count(ctx: Context) -> int:
    """How many asset nodes the code location defines, as Dagster's API counts them."""
    return len(ctx.graphql(ASSET_NODES)["assetNodes"])


def run_messages(ctx: Context, run_id: str) -> list[str]:
    """The messages of a run's event log, in order, from Dagster's API."""
    events = ctx.graphql(RUN_MESSAGES, id=run_id)["runOrError"]["eventConnection"]["events"]
    return [e["message"] for e in events if e.get("message")]


def first_line(error: BaseException) -> str:
    """Playwright's messages go on with a call log; the first lines say what was awaited."""
    return "\n".join(str(error).strip().splitlines()[:4])


# --- The asset graph --------------------------------------------------------------------------

#: The graph's <svg> (every node is a <foreignObject> in it) and its scrolling viewport.
GRAPH_SVG = "document.querySelector('svg foreignObject').ownerSVGElement"
#: Whether the whole graph is inside its viewport, and the current zoom transform.
GRAPH_FITS = f"""(() => {{ const s = {GRAPH_SVG}, v = s.parentElement.parentElement;
  const a = s.getBoundingClientRect(), b = v.getBoundingClientRect();
  const fits = a.left >= b.left && a.top >= b.top && a.right <= b.right && a.bottom <= b.bottom;
  return [fits, s.parentElement.style.transform]; }})()"""
#: The top of the graph's viewport and the graph's height at zoom 1, in CSS pixels.
GRAPH_SIZE = f"""(() => {{ const s = {GRAPH_SVG};
  return [s.parentElement.parentElement.getBoundingClientRect().top, s.height.baseVal.value]; }})()"""
#: Whether the title element is on screen and not covered, at both ends (e.g. by the zoom buttons).
UNCOVERED = """(el) => { const r = el.getBoundingClientRect(), y = r.top + r.height / 2;
  const hits = (x) => {
    const h = document.elementFromPoint(x, y); return !!h && (el.contains(h) || h.contains(el)); };
  return r.width > 0 && hits(r.left + 1) && hits(r.right - 1); }"""
#: The UI draws minimal nodes, whose long names are cut in the middle, below a zoom of 0.6; the
#: zoom buttons step by 0.05 from 1, so the graph must fit at 0.65.
FULL_NODE_ZOOM = 0.66
MAX_WINDOW_HEIGHT = 2400


def graph_nodes(page: Page) -> Locator:
    """Every box in the graph: asset nodes and group boxes."""
    return page.locator("svg foreignObject")


def asset_nodes(page: Page) -> Locator:
    """The asset nodes of the graph (each has a "Latest event" row; group boxes have not)."""
    return graph_nodes(page).filter(has_text="Latest event")


def asset_node(page: Page, name: str) -> Locator:
    """The node box whose title is exactly `name` (a group box never has an asset's name)."""
    return graph_nodes(page).filter(has=page.get_by_text(name, exact=True))


def expand_all_groups(page: Page) -> None:
    """With several groups the graph starts collapsed to one box per group: "Expand all groups"
    from the graph's settings menu, as a person would."""
    collapsed = page.locator("[class*=collapsedGroupNodeBox]")
    if collapsed.count() == 0:
        return
    page.locator("button").filter(has=page.locator("[aria-label=settings]")).last.click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    expect(collapsed, "the asset groups did not all open").to_have_count(0, timeout=TIMEOUT_MS)
    page.keyboard.press("Escape")  # close the settings menu, which would cover the graph


def zoom_to_fit(page: Page) -> None:
    """Zoom out (around the centre) until the whole graph is in its viewport, waiting for each
    step's transform to apply; the window was sized so that this ends above FULL_NODE_ZOOM."""
    zoom_out = page.locator("button").filter(has=page.locator("[aria-label=zoom_out]"))
    for _ in range(12):
        fits, transform = page.evaluate(GRAPH_FITS)
        if fits:
            return
        zoom_out.click()
        page.wait_for_function(
            f"prev => {GRAPH_SVG}.parentElement.style.transform !== prev", arg=transform, timeout=TIMEOUT_MS
        )


def open_whole_graph(page: Page, ctx: Context) -> None:
    """The global asset graph, every group open, in a window tall enough to show it whole at a
    zoom that still writes names in full, zoomed to fit and settled."""
    page.goto(ctx.url("/asset-groups"))
    settle(page, graph_nodes(page), "the asset graph")
    expand_all_groups(page)
    top, height = page.evaluate(GRAPH_SIZE)
    size = page.viewport_size or {"width": 1280, "height": 800}
    tall = min(MAX_WINDOW_HEIGHT, max(size["height"], int(top + height * FULL_NODE_ZOOM + 40)))
    page.set_viewport_size({"width": size["width"], "height": tall})
    # The open groups are in the address: reloading centres the graph in the new window.
    page.reload()
    settle(page, graph_nodes(page), "the expanded asset graph")
    zoom_to_fit(page)
    # Nodes that came into view render now and load their status rows: wait for all of them (as
    # many as Dagster's API lists), and for every status row to finish loading.
    expected = asset_count(ctx)
    expect(
        asset_nodes(page), f"the graph zoomed to fit does not draw the {expected} asset nodes Dagster lists"
    ).to_have_count(expected)
    settle(page, asset_nodes(page).last, "the asset graph zoomed to fit")


def check_node(page: Page, name: str) -> None:
    """The node says its asset was materialized (filled partitions for a partitioned one)."""
    node = asset_node(page, name)
    title = node.get_by_text(name, exact=True)
    expect(title, f"the node {name} is not on screen").to_be_in_viewport(timeout=TIMEOUT_MS)
    try:
        title.wait_for(state="visible")
        page.wait_for_function(f"el => ({UNCOVERED})(el)", arg=title.element_handle(), timeout=TIMEOUT_MS)
    except BrowserError as exc:
        raise CheckFailed(
            f"the node {name} is covered or off screen after zooming out: {first_line(exc)}"
        ) from None
    expect(node, f"the node {name} says it was never materialized").not_to_contain_text("Never materialized")
    if ASSETS[name] == "unpartitioned":
        expect(node, f"the node {name} does not say Materialized").to_contain_text("Materialized")
    else:
        expect(node, f"the partitioned node {name} shows no filled partitions").to_contain_text("filled")


def check_asset_graph(page: Page, ctx: Context) -> None:
    """Every demo asset is a node in the global lineage graph, named in full and materialized."""
    window = page.viewport_size
    try:
        open_whole_graph(page, ctx)
        # Read once settled (every node drawn, nothing loading): a node not there now is missing.
        missing = [name for name in ASSETS if asset_node(page, name).count() == 0]
        require(not missing, f"asset nodes not in the graph (or not named in full): {missing}")
        for name in ASSETS:
            check_node(page, name)
        shoot(page, ctx.shots / "asset-graph.png")  # (the README image: taken once every node passed)
    finally:
        if window:
            page.set_viewport_size(window)


# --- The latest materialization of one endpoint asset -----------------------------------------

METADATA_JS = """(keys) => {
  const out = {};
  for (const tr of document.querySelectorAll('tr')) {
    const cells = [...tr.children];
    if (cells.length < 2) continue;
    const key = (cells[0].innerText || '').trim();
    if (!keys.includes(key) || key in out) continue;
    const value = cells[1];
    // Header rows are the ones made of <th> cells, wherever the table puts them.
    const isHeader = (r) => r.parentElement.tagName === 'THEAD'
      || (r.children.length > 0 && [...r.children].every(c => c.tagName === 'TH'));
    const cellsOf = (r) => [...r.children].map(c => c.innerText.trim());
    out[key] = {text: (value.innerText || '').trim(), tables: [...value.querySelectorAll('table')].map(t => ({
      headers: [...t.querySelectorAll('tr')].filter(isHeader).flatMap(cellsOf),
      rows: [...t.querySelectorAll('tr')].filter(r => !isHeader(r)).map(cellsOf),
      html: t.outerHTML.slice(0, 800),
    }))};
  }
  return out;
}"""
METADATA_KEYS = ["dagster/row_count", "dagster/column_schema", "preview"]


def endpoint_result(server: LocalServer, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """What the endpoint answers, straight from the server's API: the expected rows and types."""
    response = httpx.post(
        f"{server.url}/api/projects/{server.project_id}/endpoints/{name}/run/",
        headers=server.headers,
        json={"variables_values": variables},
        timeout=60,
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def metadata_row(page: Page, key: str) -> Locator:
    """The metadata table's row whose first cell is `key`."""
    return page.locator("tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(rf"^\s*{re.escape(key)}\s*$"))
    )


def read_metadata(page: Page, ctx: Context) -> dict[str, Any]:
    """The latest materialization's metadata, read once its table (and the Markdown preview,
    rendered a moment after the rows, when there is one) has settled."""
    page.goto(ctx.url(f"/assets/posthog/{SHOWN_ENDPOINT}?view=events"))
    settle(page, page.get_by_text(f"Materialized in run {ctx.run_id[:8]}"), "the latest materialization")
    # Every materialization of the demo carries posthog/endpoint, broken or not.
    settle(page, metadata_row(page, "posthog/endpoint"), "the materialization's metadata table")
    preview = metadata_row(page, "preview")
    if preview.count():
        expect(
            preview.locator("table").first, "the Markdown preview did not render as a table"
        ).to_be_visible(timeout=TIMEOUT_MS)
    metadata: dict[str, Any] = page.evaluate(METADATA_JS, METADATA_KEYS)
    return metadata


def check_materialization(page: Page, ctx: Context) -> None:
    """The latest materialization shows the row count, the column schema with ClickHouse types,
    and the Markdown preview rendered as a table."""
    expected = endpoint_result(ctx.server, SHOWN_ENDPOINT, SHOWN_VARIABLES)
    metadata = read_metadata(page, ctx)
    shoot(page, ctx.shots / "materialization.png")
    absent = [k for k in METADATA_KEYS if k not in metadata]
    require(not absent, f"metadata not shown for {SHOWN_ENDPOINT}: {absent}")

    # (The DuckDB IO manager adds a row count of its own; the schema and preview are ours alone.)
    rows = len(expected["results"])
    shown_count = metadata["dagster/row_count"]["text"].replace(",", "")
    require(shown_count == str(rows), f"row count shows {shown_count!r}, the endpoint returns {rows} rows")

    schema_tables = metadata["dagster/column_schema"]["tables"]
    require(bool(schema_tables), "the column schema is not shown as a table")
    shown_schema = [tuple(row[:2]) for row in schema_tables[0]["rows"]]
    expected_schema = [tuple(pair) for pair in expected["types"]]
    require(
        shown_schema == expected_schema,
        f"column schema shows {shown_schema}, the endpoint has {expected_schema} "
        f"({schema_tables[0]['html'][:300]})",
    )

    preview = metadata["preview"]
    require(
        bool(preview["tables"]), f"the Markdown preview is not rendered as a table: {preview['text'][:200]!r}"
    )
    table = preview["tables"][0]
    require(
        table["headers"] == expected["columns"],
        f"preview headers {table['headers']} != columns {expected['columns']}",
    )
    first_column = [row[0] for row in table["rows"][:PREVIEW_ROWS_CHECKED]]
    expected_first = [str(row[0]) for row in expected["results"][:PREVIEW_ROWS_CHECKED]]
    require(
        first_column == expected_first,
        f"preview starts {first_column}, the endpoint returns {expected_first}",
    )
    require(
        "|---" not in preview["text"] and "| ---" not in preview["text"],
        "raw Markdown pipes are visible in the preview",
    )


# --- Progress lines in the slow endpoint's run log --------------------------------------------

PROGRESS = re.compile(rf"endpoint '{SLOW_ENDPOINT}': ([\d,]+) / ([\d,]+) rows read \((\d+)%\)")


def check_run_progress(page: Page, ctx: Context) -> None:
    """The run log of a slow async endpoint shows progress lines that move forward: all of those
    the run logged (as Dagster's API lists them), in order."""
    logged = [m for m in run_messages(ctx, ctx.run_id) if PROGRESS.search(m)]
    require(
        len(logged) >= 2,
        f"the run logged {len(logged)} progress line(s) for {SLOW_ENDPOINT}, expected 2 or more",
    )
    page.goto(ctx.url(f"/runs/{ctx.run_id}?logs={quote('rows read')}"))
    lines = page.get_by_text(PROGRESS)
    settle(page, lines, f"progress lines of {SLOW_ENDPOINT} in the run log")
    expect(page.get_by_text("Success", exact=True).first, "the run page does not say Success").to_be_visible()
    # The log streams in: wait until every line the run logged is on the page, then read.
    expect(lines, f"the run log does not show the {len(logged)} progress lines the run logged").to_have_count(
        len(logged), timeout=TIMEOUT_MS
    )
    shoot(page, ctx.shots / "run-progress.png")
    found = [PROGRESS.search(text) for text in lines.all_inner_texts()]
    read = [int(m.group(1).replace(",", "")) for m in found if m]
    percent = [int(m.group(3)) for m in found if m]
    require(read == sorted(read) and read[-1] > read[0], f"rows read do not move forward: {read}")
    require(all(0 <= p <= 100 for p in percent), f"odd percentages: {percent}")


# --- Automation: the sensor and the schedule --------------------------------------------------


def open_sensor(page: Page, ctx: Context) -> None:
    """The sensor's page, settled; it must name the sensor and its job."""
    page.goto(ctx.url(f"/locations/{LOCATION}/sensors/{SENSOR}"))
    preview = page.get_by_role("button", name="Preview tick result")
    # (The UI says at once when the sensor does not exist: no need to wait that out.)
    settle(page, preview.or_(page.get_by_text("Could not find sensor")), "the sensor page")
    if not preview.is_visible():
        raise CheckFailed(
            f"the page of the sensor {SENSOR} does not show it; it shows: "
            f"{' / '.join(page.locator('body').inner_text().splitlines()[-8:])!r}"
        )
    expect(page.get_by_text(SENSOR).first, f"the sensor page does not name {SENSOR}").to_be_visible()
    expect(
        page.get_by_text(SENSOR_JOB).first, f"the sensor page does not name its job {SENSOR_JOB}"
    ).to_be_visible()


def preview_tick(page: Page, ctx: Context, expected: str) -> Locator:
    """Preview a tick in the UI (the sensor is evaluated for real) and return the dialog once it
    shows the result, which must contain `expected`."""
    open_sensor(page, ctx)
    page.get_by_role("button", name="Preview tick result").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Continue").click()
    settle(page, dialog.get_by_text("Computed cursor value"), "the tick preview's result", scope=dialog)
    expect(dialog, f"the tick preview does not show {expected!r}").to_contain_text(expected)
    return dialog


def check_sensor(page: Page, ctx: Context) -> None:
    """The sensor page names its target job, and previewing a tick in the UI evaluates it for
    real: a baseline first, then one run request after a dashboard executed the endpoint."""
    baseline = preview_tick(page, ctx, "Requested runs (0)")
    shoot(page, ctx.shots / "sensor-baseline.png")
    cursor = re.search(r"Computed cursor value\s*\n(.+)", baseline.inner_text())
    require(cursor is not None, f"no computed cursor in the preview: {baseline.inner_text()[:400]!r}")
    assert cursor is not None
    baseline.get_by_role("button", name="Commit tick result").click()
    expect(page.get_by_role("dialog"), "the tick preview did not close after the commit").to_have_count(0)
    expect(
        page.get_by_text(cursor.group(1).strip()).first,
        "the sensor page's cursor does not show the committed value",
    ).to_be_visible(timeout=TIMEOUT_MS)

    # A dashboard executes the endpoint in PostHog (a fresh computation, not a cached answer).
    response = httpx.post(
        f"{ctx.server.url}/api/projects/{ctx.server.project_id}/endpoints/{SHOWN_ENDPOINT}/run/",
        headers=ctx.server.headers,
        json={"variables_values": {"plan": "enterprise"}, "refresh": "force_blocking"},
        timeout=60,
    )
    response.raise_for_status()
    fired = preview_tick(page, ctx, "Requested runs (1)")
    shoot(page, ctx.shots / "sensor.png")
    require(
        SENSOR_JOB in fired.inner_text().split("Requested runs (1)", 1)[1],
        f"the requested run does not target {SENSOR_JOB}",
    )
    fired.get_by_role("button", name="Close").click()


def check_schedule(page: Page, ctx: Context) -> None:
    """The schedule page shows its job and its cron."""
    page.goto(ctx.url(f"/locations/{LOCATION}/schedules/{SCHEDULE}"))
    settle(page, page.get_by_text(SCHEDULE_CRON), "the schedule page")
    for text in (SCHEDULE, SCHEDULE_JOB):
        expect(page.get_by_text(text).first, f"the schedule page does not show {text}").to_be_visible()
    shoot(page, ctx.shots / "schedule.png")


CHECKS: dict[str, Callable[[Page, Context], None]] = {
    "asset graph": check_asset_graph,
    "materialization": check_materialization,
    "run progress": check_run_progress,
    "schedule": check_schedule,
    "sensor": check_sensor,  # last: it executes an endpoint outside Dagster
}


def run_checks(
    page: Page,
    ctx: Context,
    checks: dict[str, Callable[[Page, Context], None]],
    *,
    log: Callable[[str], None],
    timings: dict[str, float],
) -> dict[str, str]:
    """Run every check, even after a failure; return {check: failure message}."""
    failures: dict[str, str] = {}
    for name, check in checks.items():
        started = time.monotonic()
        try:
            check(page, ctx)
            log(f"ok      {name}  ({time.monotonic() - started:.1f} s)")
        except Exception as exc:  # CheckFailed, a Playwright timeout, or the API behind the page failing
            failures[name] = (
                first_line(exc) if isinstance(exc, BrowserError) else f"{type(exc).__name__}: {exc}"
            )
            log(f"FAILED  {name}: {failures[name]}")
            with suppress(*BrowserError):
                shoot(page, ctx.shots / f"{name.replace(' ', '-')}-FAILED.png")
        timings[f"check: {name}"] = time.monotonic() - started
    return failures
