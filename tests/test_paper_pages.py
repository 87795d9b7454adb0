"""Tests of tutorial_support.paper_pages: the sheet found on a desk, and a
notebook's rulings taken out of the ink."""

import numpy as np
from PIL import Image
from PIL import ImageFilter

from tutorial_support import paper_pages

PAPER, DESK, INK = 0.9, 0.3, 0.15


def sheet_on_desk(turn=0.0, size=(600, 800), sheet=(360, 480), at=(90, 120),
                  stroke=20):
  """A light sheet with a dark vertical stroke (stroke wide), turned by turn
  degrees, on a darker desk: gray [h, w]."""
  page = np.full(sheet, PAPER, np.float32)
  page[100:260, 230:230 + stroke] = INK
  layer = Image.fromarray(page, 'F').rotate(turn, expand=True, fillcolor=-1)
  picture = np.full(size, DESK, np.float32)
  layer = np.asarray(layer)
  top, left = at
  region = picture[top:top + layer.shape[0], left:left + layer.shape[1]]
  picture[top:top + layer.shape[0], left:left + layer.shape[1]] = np.where(
      layer >= 0, layer, region)
  return picture


def test_the_desk_around_a_sheet_is_cut_away():
  page = paper_pages.find_page(sheet_on_desk())
  assert page.shape[0] < 380 and page.shape[1] < 500
  assert page.shape[0] > 330 and page.shape[1] > 450
  # What is left is paper and the stroke: no desk.
  assert np.mean(page < (PAPER + DESK) / 2) < 0.03
  assert page.min() < 0.3  # The stroke is kept.


def test_a_pale_grey_desk_is_a_desk_too():
  picture = sheet_on_desk()
  picture[picture == DESK] = PAPER / 1.12
  noisy = picture + np.random.default_rng(4).normal(0, 0.01, picture.shape)
  page = paper_pages.find_page(noisy.astype(np.float32))
  assert 330 < page.shape[0] < 380 and 450 < page.shape[1] < 500


def test_a_thick_stroke_is_not_taken_for_the_papers_shade():
  # 70 pixels wide: a large digit's stroke, wider than a shadow's edge is.
  page = paper_pages.find_page(sheet_on_desk(stroke=70))
  assert (page < 0.3).sum() > 0.9 * 160 * 70


def test_a_turned_sheet_is_found_and_turned_straight():
  turned = sheet_on_desk(turn=12.0, at=(40, 90))
  found = paper_pages.page_mask(turned)
  assert found is not None
  assert abs(paper_pages.sheet_angle(found[0]) + 12.0) < 1.5
  page = paper_pages.find_page(turned)
  dark = page < (PAPER + INK) / 2
  columns = np.flatnonzero(dark.any(axis=0))
  # The stroke stands upright again: a column's width, not a slant's.
  assert columns[-1] - columns[0] < 35
  assert np.mean(page < (PAPER + DESK) / 2) < 0.05


def test_pictures_without_a_desk_are_left_as_they_are():
  rng = np.random.default_rng(3)
  plain = np.full((300, 400), PAPER, np.float32)
  plain[50:250, 180:200] = INK  # A stroke from near edge to near edge.
  plain[0:120, 0:30] = INK  # A thick stroke that runs off the picture.
  soft = plain * (1 - 0.4 / (1 + np.exp(-(np.arange(400) - 200) / 30.0)))
  mnist = np.zeros((28, 28), np.float32)
  mnist[4:24, 12:16] = 1.0  # Light ink on black: the ink is no sheet.
  noisy = plain + rng.normal(0, 0.02, plain.shape).astype(np.float32)
  for gray in plain, soft, mnist, noisy:
    assert paper_pages.find_page(gray) is gray


def test_a_desk_along_one_side_only_is_cut_away():
  # The sheet runs off the picture at the top, the bottom and the left.
  picture = np.full((400, 600), DESK, np.float32)
  picture[:, :460] = PAPER
  picture[100:260, 230:250] = INK
  page = paper_pages.find_page(picture)
  assert 420 < page.shape[1] < 470 and page.shape[0] > 380
  assert np.mean(page < (PAPER + DESK) / 2) < 0.03


def test_a_strip_of_desk_thinner_than_a_cell_is_cut_away_too():
  picture = np.full((400, 900), DESK, np.float32)
  picture[:397, :760] = PAPER  # The desk at the right, and a thin strip.
  picture[100:260, 230:250] = INK
  blurred = np.asarray(Image.fromarray(np.uint8(255 * picture)).filter(
      ImageFilter.GaussianBlur(1.5)), np.float32) / 255
  page = paper_pages.find_page(blurred)
  assert page.shape[0] > 370
  for edge in page[0], page[-1], page[:, 0], page[:, -1]:
    assert np.median(edge) > 0.85 * PAPER


def coloured(gray, hue):
  """gray as RGB: where it is darker than the paper, in the colour hue (its
  own gray kept); elsewhere neutral."""
  hue = np.asarray(hue, np.float32) / np.dot(hue, (0.299, 0.587, 0.114))
  neutral = np.repeat(gray[..., None], 3, axis=2)
  return np.where((gray >= PAPER - 0.01)[..., None], neutral,
                  np.clip(gray[..., None] * hue, 0, 1))


def test_a_desk_of_another_colour_is_found_by_its_colour():
  # A green mat as light as the paper's gray: gray alone cannot tell them.
  picture = sheet_on_desk()
  picture[picture == DESK] = 0.88
  colour = coloured(picture, (0.3, 0.6, 0.3))
  colour[100:220, 230:250] = (0.1, 0.1, 0.4)  # A blue stroke on the sheet.
  assert paper_pages.page_mask(picture) is None
  found = paper_pages.page_mask(picture, colour)
  assert found is not None
  page = paper_pages.find_page(picture, colour)
  assert 330 < page.shape[0] < 380 and 450 < page.shape[1] < 500


def test_a_desk_is_in_doubt_along_one_side_or_when_it_is_pale():
  plain = np.full((300, 400), PAPER, np.float32)
  plain[50:250, 300:310] = INK
  # A sharp edge along one side: a desk's, or a shadow's.
  one_side = plain * np.where(np.arange(400) < 200, 1.0, 0.6)[None, :]
  assert paper_pages.page_mask(one_side) is not None
  assert paper_pages.desk_in_doubt(one_side)
  assert not paper_pages.desk_in_doubt(sheet_on_desk())
  assert not paper_pages.desk_in_doubt(plain)
  pale = sheet_on_desk()
  pale[pale == DESK] = PAPER / 1.2  # As the far side of a page in a shade.
  assert paper_pages.page_mask(pale) is not None
  assert paper_pages.desk_in_doubt(pale)


def ruled_ink(turn=0.0, spacing=40, size=(400, 500)):
  """Ink (light on 0) of a ruled page with a vertical stroke across its
  lines, and a margin line."""
  ink = np.zeros(size, np.float32)
  for row in range(15, size[0], spacing):
    ink[row:row + 2] = 0.3
  ink[:, 60:62] = 0.35  # The margin line.
  ink[100:300, 240:250] = 0.9  # A stroke across five rulings.
  if turn:
    ink = np.asarray(Image.fromarray(ink, 'F').rotate(turn, expand=True))
  return ink


def test_rulings_are_taken_out_and_a_stroke_across_them_stays_whole():
  clean = paper_pages.remove_rulings(ruled_ink(), noise=0.005)
  assert clean.shape == (400, 500)
  outside = clean.copy()
  outside[90:305, 235:255] = 0
  assert outside.max() < 0.05  # No ruling, no margin line left.
  assert (clean[100:300, 240:250] > 0.8).all()  # The stroke, unbroken.


def test_a_stroke_written_along_a_ruling_is_kept():
  ink = ruled_ink()
  ink[135:137, 150:230] = 0.9  # The foot of a 2, on the line at row 135.
  ink[134, 150:230] = 0.5  # The pen's antialiased edge above it.
  clean = paper_pages.remove_rulings(ink, noise=0.005)
  assert (clean[135:137, 150:230] > 0.8).all()
  assert clean[135:137, 300:500].max() < 0.05  # The line beside it is gone.


def test_rulings_of_a_turned_page_are_found_turned():
  ink = ruled_ink(turn=8.0)
  clean = paper_pages.remove_rulings(ink, noise=0.005)
  stroke = clean > 0.5
  assert stroke.sum() > 0.8 * 200 * 10  # Kept, and turned upright:
  columns = np.flatnonzero(stroke.any(axis=0))
  assert columns[-1] - columns[0] < 16
  # Of the rulings' ink, what the turn's blur leaves at their edges.
  assert clean[~stroke].sum() < 0.1 * ink[ink < 0.5].sum()


def test_a_phone_photos_dense_faint_rulings_are_found_a_little_off_level():
  # Lines every 30 pixels of a 2,400-pixel photo, read at 1,024: one pixel
  # wide, 13 apart, faint; and turned by a tenth of a degree, so that each
  # steps from row to row along the page.
  ink = np.zeros((1000, 800), np.float32)
  for row in range(5, 1000, 13):
    ink[row] = 0.15
  ink[300:700, 400:410] = 0.9
  ink = np.asarray(Image.fromarray(ink, 'F').rotate(0.1, Image.BILINEAR))
  clean = paper_pages.remove_rulings(ink, noise=0.005)
  outside = clean.copy()
  outside[290:710, 390:420] = 0
  assert np.percentile(outside, 99.9) < 0.04
  assert (clean[310:690, 402:408] > 0.8).all()


def test_a_digits_own_long_strokes_are_not_rulings():
  ink = np.zeros((28, 28), np.float32)
  for row in (4, 13, 22):  # An '8' or a '3' filling the picture.
    ink[row:row + 3, 3:25] = 1.0
  ink[4:25, 3:6] = 1.0
  assert paper_pages.remove_rulings(ink, noise=0.0) is ink
  # Where most rows across the picture are thick, the thin ones among them
  # are no ruled page, however evenly spaced: a small, grainy picture whose
  # grain's level was not known, read as such rows in a digit's bars.
  bars = np.zeros((96, 103), np.float32)
  bars[18:32, 5:98] = bars[39:46, 5:98] = bars[64:71, 5:98] = 0.9
  for row in (34, 47, 61, 74):
    bars[row, 5:98] = 0.5
  assert paper_pages.remove_rulings(bars, noise=0.0) is bars
