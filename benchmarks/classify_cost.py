"""Measures what one picture costs classify.py: time and peak memory.

Writes pictures of each format and size a user may give (phone photos of
12 to 81 megapixels as JPEG; large PNG, TIFF and WebP; a 35-byte GIF whose
header claims 9400 x 9400; a 9400 x 9400 PNG of a few hundred KB), runs
`python classify.py PICTURE` on each as a user would, and prints its wall
time and peak resident memory beside those of a run on one 28 x 28 PNG
(TensorFlow's start-up is most of that run), and the line it printed.

  python fully_connected_feed.py
  python benchmarks/classify_cost.py --log_dir logs/fully_connected_feed
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
from PIL import ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSIFY = os.path.join(ROOT, 'classify.py')


def photo(width, height, seed=0):
  """A photo of a digit on paper, with grain: mode L, as a camera's JPEG."""
  rng = np.random.default_rng(seed)
  page = Image.new('L', (width, height), 200)
  side = min(width, height)
  ImageDraw.Draw(page).line(
      [(width // 2 - side // 6, height // 2 - side // 4),
       (width // 2 + side // 6, height // 2 - side // 4),
       (width // 2 - side // 12, height // 2 + side // 4)],
      fill=40, width=max(2, side // 30))
  grain = rng.integers(-12, 13, (height, width), dtype=np.int16)
  noisy = np.clip(np.asarray(page, np.int16) + grain, 0, 255).astype(np.uint8)
  return Image.fromarray(noisy, 'L')


def tiny_gif_bytes(width, height):
  """A GIF of one pixel whose header claims a width x height screen."""
  header = b'GIF89a' + struct.pack('<HHBBB', width, height, 0x80, 0, 0)
  colours = b'\x00\x00\x00\xff\xff\xff'
  frame = b',' + struct.pack('<HHHHB', 0, 0, 1, 1, 0)
  return header + colours + frame + b'\x02\x02\x44\x01\x00;'


def write_pictures(directory):
  """Writes every picture measured; returns [(label, path)]."""
  pictures = []

  def save(label, name, image, **options):
    path = os.path.join(directory, name)
    image.save(path, **options)
    pictures.append((label, path))

  save('28 x 28 PNG (the baseline)', 'small.png', photo(28, 28))
  for width, height in ((4000, 3000), (6000, 4000), (8000, 6000),
                        (10400, 7800)):
    save('JPEG %d x %d (%.0f MP)' % (width, height, width * height / 1e6),
         'photo-%d.jpg' % width, photo(width, height), quality=90)
  save('PNG 5000 x 5000 (25 MP)', 'large.png', photo(5000, 5000))
  save('TIFF 16-bit 5000 x 5000 (25 MP)', 'large16.tif',
       Image.fromarray(np.asarray(photo(5000, 5000), np.uint16) * 257))
  save('TIFF float 5000 x 5000 (25 MP)', 'largef.tif',
       Image.fromarray(np.asarray(photo(5000, 5000), np.float32) / 255))
  save('WebP 5000 x 5000 (25 MP)', 'large.webp', photo(5000, 5000),
       quality=80)
  Image.MAX_IMAGE_PIXELS = None  # To write it; classify.py keeps its limit.
  save('PNG 9400 x 9400 RGBA', 'huge.png',
       Image.new('RGBA', (9400, 9400), (255, 255, 255, 255)))
  gif = os.path.join(directory, 'tiny.gif')
  with open(gif, 'wb') as f:
    f.write(tiny_gif_bytes(9400, 9400))
  pictures.append(('GIF of 35 bytes claiming 9400 x 9400', gif))
  return pictures


def run(path, log_dir):
  """Runs classify.py on path: (seconds, peak MB, the line it printed)."""
  start = time.time()
  child = subprocess.Popen(
      [sys.executable, CLASSIFY, path, '--log_dir', log_dir],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  _, _, usage = os.wait4(child.pid, 0)
  seconds = time.time() - start
  out, err = child.stdout.read(), child.stderr.read()
  child.stdout.close()
  child.stderr.close()
  line = (out or err).strip().splitlines()[-1] if (out or err) else ''
  return seconds, usage.ru_maxrss / 1024.0, line.replace(path, 'PICTURE')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--log_dir', required=True,
                      help='The log dir of a training run whose latest '
                      'checkpoint classify.py loads.')
  flags = parser.parse_args(argv)
  with tempfile.TemporaryDirectory() as directory:
    pictures = write_pictures(directory)
    print('| picture | file | seconds | peak MB | more than the baseline | '
          'classify.py said |')
    print('| --- | --- | --- | --- | --- | --- |')
    baseline = None
    for label, path in pictures:
      seconds, peak, line = run(path, flags.log_dir)
      baseline = baseline or (seconds, peak)
      print('| %s | %s | %.2f | %.0f | %+.2f s, %+.0f MB | %s |' % (
          label, _size(os.path.getsize(path)), seconds, peak,
          seconds - baseline[0], peak - baseline[1], line))
  return 0


def _size(count):
  return ('%d B' % count if count < 10_000 else '%.0f KB' % (count / 1e3)
          if count < 10_000_000 else '%.0f MB' % (count / 1e6))


if __name__ == '__main__':
  sys.exit(main())
