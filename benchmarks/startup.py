"""Time srkit's start-up against ``import torch``, each command in its own fresh process.

    python benchmarks/startup.py [--repeats 9]

The commands take turns (one run of each per round, ``--repeats`` rounds), so a busy machine
slows them alike; the median of each is printed with its difference to ``python -c "import
torch"``. ``srkit info`` and ``load_model`` read a small SRResNet weights file written first.

The commands run as an installed srkit does, with Python's bytecode caches: a
``PYTHONDONTWRITEBYTECODE`` set in this environment is left out of theirs (with it, every start
compiles srkit's modules again), and one untimed run of each writes them. The last line loads
the weights as ``load_model`` did before it chose one CPU thread for the file's small tensors
(the choice replaced by a no-op), for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRKIT = [sys.executable, "-m", "srkit"]


def commands(weights: Path) -> dict[str, list[str]]:
    """Name -> argv of each command timed; the first is the reference."""
    return {
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "srkit --version": [*SRKIT, "--version"],
        "srkit --help": [*SRKIT, "--help"],
        "srkit plugins": [*SRKIT, "plugins"],
        "srkit info WEIGHTS": [*SRKIT, "info", str(weights)],
        "srkit train srresnet --help": [*SRKIT, "train", "srresnet", "--help"],
        "python: srkit.load_model(WEIGHTS)": [
            sys.executable, "-c", f"import srkit; srkit.load_model({str(weights)!r})"],
        "  the same, torch's thread count": [sys.executable, "-c", (
            "import contextlib, srkit, srkit.weights.files as files; "
            "files.one_cpu_thread = contextlib.nullcontext; "
            f"srkit.load_model({str(weights)!r})")],
    }


def write_weights(folder: Path) -> Path:
    subprocess.run([sys.executable, "-c", (
        "import srkit; srkit.save_weights(srkit.build_generator('srresnet', scale=4"
        f"), {str(folder / 'srresnet.safetensors')!r})")], check=True, env=CHILD_ENV)
    return folder / "srresnet.safetensors"


#: The commands' environment: this one, with bytecode caches allowed.
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        timed = commands(write_weights(Path(folder)))
        seconds: dict[str, list[float]] = {name: [] for name in timed}
        load_before = os.getloadavg()[0]
        for argv in timed.values():  # warm the file cache and write the bytecode caches
            run_once(argv)
        for _ in range(args.repeats):
            for name, argv in timed.items():
                seconds[name].append(run_once(argv))
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    reference = next(iter(medians.values()))
    import torch

    print(f"start-up, median of {args.repeats} interleaved runs, load average {load_before:.1f} "
          f"before / {os.getloadavg()[0]:.1f} after, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads")
    for name, median in medians.items():
        print(f"  {name:36s} {median:6.2f} s  ({median - reference:+.2f} s vs import torch)")


if __name__ == "__main__":
    main()
