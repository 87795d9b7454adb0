"""Turns a picture of one handwritten digit into what MNIST's digits are.

A photo of ink on paper is not an MNIST digit, and resized to 28 x 28 as it
is, the network scores about chance on it. MNIST's digits are light ink on a
black background, size-normalised to fit a 20 x 20 box keeping their aspect
ratio (antialiased, hence grey edges), and centred by their centre of mass in
a 28 x 28 field. mnist_input() makes any picture so, in stages that
preprocess() returns one by one:

  gray:     any image Pillow reads (PNG, JPEG, BMP, GIF, TIFF, WebP; any
            size, grayscale, RGB, RGBA or palette), turned upright as its
            EXIF says, transparency composited onto white, as gray levels;
  ink:      light ink on dark, inverted if the background is the lighter
            (dark ink on paper, as most pictures are);
  levelled: the background's level (paper tone, shadows, noise) taken as
            no ink, and the strokes stretched to full ink;
  cropped:  cut to the box of the ink;
  evened:   brought to a working size, its strokes widened where they are
            thinner than MNIST's pen (about a ninth of the digit's height:
            a ballpoint line, scaled down as it is, would all but vanish);
  scaled:   to fit 20 x 20, keeping the aspect ratio, antialiased;
  centred:  placed in 28 x 28 with its centre of mass at the centre.

This module knows no TensorFlow: it makes arrays for any model to take.
"""

import collections
import os
import tempfile
import warnings

import numpy as np
from PIL import Image
from PIL import ImageFilter
from PIL import ImageOps

MNIST_SIZE = 28
DIGIT_BOX = 20
# Pillow refuses to decode images over this many pixels (its default, about
# 89 megapixels): a small file that claims hundreds of megapixels is a
# decompression bomb, refused before any of it is decoded.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
# Ink must stand this far (of the full 0..1 range) above the background for
# a picture to hold a digit at all: a blank page's noise does not.
MIN_CONTRAST = 0.15
# Of the range from background to the darkest ink, the share taken as
# paper: shadows, paper grain and sensor noise sit below it.
BACKGROUND_SHARE = 0.3
# The side of the working size at which strokes are evened, and MNIST's pen
# width as a share of it (2.2 pixels of the 20 x 20 box).
WORKING_SIZE = 80
PEN_SHARE = 0.11
RINGING = 0.02

Stages = collections.namedtuple('Stages', [
    'gray', 'ink', 'levelled', 'cropped', 'evened', 'scaled', 'centred'])


class NotADigitError(ValueError):
  """The picture cannot be read, or holds no ink to take for a digit."""


def read_gray(path):
  """Reads an image file as gray levels in [0, 1], transparency on white.

  Raises:
    NotADigitError: If the file is not an image Pillow can read whole, or is
      a decompression bomb; the message says which.
  """
  try:
    with warnings.catch_warnings():
      # Pillow only warns between its limit and twice it; refuse both.
      warnings.simplefilter('error', Image.DecompressionBombWarning)
      with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        image.load()
  except (Image.DecompressionBombError, Image.DecompressionBombWarning):
    raise NotADigitError('image is too large to decode (over %d pixels: a '
                         'decompression bomb?)' % MAX_PIXELS) from None
  except Image.UnidentifiedImageError:
    raise NotADigitError('not an image Pillow can read') from None
  except (OSError, SyntaxError, ValueError) as e:
    # Pillow reports truncated or corrupt data as OSError or SyntaxError.
    raise NotADigitError('damaged image (%s)' % e) from None
  return _gray_on_white(image)


def _gray_on_white(image):
  if image.mode in ('RGBA', 'LA', 'PA') or (
      image.mode == 'P' and 'transparency' in image.info) or (
          'transparency' in image.info):
    rgba = image.convert('RGBA')
    white = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, rgba)
  gray = np.asarray(image.convert('L'), dtype=np.float32) / 255.0
  if gray.size == 0:
    raise NotADigitError('image has no pixels')
  return gray


def as_ink(gray):
  """Returns the ink of a gray image: light on dark, as MNIST's.

  The background is what most of the picture is, so the median tells it:
  light paper means dark ink, and the picture is inverted.
  """
  border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
  background = np.median(np.concatenate([border, gray.ravel()]))
  return 1.0 - gray if background > 0.5 else gray.copy()


def level(ink):
  """Maps the background to 0 and the strokes to full ink.

  Raises:
    NotADigitError: If nothing stands out from the background (no ink).
  """
  background = float(np.median(ink))
  strongest = float(np.percentile(ink, 99.9))
  contrast = strongest - background
  if contrast < MIN_CONTRAST:
    raise NotADigitError('no ink found (a blank page?)')
  floor = background + BACKGROUND_SHARE * contrast
  # The strokes' own level, not the odd darkest speck, is full ink.
  strokes = ink[ink > floor]
  top = float(np.percentile(strokes, 90)) if strokes.size else strongest
  return np.clip((ink - floor) / max(top - floor, 1e-6), 0.0, 1.0)


def crop_to_ink(levelled):
  """Cuts levelled to the smallest box that holds all of its ink."""
  rows = np.flatnonzero(levelled.max(axis=1) > 0)
  cols = np.flatnonzero(levelled.max(axis=0) > 0)
  if not rows.size:
    raise NotADigitError('no ink found (a blank page?)')
  return levelled[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize_to_fit(array, box):
  height, width = array.shape
  factor = box / float(max(height, width))
  size = (max(1, int(round(width * factor))),
          max(1, int(round(height * factor))))
  image = Image.fromarray(array.astype(np.float32), mode='F')
  resized = np.clip(np.asarray(image.resize(
      size, Image.Resampling.LANCZOS, reducing_gap=3.0)), 0.0, 1.0)
  # Lanczos rings faintly beside sharp edges; MNIST's background is 0.
  resized[resized < RINGING] = 0.0
  return resized


def stroke_width(ink):
  """Estimates the width of ink's strokes, in pixels (2 at the least).

  A stroke of length L and width w covers about L * w pixels, of which about
  2 * L lie on its edge.
  """
  solid = np.pad(ink > 0.5, 1)  # The array's own edge is a stroke's edge.
  inside = solid.copy()
  inside[1:] &= solid[:-1]
  inside[:-1] &= solid[1:]
  inside[:, 1:] &= solid[:, :-1]
  inside[:, :-1] &= solid[:, 1:]
  edge = np.count_nonzero(solid & ~inside)
  return 2.0 * np.count_nonzero(solid) / edge if edge else 2.0


def even_strokes(cropped, size=WORKING_SIZE):
  """Brings cropped to fit size x size and widens strokes thinner than MNIST's."""
  working = _resize_to_fit(cropped, size)
  # Strokes thinned to faint lines by the resize count at their full ink.
  strongest = float(working.max())
  if strongest > 0:
    working = np.clip(working / strongest, 0.0, 1.0)
  missing = PEN_SHARE * size - stroke_width(working)
  if missing >= 1:
    # A filter of odd size k widens a stroke by k - 1.
    grow = 2 * int(round((missing + 1) / 2)) + 1
    # Room to widen into: a thin '1' is cropped to its own width.
    working = np.pad(working, grow // 2)
    image = Image.fromarray(np.uint8(np.round(255 * working)), mode='L')
    working = np.asarray(image.filter(ImageFilter.MaxFilter(grow)),
                         np.float32) / 255.0
  return working


def scale_into_box(evened, box=DIGIT_BOX):
  """Scales evened to fit box x box, keeping its aspect ratio, antialiased."""
  return _resize_to_fit(evened, box)


def centre_by_mass(scaled, size=MNIST_SIZE):
  """Places scaled in a size x size field, its centre of mass at the centre.

  The shift is to the nearest whole pixel, so the centre of mass ends within
  half a pixel of the field's centre; a digit whose mass lies far off its
  box's middle is kept inside the field.
  """
  height, width = scaled.shape
  total = scaled.sum()
  mass_row = (scaled.sum(axis=1) @ np.arange(height)) / total
  mass_col = (scaled.sum(axis=0) @ np.arange(width)) / total
  centre = (size - 1) / 2.0
  top = min(max(int(round(centre - mass_row)), 0), size - height)
  left = min(max(int(round(centre - mass_col)), 0), size - width)
  field = np.zeros((size, size), np.float32)
  field[top:top + height, left:left + width] = scaled
  return field


def preprocess(gray):
  """Runs every stage on a gray image; returns them all, as Stages."""
  ink = as_ink(gray)
  levelled = level(ink)
  cropped = crop_to_ink(levelled)
  evened = even_strokes(cropped)
  scaled = scale_into_box(evened)
  return Stages(gray, ink, levelled, cropped, evened, scaled,
                centred=centre_by_mass(scaled))


def mnist_input(path):
  """Returns the picture at path as MNIST's input: float32 [784] in [0, 1].

  Raises:
    NotADigitError: If the file is no readable image, or holds no ink.
  """
  return preprocess(read_gray(path)).centred.reshape(MNIST_SIZE * MNIST_SIZE)


def save_gray(array, path):
  """Writes a [0, 1] array as an 8-bit grayscale PNG, atomically."""
  directory = os.path.dirname(path) or '.'
  fd, tmp = tempfile.mkstemp(dir=directory, prefix='.preprocessed.',
                             suffix='.png')
  try:
    with os.fdopen(fd, 'wb') as f:
      Image.fromarray(np.round(255 * np.clip(array, 0, 1)).astype(np.uint8),
                      mode='L').save(f, format='PNG')
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
  except BaseException:
    os.remove(tmp)
    raise
