"""Finds the sheet of paper in a photo, and takes a notebook's rulings off it.

A digit written on paper is most often photographed with the sheet lying on
a desk, and often on a page of a ruled or squared notebook. The desk around
the sheet is darker than the paper, or of another colour, and far larger
than a stroke, and the rulings are long straight lines across the page:
neither is the digit, and both would be taken for ink. find_page() cuts a
picture to its sheet, the desk made paper; remove_rulings() takes the
printed lines out of the ink, keeping the strokes that cross them whole.

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
# Paper is at least this many times as bright as the desk around it (a pale
# grey table under white paper is 1.1 times darker).
DESK_CONTRAST = 1.08
# ...or is of another hue by this much (in log units: 0.15, 16%).
MIN_TINT = 0.15
# A desk less dark than this may be paper in a shade.
CLEAR_DESK_CONTRAST = 1.35
# A desk shows when it covers at least this share of the picture...
MIN_DESK_SHARE = 0.02
# ...and this share of the picture's edge, or of one of its sides.
MIN_DESK_BORDER = 0.6
MIN_DESK_SIDE = 0.9
# ...and leaves a sheet of at least this share.
MIN_PAGE_SHARE = 0.25
# Where desk and sheet meet, this share of the step between their levels
# is crossed within a few cells: a shadow's edge is softer.
MIN_SHARPNESS = 0.6
# The paper's level is taken with a window this share of the grid's shorter
# side: wider than the strokes of a large, thick digit.
LEVEL_WINDOW = 0.12
# A row or column along the cut sheet's edge this many times darker than
# the paper is a strip of desk.
STRIP_CONTRAST = 1.15
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


def _grid_size(shape):
  """(width, height) of the grid the page is looked for on."""
  height, width = shape
  shrink = max(1.0, max(height, width) / float(PAGE_GRID))
  return (max(8, int(round(width / shrink))),
          max(8, int(round(height / shrink))))


def _closed(levels):
  """levels without what is narrower than 9 cells and lower than around it:
  the strokes, whose edges are sharp wherever they are."""
  return windowed.reduce(windowed.reduce(levels, 9, np.max), 9, np.min)


def _sheet_and_desk(levels, contrast):
  """The sheet and the desk in levels, where paper is higher than the desk
  by contrast or more: (page, desk) bool grids, or None.

  The two levels split as Otsu's method splits a histogram, the strokes
  closed away first (a dark digit on a pale desk's sheet would split off
  from both); the desk is the lower that reaches the picture's edge, the
  sheet all that the desk does not reach, strokes on it included, without
  its outer EDGE_CELLS.
  """
  closed = _closed(levels)
  threshold = _otsu(closed)
  low = closed <= threshold
  if not low.any() or low.all():
    return None
  if closed[~low].mean() - closed[low].mean() < contrast:
    return None
  low = levels <= threshold
  desk = _touching_border(low)
  # A desk runs along a side of the picture, or most of its edge, where a
  # stroke that runs off it touches the edge over its width alone.
  sides = (desk[0].mean(), desk[-1].mean(), desk[:, 0].mean(),
           desk[:, -1].mean())
  along = np.concatenate([desk[0], desk[-1], desk[:, 0], desk[:, -1]]).mean()
  if ((along < MIN_DESK_BORDER and max(sides) < MIN_DESK_SIDE) or
      desk.mean() < MIN_DESK_SHARE or desk.mean() > 1 - MIN_PAGE_SHARE):
    return None
  if _edge_sharpness(closed, _touching_border(closed <= threshold)) < (
      MIN_SHARPNESS):
    return None  # The soft edge of a shadow, not of a sheet.
  page = windowed.reduce((~desk).astype(np.float32), 2 * EDGE_CELLS + 1,
                         np.min) > 0
  if page.mean() < MIN_PAGE_SHARE:
    return None
  # A sheet is solid and light: light strokes on a dark canvas are not one,
  # with or without the dark inside of a 0 or an 8 they close.
  core = windowed.reduce(page.astype(np.float32), 7, np.min) > 0
  if core.sum() < 0.5 * page.sum():
    return None
  if np.median(levels[page]) - np.median(levels[desk]) < contrast:
    return None
  return page, desk


def _tint(colour, size):
  """How far each cell's hue is from the paper's, in log units: a shadow
  dims all three channels alike and leaves it 0. The paper's hue is the
  most neutral cells' (paper is white, or nearly, in any light a person
  reads by), not the lightest: a light desk may be lighter than a sheet
  in a shadow."""
  channels = np.stack([_resized(colour[..., channel], size,
                                Image.Resampling.BOX) for channel in range(3)],
                      axis=2)
  logs = np.log(np.maximum(channels, 0.02))
  hue = logs - logs.mean(axis=2, keepdims=True)
  saturation = np.sqrt(np.square(hue).sum(axis=2))
  paper = np.median(hue[saturation <= np.percentile(saturation, 30)], axis=0)
  return np.sqrt(np.square(hue - paper).sum(axis=2))


def page_mask(gray, colour=None):
  """Where the sheet of paper is, on a grid of cells: None if no desk shows.

  The desk is what is darker than the paper by DESK_CONTRAST or more, or,
  with colour, of another hue by MIN_TINT or more, along a side of the
  picture or most of its edge, meeting the sheet in a sharp edge.

  Args:
    gray: The picture, gray [h, w] in [0, 1].
    colour: The same picture, RGB [h, w, 3] in [0, 1], or None.

  Returns:
    (mask, size): a bool array of the grid, and the grid's (width, height);
    or None, when no desk shows (the sheet fills the picture).
  """
  size = _grid_size(gray.shape)
  light = np.log(np.maximum(_resized(gray, size, Image.Resampling.BOX),
                            1.0 / 255))
  found = _sheet_and_desk(light, np.log(DESK_CONTRAST))
  if colour is None:
    return None if found is None else (found[0], size)
  tint = _tint(colour, size)
  coloured = _sheet_and_desk(-tint, MIN_TINT)  # A desk of another colour.
  if found is None or (coloured is not None and np.median(
      tint[found[0]]) > np.median(tint[found[1]]) + MIN_TINT):
    # No darker desk; or what is lighter is a coloured desk, and the sheet
    # is in a shadow.
    return None if coloured is None else (coloured[0], size)
  page, desk = found
  if coloured is None:
    return page, size
  # A desk both darker and coloured: in part lit beyond the sheet's shade.
  both = page & coloured[0]
  return (both if both.mean() >= MIN_PAGE_SHARE else page), size


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


def desk_in_doubt(gray):
  """Whether the desk that gray shows might be paper in a shade: one along
  one side only (as the sharp edge of a shadow across a page is), or less
  than CLEAR_DESK_CONTRAST times darker than the sheet (as the far side of
  a page lit from one side is). What is cut away as such a desk may hold
  the digit."""
  size = _grid_size(gray.shape)
  light = np.log(np.maximum(_resized(gray, size, Image.Resampling.BOX),
                            1.0 / 255))
  found = _sheet_and_desk(light, np.log(DESK_CONTRAST))
  if found is None:
    return False
  page, desk = found
  along = np.concatenate([desk[0], desk[-1], desk[:, 0], desk[:, -1]])
  return bool(along.mean() < MIN_DESK_BORDER or
              np.median(light[page]) - np.median(light[desk]) <
              np.log(CLEAR_DESK_CONTRAST))


def find_page(gray, colour=None):
  """Returns the sheet that gray shows, turned straight and cut out of the
  desk around it (what little desk is left in the cut, made paper); colour,
  the same picture in RGB or None, finds a desk of another colour.

  A picture whose sheet fills it (or that shows no paper at all) is
  returned as it is.
  """
  found = page_mask(gray, colour)
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
  return _without_dark_edges(page[top:bottom, left:right], level)


def _without_dark_edges(page, level):
  """page without the rows and columns along its edges that are darker than
  paper (STRIP_CONTRAST times, at the median): a strip of desk thinner than
  a cell of the grid, which the mask kept. At most a twentieth of the page
  goes from each side."""
  limit = level / STRIP_CONTRAST
  most = max(1, min(page.shape) // 20)
  top, left, bottom, right = 0, 0, page.shape[0], page.shape[1]
  while top < most and np.median(page[top, left:right]) < limit:
    top += 1
  while page.shape[0] - bottom < most and np.median(
      page[bottom - 1, left:right]) < limit:
    bottom -= 1
  while left < most and np.median(page[top:bottom, left]) < limit:
    left += 1
  while page.shape[1] - right < most and np.median(
      page[top:bottom, right - 1]) < limit:
    right -= 1
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
  which they gather in the fewest rows or columns. Whole degrees are tried
  on a picture 256 pixels wide, quarters of one at full size (a quarter
  degree moves a line by a pixel only every 230); of turns that gather
  them alike, the least."""
  shrink = max(1.0, max(lines.shape) / 256.0)
  small = _resized(lines, (max(1, int(lines.shape[1] / shrink)),
                           max(1, int(lines.shape[0] / shrink))),
                   Image.Resampling.BOX)
  coarse = _best_turn(small, np.arange(-MAX_TURN, MAX_TURN + 0.5, 1.0))
  return _best_turn(lines, coarse + np.arange(-0.75, 0.8, 0.25))


def _best_turn(lines, turns):
  by_size = sorted(turns, key=abs)  # Ties go to the least turn.
  return float(max(by_size, key=lambda a: _line_score(lines, a)))


def _bands(flags):
  """(start, end) of each run of True in a 1-D bool array."""
  edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int),
                                                 [0]])))
  return list(zip(edges[::2], edges[1::2]))


def _bridge(ink, bands, noise):
  """Takes each band of rows out where it is the ruling alone.

  A pixel of a band is the ruling where it stands no further above the
  ruling's own level than the grain does: it takes the lesser of the rows
  just above and below the band, paper where the line crossed paper, the
  stroke where a stroke crossed it. The ruling's level is the median, along
  the band, of its darkest row at each column (a line a little off level
  drifts from row to row). A pen's darker stroke that runs along a ruling
  (the foot of a 2, written on the line) stands out above it and is kept.
  """
  ink = ink.copy()
  last = ink.shape[0] - 1
  for start, end in bands:
    bridge = np.minimum(ink[max(start - 2, 0)], ink[min(end + 1, last)])
    peaks = ink[start:end].max(axis=0)
    on_page = ink[start:end].min(axis=0) != 0  # Outside the page, 0.
    if not on_page.any():
      continue
    line = float(np.median(peaks[on_page]))
    grain = 1.4826 * float(np.median(np.abs(peaks[on_page] - line)))
    pen = ink[start:end] > line + max(PEN_OVER_RULING, 4 * grain, 4 * noise)
    ink[start:end] = np.where(pen, ink[start:end], bridge)
  return ink


def _rulings(bands, height):
  """The bands that are a page's rulings: thin, at least MIN_RULINGS of
  them, most a like distance apart; none if they are not (the horizontal
  strokes of a digit that fills the picture)."""
  thin = [(start, end) for start, end in bands
          if end - start <= max(6, 0.03 * height)]
  # Most bands of a ruled page are its lines; where most are thick, they
  # are a digit's strokes, or the grain of a picture read too finely.
  if len(thin) < max(MIN_RULINGS, 2 * len(bands) / 3.0):
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
  """The rows of ink that are rulings.

  A row is one where more than share of the page (not the turn's corners)
  is inked, a pixel counting as inked where it or one above or below it is
  (a thin line a little off level steps from row to row), and where half
  as much is inked in the row itself.
  """
  alone = ink > threshold
  inked = alone.copy()
  inked[1:] |= alone[:-1]
  inked[:-1] |= alone[1:]
  page = np.maximum((ink != 0).sum(axis=1), 1)
  return ((inked.sum(axis=1) / page > share) &
          (alone.sum(axis=1) / page > share / 2))


def _widened(bands, length):
  """Each band of rows with a row more at each end: a line's faint edges."""
  return [(max(start - 1, 0), min(end + 1, length)) for start, end in bands]


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
  turned = _bridge(turned, _widened(bands, turned.shape[0]), noise)
  # Squared paper's columns, or a ruled page's margin line.
  cols = _bands(_ruled_rows(turned.T, threshold, COLUMN_SHARE))
  if cols:
    turned = _bridge(turned.T, _widened(cols, turned.shape[1]), noise).T
  return turned - 1e-6  # The grain below 0 kept, for its level to be known.
