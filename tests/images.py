"""Small generated files for upload tests: photos with metadata, documents, impostors."""

from __future__ import annotations

import io

from PIL import ExifTags, Image, ImageDraw


def photo(
    width: int = 640,
    height: int = 480,
    fmt: str = "JPEG",
    *,
    gps: bool = False,
    orientation: int | None = None,
    color: tuple[int, int, int] = (40, 110, 160),
) -> bytes:
    """A picture of a 'car' (a rectangle and two wheels), optionally with EXIF GPS."""
    image = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((width * 0.15, height * 0.4, width * 0.85, height * 0.7), fill=(230, 230, 230))
    for x in (0.3, 0.7):
        r = height * 0.08
        draw.ellipse((width * x - r, height * 0.7 - r, width * x + r, height * 0.7 + r), fill=0)
    exif = Image.Exif()
    if gps:
        exif[ExifTags.Base.Make] = "TestPhone"
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (19.0, 25.0, 42.0),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (99.0, 7.0, 39.0),
        }
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=80, exif=exif.tobytes() if len(exif) else b"")
    else:
        image.save(out, fmt)
    return out.getvalue()


def pdf() -> bytes:
    """A one-page PDF, as a police report scan would be."""
    out = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(out, "PDF")
    return out.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
