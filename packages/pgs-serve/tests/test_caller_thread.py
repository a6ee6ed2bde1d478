"""`CallerThreadExecutor` and ``pgs serve`` rendering on its main thread (a real process)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import aiohttp
import av
import pytest

from pgs.serve.caller_thread import CallerThreadExecutor
from pgs.serve.local import free_port


def test_calls_from_the_owner_run_at_once_others_run_in_run_in_order() -> None:
    executor = CallerThreadExecutor()
    ran_on: list[tuple[str, int]] = []
    now = executor.submit(lambda: ran_on.append(("now", threading.get_ident())) or 7)
    assert now.done() and now.result() == 7  # the owner's own call does not wait for run()

    futures = []
    submitted = threading.Event()

    def other_thread() -> None:
        for i in range(5):
            futures.append(executor.submit(lambda i=i: ran_on.append((f"q{i}", threading.get_ident())) or i))
        futures.append(executor.submit(lambda: 1 / 0))
        submitted.set()

    threading.Thread(target=other_thread).start()
    assert submitted.wait(10)
    assert not any(f.done() for f in futures)  # nothing runs until the owner drives the queue
    executor.run(stop=lambda: all(f.done() for f in futures))
    assert [f.result() for f in futures[:5]] == list(range(5))
    with pytest.raises(ZeroDivisionError):
        futures[5].result()
    assert [name for name, _ in ran_on] == ["now", "q0", "q1", "q2", "q3", "q4"]
    assert {ident for _, ident in ran_on} == {threading.get_ident()}  # all on the owner thread


def test_shutdown_cancels_queued_calls_and_stops_run() -> None:
    executor = CallerThreadExecutor()
    queued = []
    t = threading.Thread(target=lambda: queued.append(executor.submit(time.sleep, 0)))
    t.start()
    t.join()
    executor.shutdown(cancel_futures=True)
    assert queued[0].cancelled()
    executor.run()  # returns at once: shut down
    with pytest.raises(RuntimeError, match="shut-down"):
        executor.submit(print)


def test_run_from_another_thread_is_refused() -> None:
    executor = CallerThreadExecutor()
    errors: list[BaseException] = []

    def wrong() -> None:
        try:
            executor.run()
        except RuntimeError as error:
            errors.append(error)

    t = threading.Thread(target=wrong)
    t.start()
    t.join(10)
    assert errors and "thread that created it" in str(errors[0])


def test_keyboard_interrupt_in_a_call_fails_it_and_propagates() -> None:
    executor = CallerThreadExecutor()
    holder = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    t = threading.Thread(target=lambda: holder.append(executor.submit(interrupt)))
    t.start()
    t.join()
    with pytest.raises(KeyboardInterrupt):
        executor.run()
    assert isinstance(holder[0].exception(), KeyboardInterrupt)


def test_pgs_serve_renders_on_its_main_thread_and_stops_on_sigterm(tiny: dict[str, Path], tmp_path: Path) -> None:
    """A real ``pgs serve`` process: /health, POST /render (renders queued to the main thread), SIGTERM."""
    port = free_port()
    pgs = str(Path(sys.executable).parent / "pgs")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    command = [pgs, "serve", str(tiny["avatar"]), "--port", str(port), "--device", "cpu", "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"

    async def talk() -> tuple[dict, bytes]:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 120
            while True:
                try:
                    async with http.get(f"{base}/health") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    await asyncio.sleep(0.2)
            form = aiohttp.FormData()
            form.add_field("audio", (tiny["speaker"] / "aud.wav").read_bytes(), filename="aud.wav")
            async with http.post(f"{base}/render", data=form) as response:
                assert response.status == 200, await response.text()
                return health, await response.read()

    try:
        health, data = asyncio.run(talk())
        assert health["sessions"] == 0 and health["device"] == "cpu"
        out = tmp_path / "talk.mp4"
        out.write_bytes(data)
        with av.open(str(out)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        with wave.open(str(tiny["speaker"] / "aud.wav")) as handle:
            assert frames == round(handle.getnframes() / handle.getframerate() * 25)
        process.send_signal(signal.SIGTERM)  # behaves like Ctrl-C: the server stops cleanly
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
