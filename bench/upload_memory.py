"""What cleaning one uploaded image costs in memory (`services.uploads.clean_upload`).

Each image is made (one colour, so the file is small: the worst case, a tiny file that
decodes large), then cleaned in a child process of its own whose peak resident memory
is read from /proc (VmHWM, reset just before the clean). The baseline, measured in the
same run, is an ordinary 12-MP phone photo.

    python bench/upload_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys

MB = 1024 * 1024
CASES = [  # label, format, mode, width, height
    ("12-MP phone photo (baseline)", "JPEG", "RGB", 4000, 3000),
    ("48-MP phone photo", "JPEG", "RGB", 8000, 6000),
    ("19-MP photo, decoded at full scale", "JPEG", "RGB", 5100, 3800),
    ("20-MP PNG", "PNG", "RGB", 5000, 3950),
    ("10-MP PNG with transparency", "PNG", "RGBA", 3600, 2700),
    ("50-MP PNG with transparency", "PNG", "RGBA", 8000, 6250),
]
CHILD = """
import io, sys
from PIL import Image
from portal.services.uploads import DomainError, clean_upload
fmt, mode, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
buffer = io.BytesIO()
Image.new(mode, (width, height), (9, 9, 9)).save(buffer, fmt)
data = buffer.getvalue()
del buffer
def kib(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key))
open("/proc/self/clear_refs", "w").write("5")
before = kib("VmRSS:")
try:
    clean_upload(io.BytesIO(data), "x", max_bytes=10 * 1024 * 1024)
    outcome = "kept"
except DomainError:
    outcome = "refused"
print(kib("VmHWM:") - before, outcome)
"""


def peak(fmt: str, mode: str, width: int, height: int) -> tuple[float, str]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, fmt, mode, str(width), str(height)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    kib, outcome = done.stdout.split()
    return int(kib) / 1024, outcome


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f}")
    baseline = None
    for label, fmt, mode, width, height in CASES:
        mb, outcome = peak(fmt, mode, width, height)
        baseline = baseline or mb
        print(f"{label:40s} {outcome:8s} {mb:7.0f} MB  {mb / baseline:5.2f}x baseline")


if __name__ == "__main__":
    main()
