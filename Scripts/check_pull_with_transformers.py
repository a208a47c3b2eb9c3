#!/usr/bin/env python3
"""Checks that a `maskscope pull` leaves a cache transformers can use: serves the tiny fixture with the test hub
on 127.0.0.1, pulls it with maskscope (interrupted once, then resumed), then loads it with from_pretrained
offline and compares the fill-mask answers with maskscope's own.

Run with the reference venv (transformers): python Scripts/check_pull_with_transformers.py [.build/debug/maskscope]
"""
import json, os, subprocess, sys, tempfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent
maskscope = sys.argv[1] if len(sys.argv) > 1 else str(root / ".build/debug/maskscope")
repo = "test-org/tiny-roberta"
text = "Paris is the <mask> of France."

with tempfile.TemporaryDirectory() as tmp:
    hub = subprocess.Popen([sys.executable, str(root / "Tests/ModelStoreTests/FakeHub/fake_hub.py"),
                            "--model", str(root / "Tests/Fixtures/models/tiny"), "--repo", repo,
                            "--interrupt", "model.safetensors:100000", "--log", f"{tmp}/log", "--lifetime", "60"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(hub.stdout.readline())
        env = dict(os.environ, HF_HUB_CACHE=f"{tmp}/cache", HF_ENDPOINT=f"http://127.0.0.1:{port}")
        env.pop("HF_TOKEN", None)
        first = subprocess.run([maskscope, "pull", repo], env=env, capture_output=True, text=True)
        assert first.returncode != 0 and "resume" in first.stderr, first.stderr
        second = subprocess.run([maskscope, "pull", repo], env=env, capture_output=True, text=True)
        assert second.returncode == 0, second.stderr
        assert "resumed" in second.stderr, second.stderr
        ours = subprocess.run([maskscope, "predict", "--model", repo, text], env=env, capture_output=True, text=True)
        assert ours.returncode == 0, ours.stderr
    finally:
        hub.stdin.close()
        hub.wait(timeout=10)

    os.environ.update(HF_HUB_CACHE=f"{tmp}/cache", HF_HUB_OFFLINE="1")
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline
    model = AutoModelForMaskedLM.from_pretrained(repo)
    tokenizer = AutoTokenizer.from_pretrained(repo)
    theirs = pipeline("fill-mask", model=model, tokenizer=tokenizer)(text)
    ours = json.loads(ours.stdout)
    ours = ours[0] if ours and isinstance(ours[0], list) else ours
    assert [c["token"] for c in ours] == [c["token"] for c in theirs], (ours, theirs)
    worst = max(abs(a["score"] - b["score"]) for a, b in zip(ours, theirs))
    assert worst < 1e-5, worst
    print(f"ok: transformers loaded the pulled cache offline; same top-{len(ours)} tokens, max score difference {worst:.2e}")
