"""Renders one digit, given as MNIST gives it, as the kinds of picture users
take of their handwriting: for benchmarks/classify_accuracy.py (on MNIST's
own test digits) and for the tests (on digits drawn by drawn_digits.py).

Each kind is a function (ink, rng) -> (Pillow image, file suffix), where ink
is float [28, 28] in [0, 1], light on dark, as MNIST's images are. The
same digit in every kind is the same handwriting: a kind's accuracy set
beside the model's on the digits fed directly says what the pictures cost.
"""

import io

import numpy as np
from PIL import Image
from PIL import ImageFilter


def _strokes(ink, field_side):
  """The 28 x 28 field scaled to field_side, its edges as crisp as a pen's."""
  image = Image.fromarray(np.asarray(ink, np.float32), mode='F')
  smooth = np.asarray(image.resize((field_side, field_side),
                                   Image.Resampling.BICUBIC), np.float32)
  # A pen's edge is sharp at a photo's resolution; keep a pixel or so of it.
  steep = max(2.0, field_side / 28.0)
  return np.clip((smooth - 0.45) * steep + 0.5, 0.0, 1.0)


def _placed(ink, page, digit_share, rng):
  """The digit's strokes on a page of (height, width) zeros, off-centre.

  digit_share is the digit's height (MNIST's 20 of its 28) over the page's.
  """
  height, width = page
  side = max(28, int(round(min(height, width) * digit_share * 28 / 20.0)))
  strokes = _strokes(ink, side)
  canvas = np.zeros(page, np.float32)
  top = int(rng.integers(0, max(1, height - side + 1)))
  left = int(rng.integers(0, max(1, width - side + 1)))
  canvas[top:top + side, left:left + side] = strokes[:height - top,
                                                     :width - left]
  return canvas


def _gray(array):
  return Image.fromarray(np.uint8(np.round(255 * np.clip(array, 0, 1))), 'L')


def _rgb(array):
  return Image.fromarray(np.uint8(np.round(255 * np.clip(array, 0, 1))),
                         'RGB')


def _jpeg(image, quality):
  """image as it comes back from a JPEG file of that quality."""
  buffer = io.BytesIO()
  image.save(buffer, format='JPEG', quality=quality)
  buffer.seek(0)
  return Image.open(buffer)


def _random_page(rng, low, high):
  side = int(rng.integers(low, high))
  return side, int(side * rng.uniform(0.75, 1.35))


def _on_paper(ink, rng, page, share, noise):
  """Dark ink on paper of a random tone, with sensor noise: gray [h, w]."""
  strokes = _placed(ink, page, share, rng)
  paper = rng.uniform(0.6, 0.95)
  ink_level = rng.uniform(0.05, 0.3)
  grain = rng.normal(0, noise, page)
  return paper * (1 - strokes) + ink_level * strokes + grain


def mnist_png(ink, unused_rng):
  return _gray(ink), 'png'


def paper_png(ink, rng):
  page = _random_page(rng, 80, 400)
  return _gray(_on_paper(ink, rng, page, rng.uniform(0.4, 0.85),
                         rng.uniform(0.005, 0.04))), 'png'


def paper_blurred_jpeg(ink, rng):
  page = _random_page(rng, 80, 400)
  image = _gray(_on_paper(ink, rng, page, rng.uniform(0.4, 0.85),
                          rng.uniform(0.005, 0.04)))
  blurred = image.filter(ImageFilter.GaussianBlur(min(page) / 200.0))
  return _jpeg(blurred.convert('RGB'), int(rng.integers(50, 90))), 'jpg'


def tinted_blue_ink(ink, rng):
  page = _random_page(rng, 80, 400)
  strokes = _placed(ink, page, rng.uniform(0.4, 0.85), rng)[..., None]
  paper = rng.uniform(0.75, 1.0) * np.array(
      [1.0, rng.uniform(0.85, 1.0), rng.uniform(0.6, 0.95)])
  blue = np.array([rng.uniform(0.05, 0.25), rng.uniform(0.1, 0.3),
                   rng.uniform(0.45, 0.8)])
  page_rgb = paper * (1 - strokes) + blue * strokes
  page_rgb += rng.normal(0, 0.015, page_rgb.shape)
  return _rgb(page_rgb), 'png'


def transparent_canvas(ink, rng):
  page = _random_page(rng, 100, 500)
  alpha = _placed(ink, page, rng.uniform(0.4, 0.9), rng)
  rgba = np.zeros(page + (4,), np.uint8)
  rgba[..., 3] = np.uint8(np.round(255 * alpha))
  return Image.fromarray(rgba, 'RGBA'), 'png'


def light_on_dark_large(ink, rng):
  page = _random_page(rng, 600, 1400)
  strokes = _placed(ink, page, rng.uniform(0.15, 0.4), rng)
  canvas = rng.uniform(0.0, 0.25)
  light = rng.uniform(0.75, 1.0)
  return _gray(canvas + (light - canvas) * strokes), 'png'


def photo_with_shadow(ink, rng):
  """640 x 480, a shadow across the page, grain, a slight blur, JPEG."""
  page = (480, 640)
  strokes = _placed(ink, page, rng.uniform(0.3, 0.7), rng)
  ramp = np.linspace(0, 1, page[1])[None, :]
  if rng.integers(2):
    ramp = np.linspace(0, 1, page[0])[:, None]
  bright, dark = rng.uniform(0.7, 0.85), rng.uniform(0.45, 0.6)
  paper = bright + (dark - bright) * ramp
  ink_level = rng.uniform(0.05, 0.2)
  photo = paper * (1 - strokes) + ink_level * paper * strokes
  photo = photo + rng.uniform(-0.1, 0.1, page)
  image = _gray(photo).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
  return _jpeg(image.convert('RGB'), int(rng.integers(70, 92))), 'jpg'


def shadow_edge_photo(ink, rng):
  """A photo half in the shade of the phone: a soft-edged shadow, grain."""
  page = (600, 800)
  strokes = _placed(ink, page, rng.uniform(0.3, 0.7), rng)
  edge = rng.uniform(0.2, 0.8) * page[1]
  cols = np.arange(page[1])[None, :]
  shade = 1 - rng.uniform(0.25, 0.45) / (1 + np.exp(-(cols - edge) / 15.0))
  paper = rng.uniform(0.75, 0.9) * shade
  photo = paper * (1 - strokes * rng.uniform(0.75, 0.9))
  photo = photo + rng.normal(0, 0.03, page)
  return _jpeg(_rgb(np.repeat(photo[..., None], 3, 2)), 85), 'jpg'


def phone_jpeg(ink, rng):
  """A phone-sized photo, 1200 to 2400 pixels, the digit filling some of it."""
  page = _random_page(rng, 1200, 2400)
  strokes = _placed(ink, page, rng.uniform(0.3, 0.8), rng)
  rows, cols = np.ogrid[-1:1:page[0] * 1j, -1:1:page[1] * 1j]
  vignette = 1 - 0.2 * (rows ** 2 + cols ** 2)
  paper = rng.uniform(0.7, 0.9) * vignette
  photo = paper * (1 - 0.85 * strokes) + 0.02 * rng.standard_normal(
      page, np.float32)
  image = _gray(photo).filter(ImageFilter.GaussianBlur(min(page) / 800.0))
  return _jpeg(image.convert('RGB'), int(rng.integers(75, 95))), 'jpg'


def one_bit_scan(ink, rng):
  page = _random_page(rng, 100, 500)
  strokes = _placed(ink, page, rng.uniform(0.4, 0.85), rng)
  scan = Image.fromarray(np.uint8(255 * (strokes < 0.5)), 'L').convert('1')
  return scan, ('png', 'bmp', 'tif')[int(rng.integers(3))]


def sixteen_bit_png(ink, rng):
  page = _random_page(rng, 80, 400)
  gray = np.clip(_on_paper(ink, rng, page, rng.uniform(0.4, 0.85), 0.01), 0, 1)
  return Image.fromarray(np.uint16(np.round(65535 * gray))), 'png'


def float_tiff(ink, rng):
  page = _random_page(rng, 80, 400)
  gray = np.clip(_on_paper(ink, rng, page, rng.uniform(0.4, 0.85), 0.01), 0, 1)
  return Image.fromarray(gray.astype(np.float32), 'F'), 'tif'


def small_thumbnail(ink, rng):
  """A small, soft picture: the digit only 14 to 24 pixels high."""
  page = _random_page(rng, 30, 60)
  strokes = _placed(ink, page, rng.uniform(0.45, 0.8), rng)
  return _gray(0.9 - 0.75 * strokes), 'png'


# Name, function and what a reader sees it as; the order of the tables.
KINDS = (
    ('mnist', mnist_png, "MNIST's own 28 x 28 picture, PNG"),
    ('paper', paper_png, 'dark ink on paper of varying tone, noise, PNG'),
    ('blurred', paper_blurred_jpeg, 'the same, blurred, JPEG'),
    ('blue', tinted_blue_ink, 'tinted paper, blue ink'),
    ('transparent', transparent_canvas, 'black strokes, transparent canvas'),
    ('large', light_on_dark_large, 'light on dark, large, off-centre'),
    ('photo', photo_with_shadow, 'photo: shadow across, grain, blur, JPEG'),
    ('shade', shadow_edge_photo, "photo half in a shadow's soft edge, JPEG"),
    ('phone', phone_jpeg, 'phone-sized JPEG (1200-2400 px)'),
    ('scan', one_bit_scan, '1-bit black-and-white scan'),
    ('16bit', sixteen_bit_png, '16-bit grayscale PNG'),
    ('float', float_tiff, 'float TIFF'),
    ('thumbnail', small_thumbnail, 'small picture, digit 14-24 px high'),
)
