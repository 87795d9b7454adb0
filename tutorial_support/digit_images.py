"""Turns a picture of one handwritten digit into what MNIST's digits are.

A photo of ink on paper is not an MNIST digit, and resized to 28 x 28 as it
is, the network scores about chance on it. MNIST's digits are light ink on a
black background, size-normalised to fit a 20 x 20 box keeping their aspect
ratio (antialiased, hence grey edges), and centred by their centre of mass in
a 28 x 28 field. mnist_input() makes any picture so, in stages that
preprocess() returns one by one:

  gray:     the picture as gray levels, at most 1024 pixels a side
            (tutorial_support/picture_files.py reads it);
  page:     where a sheet of paper lies on a desk, darker or of another
            colour, the sheet alone, turned straight
            (tutorial_support/paper_pages.py);
  ink:      light ink on dark, the background taken away: the paper's level
            is estimated at a scale larger than any stroke (so a shadow
            across the page is paper too) and divided out;
  unruled:  a ruled or squared page's printed lines taken out, the strokes
            that cross them kept whole (paper_pages.py);
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
import contextlib
import io

import numpy as np
from PIL import Image
from PIL import ImageFilter

from tutorial_support import atomic_files
from tutorial_support import paper_pages
from tutorial_support import picture_files
from tutorial_support import windowed

MNIST_SIZE = 28
DIGIT_BOX = 20
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
# Half a level of an 8-bit picture: what a flawless page's rounding leaves.
QUANTUM = 0.5 / 255
# Ink beside fewer ink pixels than this, in a noisy picture, is grain.
NEIGHBOURS = 2
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
    'gray', 'page', 'ink', 'unruled', 'levelled', 'cropped', 'evened',
    'scaled', 'centred'])


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


def background(gray, paper_is_light):
  """Estimates the page under the ink: its tone, and any shadow across it.

  On a coarse grid (which averages grain away), a closing (the brightest
  cell nearby, then the darkest of those) for light paper, an opening for a
  dark canvas, takes out every stroke narrower than its window and keeps a
  shadow's edge where it is. Cells within the noise of that are paper and
  keep their own level (the closing flattens a page's darker edges); the
  others, ink, take the mean of the paper around them.

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
  closed = windowed.reduce(windowed.reduce(coarse, window, first), window,
                           second)
  stands_out = np.abs(coarse - closed)
  paper = stands_out <= NOISE_SIGMAS * max(noise_of(stands_out)[1], 1e-3)
  around = (windowed.reduce(np.where(paper, coarse, 0), window, np.mean) /
            np.maximum(windowed.reduce(paper.astype(np.float32), window,
                                       np.mean), 1e-6))
  estimate = np.where(paper, coarse, np.where(around > 0, around, closed))
  return np.asarray(Image.fromarray(estimate.astype(np.float32), mode='F')
                    .resize((width, height), Image.Resampling.BILINEAR),
                    dtype=np.float32)


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


Levels = collections.namedtuple('Levels', ['background', 'noise', 'strokes',
                                           'mask'])


def measure_ink(ink):
  """Measures the background's level and noise, and the strokes' own level.

  Returns:
    Levels: background and noise robustly over the picture (most of it is
    background); strokes, the level most of the digit's ink reaches (not the
    odd brightest speck); mask, where the digit is (digit_mask()).

  Raises:
    NotADigitError: If nothing stands out from the background (no ink).
  """
  background_level, noise = noise_of(ink)
  mask = digit_mask(ink)
  strokes = ink[mask & (ink > background_level + NOISE_SIGMAS * noise)]
  top = float(np.percentile(strokes, 95)) if strokes.size else 0.0
  if top - background_level < max(MIN_CONTRAST, 2 * NOISE_SIGMAS * noise):
    raise NotADigitError('no ink found (a blank page?)')
  return Levels(background_level, noise, top, mask)


def level(ink, levels):
  """Maps the background to 0 and the strokes' level to 1, outside the digit
  to 0; the strokes' antialiased edges keep their grey. Noise is left, both
  ways, for scale_into_box() to average away before it is taken out."""
  relative = (ink - levels.background) / (levels.strokes - levels.background)
  return np.where(levels.mask, relative, 0.0).astype(np.float32)


def _components(mask):
  """Labels mask's 8-connected pieces: int array, 0 where mask is False."""
  labels = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), 0)
  while True:
    spread = windowed.reduce(labels, 3, np.max)
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
  weights = np.bincount(labels.ravel(),
                        weights=np.square(np.maximum(above, 0)).ravel())
  weights[0] = 0
  if not weights.max() > 0:
    raise NotADigitError('no ink found (a blank page?)')
  kept = np.isin(labels, np.flatnonzero(weights >= SPECK_SHARE *
                                        weights.max()))
  kept = windowed.reduce(kept, 3, np.max)
  return np.repeat(np.repeat(kept, cell, 0), cell, 1)[:ink.shape[0],
                                                      :ink.shape[1]]


def crop_to_ink(levelled, noise=0.0):
  """Cuts levelled to the box of its ink, as MNIST's box was drawn.

  MNIST's digits were scanned sharp: their box is that of the strokes, and
  the grey of antialiasing adds at most a pixel of the 20 x 20 around it.
  So the box is that of the strokes' half level, widened by half a pixel of
  the 20 x 20 to each side, but never past ink: pixels NOISE_SIGMAS of the
  noise above 0 with at least NEIGHBOURS such pixels around them (grain left
  beside the digit is no ink, an MNIST digit's faint corner is).

  Args:
    levelled: What level() returns.
    noise: The standard deviation of levelled's background noise.

  Raises:
    NotADigitError: If no stroke is left (no ink).
  """
  ink = levelled > max(NOISE_SIGMAS * noise, QUANTUM)
  if noise > 0:
    ink &= windowed.reduce(ink.astype(np.float32), 3, np.sum) >= NEIGHBOURS + 1
  strokes = (levelled >= 0.5) & ink
  if not strokes.any():
    raise NotADigitError('no ink found (a blank page?)')
  top, bottom, left, right = _box(strokes)
  margin = int(np.ceil(max(bottom - top, right - left) / (2.0 * DIGIT_BOX)))
  outer = _box(ink)
  top, left = max(top - margin, outer[0]), max(left - margin, outer[2])
  bottom, right = min(bottom + margin, outer[1]), min(right + margin, outer[3])
  return levelled[top:bottom, left:right]


def _box(mask):
  """(top, bottom, left, right) of mask's True pixels, bottom and right past
  the last."""
  rows = np.flatnonzero(mask.any(axis=1))
  cols = np.flatnonzero(mask.any(axis=0))
  return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def noise_at_scale(ink, mask, factor):
  """The noise of ink's background (outside mask) once shrunk by factor:
  grain averages away as the digit is scaled into its box."""
  if factor <= 1:
    return noise_of(ink[~mask])[1] if (~mask).any() else 0.0
  height, width = ink.shape
  size = (max(1, int(width / factor)), max(1, int(height / factor)))
  shrunk, covered = (np.asarray(Image.fromarray(array.astype(np.float32),
                                                mode='F').resize(
                                                    size, Image.Resampling.BOX))
                     for array in (ink, mask))
  background_cells = shrunk[covered == 0]
  return noise_of(background_cells)[1] if background_cells.size else 0.0


def _resize_to_fit(array, box):
  """array resized to fit box x box, keeping its aspect ratio (Lanczos)."""
  height, width = array.shape
  factor = box / float(max(height, width))
  size = (max(1, int(round(width * factor))),
          max(1, int(round(height * factor))))
  if size == (width, height):
    return array
  image = Image.fromarray(array.astype(np.float32), mode='F')
  return np.asarray(image.resize(size, Image.Resampling.LANCZOS,
                                 reducing_gap=3.0), np.float32)


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
  working = np.clip(_resize_to_fit(cropped, size), 0.0, 1.0)
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


def scale_into_box(evened, noise=0.0, box=DIGIT_BOX):
  """Scales evened to fit box x box, keeping its aspect ratio, antialiased.

  What the scaling leaves of the background's noise (noise, at this scale),
  and Lanczos's faint ringing beside sharp edges, are taken out: MNIST's
  background is 0. A digit that fits box x box already is left as it is.
  """
  scaled = _resize_to_fit(evened, box)
  if scaled is evened:
    return np.clip(evened, 0.0, 1.0)
  floor = max(RINGING, NOISE_SIGMAS * noise)
  return np.clip((scaled - floor) / (1.0 - floor), 0.0, 1.0)


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


OUTLINE = ('the digit could not be told from the background (try a plain '
           'sheet, or crop to the digit)')
# An outline's line is this thin beside the picture; a digit's strokes,
# even cropped tight, are thicker.
OUTLINE_WIDTH = 0.03


def refuse_an_outline(cropped, page_shape):
  """Refuses ink that frames the whole page in a thin line: the edge of a
  sheet, or of something on it, that no stage could tell from the paper.

  Raises:
    NotADigitError: OUTLINE, if the ink reaches every side of the page in
      lines thinner than OUTLINE_WIDTH of it.
  """
  if (cropped.shape[0] < 0.9 * page_shape[0] or
      cropped.shape[1] < 0.9 * page_shape[1]):
    return
  strokes = cropped > 0.5
  sides = (strokes[0].any(), strokes[-1].any(), strokes[:, 0].any(),
           strokes[:, -1].any())
  if all(sides) and stroke_width(strokes) < OUTLINE_WIDTH * max(
      cropped.shape):
    raise NotADigitError(OUTLINE)


def preprocess(gray, colour=None):
  """Runs every stage on a gray image; returns them all, as Stages.

  colour, the same picture in RGB (or None), tells a coloured desk from the
  paper where their grays are alike.
  """
  page = paper_pages.find_page(gray, colour)
  try:
    return _stages(gray, page)
  except NotADigitError:
    # A blank sheet on a desk is blank: its outline is no digit.
    if page is gray or not paper_pages.desk_in_doubt(gray):
      raise
  # What was cut away as a desk was paper in a shade (a shadow's sharp
  # edge, a page lit from one side), with the digit in it: the whole
  # picture holds it.
  return _stages(gray, gray)


def _stages(gray, page):
  ink = as_ink(page)
  unruled = paper_pages.remove_rulings(ink, noise_of(ink)[1])
  levels = measure_ink(unruled)
  levelled = level(unruled, levels)
  contrast = levels.strokes - levels.background
  cropped = crop_to_ink(levelled, levels.noise / contrast)
  refuse_an_outline(cropped, levelled.shape)
  evened = even_strokes(cropped)
  grain = noise_at_scale(unruled, levels.mask,
                         max(cropped.shape) / float(DIGIT_BOX))
  scaled = scale_into_box(evened, grain / contrast)
  return Stages(gray, page, ink, unruled, levelled, cropped, evened, scaled,
                centred=centre_by_mass(scaled))


def mnist_input(path):
  """Returns the picture at path as MNIST's input: float32 [784] in [0, 1].

  Raises:
    NotADigitError: If the file is no readable image, or holds no ink.
  """
  return read_digit(path).pixels


Digit = collections.namedtuple('Digit', ['pixels', 'frame', 'count', 'page'])
# The long side of Digit.page: enough to see the sheet and its strokes.
PAGE_VIEW = 280


def page_view(stages):
  """What preprocess() took for ink on the page it found (light on black),
  at most PAGE_VIEW pixels a side: where a wrong answer shows its cause."""
  ink = np.clip(stages.unruled, 0.0, 1.0)
  return _resize_to_fit(ink, PAGE_VIEW) if max(ink.shape) > PAGE_VIEW else ink


def read_digit(path):
  """Returns MNIST's input of the first frame of path that holds ink.

  A picture of several frames (an animated GIF, a multi-page TIFF, an MPO)
  may begin with a blank one; the frames after it are tried as
  picture_files.read_frames reads them (at most MAX_FRAMES).

  Returns:
    Digit: pixels (float32 [784] in [0, 1]), frame (the index of the frame
    they are of, 0 for the first), count (the picture's frames) and page
    (page_view() of it).

  Raises:
    NotADigitError: If the file is no readable image, or no frame read holds
      ink (the first frame's reason, and how many frames were read).
  """
  first_error, index, count = None, 0, 1
  try:
    with contextlib.closing(picture_files.read_frames(path)) as frames:
      for gray, index, count, colour in frames:
        try:
          stages = preprocess(gray, colour)
          pixels = stages.centred.reshape(MNIST_SIZE * MNIST_SIZE)
          return Digit(pixels, index, count, page_view(stages))
        except NotADigitError as e:
          first_error = first_error or e
  except picture_files.UnreadablePictureError as e:
    raise NotADigitError(str(e)) from None
  if count > 1:
    raise NotADigitError('%s, in each of frames 1 to %d of %d'
                         % (first_error, index + 1, count))
  raise first_error


def save_gray(array, path):
  """Writes a [0, 1] array as an 8-bit grayscale PNG, atomically."""
  buffer = io.BytesIO()
  Image.fromarray(np.round(255 * np.clip(array, 0, 1)).astype(np.uint8),
                  mode='L').save(buffer, format='PNG')
  atomic_files.write_atomically(path, buffer.getvalue())
