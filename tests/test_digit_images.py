"""Tests of tutorial_support.digit_images: MNIST's preprocessing of pictures."""

import numpy as np
import pytest
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFilter

from drawn_digits import draw_digit
from drawn_digits import STROKES
import picture_kinds
from tutorial_support import digit_images
from tutorial_support import picture_files


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
  return digit_images.preprocess(picture_files.gray_of(image)).centred


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
  assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5  # As MNIST's.
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


def test_thin_pen_strokes_are_widened_to_mnists():
  thin = np.zeros((400, 300), np.float32)
  thin[40:360, 148:152] = 1  # A ballpoint '1': 4 pixels wide, 320 high.
  evened = digit_images.even_strokes(digit_images.crop_to_ink(thin))
  assert digit_images.stroke_width(evened) >= 0.8 * (
      digit_images.PEN_SHARE * digit_images.WORKING_SIZE)


def ink_box(field, level=0.05):
  """(height, width) of the box of field's ink above level."""
  rows = np.flatnonzero(field.max(axis=1) > level)
  cols = np.flatnonzero(field.max(axis=0) > level)
  return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def pen_digit(digit, width_share=0.85, pen=0.11, side=240):
  """digit's strokes (drawn_digits.STROKES) drawn with MNIST's pen (a ninth
  of the height), width_share as wide as the unit box: light on dark, [0, 1]."""
  height = 0.8 * side
  mask = Image.new('L', (side, side), 0)
  draw = ImageDraw.Draw(mask)
  for stroke in STROKES[digit]:
    draw.line([(0.1 * side + x * height * width_share, 0.1 * side + y * height)
               for x, y in stroke], fill=255, width=int(pen * height),
              joint='curve')
  return np.asarray(mask, np.float32) / 255.0


@pytest.mark.parametrize('digit, width_share', [
    (1, 0.85), (1, 0.5), (7, 0.6), (7, 0.35)])
def test_a_tall_thin_digit_keeps_its_height_to_width_ratio(digit, width_share):
  ink = pen_digit(digit, width_share)
  height, width = ink_box(ink, 0.5)
  assert height > 1.4 * width  # Tall and thin indeed.
  field = prepare(Image.fromarray(np.uint8(255 - 255 * ink), 'L'))
  out_height, out_width = ink_box(field, 0.5)
  assert out_height == pytest.approx(20, abs=1)
  assert out_width == pytest.approx(20.0 * width / height, abs=1)


def mnist_like(ink):
  """ink made an MNIST digit by MNIST's recipe, written out independently:
  its box fitted to 20 x 20 with the aspect ratio kept, antialiased, then
  placed so that its centre of mass is within half a pixel of (14, 14)."""
  rows = np.flatnonzero(ink.max(axis=1) > 0)
  cols = np.flatnonzero(ink.max(axis=0) > 0)
  box = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
  factor = 20.0 / max(box.shape)
  size = (max(1, round(box.shape[1] * factor)),
          max(1, round(box.shape[0] * factor)))
  small = np.asarray(Image.fromarray(np.uint8(255 * box)).resize(
      size, Image.Resampling.BOX), np.float32) / 255.0
  row, col = centre_of_mass(small)
  top, left = int(round(14 - row)), int(round(14 - col))
  field = np.zeros((28, 28), np.float32)
  field[top:top + small.shape[0], left:left + small.shape[1]] = small
  return field


@pytest.mark.parametrize('digit', range(10))
def test_an_mnist_digit_comes_back_as_it_was(digit):
  mnist = mnist_like(pen_digit(digit, pen=0.09 + 0.01 * (digit % 4)))
  field = prepare(Image.fromarray(np.uint8(np.round(255 * mnist)), 'L'))
  assert np.abs(field - mnist).mean() < 0.005
  assert np.abs(field - mnist).max() < 0.02


@pytest.mark.parametrize('digit', (2, 3, 7))
def test_a_photo_with_a_shadow_and_grain_is_the_clean_digit(digit):
  # The 640 x 480 photo: the shadow darkens the page from 200 to
  # 140, grain of +-25, a slight blur, a dark digit.
  rng = np.random.default_rng(digit)
  ink = np.asarray(draw_digit(digit, rng, size=(640, 480), style='app_dark'),
                   np.float32) / 255.0
  page = np.linspace(200, 140, 640)[None, :] * (1 - 0.85 * ink)
  page += rng.uniform(-25, 25, page.shape)
  photo = Image.fromarray(np.uint8(np.clip(page, 0, 255)), 'L').filter(
      ImageFilter.GaussianBlur(0.8))
  clean = prepare(Image.fromarray(np.uint8(255 * ink), 'L'))
  field = prepare(photo)
  assert ink_box(field) in (ink_box(clean), (20, ink_box(clean)[1] + 1),
                            (20, ink_box(clean)[1] - 1))
  assert np.abs(field - clean).mean() < 0.05


@pytest.mark.parametrize('kind', [name for name, _, _ in picture_kinds.KINDS])
def test_each_kind_of_picture_gives_the_digit(kind, tmp_path):
  rng = np.random.default_rng(11)
  mnist = mnist_like(pen_digit(4))
  render = dict((name, f) for name, f, _ in picture_kinds.KINDS)[kind]
  image, suffix = render(mnist, rng)
  path = tmp_path / ('four.' + suffix)
  image.save(path)
  field = digit_images.mnist_input(str(path)).reshape(28, 28)
  assert np.abs(field - mnist).mean() < 0.08


def test_a_blank_first_frame_is_passed_over_for_the_one_with_ink(tmp_path):
  seven = draw_digit(7, np.random.default_rng(3), size=(120, 120),
                     style='paper').convert('L')
  blank = Image.new('L', seven.size, 235)
  path = tmp_path / 'seven.gif'
  # Not one blank twice over: GIF would keep them as one frame.
  blank.save(path, save_all=True, append_images=[
      Image.new('L', seven.size, 230), seven, blank])
  alone = tmp_path / 'seven.png'
  seven.save(alone)
  digit = digit_images.read_digit(str(path))
  assert (digit.frame, digit.count) == (2, 4)
  assert np.abs(digit.pixels - digit_images.mnist_input(str(alone))).max() < \
      0.05
  assert np.array_equal(digit_images.mnist_input(str(path)), digit.pixels)


def test_a_picture_with_no_ink_in_any_frame_says_how_many_were_read(
    tmp_path):
  path = tmp_path / 'blank.tiff'
  blank = Image.new('L', (50, 50), 235)
  blank.save(path, save_all=True, append_images=[blank] * 14)
  with pytest.raises(digit_images.NotADigitError, match=(
      r'^no ink found \(a blank page\?\), in each of frames 1 to 10 of 15$')):
    digit_images.read_digit(str(path))


def test_a_frame_around_the_page_is_refused_not_answered():
  # The outline of a sheet that no stage could tell from the paper: a thin
  # line around the picture, and a faint mark inside it.
  page = np.full((300, 400), 0.85, np.float32)
  page[10:14, 10:390] = page[286:290, 10:390] = 0.2
  page[10:290, 10:14] = page[10:290, 386:390] = 0.2
  page[140:150, 190:200] = 0.7
  with pytest.raises(digit_images.NotADigitError,
                     match=r'^the digit could not be told from the '
                     r'background \(try a plain sheet, or crop to the '
                     r'digit\)$'):
    digit_images.preprocess(page)


def test_a_zero_cropped_to_its_own_edges_is_no_outline():
  page = np.full((100, 80), 0.9, np.float32)
  rows, cols = np.mgrid[0:100, 0:80]
  ring = (((rows - 49.5) / 50) ** 2 + ((cols - 39.5) / 40) ** 2)
  page[(ring > 0.6) & (ring <= 1.0)] = 0.1
  digit_images.preprocess(page)  # Read, not refused.


def test_a_digit_in_a_shadow_taken_for_a_desk_is_read_all_the_same():
  # In gray, a shadow's sharp edge along a side is a desk's: the sheet cut
  # out of it holds no ink, and the whole picture is read instead.
  ink = np.asarray(draw_digit(7, np.random.default_rng(5), size=(120, 120),
                             style='app_dark'), np.float32) / 255.0
  page = np.full((300, 400), 0.85, np.float32)
  page[90:210, 260:380] *= 1 - 0.85 * ink
  page[:, 200:] *= 0.6
  clean = prepare(Image.fromarray(np.uint8(255 * ink), 'L'))
  field = digit_images.preprocess(page).centred
  assert np.abs(field - clean).mean() < 0.05


def test_a_blank_sheet_on_a_desk_is_blank_not_its_outline():
  photo = np.full((600, 800), 0.3, np.float32)
  photo[90:450, 120:600] = 0.9
  photo += np.random.default_rng(6).normal(0, 0.01, photo.shape).astype(
      np.float32)
  with pytest.raises(digit_images.NotADigitError,
                     match=r'^no ink found \(a blank page\?\)$'):
    digit_images.preprocess(photo)
