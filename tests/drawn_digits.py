"""Draws digits as a hand would, for the tests and for the figure of the
README's "Classify your own digits": no MNIST file and no font is used.

Each digit is a few strokes (lines and arcs) in a unit box, bent by a random
slant, rotation, stretch and wobble, drawn with a pen of random width, then
put on a page: dark ink on paper (with its tone, a shadow and grain) as a
photo or scan has it, or a drawing app's flat light-on-dark or dark-on-light
canvas, off-centre, at any size.
"""

import math

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFilter


def _arc(cx, cy, rx, ry, start, end, points=24):
  """Points of an elliptic arc; angles in degrees, 0 to the right, y down."""
  angles = np.radians(np.linspace(start, end, points))
  return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles)))


# Strokes of each digit in a unit box: x to the right, y down.
STROKES = {
    0: [_arc(0.5, 0.5, 0.3, 0.45, 0, 360, 40)],
    1: [[(0.38, 0.2), (0.55, 0.05), (0.55, 0.95)]],
    2: [_arc(0.5, 0.3, 0.28, 0.25, 200, 380)
        + [(0.72, 0.45), (0.22, 0.95), (0.8, 0.95)]],
    3: [_arc(0.48, 0.28, 0.27, 0.23, 200, 450),
        _arc(0.48, 0.72, 0.3, 0.25, 270, 520)],
    4: [[(0.62, 0.05), (0.18, 0.65), (0.85, 0.65)],
        [(0.64, 0.3), (0.64, 0.97)]],
    5: [[(0.78, 0.06), (0.3, 0.06), (0.26, 0.45)]
        + _arc(0.48, 0.68, 0.3, 0.27, 235, 500)],
    6: [_arc(0.5, 0.68, 0.28, 0.27, 0, 360, 32),
        [(0.22, 0.68), (0.3, 0.3), (0.45, 0.1), (0.65, 0.03)]],
    7: [[(0.2, 0.06), (0.82, 0.06), (0.4, 0.95)]],
    8: [_arc(0.5, 0.27, 0.24, 0.22, 0, 360, 32),
        _arc(0.5, 0.72, 0.3, 0.25, 0, 360, 32)],
    9: [_arc(0.5, 0.32, 0.28, 0.27, 0, 360, 32),
        [(0.78, 0.32), (0.72, 0.7), (0.6, 0.97)]],
}

STYLES = ('paper', 'app_dark', 'app_light')


def _bend(strokes, rng):
  """Slants, rotates, stretches and wobbles the strokes, as hands differ."""
  slant = rng.uniform(-0.25, 0.25)
  angle = math.radians(rng.uniform(-10, 10))
  stretch = rng.uniform(0.8, 1.15)
  cos, sin = math.cos(angle), math.sin(angle)
  bent = []
  for stroke in strokes:
    points = np.array(stroke) - 0.5
    points[:, 0] = (points[:, 0] + slant * points[:, 1]) * stretch
    points = points @ np.array([[cos, sin], [-sin, cos]])
    points += rng.normal(0, 0.012, points.shape)
    bent.append(points + 0.5)
  return bent


def draw_digit(digit, rng, size=None, style=None):
  """Draws digit on a page; returns a Pillow image (mode 'L' or 'RGB').

  Args:
    digit: 0 to 9.
    rng: A numpy Generator, for every random choice.
    size: The page's (width, height); random if None.
    style: One of STYLES; random if None.
  """
  style = style or STYLES[rng.integers(len(STYLES))]
  if size is None:
    side = int(rng.integers(60, 400))
    size = (int(side * rng.uniform(0.8, 1.6)), side)
  width, height = size
  digit_height = min(width, height) * rng.uniform(0.35, 0.75)
  top = rng.uniform(0.05 * height, height - digit_height * 1.05)
  left = rng.uniform(0.05 * width, width - digit_height * 0.9)
  pen = max(1, int(digit_height * rng.uniform(0.02, 0.14)))
  mask = Image.new('L', size, 0)
  draw = ImageDraw.Draw(mask)
  for stroke in _bend(STROKES[digit], rng):
    points = [(left + x * digit_height * 0.85, top + y * digit_height)
              for x, y in stroke]
    draw.line(points, fill=255, width=pen, joint='curve')
  if pen > 3:
    mask = mask.filter(ImageFilter.GaussianBlur(pen / 6))
  return _on_page(np.asarray(mask, np.float32) / 255.0, style, rng)


def _on_page(ink, style, rng):
  height, width = ink.shape
  if style == 'app_dark':
    page = ink * rng.uniform(0.8, 1.0)
    return Image.fromarray(np.uint8(np.round(255 * page)), 'L')
  if style == 'app_light':
    colour = np.array(rng.uniform(0, 0.4, 3))
    page = 1 - ink[..., None] * (1 - colour)
    return Image.fromarray(np.uint8(np.round(255 * page)), 'RGB')
  # Ink on paper, photographed: tone, a shadow across it, grain.
  tone = rng.uniform(0.7, 0.95)
  shadow = np.linspace(0, rng.uniform(0, 0.15), width)[None, :]
  paper = tone - shadow + rng.normal(0, 0.02, (height, width))
  ink_level = rng.uniform(0.05, 0.3)
  page = paper * (1 - ink) + ink_level * ink
  rgb = np.clip(page[..., None] * np.array([1.0, 0.98, 0.93]), 0, 1)
  return Image.fromarray(np.uint8(np.round(255 * rgb)), 'RGB')


def draw_set(count, seed):
  """Returns [(digit, image)] for count digits, 0 to 9 in turn."""
  rng = np.random.default_rng(seed)
  return [(index % 10, draw_digit(index % 10, rng)) for index in range(count)]
