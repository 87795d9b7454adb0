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


# --------------------------------------- a sheet of paper, photographed ----

# Pens, as RGB, and how much of the paper shows through their stroke.
PENS = {'blue': ((0.08, 0.12, 0.5), 0.0), 'black': ((0.07, 0.07, 0.09), 0.0),
        'pencil': ((0.32, 0.32, 0.35), 0.25)}
RULING_COLOURS = ((0.55, 0.7, 0.95), (0.6, 0.6, 0.62), (0.45, 0.6, 0.9))
MARGIN_COLOUR = (0.92, 0.45, 0.45)


def _sheet(ink, rng, size, rulings):
  """A sheet of size (height, width) with the digit written on it: RGB."""
  height, width = size
  paper = rng.uniform(0.82, 0.97) * np.array(
      [1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 0.98)])
  sheet = np.ones(size + (3,), np.float32) * paper
  spacing = int(rng.integers(30, 81)) if rulings == 'ruled' else int(
      rng.integers(22, 46))
  if rulings:
    colour = np.array(RULING_COLOURS[int(rng.integers(len(RULING_COLOURS)))])
    line = np.zeros(size, np.float32)
    thick = int(rng.integers(1, 4 if rulings == 'ruled' else 3))
    start = int(rng.integers(0, spacing))
    for row in range(start, height, spacing):
      line[row:row + thick] = 1
    if rulings == 'squared':
      for col in range(int(rng.integers(0, spacing)), width, spacing):
        line[:, col:col + thick] = 1
    elif rng.integers(2):  # A margin line.
      margin = int(width * rng.uniform(0.08, 0.15))
      sheet[:, margin:margin + 2] = MARGIN_COLOUR * paper
    sheet = sheet * (1 - line[..., None]) + colour * paper * line[..., None]
  # The digit's height: one or two rulings' worth on ruled paper.
  share = (spacing * rng.uniform(1.3, 2.4) / height if rulings == 'ruled'
           else rng.uniform(0.15, 0.35))
  # Written clear of the sheet's edges, and of a margin line at the left.
  top, left = int(height * 0.06), int(width * 0.18)
  bottom, right = height - top, width - int(width * 0.06)
  strokes = np.zeros(size, np.float32)
  strokes[top:bottom, left:right] = _placed(
      ink, (bottom - top, right - left), min(share * height / (bottom - top),
                                             0.9), rng)
  pen, shows = PENS[('blue', 'black', 'pencil')[int(rng.integers(3))]]
  opacity = strokes * (1 - shows)
  return sheet * (1 - opacity[..., None]) + np.array(pen) * opacity[..., None]


def _photographed(picture, rng):
  """A phone's soft focus, sensor noise and JPEG."""
  picture = picture + rng.normal(0, rng.uniform(0.008, 0.025), picture.shape)
  image = _rgb(picture).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.8)))
  return _jpeg(image, int(rng.integers(78, 92))), 'jpg'


def _with_shadow(picture, rng):
  """A soft-edged shadow across part of the picture, as a hand casts."""
  height, width = picture.shape[:2]
  angle = rng.uniform(0, 2 * np.pi)
  rows, cols = np.mgrid[0:height, 0:width]
  along = (cols - width / 2) * np.cos(angle) + (rows - height / 2) * np.sin(
      angle)
  edge = rng.uniform(-0.3, 0.3) * min(height, width)
  softness = rng.uniform(25, 70)  # A penumbra, several pixels wide.
  shade = 1 - rng.uniform(0.2, 0.4) / (1 + np.exp(-(along - edge) / softness))
  return picture * shade[..., None]


# Desks, as RGB at full light: dark wood, grey laminate, and coloured ones
# (a green cutting mat, a blue table, a light oak) near the paper's gray.
DESKS = ((0.45, 0.3, 0.18), (0.35, 0.35, 0.37), (0.25, 0.6, 0.35),
         (0.3, 0.45, 0.85), (0.8, 0.62, 0.38))


def _desk_span(rng, sheet_side, ends):
  """(picture side, sheet's offset) along one axis, the desk showing at
  ends of its two ends (0, 1 or 2)."""
  if ends == 0:  # The sheet runs off the picture at both ends.
    side = int(sheet_side * rng.uniform(0.92, 0.97))
    return side, -int((sheet_side - side) * rng.uniform(0.35, 0.65))
  side = int(sheet_side / rng.uniform(0.6, 0.85))
  gap = side - sheet_side
  if ends == 2:
    return side, int(gap * rng.uniform(0.1, 0.9))
  overflow = int(sheet_side * rng.uniform(0.02, 0.05))
  return side, (gap + overflow if rng.integers(2) else -overflow)


def _on_desk(sheet, rng, turn):
  """The sheet on a desk, turned by up to turn degrees, the desk showing on
  one to four sides of it: RGB."""
  angle = rng.uniform(-turn, turn)
  layer = Image.fromarray(np.uint8(np.round(255 * np.clip(sheet, 0, 1))),
                          'RGB').rotate(angle, Image.Resampling.BILINEAR,
                                        expand=True)
  mask = Image.new('L', sheet.shape[1::-1], 255).rotate(
      angle, Image.Resampling.BILINEAR, expand=True)
  sides = int(rng.integers(1, 5))
  down = int(rng.integers(max(0, sides - 2), min(2, sides) + 1))
  height, top = _desk_span(rng, layer.height, down)
  width, left = _desk_span(rng, layer.width, sides - down)
  desk_colour = np.array(DESKS[int(rng.integers(len(DESKS)))]) * (
      rng.uniform(0.35, 1.0))
  rows, cols = np.mgrid[0:height, 0:width] / float(max(height, width))
  grain = 1 + 0.06 * np.sin(rng.uniform(20, 60) * rows + 3 * np.sin(
      rng.uniform(2, 6) * cols))
  photo = _rgb(desk_colour * grain[..., None])
  photo.paste(layer, (left, top), mask)
  return np.asarray(photo, np.float32) / 255.0


def _sheet_size(rng):
  side = int(rng.integers(520, 760))
  return side, int(side * rng.uniform(0.75, 1.3))


def sheet_on_desk(ink, rng):
  """A plain sheet on a desk, dark or coloured, on one to four sides of it."""
  return _photographed(_on_desk(_sheet(ink, rng, _sheet_size(rng), None),
                                rng, 3), rng)


def ruled_page(ink, rng):
  """A page of a ruled notebook filling the picture: lines every 30 to 80
  pixels, sometimes a margin line; blue, black or pencil."""
  return _photographed(_sheet(ink, rng, _sheet_size(rng), 'ruled'), rng)


def squared_page(ink, rng):
  """Squared paper filling the picture, a grid every 22 to 45 pixels."""
  return _photographed(_sheet(ink, rng, _sheet_size(rng), 'squared'), rng)


def turned_sheet_in_shadow(ink, rng):
  """A sheet turned by up to 15 degrees on a desk, a shadow across it."""
  photo = _on_desk(_sheet(ink, rng, _sheet_size(rng), None), rng, 15)
  return _photographed(_with_shadow(photo, rng), rng)


def notebook_on_desk(ink, rng):
  """All at once: a ruled or squared page, turned, on a desk, in a shadow."""
  rulings = ('ruled', 'squared')[int(rng.integers(2))]
  photo = _on_desk(_sheet(ink, rng, _sheet_size(rng), rulings), rng, 15)
  return _photographed(_with_shadow(photo, rng), rng)


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
    ('desk', sheet_on_desk, 'photo: a sheet on a desk, dark or coloured'),
    ('ruled', ruled_page, 'photo: ruled notebook paper'),
    ('squared', squared_page, 'photo: squared paper'),
    ('turned', turned_sheet_in_shadow,
     'photo: a sheet turned on a desk, in a shadow'),
    ('notebook', notebook_on_desk,
     'photo: ruled or squared, turned, on a desk, in a shadow'),
)
