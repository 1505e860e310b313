"""read_rgb: RGB order, channel conversion, and one-line errors for unusable files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from soccerreid.errors import DataError
from soccerreid.images import read_rgb


def test_reads_rgb_in_rgb_order(tmp_path):
    pixels = np.zeros((6, 4, 3), np.uint8)
    pixels[..., 0], pixels[0, 0] = 200, (1, 2, 3)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    rgb = read_rgb(tmp_path / "a.png")
    assert rgb.shape == (6, 4, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, pixels)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_grey_alpha_and_palette_become_three_channels(tmp_path, mode):
    Image.new(mode, (5, 9), 90).save(tmp_path / "b.png")
    assert read_rgb(str(tmp_path / "b.png")).shape == (9, 5, 3)


def test_unusable_files_are_one_line_errors_naming_the_path(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path / 'none.png'}: image file not found$"):
        read_rgb(tmp_path / "none.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=rf"^{tmp_path / 'empty.png'}: image file is empty \(0 bytes\)$"):
        read_rgb(tmp_path / "empty.png")
    Image.new("RGB", (40, 80), (10, 200, 30)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DataError, match=rf"^{tmp_path / 'cut.png'}: cannot decode image \(truncated or not an image file\)$"
    ):
        read_rgb(tmp_path / "cut.png")
