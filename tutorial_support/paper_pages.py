"""Finds the sheet of paper in a photo, and takes a notebook's rulings off it.

A digit written on paper is most often photographed with the sheet lying on
a desk, and often on a page of a ruled or squared notebook. The desk around
the sheet is darker than the paper and far larger than a stroke, and the
rulings are long straight lines across the page: neither is the digit, and
both would be taken for ink. find_page() cuts a picture to its sheet, the
desk made paper; remove_rulings() takes the printed lines out of the ink,
keeping the strokes that cross them whole.

Both work with NumPy and Pillow on a coarse grid, in a few milliseconds:
OpenCV (opencv-python-headless 5.1) does the same in fewer calls, but costs
173 MB installed and 0.13 s of import in every classify.py run
(docs/classify.md). This module knows no TensorFlow.
"""

import numpy as np
from PIL import Image
from PIL import ImageFilter

from tutorial_support import windowed

# The page is looked for on a grid this many cells on its longer side.
PAGE_GRID = 160
# Paper is at least this many times as bright as the desk around it.
DESK_CONTRAST = 1.35
# A desk shows when it covers at least this share of the picture...
MIN_DESK_SHARE = 0.02
# ...and this share of the picture's edge (a shadow across a page, which
# also reaches the edge, has reached a little over half of it).
MIN_DESK_BORDER = 0.6
# ...and leaves a sheet of at least this share.
MIN_PAGE_SHARE = 0.25
# Where desk and sheet meet, this share of the step between their levels
# is crossed within a few cells: a shadow's edge is softer.
MIN_SHARPNESS = 0.6
# The paper's level is taken with a window this share of the grid's shorter
# side: wider than the strokes of a large, thick digit.
LEVEL_WINDOW = 0.25
# Cells of the sheet's edge (its blur, its thickness) left out of the page.
EDGE_CELLS = 1
# A ruling runs across at least this share of the page; a margin line, or a
# squared paper's column, down at least the second.
RULING_SHARE = 0.7
COLUMN_SHARE = 0.6
# At least this many rulings make a ruled page (one long line may be a stroke).
MIN_RULINGS = 3
# A pen's stroke along a ruling stands at least this far above the line.
PEN_OVER_RULING = 0.1
# The page's rulings are looked for turned by up to this many degrees.
MAX_TURN = 15.0


def _resized(array, size, resample):
  return np.asarray(Image.fromarray(array.astype(np.float32), mode='F')
                    .resize(size, resample), np.float32)


def _otsu(values):
  """The threshold that best splits values in two (Otsu's), on 64 bins."""
  counts, edges = np.histogram(values, 64)
  centres = (edges[:-1] + edges[1:]) / 2
  weight = np.cumsum(counts)
  total = weight[-1]
  mean = np.cumsum(counts * centres)
  between = (mean[-1] * weight - mean * total) ** 2 / np.maximum(
      weight * (total - weight), 1)
  return edges[int(np.argmax(between[:-1])) + 1]  # Its bin is the darker.


def _touching_border(mask):
  """The cells of mask connected (4-way) to the grid's border."""
  reached = np.zeros_like(mask)
  reached[0, :], reached[-1, :] = mask[0, :], mask[-1, :]
  reached[:, 0], reached[:, -1] = mask[:, 0], mask[:, -1]
  while True:
    grown = reached.copy()
    grown[1:] |= reached[:-1]
    grown[:-1] |= reached[1:]
    grown[:, 1:] |= reached[:, :-1]
    grown[:, :-1] |= reached[:, 1:]
    grown &= mask
    if np.array_equal(grown, reached):
      return reached
    reached = grown


def _fill_outward(values, known):
  """values where known, spread to the other cells from the nearest known."""
  values = np.where(known, values, 0.0)
  weights = known.astype(np.float32)
  while not known.all():
    total = windowed.reduce(values, 3, np.sum)
    count = windowed.reduce(weights, 3, np.sum)
    reached = ~known & (count > 0)
    if not reached.any():
      break
    values = np.where(reached, total / np.maximum(count, 1e-6), values)
    weights = np.where(reached, 1.0, weights)
    known = known | reached
  return values


def _edge_sharpness(light, desk):
  """How much of the step from desk to paper is crossed within 3 cells of
  where they meet, of what is crossed within 9: about 1 for a sheet's cut
  edge, far less for a shadow's soft one."""
  edge = desk & (windowed.reduce((~desk).astype(np.float32), 3, np.max) > 0)
  if not edge.any():
    return 0.0
  near = windowed.reduce(light, 3, np.max) - windowed.reduce(light, 3, np.min)
  wide = windowed.reduce(light, 9, np.max) - windowed.reduce(light, 9, np.min)
  return float(np.median(near[edge] / np.maximum(wide[edge], 1e-6)))


def page_mask(gray):
  """Where the sheet of paper is, on a grid of cells: None if no desk shows.

  The desk is what is darker than the paper by DESK_CONTRAST or more (the
  two levels split as Otsu's method splits a histogram) and reaches the
  picture's edge; the sheet is the rest, strokes on it included, without
  its outer EDGE_CELLS.

  Returns:
    (mask, size): a bool array of the grid, and the grid's (width, height);
    or None, when no desk shows (the sheet fills the picture).
  """
  height, width = gray.shape
  shrink = max(1.0, max(height, width) / float(PAGE_GRID))
  size = (max(8, int(round(width / shrink))),
          max(8, int(round(height / shrink))))
  coarse = _resized(gray, size, Image.Resampling.BOX)
  # Strokes are too few cells to move the threshold, and reach no edge.
  light = np.log(np.maximum(coarse, 1.0 / 255))
  threshold = _otsu(light)
  dark = light <= threshold
  if not dark.any() or dark.all():
    return None
  if light[~dark].mean() - light[dark].mean() < np.log(DESK_CONTRAST):
    return None
  desk = _touching_border(dark)
  # A desk runs along a side of the picture, where a stroke that runs off
  # it touches the edge over its width alone.
  along = np.concatenate([desk[0], desk[-1], desk[:, 0], desk[:, -1]]).mean()
  if (along < MIN_DESK_BORDER or desk.mean() < MIN_DESK_SHARE or
      desk.mean() > 1 - MIN_PAGE_SHARE):
    return None
  # Measured without the strokes, whose edges are sharp wherever they are.
  closed = np.log(np.maximum(windowed.reduce(windowed.reduce(
      coarse, 9, np.max), 9, np.min), 1.0 / 255))
  if _edge_sharpness(closed, _touching_border(closed <= threshold)) < (
      MIN_SHARPNESS):
    return None  # The soft edge of a shadow, not of a sheet.
  # The sheet: all that the desk does not reach, strokes on it included.
  page = windowed.reduce((~desk).astype(np.float32), 2 * EDGE_CELLS + 1,
                       np.min) > 0
  if page.mean() < MIN_PAGE_SHARE:
    return None
  # A sheet is solid and light: light strokes on a dark canvas are not one,
  # with or without the dark inside of a 0 or an 8 they close.
  core = windowed.reduce(page.astype(np.float32), 7, np.min) > 0
  if core.sum() < 0.5 * page.sum():
    return None
  if np.median(light[page]) - np.median(light[desk]) < np.log(DESK_CONTRAST):
    return None
  return page, size


def sheet_angle(mask):
  """The turn of the sheet's edges, in degrees (-45 to 45), from the
  direction across the edge of the blurred mask, wherever it is steep."""
  blurred = np.asarray(Image.fromarray(np.uint8(mask) * 255).filter(
      ImageFilter.GaussianBlur(2)), np.float32) / 255
  across_rows, across_cols = np.gradient(blurred)
  steepness = np.hypot(across_rows, across_cols)
  steep = steepness > 0.5 * steepness.max()
  if not steep.any():
    return 0.0
  degrees = np.degrees(np.arctan2(across_rows[steep], across_cols[steep]))
  return float(np.median((degrees + 45) % 90 - 45))


def _inner_box(inside, least=0.97):
  """(top, bottom, left, right) of a box that inside fills, nearly: the
  box around it, its sides moved in while one is under `least` inside."""
  rows = np.flatnonzero(inside.any(axis=1))
  cols = np.flatnonzero(inside.any(axis=0))
  top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
  while bottom - top > 2 and right - left > 2:
    sides = {'top': inside[top, left:right].mean(),
             'bottom': inside[bottom - 1, left:right].mean(),
             'left': inside[top:bottom, left].mean(),
             'right': inside[top:bottom, right - 1].mean()}
    side = min(sides, key=sides.get)
    if sides[side] >= least:
      break
    if side == 'top':
      top += 1
    elif side == 'bottom':
      bottom -= 1
    elif side == 'left':
      left += 1
    else:
      right -= 1
  return top, bottom, left, right


def find_page(gray):
  """Returns the sheet that gray shows, turned straight and cut out of the
  desk around it (what little desk is left in the cut, made paper).

  A picture whose sheet fills it (or that shows no paper at all) is
  returned as it is.
  """
  found = page_mask(gray)
  if found is None:
    return gray
  mask, size = found
  coarse = _resized(gray, size, Image.Resampling.BOX)
  window = 2 * int(LEVEL_WINDOW * min(size) / 2) + 1
  closed = windowed.reduce(windowed.reduce(coarse, window, np.max), window,
                           np.min)
  paper = _fill_outward(closed, mask)
  height, width = gray.shape
  inside = _resized(mask.astype(np.float32), (width, height),
                    Image.Resampling.BILINEAR)
  around = _resized(paper, (width, height), Image.Resampling.BILINEAR)
  # The paper's level divided out, strokes too narrow for the closing to
  # keep: a shadow across the sheet, which its cut edge makes sharper than
  # digit_images' background can follow, is gone with it.
  level = float(np.median(paper[mask]))
  page = np.where(inside > 0.5, gray, around) / np.maximum(
      around, 1.0 / 255) * level
  angle = sheet_angle(mask)
  if abs(angle) >= 1:
    page = _rotated(page, angle, fill=level)
    inside = _rotated(inside, angle)
  top, bottom, left, right = _inner_box(inside > 0.5)
  return page[top:bottom, left:right]


def _rotated(array, degrees, resample=Image.Resampling.BILINEAR, fill=0.0):
  """array turned by degrees (counter-clockwise), grown to hold it, fill
  around."""
  if not degrees:
    return array
  return np.asarray(Image.fromarray(array.astype(np.float32), mode='F')
                    .rotate(degrees, resample, expand=True, fillcolor=fill),
                    np.float32)


def _line_score(lines, degrees):
  turned = _rotated(lines, degrees, Image.Resampling.NEAREST)
  return max(float(np.square(turned.sum(axis=1)).sum()),
             float(np.square(turned.sum(axis=0)).sum()))


def rulings_angle(lines):
  """The turn, in degrees, that makes the page's rulings level: the one at
  which they gather in the fewest rows or columns."""
  shrink = max(1.0, max(lines.shape) / 256.0)
  small = _resized(lines, (max(1, int(lines.shape[1] / shrink)),
                           max(1, int(lines.shape[0] / shrink))),
                   Image.Resampling.BOX)
  coarse = max(np.arange(-MAX_TURN, MAX_TURN + 0.5, 1.0),
               key=lambda a: _line_score(small, a))
  return max(np.arange(coarse - 0.75, coarse + 0.8, 0.25),
             key=lambda a: _line_score(small, a))


def _bands(flags):
  """(start, end) of each run of True in a 1-D bool array."""
  edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int),
                                                 [0]])))
  return list(zip(edges[::2], edges[1::2]))


def _bridge(ink, bands, noise):
  """Takes each band of rows out where it is the ruling alone.

  A pixel of a band is the ruling where it stands no further above the
  ruling's own level along its row (the row's median: most of a row is the
  line) than the grain does: it takes the lesser of the rows just above
  and below the band, paper where the line crossed paper, the stroke where
  a stroke crossed it. A pen's darker stroke that runs along a ruling (the
  foot of a 2, written on the line) stands out above it and is kept.
  """
  ink = ink.copy()
  last = ink.shape[0] - 1
  for start, end in bands:
    bridge = np.minimum(ink[max(start - 2, 0)], ink[min(end + 1, last)])
    for row in range(start, end):
      on_page = ink[row] > 0  # Outside the turned page, ink is 0.
      if not on_page.any():
        continue
      line = float(np.median(ink[row][on_page]))
      grain = 1.4826 * float(np.median(np.abs(ink[row][on_page] - line)))
      pen = ink[row] > line + max(PEN_OVER_RULING, 4 * grain, 4 * noise)
      ink[row] = np.where(pen, ink[row], bridge)
  return ink


def _rulings(bands, height):
  """The bands that are a page's rulings: thin, at least MIN_RULINGS of
  them, most a like distance apart; none if they are not (the horizontal
  strokes of a digit that fills the picture)."""
  thin = [(start, end) for start, end in bands
          if end - start <= max(6, 0.03 * height)]
  if len(thin) < MIN_RULINGS:
    return []
  gaps = np.diff([(start + end) / 2.0 for start, end in thin])
  usual = np.median(gaps)
  if np.mean(np.abs(gaps - usual) <= 0.2 * usual) < 0.7:
    return []
  # Printed lines are thin beside the space between them; a digit's bars
  # are as thick as a third of it.
  if np.median([end - start for start, end in thin]) > 0.3 * usual:
    return []
  return thin


def _ruled_rows(ink, threshold, share):
  """The rows of ink that are rulings, each widened by a row each side."""
  inked = ink > threshold
  covered = inked.sum(axis=1) / np.maximum(
      (ink != 0).sum(axis=1), 1)  # Of the page, not the turn's corners.
  rows = covered > share
  return windowed.reduce(rows[:, None].astype(np.float32), 3, np.max)[:, 0] > 0


def remove_rulings(ink, noise):
  """Takes a ruled or squared page's printed lines out of its ink.

  The lines are found as rows (and columns) of the ink where more than
  RULING_SHARE (COLUMN_SHARE) of the page is ink, once the page is turned so
  that they are level; at least MIN_RULINGS of them make a ruled page. Each
  line is bridged by the ink on either side of it, so that a stroke that
  crosses it stays whole.

  Args:
    ink: Light ink on 0, float32, as digit_images.as_ink returns it.
    noise: The standard deviation of its background.

  Returns:
    The ink without its rulings, turned to have them level; ink as it is if
    it shows none.
  """
  threshold = max(0.04, 4 * noise)
  lines = (ink > threshold).astype(np.float32)
  angle = rulings_angle(lines)
  turned = _rotated(ink + 1e-6, angle)  # 0 only outside the turned page.
  bands = _rulings(_bands(_ruled_rows(turned, threshold, RULING_SHARE)),
                   turned.shape[0])
  if not bands:
    return ink  # No ruled page: a long stroke may run as far as a line.
  turned = _bridge(turned, bands, noise)
  # Squared paper's columns, or a ruled page's margin line.
  cols = _ruled_rows(turned.T, threshold, COLUMN_SHARE)
  if cols.any():
    turned = _bridge(turned.T, _bands(cols), noise).T
  return np.maximum(turned - 1e-6, 0.0)
