"""Draws the pictures in pictures/, which the README's classify command reads.

A photographed sheet and a drawing app's canvas, drawn by drawn_digits.py
from a fixed seed, so that anyone can make them again and see that no MNIST
digit is behind them:

  python tests/sample_pictures.py pictures
"""

import os
import sys

import numpy as np

import drawn_digits

# name: (digit, size, style), drawn in this order from one generator.
PICTURES = {
    'seven-photo.jpg': (7, (480, 360), 'paper'),
    'four-drawing.png': (4, (280, 280), 'app_light'),
    'two-photo.jpg': (2, (400, 400), 'paper'),
}
SEED = 7


def draw_pictures(directory):
  """Writes PICTURES into directory (made if missing)."""
  os.makedirs(directory, exist_ok=True)
  rng = np.random.default_rng(SEED)
  for name, (digit, size, style) in PICTURES.items():
    picture = drawn_digits.draw_digit(digit, rng, size=size, style=style)
    if name.endswith('.jpg'):
      picture = picture.convert('RGB')
    picture.save(os.path.join(directory, name))


if __name__ == '__main__':
  draw_pictures(sys.argv[1] if len(sys.argv) > 1 else 'pictures')
