"""What a person should see in the Dagster UI after the demo ran; used by `scripts/e2e.py`.

Each check opens one page in the browser, waits for the rendered text (never a fixed sleep),
asserts on what is visible, and saves a screenshot. Expected values come from the local
PostHog Endpoints server's own API (a separate implementation from the integration), not from
the code under test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from e2e_browser import BrowserError, Page, WaitTimeout

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

    def url(self, path: str) -> str:
        return self.web + path


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# --- The asset graph --------------------------------------------------------------------------

#: For each name: "in" when its node title is on screen and not covered, "out" when rendered but
#: off screen or covered, "missing" when no node shows that exact name (with the node's text).
NODES_ON_SCREEN_JS = """((names) => {
  const hits = (el, x, y) => { const h = document.elementFromPoint(x, y); return !!h && (el.contains(h) || h.contains(el)); };
  const leaves = [...document.querySelectorAll('svg foreignObject *')].filter(e => e.children.length === 0);
  const out = {};
  for (const name of names) {
    const el = leaves.find(e => e.textContent.trim() === name);
    if (!el) { out[name] = ['missing', '']; continue; }
    const r = el.getBoundingClientRect(), y = r.top + r.height / 2;
    const seen = hits(el, r.left + 1, y) && hits(el, r.right - 1, y);
    let node = el;  // the node box: the nearest ancestor that also shows the status rows
    while (node.parentElement && !(node.innerText || '').includes('Latest event')) node = node.parentElement;
    out[name] = [seen ? 'in' : 'out', node.innerText || ''];
  }
  return out;
})(%s)"""


GRAPH_SVG = "document.querySelector('foreignObject').ownerSVGElement"
#: The graph and its viewport on screen, and the zoom transform.
GRAPH_RECTS = f"""(() => {{ const s = {GRAPH_SVG}, v = s.parentElement.parentElement;
  const a = s.getBoundingClientRect(), b = v.getBoundingClientRect();
  return [[a.left, a.top, a.right, a.bottom], [b.left, b.top, b.right, b.bottom], s.parentElement.style.transform]; }})()"""
#: The UI draws minimal nodes, whose long names are cut in the middle, below a zoom of 0.6; the
#: zoom buttons step by 0.05 from 1, so the graph must fit at 0.65.
FULL_NODE_ZOOM = 0.66


def check_asset_graph(page: Page, ctx: Context) -> None:
    """Every demo asset is a node in the global lineage graph, named in full and materialized."""
    page.goto(ctx.url("/asset-groups"))
    page.wait_for("!!document.querySelector('svg foreignObject')", "the asset graph", timeout=60)
    # With several groups the graph starts collapsed to one box per group: "Expand all groups"
    # from the graph's settings menu, as a person would.
    if page.evaluate("!!document.querySelector('[class*=collapsedGroupNodeBox]')"):
        page.click("[...document.querySelectorAll('button')].filter(b => b.querySelector('[aria-label=settings]')).pop()",
                   "the graph settings button")
        page.wait_for_text("Expand all groups", timeout=10)
        page.click("[...document.querySelectorAll('[role=menuitem]')].find(e => e.innerText.includes('Expand all groups'))",
                   "the Expand all groups menu item")
        page.wait_for("!document.querySelector('[class*=collapsedGroupNodeBox]')", "every group to open", timeout=20)
    # A window tall enough for the whole graph at a zoom that still writes names in full. The open
    # groups are in the address: reloading centres the graph in the new window.
    top, height = page.evaluate(f"(() => {{ const s = {GRAPH_SVG}; return [s.parentElement.parentElement.getBoundingClientRect().top, s.height.baseVal.value]; }})()")
    window = page.viewport
    page.set_viewport(window[0], min(2400, max(window[1], int(top + height * FULL_NODE_ZOOM + 40))), window[2])
    try:
        page.goto(page.evaluate("location.href"))
        page.wait_for("!!document.querySelector('svg foreignObject')", "the expanded asset graph", timeout=60)
        for _ in range(12):  # zoom out (around the centre) until the whole graph is in view
            graph, view, transform = page.evaluate(GRAPH_RECTS)
            if graph[0] >= view[0] and graph[1] >= view[1] and graph[2] <= view[2] and graph[3] <= view[3]:
                break
            page.click("[...document.querySelectorAll('button')].find(b => b.querySelector('[aria-label=zoom_out]'))",
                       "the zoom-out button")
            page.wait_for(f"{GRAPH_RECTS}[2] !== {json.dumps(transform)}", "the graph to zoom out", timeout=5)
        probe = NODES_ON_SCREEN_JS % json.dumps(list(ASSETS))
        try:  # nodes render a moment after the zoom settles
            state = page.wait_for(f"(() => {{ const s = {probe}; return Object.values(s).every(v => v[0] === 'in') ? s : null; }})()",
                                  "every asset node on screen", timeout=10)
        except WaitTimeout:
            state = page.evaluate(probe)
        page.screenshot(ctx.shots / "asset-graph.png")
    finally:
        page.set_viewport(*window)
    missing = [n for n, (where, _) in state.items() if where == "missing"]
    offscreen = [n for n, (where, _) in state.items() if where == "out"]
    expect(not missing, f"asset nodes not in the graph (or not named in full): {missing}")
    expect(not offscreen, f"asset nodes off screen after zooming out: {offscreen}")
    for name, (_, text) in state.items():
        expect("Never materialized" not in text, f"the node {name} says it was never materialized")
        if ASSETS[name] == "unpartitioned":
            expect("Materialized" in text, f"the node {name} does not say Materialized: {text!r}")
        else:
            expect("filled" in text, f"the partitioned node {name} shows no filled partitions: {text!r}")


# --- The latest materialization of one endpoint asset -----------------------------------------

METADATA_JS = """((keys) => {
  const out = {};
  for (const tr of document.querySelectorAll('tr')) {
    const cells = [...tr.children];
    if (cells.length < 2) continue;
    const key = (cells[0].innerText || '').trim();
    if (!keys.includes(key) || key in out) continue;
    const value = cells[1];
    // Header rows are the ones made of <th> cells, wherever the table puts them.
    const isHeader = (r) => r.parentElement.tagName === 'THEAD' || (r.children.length > 0 && [...r.children].every(c => c.tagName === 'TH'));
    const cellsOf = (r) => [...r.children].map(c => c.innerText.trim());
    out[key] = {text: (value.innerText || '').trim(), tables: [...value.querySelectorAll('table')].map(t => ({
      headers: [...t.querySelectorAll('tr')].filter(isHeader).flatMap(cellsOf),
      rows: [...t.querySelectorAll('tr')].filter(r => !isHeader(r)).map(cellsOf),
      html: t.outerHTML.slice(0, 800),
    }))};
  }
  return out;
})(%s)"""


def endpoint_result(server: LocalServer, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """What the endpoint answers, straight from the server's API: the expected rows and types."""
    response = httpx.post(f"{server.url}/api/projects/{server.project_id}/endpoints/{name}/run/",
                          headers=server.headers, json={"variables_values": variables}, timeout=60)
    response.raise_for_status()
    return response.json()


def check_materialization(page: Page, ctx: Context) -> None:
    """The latest materialization shows the row count, the column schema with ClickHouse types,
    and the Markdown preview rendered as a table."""
    expected = endpoint_result(ctx.server, SHOWN_ENDPOINT, SHOWN_VARIABLES)
    page.goto(ctx.url(f"/assets/posthog/{SHOWN_ENDPOINT}?view=events"))
    page.wait_for_text(f"Materialized in run {ctx.run_id[:8]}", timeout=60)
    keys = ["dagster/row_count", "dagster/column_schema", "preview"]
    try:
        # The metadata rows render together; the Markdown renderer loads a moment later. Wait for
        # the rows, and for the preview's table if there is a preview row at all.
        metadata = page.wait_for(f"(() => {{ const m = {METADATA_JS % json.dumps([*keys, 'posthog/endpoint'])};"
                                 " return m['posthog/endpoint'] && (!m.preview || m.preview.tables.length) ? m : null; })()",
                                 "the metadata table", timeout=20)
    except WaitTimeout:
        metadata = page.evaluate(METADATA_JS % json.dumps(keys))
    page.screenshot(ctx.shots / "materialization.png")
    absent = [k for k in keys if k not in metadata]
    expect(not absent, f"metadata not shown for {SHOWN_ENDPOINT}: {absent}")

    # (The DuckDB IO manager adds a row count of its own; the schema and preview are ours alone.)
    rows = len(expected["results"])
    shown_count = metadata["dagster/row_count"]["text"].replace(",", "")
    expect(shown_count == str(rows), f"row count shows {shown_count!r}, the endpoint returns {rows} rows")

    schema_tables = metadata["dagster/column_schema"]["tables"]
    expect(bool(schema_tables), "the column schema is not shown as a table")
    shown_schema = [tuple(row[:2]) for row in schema_tables[0]["rows"]]
    expected_schema = [tuple(pair) for pair in expected["types"]]
    expect(shown_schema == expected_schema,
           f"column schema shows {shown_schema}, the endpoint has {expected_schema} ({schema_tables[0]['html'][:300]})")

    preview = metadata["preview"]
    expect(bool(preview["tables"]), f"the Markdown preview is not rendered as a table: {preview['text'][:200]!r}")
    table = preview["tables"][0]
    expect(table["headers"] == expected["columns"], f"preview headers {table['headers']} != columns {expected['columns']}")
    first_column = [row[0] for row in table["rows"][:PREVIEW_ROWS_CHECKED]]
    expected_first = [str(row[0]) for row in expected["results"][:PREVIEW_ROWS_CHECKED]]
    expect(first_column == expected_first, f"preview starts {first_column}, the endpoint returns {expected_first}")
    expect("|---" not in preview["text"] and "| ---" not in preview["text"], "raw Markdown pipes are visible in the preview")


# --- Progress lines in the slow endpoint's run log --------------------------------------------

PROGRESS = re.compile(rf"endpoint '{SLOW_ENDPOINT}': ([\d,]+) / ([\d,]+) rows read \((\d+)%\)")


def check_run_progress(page: Page, ctx: Context) -> None:
    """The run log of a slow async endpoint shows progress lines that move forward."""
    page.goto(ctx.url(f"/runs/{ctx.run_id}?logs={quote('rows read')}"))
    page.wait_for_text("Success", f"endpoint '{SLOW_ENDPOINT}':", timeout=60)
    page.screenshot(ctx.shots / "run-progress.png")
    lines = PROGRESS.findall(page.text())
    expect(len(lines) >= 2, f"expected at least two progress lines for {SLOW_ENDPOINT}, saw {len(lines)}: {lines}")
    read = [int(r.replace(",", "")) for r, _, _ in lines]
    percent = [int(p) for _, _, p in lines]
    expect(read == sorted(read) and read[-1] > read[0], f"rows read do not move forward: {read}")
    expect(all(0 <= p <= 100 for p in percent), f"odd percentages: {percent}")


# --- Automation: the sensor and the schedule --------------------------------------------------

DIALOG_TEXT = "[...document.querySelectorAll('[role=dialog]')].map(d => d.innerText).join('\\n')"


def wait_for_dialog_text(page: Page, *needles: str, timeout: float = 60) -> str:
    check = " && ".join(f"t.includes({json.dumps(n)})" for n in needles)
    try:
        return page.wait_for(f"(() => {{ const t = {DIALOG_TEXT}; return ({check}) ? t : ''; }})()",
                             f"{list(needles)} in the dialog", timeout=timeout)
    except WaitTimeout:
        raise CheckFailed(f"the dialog does not show {list(needles)}; it shows: {page.evaluate(DIALOG_TEXT)[:600]!r}") from None


def preview_tick(page: Page, ctx: Context, expected: str) -> str:
    page.goto(ctx.url(f"/locations/{LOCATION}/sensors/{SENSOR}"))
    try:  # (the UI says at once when the sensor does not exist: no need to wait that out)
        page.wait_for(f"(t => (t.includes({json.dumps(SENSOR_JOB)}) && t.includes('Preview tick result'))"
                      " || t.includes('Could not find sensor'))(document.body ? document.body.innerText : '')", "the sensor page", timeout=30)
        page.wait_for_text(SENSOR, SENSOR_JOB, "Preview tick result", timeout=1)
    except WaitTimeout as exc:
        raise CheckFailed(f"the page of the sensor {SENSOR} does not show it ({exc}); it shows: "
                          f"{' / '.join(page.text().split(chr(10))[-8:])!r}") from None
    page.click_text("Preview tick result")
    wait_for_dialog_text(page, "Continue")
    page.click_text("Continue")
    return wait_for_dialog_text(page, expected)


def check_sensor(page: Page, ctx: Context) -> None:
    """The sensor page names its target job, and previewing a tick in the UI evaluates it for
    real: a baseline first, then one run request after a dashboard executed the endpoint."""
    baseline = preview_tick(page, ctx, "Requested runs (0)")
    page.screenshot(ctx.shots / "sensor-baseline.png")
    cursor = re.search(r"Computed cursor value\s*\n(.+)", baseline)
    expect(cursor is not None, f"no computed cursor in the preview: {baseline[:400]!r}")
    page.click_text("Commit tick result")
    page.wait_for_text(cursor.group(1).strip(), timeout=30)  # the page's Cursor row now holds it

    # A dashboard executes the endpoint in PostHog (a fresh computation, not a cached answer).
    response = httpx.post(f"{ctx.server.url}/api/projects/{ctx.server.project_id}/endpoints/{SHOWN_ENDPOINT}/run/",
                          headers=ctx.server.headers, json={"variables_values": {"plan": "enterprise"},
                                                            "refresh": "force_blocking"}, timeout=60)
    response.raise_for_status()
    fired = preview_tick(page, ctx, "Requested runs (1)")
    page.screenshot(ctx.shots / "sensor.png")
    expect(SENSOR_JOB in fired.split("Requested runs (1)", 1)[1], f"the requested run does not target {SENSOR_JOB}")
    page.click_text("Close")


def check_schedule(page: Page, ctx: Context) -> None:
    """The schedule page shows its job and its cron."""
    page.goto(ctx.url(f"/locations/{LOCATION}/schedules/{SCHEDULE}"))
    page.wait_for_text(SCHEDULE, SCHEDULE_JOB, SCHEDULE_CRON, timeout=30)
    page.screenshot(ctx.shots / "schedule.png")


CHECKS: dict[str, Callable[[Page, Context], None]] = {
    "asset graph": check_asset_graph,
    "materialization": check_materialization,
    "run progress": check_run_progress,
    "schedule": check_schedule,
    "sensor": check_sensor,  # last: it executes an endpoint outside Dagster
}


def run_checks(page: Page, ctx: Context, checks: dict[str, Callable[[Page, Context], None]], *,
               log: Callable[[str], None], timings: dict[str, float]) -> dict[str, str]:
    """Run every check, even after a failure; return {check: failure message}."""
    failures: dict[str, str] = {}
    for name, check in checks.items():
        started = time.monotonic()
        try:
            check(page, ctx)
            log(f"ok      {name}")
        except Exception as exc:  # CheckFailed, BrowserError, or the API behind the page failing
            failures[name] = str(exc) if isinstance(exc, (CheckFailed, BrowserError)) else f"{type(exc).__name__}: {exc}"
            log(f"FAILED  {name}: {exc}")
            try:
                page.screenshot(ctx.shots / f"{name.replace(' ', '-')}-FAILED.png")
            except BrowserError:
                pass
        timings[f"check: {name}"] = time.monotonic() - started
    return failures
