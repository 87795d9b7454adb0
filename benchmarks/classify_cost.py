"""Measures what one picture costs classify.py: time and peak memory.

Writes pictures of each format and size a user may give (phone and camera
photos of 12 to 200 megapixels as JPEG, progressive ones of 35 and 108; large
PNG, TIFF and WebP; a 35-byte GIF whose
header claims 9400 x 9400; a 9400 x 9400 PNG of a few hundred KB), runs
`python classify.py PICTURE` on each as a user would, and prints its wall
time, CPU time and peak resident memory beside those of a run on one 28 x 28
PNG (TensorFlow's start-up is most of that run), and the line it printed.
On a shared machine the CPU time is the steadier figure: a picture is read
on one core, so what it adds in CPU time it adds in wall time on an idle one.

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
from PIL import ImageChops
from PIL import ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSIFY = os.path.join(ROOT, 'classify.py')


def photo(width, height):
  """A photo of a digit on paper, with grain: mode L, as a camera's JPEG."""
  page = Image.new('L', (width, height), 200)
  side = min(width, height)
  ImageDraw.Draw(page).line(
      [(width // 2 - side // 6, height // 2 - side // 4),
       (width // 2 + side // 6, height // 2 - side // 4),
       (width // 2 - side // 12, height // 2 + side // 4)],
      fill=40, width=max(2, side // 30))
  # Pillow's own noise, a byte a pixel: a 200-megapixel photo is made in
  # seconds and 600 MB. Gaussian, 7 levels: a camera's grain at ISO 800.
  grain = Image.effect_noise((width, height), 7)
  return ImageChops.add(page, grain, 1.0, -128)


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
                        (10400, 7800), (12000, 9000), (16320, 12240)):
    save('JPEG %d x %d (%.0f MP)' % (width, height, width * height / 1e6),
         'photo-%d.jpg' % width, photo(width, height), quality=90)
  for width, height in ((7000, 5000), (12000, 9000)):
    save('JPEG %d x %d (%.0f MP), progressive' % (
        width, height, width * height / 1e6), 'progressive-%d.jpg' % width,
         photo(width, height), quality=90, progressive=True)
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
  """Runs classify.py on path: (seconds, CPU seconds, peak MB, the line it
  printed)."""
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
  return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
          line.replace(path, 'PICTURE'))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--log_dir', required=True,
                      help='The log dir of a training run whose latest '
                      'checkpoint classify.py loads.')
  flags = parser.parse_args(argv)
  with tempfile.TemporaryDirectory() as directory:
    pictures = write_pictures(directory)
    print('| picture | file | seconds | CPU seconds | peak MB | more than '
          'the baseline (CPU, memory) | classify.py said |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    baseline = None
    for label, path in pictures:
      seconds, cpu, peak, line = run(path, flags.log_dir)
      baseline = baseline or (cpu, peak)
      print('| %s | %s | %.2f | %.2f | %.0f | %+.2f s, %+.0f MB | %s |' % (
          label, _size(os.path.getsize(path)), seconds, cpu, peak,
          cpu - baseline[0], peak - baseline[1], line))
  return 0


def _size(count):
  return ('%d B' % count if count < 10_000 else '%.0f KB' % (count / 1e3)
          if count < 10_000_000 else '%.0f MB' % (count / 1e6))


if __name__ == '__main__':
  sys.exit(main())
