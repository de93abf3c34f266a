"""Image I/O: every Pillow mode becomes RGB float in [0, 1] with the right values."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srkit.errors import SrkitError
from srkit.imageio import image_size, list_images, load_image, save_image


def _pixels(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_rgb_8bit_png_loads_exact_values(tmp_path: Path) -> None:
    pixels = _pixels()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.shape == (3, 48, 64) and image.dtype == torch.float32
    expected = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    assert torch.equal(image, expected)


def test_16bit_grayscale_is_scaled_by_65535_and_repeated_to_rgb(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 65535], [32768, 12345, 54321]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = load_image(tmp_path / "deep.png")
    assert image.shape == (3, 2, 3)
    expected = torch.from_numpy(values.astype(np.float32) / 65535)
    for channel in image:
        assert torch.allclose(channel, expected, atol=1e-7)
    assert image.max() == 1.0 and image.min() == 0.0


def _write_16bit_colour_png(path: Path, samples: np.ndarray) -> None:
    """A real 48-bit (RGB) or 64-bit (RGBA) PNG of uint16 ``samples`` (H,W,3|4), written by hand
    because Pillow cannot write one; rows cycle through the five PNG filter types."""
    import struct
    import zlib

    height, width, channels = samples.shape
    rows = samples.astype(">u2").reshape(height, -1).view(np.uint8).astype(np.int32)
    bpp = 2 * channels
    encoded = []
    for y in range(height):
        raw, prior = rows[y], rows[y - 1] if y else np.zeros_like(rows[0])
        left = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
        upper_left = np.concatenate([np.zeros(bpp, np.int32), prior[:-bpp]])
        kind = y % 5
        if kind == 4:  # Paeth
            p = left + prior - upper_left
            pa, pb, pc = abs(p - left), abs(p - prior), abs(p - upper_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upper_left))
        else:
            predictor = [0 * raw, left, prior, (left + prior) // 2][kind]
        encoded.append(bytes([kind]) + ((raw - predictor) % 256).astype(np.uint8).tobytes())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"".join(encoded))) + chunk(b"IEND", b""))


def test_48bit_rgb_png_loads_at_full_16bit_precision(tmp_path: Path) -> None:
    samples = np.random.default_rng(3).integers(0, 65536, (7, 9, 3), dtype=np.uint16)
    samples[0, 0] = [1000, 0, 65535]  # 1000/65535 would load as 3/255 through 8 bits
    _write_16bit_colour_png(tmp_path / "deep.png", samples)
    image = load_image(tmp_path / "deep.png")
    expected = torch.from_numpy(samples.astype(np.float32) / 65535).permute(2, 0, 1)
    assert image.shape == (3, 7, 9) and image.dtype == torch.float32
    assert torch.equal(image, expected)
    assert float(image[0, 0, 0]) == pytest.approx(1000 / 65535, abs=1e-9)


def test_64bit_rgba_png_keeps_16bit_colour_and_drops_alpha(tmp_path: Path) -> None:
    samples = np.random.default_rng(4).integers(0, 65536, (5, 6, 4), dtype=np.uint16)
    _write_16bit_colour_png(tmp_path / "deep_alpha.png", samples)
    with pytest.warns(UserWarning, match="deep_alpha.png: alpha channel dropped"):
        image = load_image(tmp_path / "deep_alpha.png")
    expected = torch.from_numpy(samples[..., :3].astype(np.float32) / 65535).permute(2, 0, 1)
    assert torch.equal(image, expected)


def _write_48bit_tiff(path: Path, samples: np.ndarray, byte_order: str) -> None:
    """A minimal uncompressed one-strip 48-bit RGB TIFF (``byte_order`` "<" or ">")."""
    import struct

    height, width, _ = samples.shape
    data = samples.astype(f"{byte_order}u2").tobytes()
    ifd_offset = 8 + len(data)
    bits_offset = ifd_offset + 2 + 12 * 9 + 4
    short, long_ = 3, 4
    entries = [(256, short, 1, width), (257, short, 1, height), (258, short, 3, bits_offset),
               (259, short, 1, 1), (262, short, 1, 2), (273, long_, 1, 8), (277, short, 1, 3),
               (278, short, 1, height), (279, long_, 1, len(data))]
    out = (b"II" if byte_order == "<" else b"MM") + struct.pack(f"{byte_order}HI", 42, ifd_offset)
    out += data + struct.pack(f"{byte_order}H", len(entries))
    for tag, kind, count, value in entries:
        layout = "HHIHH" if kind == short and count == 1 else "HHII"
        out += struct.pack(byte_order + layout, tag, kind, count, value, *([0] if layout == "HHIHH" else []))
    path.write_bytes(out + struct.pack(f"{byte_order}I", 0) + struct.pack(f"{byte_order}HHH", 16, 16, 16))


@pytest.mark.parametrize("byte_order", ["<", ">"])
def test_48bit_uncompressed_tiff_loads_at_full_16bit_precision(tmp_path: Path, byte_order: str) -> None:
    samples = np.random.default_rng(5).integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    samples[0, 0] = [1000, 1, 65535]
    _write_48bit_tiff(tmp_path / "deep.tif", samples, byte_order)
    expected = torch.from_numpy(samples.astype(np.float32) / 65535).permute(2, 0, 1)
    assert torch.equal(load_image(tmp_path / "deep.tif"), expected)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_float_tiff_with_non_finite_pixels_is_a_one_line_error(tmp_path: Path, bad: float) -> None:
    values = np.full((4, 5), 0.5, dtype=np.float32)
    Image.fromarray(values, mode="F").save(tmp_path / "fine.tif")
    assert torch.allclose(load_image(tmp_path / "fine.tif"), torch.full((3, 4, 5), 0.5))
    values[2, 3] = bad
    Image.fromarray(values, mode="F").save(tmp_path / "broken.tif")
    with pytest.raises(SrkitError, match=r"broken\.tif: .*NaN or infinite pixel values") as info:
        load_image(tmp_path / "broken.tif")
    assert "\n" not in str(info.value)


def test_8bit_grayscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = _pixels()[..., 0]
    Image.fromarray(gray).save(tmp_path / "gray.png")
    image = load_image(tmp_path / "gray.png")
    assert image.shape == (3, 48, 64)
    assert torch.equal(image[0], torch.from_numpy(gray).float() / 255)
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])


def test_rgba_drops_alpha_with_a_warning_naming_the_file(tmp_path: Path) -> None:
    rgba = np.concatenate([_pixels(), np.full((48, 64, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    with pytest.warns(UserWarning, match="alpha.png: alpha channel dropped"):
        image = load_image(tmp_path / "alpha.png")
    assert torch.equal(image, torch.from_numpy(rgba[..., :3]).permute(2, 0, 1).float() / 255)


def test_palette_image_loads_its_palette_colours(tmp_path: Path) -> None:
    palette_image = Image.new("P", (4, 2))
    palette_image.putpalette([255, 0, 0, 0, 128, 255] + [0] * 762)
    palette_image.putdata([0, 1, 1, 0, 1, 0, 0, 1])
    palette_image.save(tmp_path / "pal.png")
    image = load_image(tmp_path / "pal.png")
    assert torch.equal(image[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.equal(image[:, 0, 1], torch.tensor([0.0, 128 / 255, 1.0]))


def test_cmyk_tiff_is_converted_to_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (5, 3), (0, 255, 255, 0)).save(tmp_path / "print.tif")
    image = load_image(tmp_path / "print.tif")
    assert image.shape == (3, 3, 5)
    assert torch.equal(image[:, 1, 1], torch.tensor([1.0, 0.0, 0.0]))


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = _pixels(height=4, width=6)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90° clockwise to display
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif)
    image = load_image(tmp_path / "rotated.png")
    assert image.shape == (3, 6, 4)
    assert image_size(tmp_path / "rotated.png") == (6, 4)
    clockwise = np.rot90(pixels, k=-1)
    assert torch.equal(image, torch.from_numpy(clockwise.copy()).permute(2, 0, 1).float() / 255)


def test_truncated_png_is_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    Image.fromarray(_pixels()).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(SrkitError) as info:
        load_image(tmp_path / "cut.png")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'cut.png'}: cannot read image (")
    assert "\n" not in message


def test_text_file_with_image_suffix_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(SrkitError, match="notes.jpg: cannot read image"):
        load_image(tmp_path / "notes.jpg")
    with pytest.raises(SrkitError, match="notes.jpg: cannot read image"):
        image_size(tmp_path / "notes.jpg")


def test_save_then_load_round_trips_8bit_values(tmp_path: Path) -> None:
    image = torch.from_numpy(_pixels()).permute(2, 0, 1).float() / 255
    save_image(image.unsqueeze(0), tmp_path / "deep" / "er" / "out.png")
    assert torch.equal(load_image(tmp_path / "deep" / "er" / "out.png"), image)


def test_save_clamps_and_rounds(tmp_path: Path) -> None:
    image = torch.tensor([-0.5, 1.7, 0.5 / 255 + 1e-4]).view(3, 1, 1).expand(3, 2, 2).clone()
    save_image(image, tmp_path / "c.png")
    assert load_image(tmp_path / "c.png")[:, 0, 0].mul(255).tolist() == [0.0, 255.0, 1.0]


def test_save_picks_jpeg_from_suffix(tmp_path: Path) -> None:
    save_image(torch.rand(3, 16, 16), tmp_path / "photo.JPG")
    with Image.open(tmp_path / "photo.JPG") as saved:
        assert saved.format == "JPEG"


def test_save_rejects_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(SrkitError, match="expected"):
        save_image(torch.rand(2, 3, 8, 8), tmp_path / "x.png")


def test_list_images_is_sorted_case_insensitive_and_skips_other_files(tmp_path: Path) -> None:
    for name in ["b.PNG", "a.jpeg", "c.webp", "d.TIF"]:
        Image.fromarray(_pixels(8, 8)).save(tmp_path / name)
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpeg", "b.PNG", "c.webp", "d.TIF"]


def test_list_images_errors_name_the_folder(tmp_path: Path) -> None:
    missing = re.escape(f"{tmp_path / 'missing'}: no such folder")
    with pytest.raises(SrkitError, match=f"^{missing}$"):
        list_images(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SrkitError, match="^" + re.escape(f"{tmp_path}: no images found")):
        list_images(tmp_path)
