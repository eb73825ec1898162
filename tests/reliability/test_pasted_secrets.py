"""A pasted error carrying every kind of secret people paste: none of it reaches the
JSON, the terminal, the journal, any report format or the support bundle.

The secrets are found by their look (detect-secrets' plugins, at the run's
Redactor): private key blocks (RSA, EC, OpenSSH), GitHub, Slack, OpenAI (``sk-``
and ``sk-proj-``) tokens, an AWS key id and its secret side by side.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.probe_helpers import ROOT, clean_env

# Shaped like the real thing, made up here (a real token never goes in a test).
TOKENS = {
    "github": "ghp_Zq8Lw3Nx5Rt7Vb9Kd2Hf4Jm6Pc1Sg0Ya8Te3U",
    "slack": "xoxb-493820175634-2039485761203-Qw8Er7Ty6Ui5Op4As3Df2Gh1",
    "openai": "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",
    "openai-project": "sk-proj-Xy9Wv8Ut7Sr6Qp5On4Ml3Kj2Ih1Gf0Ed9Cb8Az7Yx6Wv5Ut4Sr3Qp2",
    "aws-id": "AKIA4QX7ZK2M9LT5WB3R",
    "aws-secret": "Wq7/Rk2mZp9Xv4Ln8Bt3Hc6Jd1Fs5Gy0Ue7Ai4Ko",
}


def _key_blocks() -> list[str]:
    pem = serialization.PrivateFormat.TraditionalOpenSSL
    none = serialization.NoEncryption()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ssh_key = ed25519.Ed25519PrivateKey.generate()
    enc = serialization.Encoding.PEM
    return [
        rsa_key.private_bytes(enc, pem, none).decode(),
        ec_key.private_bytes(enc, pem, none).decode(),
        ssh_key.private_bytes(enc, serialization.PrivateFormat.OpenSSH, none).decode(),
    ]


def _paste(port: int, blocks: list[str]) -> str:
    t = TOKENS
    return "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "deploy.py", line 12, in <module>',
            f"    client = Client(token={t['github']!r}, slack={t['slack']!r})",
            f"OPENAI_KEY {t['openai']} fallback {t['openai-project']}",
            f"aws configure: {t['aws-id']} {t['aws-secret']}",
            *blocks,
            f'psql: error: connection to server at "127.0.0.1", port {port} failed: '
            "Connection refused",
        ]
    )


def _netmedic(args: list[str], env: dict[str, str], stdin: str = "") -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        input=stdin.encode(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _secret_words(blocks: list[str]) -> list[str]:
    words = list(TOKENS.values())
    for block in blocks:  # every line of every key body
        words += [line for line in block.splitlines() if line and "-----" not in line]
    return words


def test_a_paste_with_every_secret_kind_leaks_into_no_output(
    tmp_path: Path, closed_port: int
) -> None:
    blocks = _key_blocks()
    paste = _paste(closed_port, blocks)
    state = tmp_path / "state"
    out = tmp_path / "out"
    out.mkdir()
    env = clean_env(XDG_STATE_HOME=str(state))
    outputs: dict[str, bytes] = {}

    code, stdout, stderr = _netmedic(
        ["check", "--json", "--timeout", "2", "--error", "-", "--report", str(out / "c.md")],
        env,
        paste,
    )
    assert code in (1, 4), stderr
    doc = json.loads(stdout)
    # Not vacuous: the paste named the target and is kept, with its key lines.
    assert doc["target"]["port"] == closed_port and "BEGIN RSA PRIVATE KEY" in doc["error"]["text"]
    assert "BEGIN OPENSSH PRIVATE KEY" in doc["error"]["text"]
    outputs["check --json"], outputs["check --json stderr"] = stdout, stderr
    code, stdout, stderr = _netmedic(
        ["check", "--timeout", "2", "--error", "-", "--report", str(out / "c.html")], env, paste
    )
    assert code in (1, 4), stderr
    outputs["check"], outputs["check stderr"] = stdout, stderr
    for fmt in ("md", "html", "json"):
        code, stdout, stderr = _netmedic(["report", "latest", "--format", fmt], env)
        assert code == 0, stderr
        outputs[f"report {fmt}"] = stdout
    code, _stdout, stderr = _netmedic(["report", "latest", "--bundle", str(out / "b.zip")], env)
    assert code == 0, stderr
    with zipfile.ZipFile(io.BytesIO((out / "b.zip").read_bytes())) as zf:
        for name in zf.namelist():
            outputs[f"bundle:{name}"] = zf.read(name)
    journals = list(state.rglob("*.jsonl"))
    assert len(journals) == 2
    for path in [*journals, *out.iterdir()]:
        outputs[str(path)] = path.read_bytes()
    for word in _secret_words(blocks):
        for label, data in outputs.items():
            assert word.encode() not in data, f"{word[:12]}... leaked into {label}"


def test_the_detectors_load_only_for_a_paste() -> None:
    """detect-secrets costs start-up time: a check without a paste never imports it."""
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "main(['check', '--json', '--timeout', '1', '127.0.0.1:9'])\n"
        "print('detect_secrets' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "XDG_STATE_HOME": "/nonexistent/netmedic-test"},
        timeout=60,
        check=False,
    )
    assert done.stderr.strip().endswith("False"), done.stderr
