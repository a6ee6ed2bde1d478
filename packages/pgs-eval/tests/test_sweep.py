"""``pgs sweep``: the sweep file, aggregation with CIs, a Ray sweep to the end, and a killed driver resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from pgs.core.cli.main import main
from pgs.core.errors import ConfigError
from pgs.core.overrides import apply_settings as apply_overrides
from pgs.core.overrides import parse_override
from pgs.eval.stats import BETTER, NO_DIFFERENCE, mean_interval
from pgs.eval.sweep.aggregate import OVERALL, summarize
from pgs.eval.sweep.spec import load_sweep

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _sweep_file(tmp_path: Path, base: dict[str, Any], **fields: Any) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": base, **fields}))
    return path


# ------------------------------------------------------------------------------------------ the sweep file


def test_sweep_file_expands_into_validated_runs(tmp_path: Path, make_tiny_config) -> None:
    (tmp_path / "spk_a").mkdir()
    (tmp_path / "spk_b").mkdir()
    base = make_tiny_config(tmp_path / "ignored", tmp_path / "ignored_out")
    path = _sweep_file(
        tmp_path,
        base,
        output="out",
        speakers={"a": "spk_a", "b": "spk_b"},
        variants=["gradient-concat", {"name": "full-short", "preset": "full", "set": {"stages.deform_iterations": 3}}],
        seeds=[4, 7],
        set={"eval_frames": 1},
    )
    sweep = load_sweep(path, overrides=[parse_override("loss.ssim_weight=0.5")])
    assert sweep.output == tmp_path / "out"
    assert [r.run_id for r in sweep.runs] == [
        f"{s}/{v}/seed-{k}" for s in ("a", "b") for v in ("gradient-concat", "full-short") for k in (4, 7)
    ]
    run = next(r for r in sweep.runs if r.run_id == "b/full-short/seed-7")
    assert run.folder == tmp_path / "out" / "b" / "full-short" / "seed-7"
    config = run.config
    assert config["seed"] == 7 and config["output"] == str(run.folder)
    assert config["data"]["folder"] == str(tmp_path / "spk_b")
    assert config["model"]["face"]["fusion"]["name"] == "mgf" and config["density"]["face"]["name"] == "pixel-aware"
    assert config["stages"]["deform_iterations"] == 3 and config["stages"]["static_iterations"] == 10
    assert config["eval_frames"] == 1 and config["loss"]["ssim_weight"] == 0.5
    gradient = next(r for r in sweep.runs if r.variant == "gradient-concat")
    assert gradient.config["density"]["mouth"]["name"] == "gradient"
    assert gradient.config["stages"]["deform_iterations"] == 10
    assert gradient.label == "gradient + concat-mlp" and run.label == "full-short"
    assert sweep.compare == [("full-short", "gradient-concat")]  # no Table 3 pair: each against the first


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"variants": ["nope"]}, "unknown ablation variant"),
        ({"speakers": {"x": "missing"}}, "speakers.x: .*speaker folder not found"),
        ({"seeds": [1, 1]}, "seeds: duplicates"),
        ({"compare": [["full", "other"]]}, "compare"),
        ({"bogus": 1}, "bogus"),
        ({"set": {"stages.static_iterations": -1}}, "static_iterations"),
    ],
)
def test_sweep_file_errors_name_the_problem(
    tmp_path: Path, make_tiny_config, fields: dict[str, Any], message: str
) -> None:
    (tmp_path / "spk").mkdir()
    base = make_tiny_config(tmp_path / "spk", tmp_path / "o")
    with pytest.raises(ConfigError, match=message):
        load_sweep(_sweep_file(tmp_path, base, **fields))


def test_overrides() -> None:
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override("x=[1, 2]") == ("x", [1, 2])
    assert parse_override("name=pixel-aware") == ("name", "pixel-aware")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("novalue")
    data = {"a": {"b": 1}, "c": 2}
    assert apply_overrides(data, {"a.d.e": 5}, "t") == {"a": {"b": 1, "d": {"e": 5}}, "c": 2}
    assert data == {"a": {"b": 1}, "c": 2}  # not modified
    with pytest.raises(ConfigError, match="c is 2, not a section"):
        apply_overrides(data, {"c.x": 1}, "t")


def test_sweep_cli_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("base: {}\nvariants: [full]\n")
    assert main(["sweep", str(path), "--executor", "local"]) == 2
    assert "speakers: none given and the base config has no data.folder" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------------------ aggregation


def _result(speaker: str, variant: str, seed: int, psnr: float, lpips: float) -> dict[str, Any]:
    return {
        "speaker": speaker,
        "variant": variant,
        "seed": seed,
        "num_gaussians_total": 500,
        "training": {"seconds": 10.0},
        "report": {"metrics": {"PSNR": {"value": psnr}, "LPIPS": {"value": lpips}, "LSE-D": {"value": None}}},
        "cross_driven": {"novel": {"metrics": {"LSE-D": {"value": 8.0 - psnr / 100}, "LSE-C": {"value": None}}}},
    }


def test_summary_overall_averages_speakers_per_seed_and_pairs_by_seed() -> None:
    results = []
    for seed, noise in zip((0, 1, 2), (0.0, 1.5, -1.2), strict=True):
        results += [
            _result("a", "base", seed, 30.0 + noise, 0.10),
            _result("a", "new", seed, 30.4 + noise, 0.10 + 0.01 * seed),
            _result("b", "base", seed, 20.0 + noise, 0.20),
            _result("b", "new", seed, 20.6 + noise, 0.20 - 0.01 * seed),
        ]
    summary = summarize(results, ["a", "b"], [("new", "base")])
    overall = summary.intervals[OVERALL]["new"]["PSNR"]
    assert overall.values == pytest.approx((25.5, 27.0, 24.3))  # speaker means per seed
    assert overall.half_width == pytest.approx(mean_interval([25.5, 27.0, 24.3]).half_width)
    assert summary.intervals["a"]["base"]["PSNR"].values == pytest.approx((30.0, 31.5, 28.8))
    assert "LSE-D" not in summary.intervals["a"]["base"]  # not computed -> not averaged
    by_key = {(c.scope, c.metric): c for c in summary.comparisons}
    assert by_key[("a", "PSNR")].difference.mean == pytest.approx(0.4)
    assert by_key[("a", "PSNR")].verdict == BETTER  # +0.4 on every seed: the interval is [0.4, 0.4]
    assert by_key[(OVERALL, "PSNR")].difference.mean == pytest.approx(0.5)
    assert by_key[(OVERALL, "LPIPS")].verdict == NO_DIFFERENCE  # +0.01 k and -0.01 k cancel
    assert by_key[("a", "LPIPS")].difference.values == pytest.approx((0.0, 0.01, 0.02))
    assert by_key[("a", "LPIPS")].verdict == NO_DIFFERENCE  # the interval of (0, .01, .02) contains 0
    assert ("a", "Gaussians") not in by_key  # no direction: not compared
    lse = by_key[("a", "LSE-D (novel)")]  # cross-driven (Table 2) per audio; lower is better
    assert lse.difference.mean == pytest.approx(-0.004) and lse.verdict == BETTER
    assert ("a", "LSE-C (novel)") not in by_key  # n/a values are left out


# ------------------------------------------------------------------------------------------ end to end


def _tiny_sweep(tmp_path: Path, speaker: Path, make_tiny_config, **fields: Any) -> Path:
    base = make_tiny_config(speaker, tmp_path / "unused", iterations=(4, 4, 2))
    spec = {
        "output": str(tmp_path / "sweep"),
        "variants": ["pixel-concat", "full"],
        "seeds": [0, 1],
        "evaluation": {"max_frames": 2, "fps_frames": 0},
        "retries": 0,
        **fields,
    }
    return _sweep_file(tmp_path, base, **spec)


def _check_outputs(out: Path) -> dict[str, Any]:
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["schema"] == "pgs-eval/sweep/1"
    assert [r["state"] for r in summary["runs"]] == ["done"] * 4
    for variant in ("pixel-concat", "full"):
        psnr = summary["summary"][OVERALL][variant]["PSNR"]
        assert psnr["n"] == 2 and psnr["ci_low"] <= psnr["mean"] <= psnr["ci_high"]
        assert len(psnr["values"]) == 2 and psnr["half_width"] > 0
    pairs = {(c["a"], c["b"], c["metric"]) for c in summary["comparisons"]}
    assert ("full", "pixel-concat", "PSNR") in pairs
    markdown = (out / "sweep.md").read_text()
    assert "Table 1: self-driven reconstruction (mean ± 95 % CI)" in markdown and " ± " in markdown
    assert "full − pixel-concat" in markdown and "Table 3: ablation" in markdown
    with Image.open(out / "sweep_points.png") as plot:
        assert plot.size[0] > 200
    for seed in (0, 1):
        result = json.loads((out / "spk" / "full" / f"seed-{seed}" / "result.json").read_text())
        assert result["config"]["seed"] == seed and result["config"]["model"]["mouth"]["fusion"]["name"] == "mgf"
    return summary


def test_sweep_on_embedded_ray(tiny_speaker: Path, tmp_path: Path, make_tiny_config, monkeypatch) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'pgs-eval[ray]')")
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    evaluation = {"max_frames": 2, "fps_frames": 0, "audios": [str(tiny_speaker / "aud.wav")]}
    path = _tiny_sweep(tmp_path, tiny_speaker, make_tiny_config, evaluation=evaluation)
    assert main(["sweep", str(path), "--num-cpus", "2", "--quiet"]) == 0
    summary = _check_outputs(tmp_path / "sweep")
    assert "### Table 2: cross-driven lip sync (mean ± 95 % CI)" in (tmp_path / "sweep" / "sweep.md").read_text()
    cross = tmp_path / "sweep" / "spk" / "full" / "seed-1" / "eval" / "cross_driven" / "aud.json"
    assert json.loads(cross.read_text())["metrics"]["LSE-D"]["note"].startswith("weights not supplied")
    assert {r["reused"] for r in summary["runs"]} == {False}
    status = json.loads((tmp_path / "sweep" / "sweep_status.json").read_text())
    assert status["executor"] == "ray" and status["counts"]["done"] == 4
    # a second pass skips every finished run (no Ray needed) and writes the same numbers
    assert main(["sweep", str(path), "--executor", "local", "--quiet"]) == 0
    again = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert {r["reused"] for r in again["runs"]} == {True}
    assert again["summary"] == summary["summary"]


def test_killed_driver_resumes(tiny_speaker: Path, tmp_path: Path, make_tiny_config) -> None:
    path = _tiny_sweep(tmp_path, tiny_speaker, make_tiny_config, set={"checkpoint_every": 2})
    out = tmp_path / "sweep"
    second = out / "spk" / "pixel-concat" / "seed-1"
    code = "import sys; from pgs.core.cli.main import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "sweep", str(path), "--executor", "local", "--quiet"]
    env = {**os.environ, **ENV, "TORCH_HOME": str(tmp_path / "torch_home")}
    driver = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (second / "checkpoints" / "last.pt").exists():  # the second run is training
        assert driver.poll() is None, driver.stderr.read().decode() if driver.stderr else ""
        assert time.monotonic() < deadline, "the sweep never reached its second run"
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    first = out / "spk" / "pixel-concat" / "seed-0" / "result.json"
    finished = first.stat().st_mtime_ns
    assert not (second / "result.json").exists()

    assert main(["sweep", str(path), "--executor", "local", "--quiet"]) == 0
    summary = _check_outputs(out)
    reused = {r["run_id"]: r["reused"] for r in summary["runs"]}
    assert reused == {
        "spk/pixel-concat/seed-0": True,
        "spk/pixel-concat/seed-1": False,
        "spk/full/seed-0": False,
        "spk/full/seed-1": False,
    }
    assert first.stat().st_mtime_ns == finished  # skipped, not redone
    resumed = json.loads((second / "result.json").read_text())
    assert resumed["resumed_from_step"] and resumed["resumed_from_step"] >= 2  # from its last checkpoint
    assert resumed["training"]["global_step"] == 2 * (4 + 4) + 2  # and to the end of the schedule


def test_failed_runs_are_retried_then_reported(tmp_path: Path, make_tiny_config) -> None:
    (tmp_path / "empty").mkdir()  # passes the up-front folder check, fails when the trainer opens it
    base = make_tiny_config(tmp_path / "empty", tmp_path / "o")
    path = _sweep_file(tmp_path, base, output="out", variants=["full"], seeds=[0, 1], retries=1)
    assert main(["sweep", str(path), "--executor", "local", "--quiet"]) == 1
    status = json.loads((tmp_path / "out" / "sweep_status.json").read_text())
    assert [(r["state"], r["attempts"], len(r["errors"])) for r in status["runs"]] == [("failed", 2, 2)] * 2
    assert "DataError" in status["runs"][0]["errors"][0]
    markdown = (tmp_path / "out" / "sweep.md").read_text()
    assert "0 done, 2 failed" in markdown and "## Failed runs" in markdown
    assert main(["sweep", str(path), "--executor", "local", "--quiet", "--retries", "0"]) == 1
    status = json.loads((tmp_path / "out" / "sweep_status.json").read_text())
    assert [r["attempts"] for r in status["runs"]] == [1, 1]


def test_progress_table_reads_the_run_folders(tmp_path: Path, make_tiny_config) -> None:
    from rich.console import Console

    from pgs.eval.sweep.driver import RunState
    from pgs.eval.sweep.progress import progress_table

    (tmp_path / "spk").mkdir()
    sweep = load_sweep(
        _sweep_file(
            tmp_path,
            make_tiny_config(tmp_path / "spk", tmp_path / "o"),
            output="out",
            variants=["full"],
            seeds=[0, 1, 2],
        )
    )
    states = [RunState(run) for run in sweep.runs]
    running = states[0].run.folder
    running.mkdir(parents=True)
    (running / "status.json").write_text(json.dumps({"state": "running", "session": "s1"}))
    lines = [{"stage": "static/face", "step": 20, "psnr": 21.5}, {"stage": "deform/face", "step": 40, "psnr": 23.25}]
    (running / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"partial": ')
    stale = states[1].run.folder
    stale.mkdir(parents=True)
    (stale / "status.json").write_text(json.dumps({"state": "running", "session": "old"}))  # an earlier driver's
    states[2].state, states[2].result = "done", {"report": {"metrics": {"PSNR": {"value": 30.0}}}}
    console = Console(width=160, record=True)
    console.print(progress_table(states, "s1", 0.0))
    text = console.export_text()
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "spk/full" in line}
    assert "running" in rows["spk/full/seed-0"] and "23.25 (deform/face 40)" in rows["spk/full/seed-0"]
    assert "queued" in rows["spk/full/seed-1"]
    assert "done" in rows["spk/full/seed-2"] and "30.00 (eval)" in rows["spk/full/seed-2"]
    assert "1 queued, 1 running, 1 done, 0 failed" in text


def test_ray_executor_without_ray_is_a_clear_error(
    tmp_path: Path, make_tiny_config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    (tmp_path / "spk").mkdir()
    path = _sweep_file(tmp_path, make_tiny_config(tmp_path / "spk", tmp_path / "o"), output="out", variants=["full"])
    assert main(["sweep", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ray is not installed" in err and "--executor local" in err
    assert not (tmp_path / "out").exists()
    assert main(["sweep", str(path), "--list"]) == 0  # nothing else needs ray
    assert main(["sweep", str(path), "--executor", "local", "--num-cpus", "2"]) == 2
    assert "need --executor ray" in capsys.readouterr().err
