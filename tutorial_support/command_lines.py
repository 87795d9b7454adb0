"""Each program's command line, parsed before TensorFlow loads.

TensorFlow's import takes seconds and hundreds of megabytes. `--help`, a bad
flag, and the refusals that need no TensorFlow (a log dir that another run
holds or that cannot be written, pictures that are not there) answer before
it: a program parses its command line first, when run as a script, and again
in main(). Parsing is cheap and changes nothing on disk.

A bad flag is one line and exit status 2; a refusal, one line and status 1,
the line the program would print after the import.
"""

import os
import sys

import input_data
from tutorial_support import flags as flag_types
from tutorial_support import log_dirs

FEED_PROG = 'fully_connected_feed.py'
FEED_LOG_DIR = os.path.join('logs', 'fully_connected_feed')
REPLICA_PROG = 'fully_connected_replica.py'
REPLICA_LOG_DIR = os.path.join('logs', 'fully_connected_replica')
MAX_LOCAL_WORKERS = 16
CLASSIFY_PROG = 'classify.py'


def _refuse(prog, error):
  print('%s: error: %s' % (prog, error), file=sys.stderr)
  sys.exit(1)


def _refuse_busy_log_dir(prog, log_dir):
  try:
    log_dirs.refuse_if_unusable(log_dir)
  except OSError as e:
    _refuse(prog, e)


def _training_parser_and_flags(prog, description, log_dir, add_flags, argv):
  """Parses a training program's command line, with its own flags added."""
  parser = flag_types.UsageParser(prog=prog, description=description)
  flag_types.add_training_flags(parser, log_dir)
  add_flags(parser)
  flags = parser.parse_args(argv)
  flag_types.check_training_flags(
      parser, flags, log_dir, input_data.smallest_split(flags.fake_data))
  return parser, flags


def feed_flags(argv=None):
  """Parses fully_connected_feed.py's command line.

  Args:
    argv: The arguments after the program's name; None for sys.argv's.

  Returns:
    The parsed flags, checked.
  """
  _, flags = _training_parser_and_flags(
      FEED_PROG, 'Train the tutorial\'s MNIST network with feed_dict.',
      FEED_LOG_DIR, flag_types.add_evaluation_flags, argv)
  if not flags.eval_only:  # Evaluation only reads: never refused so.
    _refuse_busy_log_dir(FEED_PROG, flags.log_dir)
  return flags


def _add_cluster_flags(parser):
  parser.add_argument('--ps_hosts', help='Comma-separated host:port of the '
                      'parameter servers. (default: from TF_CONFIG)')
  parser.add_argument('--worker_hosts', help='Comma-separated host:port of '
                      'the workers; the first is the chief. (default: from '
                      'TF_CONFIG)')
  parser.add_argument('--job_name', choices=('ps', 'worker'),
                      help='This task\'s job. (default: from TF_CONFIG)')
  parser.add_argument('--task_index', type=flag_types.int_flag(0, 10**6),
                      default=None, help='This task\'s index in its job; '
                      'given, it wins over TF_CONFIG\'s. (default: from '
                      'TF_CONFIG, else 0)')
  parser.add_argument('--sync_replicas', action='store_true',
                      help='Aggregate one gradient from every worker into '
                      'each update (SyncReplicasOptimizer). (default: '
                      'asynchronous updates)')
  parser.add_argument('--cluster_timeout', type=flag_types.timeout_flag,
                      default=60.0, help='Seconds a worker waits for the '
                      'parameter servers or the chief before it gives up '
                      'with an error. (default: %(default)s)')
  parser.add_argument('--local_workers', type=flag_types.int_flag(
      1, MAX_LOCAL_WORKERS), help='Start 1 parameter server and this many '
                      'workers on free loopback ports, and wait for them; '
                      'the chief alone, to evaluate, if the newest '
                      'checkpoint reaches --max_steps. (default: off)')


def replica_flags(argv=None):
  """Parses fully_connected_replica.py's command line, as feed_flags() its."""
  parser, flags = _training_parser_and_flags(
      REPLICA_PROG, 'Train the tutorial\'s MNIST network on a TensorFlow '
      'cluster (between-graph replication).', REPLICA_LOG_DIR,
      _add_cluster_flags, argv)
  if flags.local_workers:
    # The launcher gives its tasks these itself.
    for name in ('ps_hosts', 'worker_hosts', 'job_name', 'task_index'):
      if getattr(flags, name) is not None:
        parser.error('--%s has no meaning with --local_workers, which starts '
                     'its own cluster on this machine (leave out one of the '
                     'two)' % name)
    # Its chief will hold the log dir: no cluster is started on a busy one.
    _refuse_busy_log_dir(REPLICA_PROG, flags.log_dir)
  return flags


def classify_flags(argv=None):
  """Parses classify.py's command line.

  If no picture named is there at all, each is said in one line and the
  program exits with status 1, as it would after loading the model.

  Args:
    argv: The arguments after the program's name; None for sys.argv's.

  Returns:
    The parsed flags, checked.
  """
  parser = flag_types.UsageParser(
      prog=CLASSIFY_PROG, description='Classify pictures of handwritten '
      'digits with a model trained by fully_connected_feed.py.')
  parser.add_argument('images', nargs='+', metavar='IMAGE',
                      help='Image files (PNG, JPEG, BMP, GIF, TIFF, WebP), or '
                      'directories of them.')
  parser.add_argument('--log_dir', default=FEED_LOG_DIR,
                      help='Log directory of a training run: its latest '
                      'checkpoint is used. (default: %(default)s)')
  parser.add_argument('--saved_model', default=None,
                      help='A SavedModel version directory (EXPORT_DIR/N) to '
                      'use instead of a checkpoint. (default: none)')
  parser.add_argument('--top', type=flag_types.int_flag(1, 10), default=1,
                      help='How many digits to name per picture, likeliest '
                      'first. (default: %(default)s)')
  parser.add_argument('--save_preprocessed', default=None, metavar='DIR',
                      help='Also write the 28 x 28 input the model saw for '
                      'each picture, as NNN-NAME.png. (default: none)')
  parser.add_argument('--debug', action='store_true',
                      help='Show Python tracebacks on errors. (default: off)')
  flags = parser.parse_args(argv)
  flag_types.check_directory_flags(parser, flags, ('log_dir', 'saved_model',
                                                   'save_preprocessed'))
  # Names that need quoting to stay one line are left to classify.py's
  # own lines (picture_files.printable).
  if not any(os.path.lexists(path) or not path.isprintable()
             for path in flags.images):
    for path in flags.images:
      print('%s: error: %s: no such file' % (CLASSIFY_PROG, path),
            file=sys.stderr)
    sys.exit(1)
  return flags
