"""Start-up benchmark: exec to first full frame of the symptom picker, in a pty.

    python -m tests.bench.startup [RUNS]

Measured next to a minimal Textual hello-world in the same run (same Python,
same terminal size).  Prints the median and best of RUNS runs of each.
"""

from __future__ import annotations

import statistics
import sys
import tempfile

from tests.bench.ptyrun import PtyProcess

HELLO = (
    "from textual.app import App\n"
    "from textual.widgets import Static, Footer\n"
    "class Hello(App):\n"
    "    def compose(self):\n"
    "        yield Static('hello-ready')\n"
    "        yield Footer()\n"
    "Hello().run()\n"
)


def measure(argv: list[str], markers: tuple[bytes, ...], env: dict[str, str]) -> float:
    proc = PtyProcess(argv, 80, 24, env)
    try:
        return proc.wait_for(*markers)
    finally:
        proc.close()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as state:
        env = {"NETMEDIC_STATE_DIR": state}
        cases = {
            "textual hello-world": ([sys.executable, "-c", HELLO], (b"hello-ready", b"palette")),
            "netmedic symptom picker": (
                [sys.executable, "-m", "tui.cli"],
                (b"Connection refused", b"palette"),
            ),
        }
        measure(*cases["netmedic symptom picker"], env)  # warm the bytecode cache
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (argv, markers) in cases.items():
                results[name].append(measure(argv, markers, env))
    hello = statistics.median(results["textual hello-world"])
    for name, times in results.items():
        med = statistics.median(times)
        print(
            f"{name:<26} median {med * 1000:6.0f} ms   best {min(times) * 1000:6.0f} ms   ({runs} runs)"
        )
    ratio = statistics.median(results["netmedic symptom picker"]) / hello
    print(f"netmedic / hello-world     {ratio:.2f}x  (target <= 1.5x and <= 500 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
