"""The thumbnail step (`jobs.images.process`) against one bare Pillow decode of the same file.

`process` decodes once and makes the 768 and 256 px WebP thumbnails from that decode, so it
should cost little more than the decode itself. Timing is best-of-N in this process; peak memory
is measured in fresh subprocesses (ru_maxrss growth, and tracemalloc's peak).

Run: VAR_DIR=/tmp/var-bench .venv/bin/python bench/thumbnail.py [--repeat 7]
"""

import argparse
import gc
import hashlib
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness.report import machine, ratio_text, verdict
from jobs import images  # Pillow only, no Django needed

GOAL = 1.3
SIZES = (768, 256)


def picture(side: int, seed: int) -> Image.Image:
    """A smooth gradient with blotches and grain, so PNG and JPEG compress like a real image."""
    rng = random.Random(seed)
    ramp = Image.linear_gradient("L").resize((side, side))
    channels = (ramp, Image.radial_gradient("L").resize((side, side)), ramp.rotate(90))
    image = Image.merge("RGB", channels)
    coarse = side // 16
    blotches = Image.frombytes("RGB", (coarse, coarse), rng.randbytes(coarse * coarse * 3))
    image = Image.blend(image, blotches.resize((side, side), Image.Resampling.BICUBIC), 0.35)
    grain = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    return Image.blend(image, grain, 0.08)


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def bare_decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def best(func, data: bytes, repeat: int) -> float:
    """Best wall time of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        func(data)
        times.append(time.perf_counter() - start)
    return min(times)


def breakdown(data: bytes, repeat: int) -> dict[str, float]:
    """The steps `process` takes, timed one by one with the same Pillow calls."""

    def decode() -> Image.Image:
        image = Image.open(io.BytesIO(data))
        if image.format == "JPEG":
            image.draft("RGB", (SIZES[0], SIZES[0]))  # as process() does
        image.load()
        return image

    def thumb(image: Image.Image, size: int) -> Image.Image:
        image = image.copy()
        image.thumbnail((size, size), Image.Resampling.BILINEAR)  # as process() does
        return image

    def webp(image: Image.Image) -> None:
        image.save(io.BytesIO(), "WEBP", quality=82, method=0)

    decoded = decode().convert("RGB")
    large = thumb(decoded, SIZES[0])
    small = thumb(large, SIZES[1])
    drafted = f" (drafted to {decoded.width}px)" if decoded.width != bare_decode(data).width else ""
    steps = {
        f"decode{drafted}": decode,
        f"resize to {SIZES[0]}": lambda: thumb(decoded, SIZES[0]),
        f"WebP {SIZES[0]}": lambda: webp(large),
        f"resize to {SIZES[1]}": lambda: thumb(large, SIZES[1]),
        f"WebP {SIZES[1]}": lambda: webp(small),
        "sha256": lambda: hashlib.sha256(data).digest(),
    }
    return {name: best(lambda _d, step=step: step(), data, repeat) for name, step in steps.items()}


def measure_memory(path: Path, what: str, how: str) -> int:
    """Run one operation in a fresh interpreter; its peak memory growth in bytes."""
    command = [sys.executable, __file__, "--measure", what, "--how", how, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["bytes"]


def peak_rss() -> int:
    """This process's peak resident memory in bytes.

    Linux's VmHWM, because ru_maxrss survives fork + exec: a child of a big parent would start
    with the parent's peak and show no growth. ru_maxrss elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_measure(path: Path, what: str, how: str) -> None:
    data = path.read_bytes()
    work = (lambda: images.process(data, SIZES)) if what == "process" else lambda: bare_decode(data)
    gc.collect()
    if how == "tracemalloc":
        tracemalloc.start()
        result = work()
        grown = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        before = peak_rss()
        result = work()
        grown = peak_rss() - before
    del result
    print(json.dumps({"bytes": grown}))


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="best of N timings (default 7)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--measure", choices=("process", "decode"), help=argparse.SUPPRESS)
    parser.add_argument("--how", choices=("rss", "tracemalloc"), help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        child_measure(args.path, args.measure, args.how)
        return 0
    repeat = max(1, min(args.repeat, 50))

    base = Path(os.environ.get("VAR_DIR") or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="thumbnail-", dir=base))
    missed = []
    try:
        cases = [(1024, "PNG", repeat), (4096, "JPEG", max(3, repeat // 2 + 1))]
        print(f"thumbnail: Pillow {Image.__version__}, best of N, one process; {machine()}")
        for side, fmt, n in cases:
            data = encode(picture(side, seed=side), fmt)
            path = folder / f"bench-{side}.{fmt.lower()}"
            path.write_bytes(data)
            name = f"{side}x{side} {fmt}"
            images.process(data, SIZES)  # warm up codecs
            bare_decode(data)
            timed_process = best(lambda d: images.process(d, SIZES), data, n)
            timed_decode = best(bare_decode, data, n)
            ratio = timed_process / timed_decode
            if ratio > GOAL:
                missed.append(name)
            print(
                f"thumbnail: {name} ({mb(len(data))}): process {timed_process * 1000:.1f} ms "
                f"vs bare decode {timed_decode * 1000:.1f} ms (best of {n}), "
                f"ratio {ratio_text(ratio, GOAL)} (goal <= {GOAL}): {verdict(ratio <= GOAL)}"
            )
            steps = breakdown(data, n)
            parts = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in steps.items())
            print(f"  the same steps one by one: {parts}")
            if fmt == "JPEG":
                peaks = {
                    (what, how): measure_memory(path, what, how)
                    for what in ("process", "decode")
                    for how in ("rss", "tracemalloc")
                }
                print(
                    f"thumbnail: {name} peak memory: process +{mb(peaks['process', 'rss'])} RSS "
                    f"(tracemalloc peak {mb(peaks['process', 'tracemalloc'])}) vs bare decode "
                    f"+{mb(peaks['decode', 'rss'])} RSS "
                    f"(tracemalloc peak {mb(peaks['decode', 'tracemalloc'])})"
                )
                print("  (tracemalloc sees Python objects only; Pillow's pixel buffers are in RSS)")
        if missed:
            print(f"thumbnail: goal missed for {', '.join(missed)}; see bench/README.md")
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
