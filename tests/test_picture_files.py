"""Tests of tutorial_support.picture_files: any picture Pillow opens, read in
bounded time and memory, and every way a file can fail to be one."""

import time

import numpy as np
import pytest
from PIL import Image

from test_digit_images import ink_stroke_image
from test_digit_images import prepare
from tutorial_support import digit_images
from tutorial_support import picture_files


@pytest.mark.parametrize('mode, suffix', [
    ('L', 'png'), ('RGB', 'jpg'), ('RGBA', 'png'), ('P', 'gif'),
    ('LA', 'png'), ('1', 'bmp'), ('RGB', 'webp'), ('F', 'tiff')])
def test_every_mode_and_format_is_read(mode, suffix, tmp_path):
  path = tmp_path / ('one.' + suffix)
  ink_stroke_image(mode=mode).save(path)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert field[:, 13:15].sum() > field[:, :5].sum() + 10  # A centred bar.


def test_not_an_image_and_truncated_images_are_refused(tmp_path):
  text = tmp_path / 'notes.png'
  text.write_text('not a picture')
  with pytest.raises(digit_images.NotADigitError, match='not an image'):
    digit_images.mnist_input(str(text))
  whole = tmp_path / 'whole.png'
  ink_stroke_image(size=(400, 400)).save(whole)
  cut = tmp_path / 'cut.png'
  cut.write_bytes(whole.read_bytes()[:300])
  with pytest.raises(digit_images.NotADigitError, match='damaged image'):
    digit_images.mnist_input(str(cut))


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
  # A 20000 x 20000 image of one colour: a few KB of PNG, 400 megapixels.
  path = tmp_path / 'bomb.png'
  previous = Image.MAX_IMAGE_PIXELS
  Image.MAX_IMAGE_PIXELS = None
  try:
    Image.new('1', (20000, 20000), 1).save(path)
  finally:
    Image.MAX_IMAGE_PIXELS = previous
  assert path.stat().st_size < 200_000
  with pytest.raises(digit_images.NotADigitError, match='decompression bomb'):
    digit_images.mnist_input(str(path))


def test_a_picture_too_large_to_decode_affordably_is_refused_at_once(
    tmp_path):
  path = tmp_path / 'wide.png'
  Image.new('1', (9400, 9400), 1).save(path)
  start = time.time()
  with pytest.raises(digit_images.NotADigitError) as refused:
    digit_images.mnist_input(str(path))
  assert time.time() - start < 1
  assert str(refused.value) == (
      'image is 9400 x 9400 pixels (88.4 megapixels), over the 25 megapixels '
      'classify.py decodes at full scale (only JPEG is read at reduced '
      'scale; shrink it first)')


def test_a_tiny_gif_claiming_a_huge_screen_is_refused_at_once(tmp_path):
  path = tmp_path / 'tiny.gif'
  path.write_bytes(b'GIF89a\xb8\x24\xb8\x24\x80\x00\x00\x00\x00\x00\xff\xff'
                   b'\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;')
  assert path.stat().st_size == 35
  start = time.time()
  with pytest.raises(digit_images.NotADigitError, match='9400 x 9400'):
    digit_images.mnist_input(str(path))
  assert time.time() - start < 1


def test_a_large_jpeg_is_decoded_at_reduced_scale(tmp_path):
  path = tmp_path / 'photo.jpg'
  ink_stroke_image(size=(6000, 4500), box=(2700, 1200, 3300, 3300)).save(
      path, quality=80)
  gray = picture_files.read_gray(str(path))
  assert max(gray.shape) <= picture_files.WORKING_SIDE
  assert gray.shape[1] / gray.shape[0] == pytest.approx(6000 / 4500, rel=0.01)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert field[:, 13:15].sum() > field[:, :5].sum() + 10


def large_jpeg(path, size, **options):
  """Writes a dark bar on light paper as a JPEG of size, cheaply: one level
  each is little data, however many pixels."""
  width, height = size
  ink_stroke_image(size=size, box=(width * 9 // 20, height // 5,
                                   width * 11 // 20, height * 4 // 5)).save(
                                       path, quality=10, **options)


@pytest.mark.parametrize('size', [(12000, 8000), (14142, 14142)])
def test_a_jpeg_over_pillows_limit_is_read_at_reduced_scale(size, tmp_path):
  # 96 and 200 megapixels: a phone's and a camera's largest photos.
  path = tmp_path / 'photo.jpg'
  large_jpeg(path, size)
  assert size[0] * size[1] > picture_files.MAX_PIXELS
  gray = picture_files.read_gray(str(path))
  assert max(gray.shape) == picture_files.WORKING_SIDE
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert field[:, 13:15].sum() > field[:, :5].sum() + 10


def test_a_phones_mpo_is_read_at_reduced_scale(tmp_path):
  # A JPEG with its preview after it: Pillow calls it MPO, not JPEG.
  path = tmp_path / 'photo.jpg'
  preview = ink_stroke_image(size=(600, 500))
  ink_stroke_image(size=(6000, 5000), box=(2700, 1000, 3300, 4000)).save(
      path, format='MPO', save_all=True, append_images=[preview], quality=10)
  with Image.open(path) as image:
    assert image.format == 'MPO' and image.size == (6000, 5000)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert field[:, 13:15].sum() > field[:, :5].sum() + 10


def test_a_jpeg_too_large_even_at_an_eighth_is_refused(tmp_path, monkeypatch):
  path = tmp_path / 'photo.jpg'
  large_jpeg(path, (2000, 1600))
  # At 1/8, 250 x 200: 50,000 pixels. The same holds of a JPEG of 65000 x
  # 65000 (a 4-gigapixel bomb of a few MB) against the real limits.
  monkeypatch.setattr(picture_files, 'WORKING_SIDE', 100)
  monkeypatch.setattr(picture_files, 'MAX_DECODED_PIXELS', 40_000)
  with pytest.raises(digit_images.NotADigitError) as refused:
    digit_images.mnist_input(str(path))
  assert str(refused.value) == (
      'image is 2000 x 1600 pixels (3.2 megapixels): even at 1/8 scale, over '
      'the 0.04 megapixels classify.py decodes (shrink it first)')


@pytest.mark.parametrize('mode, megabytes', [('L', 3), ('RGB', 5)])
def test_a_progressive_jpeg_is_held_to_its_coefficients_memory(
    mode, megabytes, tmp_path, monkeypatch):
  # libjpeg holds every coefficient of a progressive JPEG at any scale: 2
  # bytes a sample, 1.5 samples a pixel in colour (4:2:0), 1 in gray: of
  # 1.6 megapixels, 3.2 and 4.8 MB.
  baseline, progressive = tmp_path / 'baseline.jpg', tmp_path / 'steps.jpg'
  large_jpeg(baseline, (2000, 800))
  large_jpeg(progressive, (2000, 800), progressive=True)
  if mode == 'RGB':
    with Image.open(progressive) as image:
      image.convert('RGB').save(progressive, progressive=True, quality=10,
                                subsampling='4:2:0')
  monkeypatch.setattr(picture_files, 'MAX_COEFFICIENT_BYTES', 1_000_000)
  assert picture_files.read_gray(str(baseline)).shape == (410, 1024)
  with pytest.raises(digit_images.NotADigitError) as refused:
    digit_images.mnist_input(str(progressive))
  assert str(refused.value) == (
      'image is a progressive JPEG of 1.6 megapixels: its coefficients, '
      'which libjpeg holds whole at any scale, take %d MB, over the 1 MB '
      'classify.py allows (save it as a baseline JPEG, or shrink it first)'
      % megabytes)


def test_an_unreadable_file_is_named_so_not_damaged(tmp_path, monkeypatch):
  path = tmp_path / 'locked.png'
  ink_stroke_image().save(path)

  def refuse(*unused_args, **unused_kwargs):
    raise PermissionError(13, 'Permission denied')
  # As root the test cannot take the permission away; open() refuses instead.
  monkeypatch.setattr(picture_files, 'open', refuse, raising=False)
  with pytest.raises(digit_images.NotADigitError) as refused:
    digit_images.mnist_input(str(path))
  assert str(refused.value) == 'unreadable (Permission denied)'


def test_a_directory_given_as_a_picture_is_unreadable(tmp_path):
  with pytest.raises(digit_images.NotADigitError, match='^unreadable'):
    digit_images.read_gray(str(tmp_path))


def digit_picture(mode, dtype_range):
  """A dark '1' on light paper, in a 16-bit, 32-bit or float mode."""
  gray = np.asarray(ink_stroke_image(), np.float64) / 255.0
  low, high = dtype_range
  image = Image.fromarray((low + (high - low) * gray).astype(
      {'I;16': np.uint16, 'I': np.int32, 'F': np.float32}[mode]))
  assert image.mode == mode
  return image


@pytest.mark.parametrize('mode, value_range, suffix', [
    ('I;16', (0, 65535), 'png'), ('I;16', (0, 65535), 'tiff'),
    ('I;16', (0, 4095), 'png'),  # A 12-bit camera's values in 16 bits.
    ('I', (0, 65535), 'tiff'), ('F', (0, 1), 'tiff'), ('F', (0, 255), 'tiff'),
    ('F', (-1, 1), 'tiff')])
def test_wide_modes_are_scaled_by_their_range(mode, value_range, suffix,
                                             tmp_path):
  path = tmp_path / ('one.' + suffix)
  digit_picture(mode, value_range).save(path)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  # The bar's centre of mass is half-way between pixels: it may go either way.
  assert np.abs(field - prepare(ink_stroke_image())).mean() < 0.02


@pytest.mark.parametrize('size', [(120, 160), (3000, 2000)])
def test_non_finite_pixels_of_a_float_picture_are_background(size, tmp_path):
  # At 3000 x 2000 the picture is shrunk, which would spread them.
  clean = ink_stroke_image(size=size, box=(size[0] // 3, size[1] // 5,
                                           size[0] // 2, size[1] * 4 // 5))
  values = np.asarray(clean, np.float32) / 255
  Image.fromarray(values, 'F').save(tmp_path / 'clean.tiff')
  values[0, 0], values[1, 1], values[-1, -1] = np.nan, np.inf, -np.inf
  Image.fromarray(values, 'F').save(tmp_path / 'spoilt.tiff')
  spoilt, clean = (digit_images.mnist_input(str(tmp_path / name))
                   for name in ('spoilt.tiff', 'clean.tiff'))
  assert spoilt.max() > 0.9
  np.testing.assert_allclose(spoilt, clean, atol=1e-3)


def test_a_float_picture_mostly_not_numbers_is_refused(tmp_path):
  values = np.asarray(ink_stroke_image(), np.float32) / 255
  values[:100] = np.nan  # 100 of the 160 rows.
  path = tmp_path / 'one.tiff'
  Image.fromarray(values, 'F').save(path)
  with pytest.raises(digit_images.NotADigitError) as refused:
    digit_images.mnist_input(str(path))
  assert str(refused.value) == (
      'most of its pixels (62%) are NaN or infinite, not levels of gray')


@pytest.mark.parametrize('dtype, mode', [('>u2', 'I;16B'), ('<u2', 'I;16')])
def test_16_bit_byte_orders_are_read(dtype, mode, tmp_path):
  path = tmp_path / 'one.tiff'
  values = np.asarray(digit_picture('I;16', (0, 65535)), dtype)
  image = Image.fromarray(values)
  assert image.mode == mode
  image.save(path)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert np.abs(field - prepare(ink_stroke_image())).mean() < 0.02


@pytest.mark.parametrize('orientation, turn', [
    (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
    (3, Image.Transpose.ROTATE_180)])
def test_a_photo_is_turned_upright_as_its_exif_says(orientation, turn,
                                                    tmp_path):
  # A camera held sideways stores the picture turned, and says so in EXIF.
  upright = ink_stroke_image(box=(40, 30, 70, 100))  # A bar high up.
  exif = Image.Exif()
  exif[0x0112] = orientation
  path = tmp_path / 'turned.jpg'
  upright.transpose(turn).save(path, exif=exif, quality=95)
  gray = picture_files.read_gray(str(path))
  assert gray.shape == (160, 120)
  assert np.abs(gray - np.asarray(upright, np.float32) / 255).mean() < 0.02


def frames_picture(path, frames):
  """Saves frames (Pillow images) as one picture of that many frames."""
  frames[0].save(path, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize('suffix', ['gif', 'tiff'])
def test_the_frames_of_a_picture_are_read_in_turn(suffix, tmp_path):
  path = tmp_path / ('pages.' + suffix)
  frames_picture(path, [Image.new('L', (60, 80), 240),
                        ink_stroke_image(size=(60, 80), box=(20, 10, 30, 70)),
                        Image.new('L', (60, 80), 20)])
  read = list(picture_files.read_frames(str(path)))
  assert [(frame.index, frame.count) for frame in read] == [(0, 3), (1, 3),
                                                           (2, 3)]
  assert read[0].gray.mean() > 0.9 > read[1].gray.mean() > 0.5
  assert read[2].gray.mean() < 0.1
  assert np.array_equal(picture_files.read_gray(str(path)), read[0].gray)


def test_a_colour_picture_is_read_in_colour_too(tmp_path):
  path = tmp_path / 'desk.png'
  picture = np.zeros((40, 30, 3), np.uint8)
  picture[..., 1] = 200  # A green desk...
  picture[10:30, 5:25] = 240  # ...under a white sheet.
  rgba = np.concatenate([picture, np.full((40, 30, 1), 255, np.uint8)], 2)
  rgba[0, 0, 3] = 0  # One transparent pixel: white, as gray reads it.
  Image.fromarray(rgba, 'RGBA').save(path)
  frame, = picture_files.read_frames(str(path))
  assert frame.colour.shape == (40, 30, 3)
  assert np.allclose(frame.colour[0, 0], 1.0)
  assert np.allclose(frame.colour[20, 20], 240 / 255.0)
  assert np.allclose(frame.colour[35, 2], (0, 200 / 255.0, 0))
  assert np.allclose(frame.gray, frame.colour @ (0.299, 0.587, 0.114),
                     atol=1 / 255.0)


def test_the_colour_is_turned_upright_with_the_gray(tmp_path):
  path = tmp_path / 'turned.jpg'
  picture = np.full((20, 40, 3), 250, np.uint8)
  picture[:, :8] = (200, 30, 30)  # Red at the left, as stored.
  image = Image.fromarray(picture, 'RGB')
  exif = image.getexif()
  exif[0x0112] = 6  # Held turned: the stored left is the top, upright.
  image.save(path, exif=exif, quality=95)
  frame, = picture_files.read_frames(str(path))
  assert frame.gray.shape == frame.colour.shape[:2] == (40, 20)
  assert frame.colour[:6, :, 0].mean() - frame.colour[:6, :, 1].mean() > 0.5
  assert np.allclose(frame.gray, frame.colour @ (0.299, 0.587, 0.114),
                     atol=3 / 255.0)


def test_at_most_max_frames_are_read(tmp_path):
  path = tmp_path / 'long.gif'
  frames_picture(path, [Image.new('L', (20, 20), level)
                        for level in range(0, 250, 10)])
  read = list(picture_files.read_frames(str(path)))
  assert len(read) == picture_files.MAX_FRAMES
  assert read[-1].count == 25


def test_frames_after_the_first_are_read_within_the_pixel_budget(
    tmp_path, monkeypatch):
  path = tmp_path / 'pages.tiff'
  frames_picture(path, [Image.new('L', (100, 100), level)
                        for level in (0, 50, 100, 150, 200)])
  monkeypatch.setattr(picture_files, 'MAX_DECODED_PIXELS', 30000)
  assert [frame.index for frame in picture_files.read_frames(str(path))] == [
      0, 1, 2]


def test_a_later_frame_that_cannot_be_read_ends_the_frames(tmp_path):
  # An MPO's second frame is a JPEG decoded whole: over Pillow's limit here.
  path = tmp_path / 'phone.mpo'
  page = Image.new('RGB', (12000, 9000), (235, 235, 235))
  page.save(path, format='MPO', save_all=True, append_images=[page])
  read = list(picture_files.read_frames(str(path)))
  assert [(frame.index, frame.count) for frame in read] == [(0, 2)]
