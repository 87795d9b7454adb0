"""Draws the README's picture of classify.py's preprocessing, stage by stage.

  python benchmarks/preprocessing_figure.py docs/preprocessing.png

The picture is a digit drawn as tests/drawn_digits.py draws them (dark ink
on photographed paper, off-centre), then each stage of
tutorial_support/digit_images.preprocess(), labelled, at one height.
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


def figure(stages):
  panels = [(name, panel(getattr(stages, name))) for name in stages._fields]
  width = sum(image.width for _, image in panels) + GAP * (len(panels) + 1)
  canvas = Image.new('L', (width, HEIGHT + LABEL + 2 * GAP), 255)
  draw = ImageDraw.Draw(canvas)
  left = GAP
  for name, image in panels:
    canvas.paste(image, (left, GAP + LABEL))
    draw.text((left, GAP // 2), name, fill=0)
    left += image.width + GAP
  return canvas


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('output', metavar='OUTPUT.png',
                      help='The PNG file to write, for example '
                      'docs/preprocessing.png.')
  output = parser.parse_args(argv).output
  rng = np.random.default_rng(4)
  picture = drawn_digits.draw_digit(4, rng, size=(480, 360), style='paper')
  stages = digit_images.preprocess(
      np.asarray(picture.convert('L'), np.float32) / 255.0)
  os.makedirs(os.path.dirname(output) or '.', exist_ok=True)
  figure(stages).save(output)
  print('wrote %s' % output)
  return 0


if __name__ == '__main__':
  sys.exit(main())
