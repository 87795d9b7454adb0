"""Measures classify.py's accuracy on drawn digits, beside the naive resize.

Draws a set of digits as tests/drawn_digits.py does (ink on paper with tone,
shadow and grain, and drawing apps' flat canvases; off-centre; 60 to 640
pixels; saved as PNG, JPEG, BMP, GIF, TIFF and WebP in turn), then
classifies each file:
  - as classify.py does, from the latest checkpoint in --log_dir and from the
    SavedModel in --saved_model (if given);
  - naively: the picture made gray, resized to 28 x 28 and fed as it is.
It prints each accuracy beside the checkpoint's test Precision @ 1 on MNIST.

  python fully_connected_feed.py --export_dir exports
  python benchmarks/classify_accuracy.py --saved_model exports/1
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from tutorial_support import startup  # pylint: disable=g-import-not-at-top,wrong-import-position

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
from PIL import Image  # pylint: disable=g-import-not-at-top,wrong-import-position

tf = startup.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
import drawn_digits
import input_data
from tutorial_support import classifier
from tutorial_support import digit_images
from tutorial_support import flags as flag_types
# pylint: enable=g-import-not-at-top,wrong-import-position

FORMATS = ('png', 'jpg', 'bmp', 'gif', 'tiff', 'webp')


def write_set(directory, count, seed):
  """Draws count digits into directory; returns [(path, digit)]."""
  written = []
  for index, (digit, image) in enumerate(drawn_digits.draw_set(count, seed)):
    path = os.path.join(directory, '%04d.%s' % (index, FORMATS[index % len(
        FORMATS)]))
    image.save(path)
    written.append((path, digit))
  return written


def naive_input(path):
  with Image.open(path) as image:
    gray = image.convert('L').resize((28, 28), Image.Resampling.BILINEAR)
  return np.asarray(gray, np.float32).reshape(784) / 255.0


def accuracy(model, inputs, digits):
  predictions = model.probabilities(np.stack(inputs)).argmax(axis=1)
  return float(np.mean(predictions == np.array(digits)))


def test_precision(model, data_dir):
  test = input_data.read_data_sets(data_dir).test
  return accuracy(model, list(test.images), list(test.labels))


def main(argv=None):
  parser = flag_types.UsageParser(
      prog='classify_accuracy.py',
      description='classify.py on drawn digits, beside the naive resize.')
  parser.add_argument('--log_dir',
                      default=os.path.join('logs', 'fully_connected_feed'))
  parser.add_argument('--saved_model', default=None)
  parser.add_argument('--count', type=flag_types.int_flag(10, 100000),
                      default=1000)
  parser.add_argument('--seed', type=flag_types.int_flag(0, 2**31 - 1),
                      default=2026)
  parser.add_argument('--input_data_dir',
                      default=input_data.DEFAULT_DATA_DIR)
  flags = parser.parse_args(argv)
  startup.begin(tf)
  with tempfile.TemporaryDirectory() as directory:
    pictures = write_set(directory, flags.count, flags.seed)
    digits = [digit for _, digit in pictures]
    prepared = [digit_images.mnist_input(path) for path, _ in pictures]
    naive = [naive_input(path) for path, _ in pictures]
  sources = [('checkpoint', dict(log_dir=flags.log_dir))]
  if flags.saved_model:
    sources.append(('SavedModel', dict(log_dir=None,
                                       saved_model=flags.saved_model)))
  print('%d drawn digits (seed %d), %s in turn' % (
      flags.count, flags.seed, ', '.join(FORMATS)))
  for name, where in sources:
    with classifier.load(**where) as model:
      print('%-10s %s' % (name, model.source))
      print('  MNIST test Precision @ 1:     %.4f'
            % test_precision(model, flags.input_data_dir))
      print('  drawn digits, preprocessed:   %.4f'
            % accuracy(model, prepared, digits))
      print('  drawn digits, naive resize:   %.4f'
            % accuracy(model, naive, digits))
  return 0


if __name__ == '__main__':
  sys.exit(main())
