"""Tests of tutorial_support.digit_images: MNIST's preprocessing of any picture."""

import numpy as np
import pytest
from PIL import Image

from drawn_digits import draw_digit
from tutorial_support import digit_images


def ink_stroke_image(size=(120, 160), mode='L', ink=30, paper=235,
                     box=(40, 30, 70, 130)):
  """A dark bar (a '1') on light paper."""
  array = np.full(size[::-1], paper, np.uint8)
  left, top, right, bottom = box
  array[top:bottom, left:right] = ink
  return Image.fromarray(array, 'L').convert(mode)


def centre_of_mass(field):
  rows, cols = np.indices(field.shape)
  total = field.sum()
  return (rows * field).sum() / total, (cols * field).sum() / total


def prepare(image):
  return digit_images.preprocess(digit_images._gray_on_white(image)).centred  # pylint: disable=protected-access


@pytest.mark.parametrize('digit', range(10))
def test_the_digit_fits_20_by_20_centred_by_its_mass(digit):
  image = draw_digit(digit, np.random.default_rng(digit), size=(300, 220),
                     style='paper')
  field = prepare(image)
  assert field.shape == (28, 28)
  rows = np.flatnonzero(field.max(axis=1) > 0.05)
  cols = np.flatnonzero(field.max(axis=0) > 0.05)
  assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) <= 20 + 1
  row, col = centre_of_mass(field)
  assert abs(row - 13.5) <= 0.5 and abs(col - 13.5) <= 0.5
  assert field.max() > 0.9  # Full ink, as MNIST's strokes.
  assert field.min() == 0  # Background at zero.


def test_one_digit_in_four_styles_gives_the_same_input():
  rng = np.random.default_rng(7)
  ink = np.asarray(draw_digit(3, rng, size=(200, 200), style='app_dark'),
                   np.float32) / 255.0
  dark_on_light = Image.fromarray(np.uint8(255 - 255 * ink), 'L')
  light_on_dark = Image.fromarray(np.uint8(255 * ink), 'L')
  transparent = Image.new('RGBA', (200, 200), (0, 0, 0, 0))
  transparent.putalpha(Image.fromarray(np.uint8(255 * ink), 'L'))
  big = np.zeros((900, 1300), np.float32)
  big[600:800, 50:250] = ink  # Off-centre on a large canvas.
  off_centre = Image.fromarray(np.uint8(255 - 255 * big), 'L').convert('RGB')
  fields = [prepare(image) for image in (dark_on_light, light_on_dark,
                                         transparent, off_centre)]
  for field in fields[1:]:
    assert np.abs(field - fields[0]).mean() < 0.02
    assert np.abs(field - fields[0]).max() < 0.35


@pytest.mark.parametrize('mode, suffix', [
    ('L', 'png'), ('RGB', 'jpg'), ('RGBA', 'png'), ('P', 'gif'),
    ('LA', 'png'), ('1', 'bmp'), ('RGB', 'webp'), ('F', 'tiff')])
def test_every_mode_and_format_is_read(mode, suffix, tmp_path):
  path = tmp_path / ('one.' + suffix)
  ink_stroke_image(mode=mode).save(path)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert field[:, 13:15].sum() > field[:, :5].sum() + 10  # A centred bar.


def test_paper_tone_and_noise_are_not_ink():
  rng = np.random.default_rng(3)
  paper = np.clip(rng.normal(0.8, 0.03, (160, 120)), 0, 1)
  paper[:, :] -= np.linspace(0, 0.15, 120)[None, :]  # A shadow.
  paper[30:130, 50:62] = 0.15
  image = Image.fromarray(np.uint8(255 * np.clip(paper, 0, 1)), 'L')
  field = prepare(image)
  assert (field > 0).sum() < 0.35 * field.size
  assert field[:, :8].max() == 0 and field[:, -8:].max() == 0


def test_a_blank_page_has_no_ink(tmp_path):
  rng = np.random.default_rng(1)
  page = np.uint8(np.clip(rng.normal(230, 4, (300, 200)), 0, 255))
  path = tmp_path / 'blank.jpg'
  Image.fromarray(page, 'L').save(path)
  with pytest.raises(digit_images.NotADigitError, match='no ink'):
    digit_images.mnist_input(str(path))


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


def test_thin_pen_strokes_are_widened_to_mnists():
  thin = np.zeros((400, 300), np.float32)
  thin[40:360, 148:152] = 1  # A ballpoint '1': 4 pixels wide, 320 high.
  evened = digit_images.even_strokes(digit_images.crop_to_ink(thin))
  assert digit_images.stroke_width(evened) >= 0.8 * (
      digit_images.PEN_SHARE * digit_images.WORKING_SIZE)
