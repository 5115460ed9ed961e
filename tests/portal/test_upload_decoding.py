"""Decoding an uploaded image is capped in memory: a JPEG is decoded at the smallest
scale that still covers what is kept, PNG and WebP only within a budget, and nothing is
copied at full size. The issue's figure: a 50-megapixel image cost ~400 MB."""

import io
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from portal.services import DomainError
from portal.services.uploads import MAX_DECODED_BYTES, MAX_SIDE, clean_upload

MB = 1024 * 1024


def _png(width, height, mode="RGB"):
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG")  # one colour: a few kB
    return out.getvalue()


def _clean(data, name="foto.png"):
    return clean_upload(io.BytesIO(data), name, max_bytes=10 * MB)


def test_a_png_too_large_to_decode_in_memory_is_refused():
    pixels = MAX_DECODED_BYTES // 4 + 1_000_000  # under the 50-MP cap, over the budget
    with pytest.raises(DomainError, match="too many pixels") as refused:
        _clean(_png(5000, pixels // 5000))
    assert refused.value.params["mp"] == 20


def test_a_transparent_png_gets_half_the_pixels():
    with pytest.raises(DomainError, match="too many pixels") as refused:
        _clean(_png(4000, 3000, "RGBA"))
    assert refused.value.params["mp"] == 10
    assert _clean(_png(3000, 2000, "RGBA")).width == MAX_SIDE


# Run in a child process: a process's peak memory is what a worker pays.
_PEAK = textwrap.dedent(
    """
    import io, sys
    from PIL import Image
    from portal.services.uploads import clean_upload, DomainError
    kind, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out = io.BytesIO()
    Image.new("RGBA" if kind == "PNG" else "RGB", (width, height), (9, 9, 9)).save(out, kind)
    data = out.getvalue()
    del out
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # start the peak again from here
    before = status("VmRSS:")
    try:
        clean_upload(io.BytesIO(data), "x", max_bytes=10 * 1024 * 1024)
    except DomainError:
        pass
    print(status("VmHWM:") - before)
    """
)


@pytest.mark.parametrize(
    ("kind", "width", "height"),
    [("PNG", 8000, 6250), ("JPEG", 8000, 6000), ("JPEG", 5100, 3800)],
    ids=["50-MP PNG", "48-MP phone photo", "19-MP photo decoded at full scale"],
)
def test_one_image_costs_a_bounded_amount_of_memory(kind, width, height):
    peak = subprocess.run(
        [sys.executable, "-c", _PEAK, kind, str(width), str(height)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(peak.stdout) < 160 * MB
