"""TensorBoard extras beyond the tutorial's loss curve.

At each evaluation: the precision of each split as a scalar in a run of its
own (one chart, a line per split), a histogram of every variable, and an
image of test predictions, each digit captioned with what the model
predicted. At the start of a training run: its settings, for the HParams
dashboard.

At the end of a training run: the Projector's view of the newest checkpoint
(projector_follows), the last hidden layer's activations for the first
10,000 test digits, each point labelled and drawn as its digit.
"""

import collections
import concurrent.futures
import contextlib
import hashlib
import io
import os
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
import tensorflow as tf
from tensorboard.plugins import projector
from tensorboard.plugins.hparams import summary_v2 as hparams_summary

import mnist
from tutorial_support import atomic_files
from tutorial_support import checkpoints
from tutorial_support import errors
from tutorial_support import signals
from tutorial_support import systems

tf1 = tf.compat.v1

GRID_COLUMNS = 4
GRID_IMAGES = 16
EVAL_SUMMARIES = 'evaluation_summaries'


# Each digit three times its size, so that a browser at TensorBoard's
# default zoom shows it as MNIST's digits are meant to be seen, with a caption
# below in Pillow's own typeface at a size read at a glance.
GRID_SCALE = 3
CAPTION_HEIGHT = 22
CAPTION_FONT_SIZE = 16
_CAPTION_FONT = ImageFont.load_default(size=CAPTION_FONT_SIZE)


def caption(predicted, label, width):
  """The caption of one digit: its prediction, and the truth where wrong.

  A right one reads `7`, white on black; a wrong one `2 (is 7)`, black on
  white: the words tell them apart without the colours.

  Returns:
    A uint8 array [CAPTION_HEIGHT, width].
  """
  right = predicted == label
  text = '%d' % predicted if right else '%d (is %d)' % (predicted, label)
  strip = Image.new('L', (width, CAPTION_HEIGHT), 0 if right else 255)
  ImageDraw.Draw(strip).text((width // 2, CAPTION_HEIGHT // 2), text,
                             fill=255 if right else 0, font=_CAPTION_FONT,
                             anchor='mm')
  return np.asarray(strip)


def prediction_grid(images, labels, predictions, columns=GRID_COLUMNS):
  """Draws images in a grid, each above a caption of its prediction.

  Args:
    images: float array [N, 784] of pixels in [0, 1].
    labels: int array [N] of true labels.
    predictions: int array [N] of predicted labels.
    columns: Images per row of the grid.

  Returns:
    A uint8 array [height, width]: GRID_SCALE times each digit's size, a
    caption below each (see caption()), 2 pixels of gray around each.
  """
  side = mnist.IMAGE_SIZE * GRID_SCALE
  cell_width, cell_height = side + 4, side + CAPTION_HEIGHT + 4
  rows = -(-len(images) // columns)
  grid = np.full((rows * cell_height, columns * cell_width), 96, np.uint8)
  for index, (image, label, predicted) in enumerate(
      zip(images, labels, predictions)):
    top = index // columns * cell_height + 2
    left = index % columns * cell_width + 2
    digit = np.round(255 * image.reshape(mnist.IMAGE_SIZE, mnist.IMAGE_SIZE))
    grid[top:top + side, left:left + side] = np.kron(
        digit, np.ones((GRID_SCALE, GRID_SCALE)))
    grid[top + side:top + side + CAPTION_HEIGHT, left:left + side] = caption(
        predicted, label, side)
  return grid


def add_evaluation_summaries():
  """Adds histograms of every variable and an image of predictions.

  They go to their own collection, merged into model.eval_summary, written
  only at evaluations so that the events file stays small.

  Returns:
    The merged summary op and the placeholder of the prediction grid.
  """
  with tf.name_scope('histograms'):
    for variable in tf1.trainable_variables():
      tf1.summary.histogram(variable.op.name, variable,
                            collections=[EVAL_SUMMARIES])
  grid = tf1.placeholder(tf.uint8, [1, None, None, 1], name='prediction_grid')
  tf1.summary.image('test_predictions', grid, collections=[EVAL_SUMMARIES])
  return tf1.summary.merge_all(EVAL_SUMMARIES), grid


# The precisions: one tag in one run per split, log_dir/precision/<split>,
# which TensorBoard draws as one chart with a line per split (the layout of
# TensorFlow's mnist_with_summaries.py and of Keras). Two levels down, so
# that the Projector, which looks for a checkpoint in a run and its parent,
# does not list them.
PRECISION_DIR = 'precision'
PRECISION_TAG = 'precision'
SPLITS = ('train', 'validation', 'test')


@contextlib.contextmanager
def precision_writers(log_dir, first_step):
  """Yields a FileWriter per split for its precision run; closes them.

  Args:
    log_dir: The training run's log dir.
    first_step: The global step the run resumes from: what a killed run
      wrote after it is dropped, as in the training run's own events.
  """
  writers = {}
  try:
    for split in SPLITS:
      writers[split] = tf1.summary.FileWriter(
          os.path.join(log_dir, PRECISION_DIR, split))
      writers[split].add_session_log(
          tf1.SessionLog(status=tf1.SessionLog.START), first_step + 1)
    yield writers
  finally:
    for writer in writers.values():
      writer.close()


# What changes what a run learns, for TensorBoard's HParams dashboard.
HPARAM_FLAGS = ('learning_rate', 'batch_size', 'hidden1', 'hidden2',
                'max_steps', 'seed', 'fake_data')


def write_hparams(writer, flags, first_step):
  """Records the run's settings for TensorBoard's HParams dashboard.

  The dashboard compares the runs under one parent directory by these and
  by their metrics, which it finds by itself: the last `loss` of the run
  and the last `precision` of each split's run. Each run writes them, but
  TensorBoard keeps the first it reads in a log dir (summary metadata is
  read once per tag): a resumed run shows the settings it began with. The
  row is named by the log dir as given (its trial ID), where TensorBoard
  would name it by a hash of the settings.

  Args:
    writer: The FileWriter of the training run.
    flags: The parsed command line.
    first_step: The global step the run starts from.
  """
  values = {name: getattr(flags, name) for name in HPARAM_FLAGS}
  # A run without --seed has a value too, so that the dashboard sees the
  # seed differ between it and a seeded run (it compares only the values
  # it has), and shows that column first.
  values['seed'] = 'random' if flags.seed is None else str(flags.seed)
  summary = hparams_summary.hparams_pb(
      values, trial_id=os.path.normpath(flags.log_dir))
  writer.add_summary(summary.SerializeToString(), first_step)


def write_evaluation_summaries(writer, split_writers, sess, model, test_set,
                               precisions, step):
  """Writes the precisions, histograms and prediction grid at step.

  Args:
    writer: The FileWriter of the run.
    split_writers: precision_writers()' writers, by split name.
    sess: The session holding the model's variables.
    model: The Model, with its eval_summary and grid_placeholder.
    test_set: The DataSet whose first batch the grid shows.
    precisions: A dict from split name to precision @ 1.
    step: The global step to write them at.
  """
  for split, precision in precisions.items():
    split_writers[split].add_summary(tf1.Summary(value=[tf1.Summary.Value(
        tag=PRECISION_TAG, simple_value=precision)]), step)
    split_writers[split].flush()
  batch_size = model.images_placeholder.shape[0]
  # The flags keep batch_size within the smallest split: a whole batch.
  images = test_set.images[:batch_size]
  labels = test_set.labels[:batch_size]
  logits = sess.run(model.logits, {model.images_placeholder: images})
  count = min(GRID_IMAGES, batch_size)
  grid = prediction_grid(images[:count], labels[:count],
                         logits[:count].argmax(axis=1))
  writer.add_summary(sess.run(
      model.eval_summary, {model.grid_placeholder: grid[None, :, :, None]}),
                     step)
  writer.flush()


# The Projector is configured in the log dir itself, so that the run a person
# sees first in its tab, the training run, opens on the test digits. Its
# files are in log_dir/projector/ (no events file there: not a run), named
# by a digest of the checkpoint they show, and found by relative paths, so
# that the log dir can be moved. The training checkpoints stay as they are.
PROJECTOR_DIR = 'projector'
PROJECTOR_EXAMPLES = 10000
_CONFIG = 'projector_config.pbtxt'
_SOURCE = 'source'
# What an older version of this module wrote there: a run of its own.
_OLD_RUN_FILES = ('events.', 'activations-', 'checkpoint', _CONFIG)


@contextlib.contextmanager
def projector_follows(log_dir, test_set):
  """Updates the Projector to the newest checkpoint when the block ends.

  However training ends, done, stopped by a signal or diverged, the
  Projector then shows the checkpoint that a run would resume from, never an
  older one beside it. A second Ctrl-C (stop at once) updates nothing.

  The sprite depends on the test digits alone, so it is drawn on another
  thread as the block begins: its PNG compression was most of the 0.2 s
  that the Projector added to the end of a default run.
  """
  with concurrent.futures.ThreadPoolExecutor(1) as pool:
    sprite = pool.submit(_draw_sprite, _projected_examples(test_set)[0])
    try:
      yield
    except (signals.Interrupted, errors.DivergedError):
      _update_or_warn(log_dir, test_set, sprite.result)
      raise
    _update_or_warn(log_dir, test_set, sprite.result)


def _update_or_warn(log_dir, test_set, drawn_sprite):
  """update_projector; if the disk refuses, one line, and training stands.

  The checkpoints are saved by then: a Projector that cannot be written is no
  reason to call the run failed. Its configuration is set aside, where it
  can be, so that it shows no older checkpoint.
  """
  try:
    update_projector(log_dir, test_set, drawn_sprite)
  except OSError as e:
    config_path = os.path.join(log_dir, _CONFIG)
    try:
      if os.path.exists(config_path):
        systems.replace(config_path, config_path + '.stale')
        kept = 'its configuration was set aside as %s.stale' % config_path
      else:
        kept = 'it holds no configuration'
    except OSError:
      kept = 'it still shows %s' % projected_checkpoint_name(log_dir)
    print('warning: the Projector was not updated (%s); %s' % (e, kept),
          file=sys.stderr)


def projected_checkpoint_name(log_dir):
  """The name of the checkpoint the Projector shows, or 'nothing'."""
  return _projected_source(log_dir)[1] or 'nothing'



def _projected_examples(test_set):
  count = min(PROJECTOR_EXAMPLES, test_set.num_examples)
  return test_set.images[:count], test_set.labels[:count]


def checkpoint_digest(checkpoint):
  """A SHA-256 of a checkpoint's files: the same weights, the same digest.

  By content, not by name: a step saved again with other weights, or a
  checkpoint set aside and saved anew, gets another digest.
  """
  digest = hashlib.sha256()
  prefix = checkpoints.tf_path(checkpoint)
  directory, base = os.path.split(prefix)
  for name in sorted(os.listdir(directory or '.')):
    if name == base + '.index' or name.startswith(base + '.data-'):
      digest.update(name[len(base):].encode() + b'\0')
      with open(os.path.join(directory, name), 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
          digest.update(block)
  return digest.hexdigest()


def projected_digest(log_dir):
  """The digest of the checkpoint the Projector shows, or None."""
  return _projected_source(log_dir)[0]


def _projected_source(log_dir):
  """The digest and the name that projector/source records, or Nones."""
  try:
    with open(os.path.join(log_dir, PROJECTOR_DIR, _SOURCE)) as f:
      digest, name = f.read().split()
  except (OSError, ValueError):  # Missing, or an older version's one path.
    return None, None
  return digest, name


def update_projector(log_dir, test_set, drawn_sprite=None):
  """Writes the Projector's view of log_dir's newest checkpoint, if not there.

  With no checkpoint that restores, the Projector's configuration is set
  aside: it would show weights that a run would not resume from.

  Args:
    log_dir: The training run's log dir.
    test_set: The DataSet of the test digits.
    drawn_sprite: A function returning _draw_sprite()'s result for the test
      digits (drawn ahead), or None to draw it here.
  """
  checkpoint = checkpoints.newest_that_restores(log_dir)
  files_dir = os.path.join(log_dir, PROJECTOR_DIR)
  config_path = os.path.join(log_dir, _CONFIG)
  if checkpoint is None:
    if os.path.exists(config_path) and projected_digest(log_dir):
      systems.replace(config_path, config_path + '.stale')
    return
  digest = checkpoint_digest(checkpoint)
  if digest == projected_digest(log_dir) and os.path.exists(config_path):
    return
  images, labels = _projected_examples(test_set)
  activations, predictions = _last_hidden_layer(checkpoint, images)
  os.makedirs(files_dir, exist_ok=True)
  tag = digest[:12]
  files = _Projection(
      'hidden2-%s.tsv' % tag, 'labels-%s.tsv' % tag,
      _write_sprite(files_dir, *(drawn_sprite() if drawn_sprite
                                 else _draw_sprite(images))))
  atomic_files.write_atomically(os.path.join(files_dir, files.tensor),
                                _tsv(activations))
  atomic_files.write_atomically(os.path.join(files_dir, files.metadata),
                                _metadata(labels, predictions))
  # The name changes with the weights: TensorBoard caches tensors by name.
  _write_config(log_dir, files, activations.shape,
                'hidden2 of the test digits, step %d [%s]' % (
                    checkpoints.checkpoint_step(checkpoint), tag[:8]))
  # Last: what the configuration shows, once it does. Stopped before this,
  # the next update writes it all again.
  atomic_files.write_atomically(os.path.join(files_dir, _SOURCE), (
      '%s %s\n' % (digest, os.path.basename(checkpoint))).encode())
  _remove_older(files_dir, files + (_SOURCE,))


# The file names of one projection, in log_dir/projector/.
_Projection = collections.namedtuple('_Projection',
                                     ['tensor', 'metadata', 'sprite'])


def _metadata(labels, predictions):
  """The points' labels as TSV: the digit, the prediction, right or not."""
  return ''.join(['label\tprediction\tcorrect\n'] + [
      '%d\t%d\t%s\n' % (label, predicted,
                        'yes' if label == predicted else 'no')
      for label, predicted in zip(labels, predictions)]).encode()


def _write_config(log_dir, files, shape, tensor_name):
  """Writes log_dir's projector_config.pbtxt, naming files by relative paths.

  Written by the projector's own API into a new directory, then renamed into
  place, after the files it names.
  """
  config = projector.ProjectorConfig()
  embedding = config.embeddings.add(
      tensor_name=tensor_name,
      tensor_path=os.path.join(PROJECTOR_DIR, files.tensor),
      metadata_path=os.path.join(PROJECTOR_DIR, files.metadata))
  embedding.tensor_shape.extend(shape)
  embedding.sprite.image_path = os.path.join(PROJECTOR_DIR, files.sprite)
  embedding.sprite.single_image_dim.extend([mnist.IMAGE_SIZE] * 2)
  staging = tempfile.mkdtemp(dir=os.path.join(log_dir, PROJECTOR_DIR),
                             prefix='.config-')
  projector.visualize_embeddings(staging, config)
  written = os.path.join(staging, _CONFIG)
  os.chmod(written, atomic_files.new_file_mode())
  systems.replace(written, os.path.join(log_dir, _CONFIG))
  os.rmdir(staging)


def _tsv(activations):
  """The activations as TensorBoard's tensor TSV: a row per digit."""
  buffer = io.BytesIO()
  np.savetxt(buffer, activations, fmt='%.6g', delimiter='\t')
  return buffer.getvalue()


def _last_hidden_layer(checkpoint, images):
  """Returns hidden2's activations and the predictions of checkpoint.

  Computed from the checkpoint's variables as mnist.inference() computes
  them, in NumPy: a graph and a session built for it cost ten times more.
  """
  reader = tf.train.load_checkpoint(checkpoints.tf_path(checkpoint))

  def layer(inputs, scope):
    return (inputs @ reader.get_tensor(scope + '/weights')
            + reader.get_tensor(scope + '/biases'))
  hidden2 = np.maximum(layer(np.maximum(layer(images, 'hidden1'), 0),
                             'hidden2'), 0)
  return hidden2, layer(hidden2, 'softmax_linear').argmax(axis=1)


def _draw_sprite(images):
  """Draws the digits as one image, a row of 100 a line.

  Returns:
    name: The sprite's file name, from a digest of its pixels: the same test
      split, the same file.
    png: The image, PNG-encoded.
  """
  columns = int(np.ceil(np.sqrt(len(images))))
  rows = -(-len(images) // columns)
  size = mnist.IMAGE_SIZE
  pixels = np.zeros((rows * columns, size, size), np.uint8)
  pixels[:len(images)] = np.round(255 * images.reshape(-1, size, size))
  grid = pixels.reshape(rows, columns, size, size).swapaxes(1, 2).reshape(
      rows * size, columns * size)
  buffer = io.BytesIO()
  # Fast compression: the file is written once, and read by a browser.
  Image.fromarray(grid).save(buffer, format='PNG', compress_level=1)
  name = 'sprite-%s.png' % hashlib.sha256(grid.tobytes()).hexdigest()[:12]
  return name, buffer.getvalue()


def _write_sprite(run_dir, name, png):
  """Writes the drawn sprite into run_dir unless it is there; returns name."""
  path = os.path.join(run_dir, name)
  if not os.path.exists(path):
    atomic_files.write_atomically(path, png)
  return name


def _remove_older(files_dir, kept):
  """Removes the Projector's files but those kept (its own files only), and
  the staging directories of updates that were stopped midway."""
  for name in os.listdir(files_dir):
    path = os.path.join(files_dir, name)
    if name.startswith('.config-') and os.path.isdir(path):
      shutil.rmtree(path, ignore_errors=True)
    elif name not in kept and (
        name.startswith(('hidden2-', 'labels-', 'sprite-'))
        or name.startswith(_OLD_RUN_FILES)):
      os.remove(path)
