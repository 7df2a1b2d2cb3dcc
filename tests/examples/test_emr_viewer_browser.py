"""End to end in a real browser: the example viewer, Debian's Chromium, screenshots traced back.

The viewer runs as its one command (``python -m examples.emr_viewer``) with
an embedded SQLite ledger; Chromium (headless, via Playwright) logs in as
two employees on different workstations (each presenting its registered
token as the ``X-Leaktrace-Workstation`` header, as a kiosk policy would) and
different device pixel ratios, opens a record, and screenshots it.
``tracer.trace`` must name the employee, and the ledger join must name the
record and the workstation. Further tests: a log-in form on another origin
does not log the browser in, a session cookie replayed after log-out opens
nothing, printing keeps the overlay, and a sensitive record is a
server-stamped image.
"""

from __future__ import annotations

import base64
import http.server
import io
import os
import threading
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import tracer
import watermark
from ledger import Directory, Ledger, format_ledger_join

from viewer_helpers import PASSWORDS, free_port

pytest.importorskip("flask", reason="flask is in the 'viewer' extra")

PATIENTS = {  # MRN -> displayed name, from examples.emr_viewer.records (seeds 5 and 2)
    "28110431": "WHITLOCK, Yannick M.",
    "34427468": "IVERSSEN, Vesna U.",
}
# (employee, workstation, CSS viewport, devicePixelRatio, MRN): a 1080p monitor at 100%,
# the same monitor at Windows' 125% scaling, and a 4K monitor at 200%.
CASES = [
    ("aquist", 4821, "WS-4B-112", (1920, 1080), 1.0, "28110431"),
    ("mokafor", 5170, "WS-5W-207", (1536, 864), 1.25, "34427468"),
    ("mokafor", 5170, "WS-5W-207", (1920, 1080), 2.0, "28110431"),
]
ARTIFACTS = os.environ.get("LEAKTRACE_ARTIFACTS")  # keep screenshots here when set
HIDE_ALL_BUT_OVERLAY = """
  #content, .topbar, .audit-footer, .mark-status, .leaktrace-visible-mark { visibility: hidden !important; }
  html, body { background: #ffffff !important; }
"""


def _new_context(browser: Any, viewer: Any, workstation: str | None = None, viewport=(1280, 720), dpr: float = 1.0,
                 color_scheme: str = "light"):
    headers = {"X-Leaktrace-Workstation": viewer.workstation_tokens[workstation]} if workstation else {}
    return browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=dpr,
                               extra_http_headers=headers, color_scheme=color_scheme)


def _log_in(page: Any, viewer: Any, username: str) -> None:
    page.goto(viewer.url + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url("**/patients")


def _open_record(browser: Any, viewer: Any, username: str, workstation: str, viewport, dpr: float, mrn: str,
                 color_scheme: str = "light"):
    context = _new_context(browser, viewer, workstation, viewport, dpr, color_scheme)
    page = context.new_page()
    _log_in(page, viewer, username)
    page.click(f"a[href='/patients/{mrn}']")
    page.wait_for_url(f"**/patients/{mrn}")
    device = (round(viewport[0] * dpr), round(viewport[1] * dpr))
    _wait_for_overlay(page, device, dpr)
    return context, page


def _wait_for_overlay(page, device, dpr: float) -> None:
    tag = f"{device[0]}x{device[1]}@{dpr:g}"
    page.wait_for_selector(f'html[data-leaktrace-overlay="{tag}"]', state="attached", timeout=15000)
    assert page.is_visible("#patient-name"), "the record is shown once the mark is on screen"


def _screenshot(page, name: str) -> np.ndarray:
    png = page.screenshot()
    if ARTIFACTS:
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        (Path(ARTIFACTS) / f"{name}.png").write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _view_on_page(page: Any, viewer: Any):
    uid = page.get_attribute("#leaktrace-overlay", "data-src").rsplit("/", 1)[1].split(".")[0]
    with Ledger.open(viewer.ledger_url, read_only=True) as ledger:
        return ledger.get_view(uid)


@pytest.mark.parametrize(("username", "viewer_id", "workstation", "viewport", "dpr", "mrn"), CASES,
                         ids=["1920x1080@1", "1536x864@1.25", "1920x1080@2"])
def test_screenshot_traces_to_employee_and_ledger_names_record_and_workstation(
    browser, viewer_server, viewer_key, username, viewer_id, workstation, viewport, dpr, mrn
):
    context, page = _open_record(browser, viewer_server, username, workstation, viewport, dpr, mrn)
    try:
        assert PATIENTS[mrn] in page.inner_text("#patient-name")
        shot = _screenshot(page, f"record-{username}-{dpr:g}")
        assert (shot.shape[1], shot.shape[0]) == (round(viewport[0] * dpr), round(viewport[1] * dpr))
    finally:
        context.close()
    result = tracer.trace(shot, viewer_key)
    assert result.found, f"no mark found (detection score {result.detection_score:.1f})"
    assert result.payload.viewer_id == viewer_id
    with Ledger.open(viewer_server.ledger_url, read_only=True, ledger_key=viewer_server.ledger_public_key) as ledger:
        join = ledger.lookup(result.payload.viewer_id, result.payload.timestamp,
                             key_fingerprint=result.key_fingerprint,
                             directory=Directory.load(viewer_server.accounts))
    assert join.named and not join.problems, join.problems
    record = [v for v in join.matches if v.record_id == f"MRN {mrn}"]
    assert record, f"the ledger has no view of MRN {mrn} in the mark's minute: {join.matches}"
    assert all(v.workstation == workstation and v.viewer_id == viewer_id for v in join.matches)
    text = format_ledger_join(join)
    assert f"MRN {mrn}" in text and workstation in text and f"(viewer {viewer_id})" in text


def _overlay_over_white(view: Any, key: watermark.Key, shot: np.ndarray) -> np.ndarray:
    """The view's overlay at the screenshot's size composited (source-over) on white, as integers (H, W, 3)."""
    layer = watermark.overlay(view.payload, key, size=(shot.shape[1], shot.shape[0])).astype(np.float64)
    alpha = layer[:, :, 3:] / 255
    return np.rint(alpha * layer[:, :, :3] + (1 - alpha) * 255).astype(int)


@pytest.mark.parametrize("dpr", [1.0, 1.25, 1.5, 2.0])
def test_overlay_lands_on_device_pixels_exactly(browser, viewer_server, viewer_key, dpr):
    """With everything but the overlay hidden, the screenshot is the overlay over white, pixel for pixel."""
    viewport = (1280, 720)
    context, page = _open_record(browser, viewer_server, "aquist", "WS-4B-112", viewport, dpr, "28110431")
    try:
        view = _view_on_page(page, viewer_server)
        page.add_style_tag(content=HIDE_ALL_BUT_OVERLAY)
        shot = _screenshot(page, f"overlay-only-{dpr:g}")
    finally:
        context.close()
    diff = np.abs(shot.astype(int) - _overlay_over_white(view, viewer_key, shot))
    assert diff.max() <= 1, f"overlay resampled or colour-managed: max error {diff.max()}, {np.mean(diff > 0):.2%} off"


def test_overlay_follows_a_resize_and_the_page_still_traces_when_scrolled(browser, viewer_server, viewer_key):
    context, page = _open_record(browser, viewer_server, "aquist", "WS-4B-112", (1280, 720), 1.0, "34427468")
    try:
        page.set_viewport_size({"width": 1600, "height": 900})
        _wait_for_overlay(page, (1600, 900), 1.0)
        resized = _screenshot(page, "resized")
        page.mouse.wheel(0, 2000)
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.scrollY") > 0
        scrolled = _screenshot(page, "scrolled")
    finally:
        context.close()
    for shot in (resized, scrolled):
        result = tracer.trace(shot, viewer_key)
        assert result.found and result.payload.viewer_id == 4821


def _cdp_screenshot(cdp, name: str) -> np.ndarray:
    png = base64.b64decode(cdp.send("Page.captureScreenshot", {"format": "png"})["data"])
    if ARTIFACTS:
        (Path(ARTIFACTS) / f"{name}.png").write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_overlay_follows_page_zoom_and_a_ratio_change(browser, viewer_server, viewer_key):
    """Zoom 125% on a 1600x900 window (CSS viewport 1280x720, ratio 1.25), then a move to a 1.5x screen."""
    context, page = _open_record(browser, viewer_server, "aquist", "WS-4B-112", (1600, 900), 1.0, "28110431")
    try:
        view = _view_on_page(page, viewer_server)
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 720, "deviceScaleFactor": 1.25,
                                                          "mobile": False})
        _wait_for_overlay(page, (1600, 900), 1.25)
        zoomed = _cdp_screenshot(cdp, "zoomed-125")
        page.add_style_tag(content=HIDE_ALL_BUT_OVERLAY)
        overlay_only = _cdp_screenshot(cdp, "zoomed-125-overlay-only")
        cdp.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 720, "deviceScaleFactor": 1.5,
                                                          "mobile": False})
        page.wait_for_selector('html[data-leaktrace-overlay="1920x1080@1.5"]', state="attached", timeout=15000)
        moved = _cdp_screenshot(cdp, "ratio-1.5-overlay-only")
    finally:
        context.close()
    assert zoomed.shape[:2] == (900, 1600) and moved.shape[:2] == (1080, 1920)
    result = tracer.trace(zoomed, viewer_key)
    assert result.found and result.payload == view.payload
    for shot in (overlay_only, moved):
        assert np.abs(shot.astype(int) - _overlay_over_white(view, viewer_key, shot)).max() <= 1


def test_record_stays_hidden_when_the_overlay_cannot_load(browser, viewer_server):
    context = _new_context(browser, viewer_server)
    page = context.new_page()
    try:
        page.route("**/overlay/**", lambda route: route.abort())
        _log_in(page, viewer_server, "tbrandvold")
        page.goto(viewer_server.url + "/patients/28110431")
        page.wait_for_selector('html[data-leaktrace-overlay="error"]', state="attached")
        assert not page.is_visible("#patient-name")
        assert page.is_visible("text=The screen mark could not be applied")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_photo_of_the_viewer_page_traces_to_the_employee(browser, viewer_server, viewer_key, scheme):
    """A phone photo (simulated, standard level) of a real browser screenshot names the employee, in either theme.

    The dark theme is the case a darken-only overlay lost: over a page at level 21 it carried an eighth of the pattern.
    """
    from synthetic import phone_photo_leak

    context, page = _open_record(browser, viewer_server, "aquist", "WS-4B-112", (1920, 1080), 1.0, "28110431", scheme)
    try:
        shot = _screenshot(page, f"photo-source-{scheme}")
    finally:
        context.close()
    page_level = float(np.median(shot))
    assert (page_level > 200) if scheme == "light" else (page_level < 60), f"{scheme} page at median level {page_level}"
    assert tracer.trace(shot, viewer_key).payload.viewer_id == 4821
    photo = phone_photo_leak(shot, level="standard", seed=20260301).image  # fixed seed: result depends on it
    result = tracer.trace(photo, viewer_key)
    assert result.found and result.payload.viewer_id == 4821


# -- issue 14 in a real browser
class _AttackerSite(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


def _attacker_token(viewer: Any) -> str:
    """A valid CSRF token, of the attacker's own session on the viewer (the best an attacker can get)."""
    with urllib.request.urlopen(viewer.url + "/login", timeout=10) as response:
        html = response.read().decode()
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_login_form_on_another_origin_does_not_log_the_browser_in(browser, viewer_server):
    """Login CSRF: a page on another port auto-submits the attacker's credentials to the viewer."""
    _AttackerSite.page = f"""<!doctype html><form id="f" method="post" action="{viewer_server.url}/login">
      <input name="username" value="tbrandvold"><input name="password" value="{PASSWORDS['tbrandvold']}">
      <input name="workstation" value="WS-ATTACKER"><input name="csrf_token" value="{_attacker_token(viewer_server)}">
      </form><script>document.getElementById("f").submit()</script>""".encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _AttackerSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = _new_context(browser, viewer_server)
    page = context.new_page()
    try:
        page.goto(viewer_server.url + "/login")  # the victim has a viewer session of their own
        with page.expect_response(f"{viewer_server.url}/login") as posted:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert posted.value.status == 400
        page.goto(viewer_server.url + "/patients")
        assert page.url.startswith(viewer_server.url + "/login"), "the browser was logged in by another origin"
    finally:
        context.close()
        server.shutdown()
        server.server_close()


def test_session_cookie_replayed_after_logout_in_another_browser_opens_nothing(browser, viewer_server):
    context = _new_context(browser, viewer_server)
    page = context.new_page()
    try:
        _log_in(page, viewer_server, "lhaverkamp")
        stolen = [c for c in context.cookies() if c["name"] == "leaktrace_session"]
        assert stolen and stolen[0]["httpOnly"] and stolen[0]["sameSite"] == "Lax"
        page.click("text=Log out")
        page.wait_for_url("**/login")
    finally:
        context.close()
    replay = _new_context(browser, viewer_server)
    try:
        replay.add_cookies(stolen)
        page = replay.new_page()
        page.goto(viewer_server.url + "/patients/28110431")
        assert page.url.startswith(viewer_server.url + "/login")
        assert not page.is_visible("#patient-name")
    finally:
        replay.close()


def test_printing_keeps_the_invisible_overlay(browser, viewer_server):
    context, page = _open_record(browser, viewer_server, "aquist", "WS-4B-112", (1280, 720), 1.0, "28110431")
    try:
        page.emulate_media(media="print")
        style = page.evaluate("""() => {
            const s = getComputedStyle(document.getElementById("leaktrace-overlay"));
            return {display: s.display, visibility: s.visibility, opacity: s.opacity, image: s.backgroundImage,
                    adjust: s.printColorAdjust || s.webkitPrintColorAdjust,
                    printing: matchMedia("print").matches};
        }""")
        pdf = page.pdf(width="1280px", height="720px", print_background=False)
    finally:
        context.close()
    assert style["printing"], "print media was not emulated"
    assert style["display"] != "none" and style["visibility"] == "visible" and float(style["opacity"]) > 0
    assert "/overlay/" in style["image"] and style["adjust"] == "exact", style
    assert pdf.startswith(b"%PDF") and b"/Image" in pdf  # the overlay PNG is in the printout


def test_sensitive_record_is_a_server_stamped_image_that_traces(browser, viewer_server, viewer_key, protected_key):
    mrn = "96246931"  # OAKHURST, Delphine F. (seed 8): sensitive
    context = _new_context(browser, viewer_server, "WS-6C-031", (1920, 1080), 1.0)
    page = context.new_page()
    overlay_requests: list[str] = []
    page.on("request", lambda r: overlay_requests.append(r.url) if "/overlay/" in r.url else None)
    try:
        _log_in(page, viewer_server, "lhaverkamp")
        # the patient list's own overlay, before watching
        page.wait_for_selector('html[data-leaktrace-overlay="1920x1080@1"]', state="attached", timeout=15000)
        overlay_requests.clear()
        page.goto(f"{viewer_server.url}/patients/{mrn}")
        page.wait_for_function("() => { const i = document.querySelector('img.protected-record');"
                               " return i && i.complete && i.naturalWidth > 0; }", timeout=30000)
        assert page.evaluate("() => document.getElementById('leaktrace-overlay')") is None
        shot = _screenshot(page, "sensitive-record")
    finally:
        context.close()
    assert overlay_requests == []
    result = tracer.trace(shot, [viewer_key, protected_key])
    assert result.found and result.payload.viewer_id == 7315
    assert result.key_fingerprint == protected_key.fingerprint
