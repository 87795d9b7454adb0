"""Measures classify.py's accuracy on real handwriting, kind of picture by kind.

Takes --digits of MNIST's own test digits (real handwriting, none of it
seen in training) and renders each in every kind of picture
tests/picture_kinds.py knows (MNIST's own 28 x 28 PNG; ink on paper;
blurred JPEG; blue ink; a transparent canvas; a large light-on-dark
canvas; photos with a shadow and grain; phone-sized JPEGs; 1-bit scans;
16-bit and float files; thumbnails; photos of a sheet on a desk, of ruled
and squared notebook pages, of a sheet turned on a desk in a shadow, and of
all of these at once), then classifies every file as
classify.py does and sets each kind's accuracy beside the reference: the
same model on the same digits fed directly, as MNIST gives them. Also the
digits tests/drawn_digits.py draws (no MNIST in them), through classify.py
and by the naive resize, and printed digits (every DejaVu typeface the
system has, and Pillow's own). With several --log_dir (models trained with
different --seed), each figure is their mean, with the lowest and highest.

  for s in 1 2 3 4 5; do
    python fully_connected_feed.py --seed $s --log_dir logs/seed$s; done
  python benchmarks/classify_accuracy.py --log_dir logs/seed1 ... \\
      --log_dir logs/seed5
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from tutorial_support import startup  # pylint: disable=g-import-not-at-top,wrong-import-position
import input_data  # pylint: disable=g-import-not-at-top,wrong-import-position
from tutorial_support import flags as flag_types  # pylint: disable=g-import-not-at-top,wrong-import-position


def parse_flags(argv=None):
  parser = flag_types.UsageParser(
      prog='classify_accuracy.py',
      description="classify.py on MNIST's test digits as kinds of picture.")
  parser.add_argument('--log_dir', action='append', required=True,
                      help='The log dir of a training run to measure (its '
                      'latest checkpoint); give it several times for several '
                      'runs.')
  parser.add_argument('--digits', type=flag_types.int_flag(10, 10000),
                      default=400, help='MNIST test digits rendered as each '
                      'kind of picture (default: %(default)s).')
  parser.add_argument('--drawn', type=flag_types.int_flag(10, 100000),
                      default=1000, help='Digits drawn by '
                      'tests/drawn_digits.py (default: %(default)s).')
  parser.add_argument('--seed', type=flag_types.int_flag(0, 2**31 - 1),
                      default=2026,
                      help='Seed of the choice of digits and of their '
                      'rendering (default: %(default)s).')
  parser.add_argument('--input_data_dir', default=input_data.DEFAULT_DATA_DIR,
                      help='Where MNIST is cached, fetched first if not '
                      '(default: %(default)s).')
  return parser.parse_args(argv)


# --help and a bad flag answer before TensorFlow's import, which takes seconds.
if __name__ == '__main__':
  parse_flags()
tf = startup.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

import drawn_digits
import picture_kinds
from tutorial_support import classifier
from tutorial_support import digit_images
# pylint: enable=g-import-not-at-top,wrong-import-position

FORMATS = ('png', 'jpg', 'bmp', 'gif', 'tiff', 'webp')
# Typefaces for printed digits: DejaVu where the system has it, and
# Pillow's own (Aileron), which every install has.
FONT_DIR = '/usr/share/fonts/truetype/dejavu'


def classified_inputs(pictures, directory):
  """Saves each (name, image, suffix) in directory and reads it back as
  classify.py does.

  Returns:
    (inputs [N, 784], classified [N] bool): a picture classify.py refuses
    (no ink found) counts as wrong.
  """
  inputs, classified = [], []
  for name, image, suffix in pictures:
    path = os.path.join(directory, '%s.%s' % (name, suffix))
    image.save(path)
    try:
      inputs.append(digit_images.mnist_input(path))
      classified.append(True)
    except digit_images.NotADigitError:
      inputs.append(np.zeros(784, np.float32))
      classified.append(False)
    os.remove(path)
  return np.stack(inputs), np.array(classified)


def kind_inputs(images, seed, directory):
  """Returns {kind: (classify.py's inputs, classified)} of images rendered
  in each kind."""
  inputs = {}
  for kind, render, _ in picture_kinds.KINDS:
    rng = np.random.default_rng(seed)
    pictures = [('%s-%04d' % (kind, index),) + render(ink, rng)
                for index, ink in enumerate(images)]
    inputs[kind] = classified_inputs(pictures, directory)
  return inputs


def drawn_inputs(count, seed, directory):
  """Returns classify.py's inputs, the naive ones, the digits as classify.py
  is to answer them (-1 where it refuses), and the digits."""
  drawn = drawn_digits.draw_set(count, seed)
  pictures = [('drawn-%04d' % index, image, FORMATS[index % len(FORMATS)])
              for index, (_, image) in enumerate(drawn)]
  naive = np.stack([naive_input(image) for _, image, _ in pictures])
  inputs, classified = classified_inputs(pictures, directory)
  digits = np.array([digit for digit, _ in drawn])
  return inputs, naive, np.where(classified, digits, -1), digits


def fonts():
  """Returns the typefaces printed digits are set in."""
  found = sorted(os.path.join(FONT_DIR, name) for name in (
      os.listdir(FONT_DIR) if os.path.isdir(FONT_DIR) else [])
                 if name.endswith('.ttf'))
  return [ImageFont.truetype(path, 120) for path in found] + [
      ImageFont.load_default(120)]


def printed_pictures():
  """Every digit in every typeface, dark on light and light on dark.

  Returns:
    [(name, image, suffix)], and the digits.
  """
  pictures, digits = [], []
  for index, font in enumerate(fonts()):
    for digit in range(10):
      for ink, paper in ((20, 235), (235, 20)):
        page = Image.new('L', (200, 200), paper)
        ImageDraw.Draw(page).text((100, 100), str(digit), fill=ink,
                                  font=font, anchor='mm')
        pictures.append(('printed-%d-%d-%d' % (index, digit, ink), page,
                         'png'))
        digits.append(digit)
  return pictures, np.array(digits)


def naive_input(image):
  gray = image.convert('L').resize((28, 28), Image.Resampling.BILINEAR)
  return np.asarray(gray, np.float32).reshape(784) / 255.0


def accuracy(model, inputs, digits):
  predictions = model.probabilities(inputs).argmax(axis=1)
  return float(np.mean(predictions == digits))


def measure(log_dirs, sets):
  """Returns {row name: [accuracy of each model]} for every set of inputs."""
  scores = {}
  for log_dir in log_dirs:
    with classifier.load(log_dir) as model:
      for name, (inputs, digits) in sets.items():
        scores.setdefault(name, []).append(accuracy(model, inputs, digits))
  return scores


def table_line(label, values, reference=None):
  values = np.array(values)
  gap = ('%+.3f' % np.mean(values - reference)
         if reference is not None else '')
  return '| %s | %.3f | %.3f - %.3f | %s |' % (
      label, values.mean(), values.min(), values.max(), gap)


def print_table(scores, count, models):
  print('%d MNIST test digits, %d model(s); mean, lowest - highest, and the '
        'mean difference from the reference:' % (count, models))
  print('| the same digits, as | accuracy | spread | vs. reference |')
  print('| --- | --- | --- | --- |')
  reference = np.array(scores['reference'])
  print(table_line('fed to the model directly (the reference)', reference))
  kinds = [(kind, label) for kind, _, label in picture_kinds.KINDS]
  for kind, label in kinds:
    print(table_line(label, scores[kind], reference))
  every = np.mean([scores[kind] for kind, _ in kinds], axis=0)
  print(table_line('all kinds together', every, reference))
  print(table_line('MNIST test split, all 10,000', scores['test']))
  print(table_line('drawn digits, classify.py', scores['drawn']))
  print(table_line('drawn digits, naive resize', scores['naive']))
  print(table_line('printed digits (%d typefaces), classify.py'
                   % len(fonts()), scores['printed']))


def main(argv=None):
  flags = parse_flags(argv)
  startup.begin(tf)
  test = input_data.read_data_sets(flags.input_data_dir).test
  chosen = np.random.default_rng(flags.seed).choice(
      test.num_examples, flags.digits, replace=False)
  images, digits = test.images[chosen], test.labels[chosen]
  with tempfile.TemporaryDirectory() as directory:
    rendered = kind_inputs(images.reshape(-1, 28, 28), flags.seed, directory)
    drawn, naive, drawn_answers, drawn_labels = drawn_inputs(
        flags.drawn, flags.seed, directory)
    printed, printed_digits = printed_pictures()
    printed, classified = classified_inputs(printed, directory)
  # A picture classify.py refuses is given an answer no model gives: -1.
  sets = {kind: (inputs, np.where(classified, digits, -1))
          for kind, (inputs, classified) in rendered.items()}
  sets.update(reference=(images, digits), test=(test.images, test.labels),
              drawn=(drawn, drawn_answers), naive=(naive, drawn_labels),
              printed=(printed, np.where(classified, printed_digits, -1)))
  print_table(measure(flags.log_dir, sets), flags.digits, len(flags.log_dir))
  return 0


if __name__ == '__main__':
  sys.exit(main())
