"""Turns a picture of one handwritten digit into what MNIST's digits are.

A photo of ink on paper is not an MNIST digit, and resized to 28 x 28 as it
is, the network scores about chance on it. MNIST's digits are light ink on a
black background, size-normalised to fit a 20 x 20 box keeping their aspect
ratio (antialiased, hence grey edges), and centred by their centre of mass in
a 28 x 28 field. mnist_input() makes any picture so, in stages that
preprocess() returns one by one:

  gray:     the picture as gray levels, at most 640 pixels a side
            (tutorial_support/picture_files.py reads it);
  ink:      light ink on dark, the background taken away: the paper's level
            is estimated at a scale larger than any stroke (so a shadow
            across the page is paper too) and divided out;
  levelled: the noise of the background (grain, sensor noise) measured and
            taken as no ink; the strokes' own level made full ink, their
            antialiased edges kept as the grey they are;
  cropped:  cut to the box of the digit's connected ink, stray specks left out;
  evened:   strokes much thinner than MNIST's pen (a ballpoint line, which
            scaled down as it is would all but vanish) widened to it; strokes
            as wide as MNIST's left as they are;
  scaled:   to fit 20 x 20, keeping the aspect ratio, antialiased;
  centred:  placed in 28 x 28 with its centre of mass at the centre.

On a picture that is already an MNIST digit, every stage is all but the
identity. This module knows no TensorFlow: it makes arrays for any model.
"""

import collections
import os
import tempfile

import numpy as np
from PIL import Image
from PIL import ImageFilter

from tutorial_support import picture_files

MNIST_SIZE = 28
DIGIT_BOX = 20
MAX_PIXELS = picture_files.MAX_PIXELS
# Ink must stand this far (of the full 0..1 range) above the background for
# a picture to hold a digit at all: a blank page's noise does not.
MIN_CONTRAST = 0.15
# How many of the noise's standard deviations above the background a pixel
# must be to be ink: gaussian grain passes 3 of them once in 700 pixels.
NOISE_SIGMAS = 3.0
# The background is estimated on a grid this many cells on its longer side,
# with a window this share of its shorter side: wider than any stroke of a
# digit that fills the frame, so the window always sees paper.
BACKGROUND_GRID = 128
BACKGROUND_WINDOW = 0.4
# Ink in pieces smaller than this share of the largest piece's is a speck.
SPECK_SHARE = 0.1
# Components are found on a grid this many cells on its longer side.
COMPONENT_GRID = 96
# The side of the working size at which strokes are evened, and MNIST's pen
# width as a share of it (2.2 pixels of the 20 x 20 box); strokes under
# THIN_SHARE of it are widened, the others are MNIST's already.
WORKING_SIZE = 80
PEN_SHARE = 0.11
THIN_SHARE = 0.6
RINGING = 0.02

Stages = collections.namedtuple('Stages', [
    'gray', 'ink', 'levelled', 'cropped', 'evened', 'scaled', 'centred'])


class NotADigitError(ValueError):
  """The picture cannot be read, or holds no ink to take for a digit."""


def read_gray(path):
  """Reads a picture file as gray levels in [0, 1], transparency on white.

  Raises:
    NotADigitError: If the file cannot be read, is no picture Pillow can read
      whole, or is too large; the message says which, in one line.
  """
  try:
    return picture_files.read_gray(path)
  except picture_files.UnreadablePictureError as e:
    raise NotADigitError(str(e)) from None


def _window_extreme(array, size, extreme):
  """The max or min (extreme) of each size x size window around each cell."""
  for axis in (0, 1):
    padding = [(0, 0), (0, 0)]
    padding[axis] = (size // 2, size // 2)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(array, padding, mode='edge'), size, axis=axis)
    array = extreme(windows, axis=-1)
  return array


def background(gray, paper_is_light):
  """Estimates the page under the ink: its tone, and any shadow across it.

  On a coarse grid (which averages grain away), a closing (the brightest
  cell nearby, then the darkest of those) for light paper, an opening for a
  dark canvas: both keep a gradual shadow and a shadow's edge where they are,
  and take out any stroke narrower than the window.

  Returns:
    float32, the shape of gray.
  """
  height, width = gray.shape
  shrink = max(1.0, max(height, width) / float(BACKGROUND_GRID))
  grid = (max(1, int(round(width / shrink))),
          max(1, int(round(height / shrink))))
  coarse = np.asarray(Image.fromarray(gray, mode='F').resize(
      grid, Image.Resampling.BOX), dtype=np.float32)
  window = 2 * int(BACKGROUND_WINDOW * min(coarse.shape) / 2) + 1
  first, second = (np.max, np.min) if paper_is_light else (np.min, np.max)
  coarse = _window_extreme(_window_extreme(coarse, window, first), window,
                           second)
  return np.asarray(Image.fromarray(coarse, mode='F').resize(
      (width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def as_ink(gray):
  """Returns the ink of a gray image, light on a background of 0.

  The ink is what stands out from what most of the picture is, at either
  end: dark ink on paper is inverted. Light paper is divided out (a shadow
  dims paper and ink alike); a dark canvas is subtracted. Noise leaves
  values a little below 0.
  """
  middle = float(np.median(gray))
  dark_tail = middle - float(np.percentile(gray, 0.1))
  light_tail = float(np.percentile(gray, 99.9)) - middle
  if dark_tail > light_tail:
    paper = np.maximum(background(gray, True), 1.0 / 255)
    return 1.0 - gray / paper
  canvas = background(gray, False)
  return (gray - canvas) / np.maximum(1.0 - canvas, 1.0 / 255)


def noise_of(values):
  """Returns (median, standard deviation) of values, robustly: most of a
  picture is background, so these are the background's level and noise."""
  middle = float(np.median(values))
  return middle, 1.4826 * float(np.median(np.abs(values - middle)))


def level(ink):
  """Keeps the digit's ink: its level made full, the background's noise none.

  What stands less than NOISE_SIGMAS of the noise above the background is
  no ink, and so is anything outside digit_mask(). The strokes' own level
  (not the odd brightest speck) is full ink; their edges keep their grey.

  Raises:
    NotADigitError: If nothing stands out from the background (no ink).
  """
  middle, noise = noise_of(ink)
  floor = middle + NOISE_SIGMAS * noise
  mask = digit_mask(ink)
  strokes = ink[mask & (ink > floor)]
  top = float(np.percentile(strokes, 95)) if strokes.size else floor
  if top - middle < max(MIN_CONTRAST, 2 * NOISE_SIGMAS * noise):
    raise NotADigitError('no ink found (a blank page?)')
  return np.where(mask, np.clip((ink - floor) / (top - floor), 0.0, 1.0),
                  0.0).astype(np.float32)


def _components(mask):
  """Labels mask's 8-connected pieces: int array, 0 where mask is False."""
  labels = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), 0)
  while True:
    spread = _window_extreme(labels, 3, np.max)
    spread = np.where(mask, spread, 0)
    if np.array_equal(spread, labels):
      return labels
    labels = spread


def _cell_means(ink, cell):
  height, width = ink.shape
  rows, cols = -(-height // cell), -(-width // cell)
  padded = np.pad(ink, ((0, rows * cell - height), (0, cols * cell - width)),
                  mode='edge')
  return padded.reshape(rows, cell, cols, cell).mean(axis=(1, 3))


def digit_mask(ink):
  """Returns where the digit's ink is: its pieces, without stray specks.

  Pieces are found on a grid of cells COMPONENT_GRID on the longer side,
  each the mean of its pixels, so that grain averages away: a cell is ink
  if it stands NOISE_SIGMAS + 1 of the cells' own noise above their median.
  Pieces under SPECK_SHARE of the heaviest's ink are specks; the digit's
  cells are widened by one to keep its strokes' faint edges.

  Raises:
    NotADigitError: If no cell stands out (no ink).
  """
  cell = max(1, int(np.ceil(max(ink.shape) / float(COMPONENT_GRID))))
  means = _cell_means(ink, cell)
  middle, noise = noise_of(means)
  above = means - (middle + (NOISE_SIGMAS + 1) * noise)
  labels = _components(above > 0)
  weights = np.bincount(labels.ravel(), weights=np.maximum(above, 0).ravel())
  weights[0] = 0
  if not weights.max() > 0:
    raise NotADigitError('no ink found (a blank page?)')
  kept = np.isin(labels, np.flatnonzero(weights >= SPECK_SHARE *
                                        weights.max()))
  kept = _window_extreme(kept, 3, np.max)
  return np.repeat(np.repeat(kept, cell, 0), cell, 1)[:ink.shape[0],
                                                      :ink.shape[1]]


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
  if size == (width, height):
    return array  # An MNIST digit's box is 20 already: left as it is.
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
  """Widens strokes much thinner than MNIST's pen; returns the others as given.

  A thin digit is brought to fit size x size first, its strokes measured
  and widened there.
  """
  working = _resize_to_fit(cropped, size)
  # Strokes thinned to faint lines by the resize count at their full ink.
  strongest = float(working.max())
  if strongest > 0:
    working = np.clip(working / strongest, 0.0, 1.0)
  missing = PEN_SHARE * size - stroke_width(working)
  if missing <= (1 - THIN_SHARE) * PEN_SHARE * size:
    return cropped
  # A filter of odd size k widens a stroke by k - 1.
  grow = 2 * int(round((missing + 1) / 2)) + 1
  # Room to widen into: a thin '1' is cropped to its own width.
  working = np.pad(working, grow // 2)
  image = Image.fromarray(np.uint8(np.round(255 * working)), mode='L')
  return np.asarray(image.filter(ImageFilter.MaxFilter(grow)),
                    np.float32) / 255.0


def scale_into_box(evened, box=DIGIT_BOX):
  """Scales evened to fit box x box, keeping its aspect ratio, antialiased."""
  return _resize_to_fit(evened, box)


def centre_by_mass(scaled, size=MNIST_SIZE):
  """Places scaled in a size x size field, its centre of mass at the centre.

  The centre is at row and column size / 2 (14 of 28), where MNIST's own
  digits have theirs (each within half a pixel of it). The shift is to the
  nearest whole pixel, so the centre of mass ends within half a pixel of
  it; a digit whose mass lies far off its box's middle is kept inside.
  """
  height, width = scaled.shape
  total = scaled.sum()
  mass_row = (scaled.sum(axis=1) @ np.arange(height)) / total
  mass_col = (scaled.sum(axis=0) @ np.arange(width)) / total
  centre = size / 2.0
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
