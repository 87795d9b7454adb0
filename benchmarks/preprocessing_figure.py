"""Draws the picture of classify.py's preprocessing, stage by stage.

  python benchmarks/preprocessing_figure.py docs/preprocessing.png

Three digits drawn as tests/drawn_digits.py draws them, a row each: dark
ink on photographed paper, off-centre; a sheet turned on a desk, in a
shadow; a ruled or squared notebook page on a desk (tests/picture_kinds.py
photographs them). Each stage of tutorial_support/digit_images.preprocess()
is labelled, at one height.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
from PIL import Image
from PIL import ImageDraw

import drawn_digits
import picture_kinds
from tutorial_support import digit_images
# pylint: enable=g-import-not-at-top,wrong-import-position

HEIGHT = 168
GAP = 12
LABEL = 18


def panel(array, height=HEIGHT):
  """One stage as an 8-bit image of the given height; small ones by pixels."""
  image = Image.fromarray(np.uint8(np.round(255 * np.clip(array, 0, 1))), 'L')
  width = max(1, round(image.width * height / image.height))
  resample = (Image.Resampling.NEAREST if image.height < height
              else Image.Resampling.LANCZOS)
  return image.resize((width, height), resample)


def figure(rows):
  """The stages of each row's preprocessing, a row each, labelled."""
  rows = [[(name, panel(getattr(stages, name))) for name in stages._fields]
          for stages in rows]
  width = max(sum(image.width for _, image in panels) +
              GAP * (len(panels) + 1) for panels in rows)
  row_height = HEIGHT + LABEL + 2 * GAP
  canvas = Image.new('L', (width, row_height * len(rows)), 255)
  draw = ImageDraw.Draw(canvas)
  for index, panels in enumerate(rows):
    left, top = GAP, index * row_height
    for name, image in panels:
      canvas.paste(image, (left, top + GAP + LABEL))
      draw.text((left, top + GAP // 2), name, fill=0)
      left += image.width + GAP
  return canvas


def gray_of(image):
  return np.asarray(image.convert('L'), np.float32) / 255.0


def photographed(render, digit, rng):
  """A drawn digit photographed as render (a tests/picture_kinds.py kind)."""
  ink = gray_of(drawn_digits.draw_digit(digit, rng, size=(28, 28),
                                        style='app_dark'))
  return gray_of(render(ink, rng)[0])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('output', metavar='OUTPUT.png',
                      help='The PNG file to write, for example '
                      'docs/preprocessing.png.')
  output = parser.parse_args(argv).output
  rng = np.random.default_rng(4)
  pictures = [
      gray_of(drawn_digits.draw_digit(4, rng, size=(480, 360),
                                      style='paper')),
      photographed(picture_kinds.turned_sheet_in_shadow, 7, rng),
      photographed(picture_kinds.notebook_on_desk, 2, rng)]
  os.makedirs(os.path.dirname(output) or '.', exist_ok=True)
  figure([digit_images.preprocess(picture) for picture in pictures]).save(
      output)
  print('wrote %s' % output)
  return 0


if __name__ == '__main__':
  sys.exit(main())
