"""A real browser: headless Debian Chromium opens the page with a fake microphone fed from a WAV file.

Chromium is driven through the DevTools protocol (a websocket, with aiohttp: no extra package). The
test watches the idle head, then clicks "Speak into the microphone" and checks that the <video> plays (its currentTime
advances and the decoded frames change: a checksum of the picture drawn into a canvas) and saves a
screenshot. Chromium is installed with ``scripts/ensure_chromium.sh`` (apt-get) when missing; the
test skips with the reason only when that fails.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest
from pgs_serve_testkit import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

PROBE = """(() => {
  const v = document.getElementById('avatar');
  const c = document.createElement('canvas');
  c.width = 32; c.height = 32;
  const g = c.getContext('2d');
  let sum = -1;
  if (v.videoWidth > 0) {
    g.drawImage(v, 0, 0, 32, 32);
    const d = g.getImageData(0, 0, 32, 32).data;
    sum = 0;
    for (let i = 0; i < d.length; i++) sum = (sum * 31 + d[i]) % 1000000007;
  }
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {totalVideoFrames: -1};
  return JSON.stringify({t: v.currentTime, frames: q.totalVideoFrames, sum: sum, w: v.videoWidth,
                         status: document.getElementById('status').textContent,
                         fps: document.getElementById('fps').textContent});
})()"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    script = REPO / "scripts" / "ensure_chromium.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    found = shutil.which("chromium")
    if done.returncode != 0 or not found:
        pytest.skip(f"Chromium is not installed and could not be installed: {done.stderr.strip()[:200]}")
    return found


class DevTools:
    """A minimal DevTools-protocol client over one page's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.ws.receive_json(), 30)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> object:
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result.get("result", {}).get("value")


async def _page_socket(http: aiohttp.ClientSession, port: int, deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            async with http.get(f"http://127.0.0.1:{port}/json") as response:
                for target in await response.json():
                    if target.get("type") == "page" and "webSocketDebuggerUrl" in target:
                        return str(target["webSocketDebuggerUrl"])
        except (aiohttp.ClientError, ValueError):
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("Chromium's DevTools endpoint did not come up")


def test_chromium_plays_the_avatar_with_a_fake_microphone(
    server: object, tiny: dict[str, Path], shared_data: Path, tmp_path: Path
) -> None:
    binary = _chromium()
    wav = shared_data / "hdtf_RD_Radio34_002.wav"
    if not wav.is_file():
        wav = tiny["speaker"] / "aud.wav"
    port = free_port()
    profile = tempfile.mkdtemp(prefix="pgs-chromium-")
    command = [
        binary,
        *FLAGS,
        f"--use-file-for-fake-audio-capture={wav}",
        f"--user-data-dir={profile}",
        f"--remote-debugging-port={port}",
        "--window-size=1100,700",
        f"{server.url}/",  # type: ignore[attr-defined]
    ]
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[dict] = []
    watched: list[dict] = []
    try:

        async def run() -> bytes:
            async with aiohttp.ClientSession() as http:
                url = await _page_socket(http, port, time.monotonic() + 60)
                async with http.ws_connect(url, max_msg_size=0) as ws:
                    tools = DevTools(ws)
                    for _ in range(100):  # wait for the page's script
                        if await tools.evaluate("typeof connect === 'function'"):
                            break
                        await asyncio.sleep(0.1)
                    # 1. watch the idle head (no microphone)
                    await tools.evaluate("document.getElementById('watch').click()")
                    end = time.monotonic() + 20
                    while time.monotonic() < end:
                        await asyncio.sleep(0.5)
                        sample = json.loads(str(await tools.evaluate(PROBE)))
                        if sample["t"] > 1.5:
                            watched.append(sample)
                            break
                    # 2. speak into the (fake) microphone: a new session replaces the first
                    await tools.evaluate("document.getElementById('mic').click()")
                    await asyncio.sleep(1.0)
                    end = time.monotonic() + 25
                    while time.monotonic() < end:
                        await asyncio.sleep(0.5)
                        sample = json.loads(str(await tools.evaluate(PROBE)))
                        samples.append(sample)
                        playing = [s for s in samples if s["t"] > 0]
                        if len(playing) >= 8 and playing[-1]["t"] - playing[0]["t"] > 2.5:
                            break
                    shot = await tools.call("Page.captureScreenshot", format="png")
                    await tools.evaluate("disconnect().then(() => 'closed')")  # the Stop button's action
                    return base64.b64decode(shot["data"])

        png = asyncio.run(run())
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)
    (tmp_path / "browser.png").write_bytes(png)
    deadline = time.monotonic() + 10
    while server.sessions() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.1)
    assert server.sessions() == 0  # type: ignore[attr-defined]  # DELETE /session freed the slot
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert watched and "connected" in watched[0]["status"], "the idle head did not play"
    playing = [s for s in samples if s["t"] > 0 and "microphone" in s["status"]]
    assert playing, f"the video never started: {samples[-3:]}"
    assert playing[-1]["t"] - playing[0]["t"] > 2.0, playing
    assert playing[-1]["frames"] - playing[0]["frames"] > 40, playing  # ~25 fps decoded
    sums = {s["sum"] for s in playing if s["sum"] >= 0}
    assert len(sums) >= 3, playing  # the picture changes (the mouth follows the microphone)
    assert playing[-1]["w"] == 48
    assert "connected" in playing[-1]["status"]
