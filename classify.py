"""Classifies pictures of handwritten digits with a model trained here.

  python classify.py photos/seven.jpg drawings/
  photos/seven.jpg: 7 (0.97)

Each picture (a file, or every image in a directory) is read in bounded
time and memory (tutorial_support/picture_files.py) and goes through MNIST's
own preprocessing (tutorial_support/digit_images.py): ink found and made
light on dark, the page's tone and shadows divided out, the digit cropped
to its connected ink, scaled to fit 20 x 20 and centred by its centre of
mass in 28 x 28. The model is loaded
once, from the latest checkpoint in --log_dir (its hidden sizes read from
it), or from a SavedModel version directory (--saved_model, as --export_dir
writes them). One line per picture on stdout, in the order given (naming
the frame read, if not the first, of an animation or a multi-page file:
the first with ink); a picture
that cannot be classified is one line on stderr, and the others go on.

Exit status: 0 if every picture was classified, 1 if any was not, 2 for bad
flags.
"""

import os
import sys

# First: it settles the environment before NumPy and TensorFlow load.
from tutorial_support import startup
from tutorial_support import command_lines

# --help, a bad flag and pictures that are not there answer at once, not
# after TensorFlow's import.
if __name__ == '__main__':
  command_lines.classify_flags()
tf = startup.import_tensorflow()  # Ctrl-C meanwhile is one line.

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

# pylint: disable=g-import-not-at-top,wrong-import-position
from tutorial_support import classifier
from tutorial_support import digit_images
from tutorial_support import errors
from tutorial_support import picture_files
# pylint: enable=g-import-not-at-top,wrong-import-position

PROG = command_lines.CLASSIFY_PROG
# Where fully_connected_feed.py writes its checkpoints by default.
DEFAULT_LOG_DIR = command_lines.FEED_LOG_DIR
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.tif', '.tiff',
                  '.webp')


def answer_line(path, probabilities, top):
  """Says the likeliest digit of path, and the next top - 1, with theirs."""
  order = np.argsort(-probabilities, kind='stable')[:top]
  return '%s: %s' % (path, ', '.join(
      '%d (%.2f)' % (digit, probabilities[digit]) for digit in order))


def preprocessed_name(path, index, suffix=''):
  """Where --save_preprocessed puts the input of the index-th picture
  (suffix '-page': the ink it found on the page)."""
  stem = os.path.splitext(os.path.basename(path))[0]
  return '%03d-%s%s.png' % (index, stem, suffix)


def classify_all(model, arguments, top, save_dir):
  """Classifies every picture the arguments name; returns how many failed."""
  failed = 0
  for index, (path, error, skipped) in enumerate(
      picture_files.walk(arguments, IMAGE_SUFFIXES)):
    name = picture_files.printable(path)
    if skipped:
      print('%s: %s: %s' % (PROG, name, skipped), file=sys.stderr)
      continue
    try:
      if error:
        raise digit_images.NotADigitError(error)
      pixels, frame, count, page = digit_images.read_digit(path)
      if frame:
        name = '%s (frame %d of %d)' % (name, frame + 1, count)
      if save_dir:
        digit_images.save_gray(pixels.reshape(28, 28), os.path.join(
            save_dir, preprocessed_name(path, index)))
        digit_images.save_gray(page, os.path.join(
            save_dir, preprocessed_name(path, index, '-page')))
    except (digit_images.NotADigitError, OSError) as e:
      failed += 1
      print('%s: error: %s: %s' % (PROG, name, e), file=sys.stderr)
      continue
    print(answer_line(name, model.probabilities(pixels[None])[0], top))
    sys.stdout.flush()
  return failed


def parse_flags(argv=None):
  """Parses the command line; a bad flag exits with status 2 and one line."""
  return command_lines.classify_flags(argv)


def main(argv=None):
  flags = parse_flags(argv)
  startup.begin(tf)
  failed = []

  def work():
    if flags.save_preprocessed:
      os.makedirs(flags.save_preprocessed, exist_ok=True)
    with classifier.load(flags.log_dir, flags.saved_model) as model:
      failed.append(classify_all(model, flags.images, flags.top,
                                 flags.save_preprocessed))
  status = errors.exit_status(
      PROG, work, flags.log_dir, flags.debug, lambda unused_log_dir: None,
      interrupted_line='Interrupted: stopped at once')
  return status or (1 if failed and failed[0] else 0)


if __name__ == '__main__':
  sys.exit(main())
