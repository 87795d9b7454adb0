"""The command line of `python input_data.py`: fetch, verify and summarize.

It reads the data through the read_data_sets() it is given, so that it
needs nothing from input_data itself.
"""

import os
import sys

import numpy as np

from tutorial_support import flags
from tutorial_support import mnist_files
from tutorial_support import signals
from tutorial_support import systems

SPLIT_NAMES = ('train', 'validation', 'test')
NUM_CLASSES = 10


def summary_line(split_name, data_set):
  """Returns one line of a split: its size, label counts and first labels."""
  labels = data_set.labels
  counts = np.bincount(labels, minlength=NUM_CLASSES)
  return '%-10s %6d examples  labels 0-9: %s  first ten: %s' % (
      split_name, data_set.num_examples, ' '.join(str(c) for c in counts),
      ' '.join(str(label) for label in labels[:10]))


def main(read_data_sets, argv=None):
  """Fetches and verifies MNIST, then prints a line per split.

  Args:
    read_data_sets: input_data.read_data_sets.
    argv: The command line's arguments, None for sys.argv[1:].

  Returns:
    The exit status: 0, 1 if the data could not be had, 128 + the signal's
    number if interrupted, 128 + SIGPIPE's if the reader of stdout left.
  """
  parser = flags.UsageParser(prog='input_data.py',
                             description='Fetch, verify and summarize MNIST.')
  flags.add_data_flags(parser)
  args = parser.parse_args(argv)
  flags.check_directory_flags(parser, args, ('input_data_dir',))
  try:
    with signals.sigterm_interrupts():
      data_sets = read_data_sets(args.input_data_dir, dtype=np.uint8,
                                 sources=args.data_sources,
                                 timeout=args.download_timeout)
  except (mnist_files.DataUnavailableError, ValueError, OSError) as e:
    print('%s: error: %s' % (parser.prog, e), file=sys.stderr)
    return 1
  except KeyboardInterrupt as e:
    # Every file is written to a temporary name and renamed once verified.
    print('%s: interrupted: nothing half-written is left in %s'
          % (parser.prog, args.input_data_dir), file=sys.stderr)
    return signals.interrupted_status(e)
  try:
    print('MNIST verified in %s' % os.path.expanduser(args.input_data_dir))
    for split_name, data_set in zip(SPLIT_NAMES, data_sets):
      print(summary_line(split_name, data_set))
    sys.stdout.flush()  # Here, where a reader gone (`| head`) can be taken.
  except OSError as e:
    if systems.is_reader_gone(e):
      return signals.reader_gone()
    raise
  return 0
