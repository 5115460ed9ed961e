"""Checking and cleaning an uploaded file before anything is stored.

The type is sniffed from the first bytes (never the file name or the browser's
content type); only JPEG, PNG, WebP and PDF pass. Images are decoded and encoded
again: the EXIF orientation is applied first, then every piece of metadata (EXIF,
GPS, XMP, text chunks) is left behind and the longest side is capped. A decompression
bomb (a small file that decodes to billions of pixels) is refused before decoding.
PDFs are kept byte for byte (they are documents such as a police report).

Memory: an image is decoded only if its pixels fit in MAX_DECODED_BYTES. A JPEG is
decoded straight at the smallest scale (1/2, 1/4, 1/8) that still covers the size
kept, so a 48-MP phone photo decodes as 12 MP; PNG and WebP cannot be, so they are
held to the budget at full size. The image is shrunk before it is turned upright (no
full-size copy), and files are cleaned one after another, so a request holds at most
one decoded image (figures: docs/benchmarks.md, "Uploads").
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from . import N_, DomainError

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
ALLOWED_TYPES = (JPEG, PNG, WEBP, PDF)
MAX_SIDE = 2560  # px: enough to read a plate or a dent, small enough for mobile data
MAX_PIXELS = 50_000_000  # a 48-MP phone photo passes; a decompression bomb does not
MAX_DECODED_BYTES = 80 * 1024 * 1024  # one decoded image in memory: ~20 MP at 4 bytes
_PIL_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}


@dataclass(frozen=True, slots=True)
class CleanFile:
    data: bytes
    content_type: str
    original_name: str
    width: int | None = None
    height: int | None = None


def sniff(head: bytes) -> str | None:
    """The content type the bytes say they are, from their magic numbers."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def clean_upload(stream: BinaryIO, filename: str, *, max_bytes: int) -> CleanFile:
    """Read, check and clean one uploaded file, or raise DomainError (nothing stored)."""
    name = _display_name(filename)
    data = stream.read(max_bytes + 1)
    if not data:
        raise DomainError(N_("The file %(name)s is empty."), name=name)
    if len(data) > max_bytes:
        raise DomainError(
            N_("%(name)s is larger than %(mb)d MB."), name=name, mb=max_bytes // (1024 * 1024)
        )
    content_type = sniff(data[:16])
    if content_type is None:
        if is_heif(data[:16]):
            raise DomainError(
                N_(
                    "%(name)s is a HEIC photo, which we cannot open. Take the photo from this "
                    "page, or set the camera to JPEG (Settings > Camera > Formats > Most "
                    "Compatible)."
                ),
                name=name,
            )
        raise DomainError(N_("%(name)s is not a photo (JPEG, PNG, WebP) or a PDF."), name=name)
    if content_type == PDF:
        return CleanFile(data=data, content_type=PDF, original_name=name)
    return _reencode(data, content_type, name)


def _reencode(data: bytes, content_type: str, name: str) -> CleanFile:
    fmt = _PIL_FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises at twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise _too_many_pixels(name)
                if fmt == "JPEG":  # decode at a smaller scale that still covers the result
                    opened.draft("RGB", _fit(opened.size, MAX_SIDE))
                if _decoded_bytes(opened) > MAX_DECODED_BYTES:
                    raise _too_many_pixels(name, MAX_DECODED_BYTES // _bytes_per_pixel(opened))
                opened.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                image = ImageOps.exif_transpose(opened)  # upright, once small
                icc_profile = opened.info.get("icc_profile")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(name) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise DomainError(N_("%(name)s could not be read as an image."), name=name) from None

    image = _normalise_mode(image, fmt)
    image.info = {}  # nothing of the original's metadata travels on
    out = io.BytesIO()
    params: dict[str, object] = {}
    if icc_profile:
        params["icc_profile"] = icc_profile  # colours, not personal data
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True, **params)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True, **params)
    else:
        image.save(out, "WEBP", quality=85, method=4, **params)
    return CleanFile(
        data=out.getvalue(),
        content_type=content_type,
        original_name=name,
        width=image.width,
        height=image.height,
    )


def _normalise_mode(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L", "LA") and not (fmt == "WEBP" and image.mode[0] == "L"):
        return image
    has_alpha = image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` shrunk to fit a `side` × `side` box (rounded up), as `thumbnail` will."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _bytes_per_pixel(image: Image.Image) -> int:
    """What decoding and shrinking cost in memory per pixel: Pillow keeps 1 byte for L
    and P, 2 for 16-bit and 4 for the rest, and shrinking an image with transparency
    works on a premultiplied copy (twice that)."""
    if image.mode in ("1", "L", "P"):
        return 1
    if image.mode.startswith("I;16"):
        return 2
    return 8 if image.mode in ("RGBA", "LA", "PA") else 4


def _decoded_bytes(image: Image.Image) -> int:
    return image.width * image.height * _bytes_per_pixel(image)


def _too_many_pixels(name: str, pixels: int = MAX_PIXELS) -> DomainError:
    return DomainError(
        N_("%(name)s has too many pixels (at most %(mp)d megapixels)."),
        name=name,
        mp=pixels // 1_000_000,
    )


def _display_name(filename: str) -> str:
    """The file name as the person called it, without any folders, for messages only."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:200] or "archivo"
