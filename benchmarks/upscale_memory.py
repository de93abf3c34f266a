"""Peak host memory of ``srkit upscale``'s two output paths, per output pixel, in one run.

"whole" is run_model + save_image (the float32 output held whole), "streamed" is
upscale_streamed + save_pil_image (tiles quantised into Pillow's 8-bit image). Each runs in a
fresh process; the figure is (peak RSS - RSS before the call) / output pixels. It includes
the model's working memory (for "streamed", one tile's), so small outputs show a larger
streamed figure; srkit/memory.py's estimates should bound both.

    python benchmarks/upscale_memory.py                  # 1000x750 -> 4000x3000 bicubic x4
    python benchmarks/upscale_memory.py --size 2000x1500
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, tempfile, torch
from srkit.imageio import save_image, save_pil_image
from srkit.inference import run_model, upscale_streamed
from srkit.nn.models import build_generator
mode, width, height, scale = sys.argv[1], *map(int, sys.argv[2:5])
model = build_generator("bicubic", scale=scale).eval()
lr = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
upscale_streamed(model, lr[..., :64, :64], tile=32)  # warm up both paths' code
run_model(model, lr[..., :64, :64])
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmRSS:"))
before = rss()
with tempfile.TemporaryDirectory() as folder:
    if mode == "whole":
        save_image(run_model(model, lr).clamp_(0, 1), folder + "/out.png")
    else:
        save_pil_image(upscale_streamed(model, lr), folder + "/out.png")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"extra": peak - before}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1000x750", help="LR WIDTHxHEIGHT")
    parser.add_argument("--scale", type=int, default=4)
    args = parser.parse_args()
    width, height = map(int, args.size.lower().split("x"))
    pixels = width * height * args.scale**2
    results = {}
    for mode in ("whole", "streamed"):
        done = subprocess.run([sys.executable, "-c", CHILD, mode, str(width), str(height),
                               str(args.scale)], capture_output=True, text=True, check=True)
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])["extra"] / pixels
        print(f"{mode:9s} {results[mode]:6.1f} bytes per output pixel "
              f"({width * args.scale}x{height * args.scale} output)")
    print(f"whole / streamed: {results['whole'] / results['streamed']:.1f}x")


if __name__ == "__main__":
    main()
