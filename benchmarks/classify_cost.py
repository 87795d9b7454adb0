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
Each figure is the median of --repeats runs (the baseline's, of twice as
many).

TensorFlow's start-up varies by a second from one run to the next, more than
most pictures add; so each picture is also read alone, as classify.py reads
it (tutorial_support.digit_images.read_digit, in a process without
TensorFlow), and that process's time and peak memory are given above those
of the same process on the 28 x 28 PNG: what the picture itself costs.

  python fully_connected_feed.py
  python benchmarks/classify_cost.py --log_dir logs/fully_connected_feed
"""

import argparse
import json
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


def measured(command):
  """Runs command: (seconds, CPU seconds, peak MB, the last line printed)."""
  start = time.time()
  child = subprocess.Popen(command, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  _, _, usage = os.wait4(child.pid, 0)
  seconds = time.time() - start
  out, err = child.stdout.read(), child.stderr.read()
  child.stdout.close()
  child.stderr.close()
  line = (out or err).strip().splitlines()[-1] if (out or err) else ''
  return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
          line)


# Reads a picture as classify.py does, with no TensorFlow in the process.
READ_ALONE = """
import sys
sys.path.insert(0, sys.argv[1])
from tutorial_support import digit_images
try:
  digit_images.read_digit(sys.argv[2])
except digit_images.NotADigitError as e:
  print(e)
"""


def median(values):
  ordered = sorted(values)
  return ordered[len(ordered) // 2]


def cost(path, log_dir, repeats):
  """The medians of the whole run's and of the reading's figures."""
  whole = [measured([sys.executable, CLASSIFY, path, '--log_dir', log_dir])
           for _ in range(repeats)]
  alone = [measured([sys.executable, '-c', READ_ALONE, ROOT, path])
           for _ in range(repeats)]
  line = whole[-1][3].replace(path, 'PICTURE')
  return ([median(run[i] for run in whole) for i in range(3)],
          [median(run[i] for run in alone) for i in range(3)], line)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--log_dir', required=True,
                      help='The log dir of a training run whose latest '
                      'checkpoint classify.py loads.')
  parser.add_argument('--repeats', type=int, default=3,
                      help='Runs of each picture, whose medians are given. '
                      '(default: %(default)s)')
  parser.add_argument('--write_pictures', help=argparse.SUPPRESS)
  flags = parser.parse_args(argv)
  if flags.write_pictures:
    json.dump(write_pictures(flags.write_pictures), sys.stdout)
    return 0
  if flags.repeats < 1:
    parser.error('--repeats must be at least 1')
  with tempfile.TemporaryDirectory() as directory:
    # Drawn in a process of their own. A child's peak memory (ru_maxrss) is
    # never below its parent's at the fork: Linux keeps the higher of the
    # two through exec. Drawn here, a 200-megapixel photo would leave this
    # process at 600 MB, and every figure below that hidden.
    pictures = json.loads(subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--log_dir',
         flags.log_dir, '--write_pictures', directory],
        stdout=subprocess.PIPE, check=True, text=True).stdout)
    print('| picture | file | seconds | CPU seconds | peak MB | more than '
          'the baseline (CPU, memory) | its reading alone, more than the '
          'baseline\'s (seconds, memory) | classify.py said |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    # The baseline at twice the repeats: every row is measured against it.
    base_whole, base_alone, _ = cost(pictures[0][1], flags.log_dir,
                                     2 * flags.repeats)
    for label, path in pictures:
      whole, alone, line = cost(path, flags.log_dir, flags.repeats)
      print('| %s | %s | %.2f | %.2f | %.0f | %+.2f s, %+.0f MB | '
            '%+.2f s, %+.0f MB | %s |' % (
                label, _size(os.path.getsize(path)), whole[0], whole[1],
                whole[2], whole[1] - base_whole[1], whole[2] - base_whole[2],
                alone[0] - base_alone[0], alone[2] - base_alone[2], line))
      sys.stdout.flush()
  return 0


def _size(count):
  return ('%d B' % count if count < 10_000 else '%.0f KB' % (count / 1e3)
          if count < 10_000_000 else '%.0f MB' % (count / 1e6))


if __name__ == '__main__':
  sys.exit(main())
