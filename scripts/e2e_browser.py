"""Headless Chromium through Playwright's sync API, for `scripts/e2e.py`.

No browser download: Playwright drives Debian's `/usr/bin/chromium` (`executable_path`), with the
flags this machine kind needs. A page is read only once it has SETTLED: what the check waits for
is visible and nothing on the page is still loading (no `Loading...` text, no spinner, no
skeleton). Every wait is a Playwright auto-waiting locator or web-first assertion with a generous
timeout, so a slow machine only makes a run slower, never red.

Example::

    with open_page("/usr/bin/chromium") as page:
        page.goto("http://127.0.0.1:3000/asset-groups")
        settle(page, page.get_by_text("kpi_report"), "the asset graph")
        page.screenshot(path="graph.png")
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect, sync_playwright

#: The flags this machine kind needs: no sandbox as root, and no background traffic to Google
#: (the network is closed; Chromium would retry those connections all the time).
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
#: How long anything may take to show up or to finish loading, in milliseconds. Generous on
#: purpose: on a loaded 2-core machine the UI can take tens of seconds; a passing check never
#: waits this long, only a failing one does.
TIMEOUT_MS = 90_000
#: How long a click or a fill may wait for its element to be visible, stable and enabled.
ACTION_TIMEOUT_MS = 60_000
#: What the Dagster UI shows while data is on its way: its "Loading..." / "Loading…" texts, its
#: spinner (class `spinnerGlobal`, CSS module `Spinner_spinner__*`) and skeleton placeholders.
LOADING_TEXT = re.compile(r"Loading(\.\.\.|…)")
SPINNER = ".spinnerGlobal, [class*='Spinner_spinner']"
SKELETON = "[class*='Skeleton_skeleton'], [class*='RowSkeleton'], [class*='skeletonItem']"

#: Raised by the checks when the page does not show what was awaited: Playwright's own timeout
#: and assertion errors (both name what was awaited).
BrowserError = (PlaywrightError, AssertionError)


def busy(scope: Page | Locator) -> Locator:
    """Every visible sign, inside `scope`, that the page is still loading."""
    return (
        scope.get_by_text(LOADING_TEXT)
        .or_(scope.locator(SPINNER))
        .or_(scope.locator(SKELETON))
        .filter(visible=True)
    )


def settle(
    page: Page, ready: Locator, what: str, *, scope: Locator | None = None, timeout: float = TIMEOUT_MS
) -> None:
    """Wait until `ready` is visible and then nothing (in `scope`, default the page) is loading.

    `ready` must be something that only exists once the page has its data, so that the "nothing
    is loading" assertion cannot pass in the instant before loading even starts. Raises an
    AssertionError naming `what` (and how long it waited) when either does not happen."""
    seconds = timeout / 1000
    expect(ready.first, f"{what} did not show up within {seconds:.0f} s").to_be_visible(timeout=timeout)
    expect(
        busy(scope or page), f"{what} still shows Loading..., a spinner or a skeleton after {seconds:.0f} s"
    ).to_have_count(0, timeout=timeout)


def shoot(page: Page, path: Path) -> Path:
    """A screenshot of the viewport, with animations stopped and no text cursor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), animations="disabled", caret="hide", timeout=ACTION_TIMEOUT_MS)
    return path


@contextmanager
def open_page(executable: str, *, width: int = 1280, height: int = 800, scale: float = 1.0) -> Iterator[Page]:
    """One page of a headless Chromium: `width` x `height` CSS pixels, screenshots `scale` times
    that size. The browser and Playwright's driver are stopped on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS), timeout=TIMEOUT_MS
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale
            )
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            context.set_default_navigation_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)  # web-first assertions without a timeout of their own
            yield context.new_page()
        finally:
            browser.close()
