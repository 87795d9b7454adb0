"""Exports a checkpoint of the tutorial's network as a TensorFlow SavedModel.

The SavedModel holds only the inference graph of mnist.py, on an input of any
batch size, with one signature, serving_default:
  input   images         float32 [None, 784], pixels scaled to [0, 1]
  outputs logits         float32 [None, 10]
          probabilities  float32 [None, 10], the softmax of the logits
          classes        int64 [None], the predicted digit

Exports are laid out as TensorFlow Serving expects: EXPORT_DIR/1, EXPORT_DIR/2,
... Each is a new version, one more than the highest already there; none is
ever written over. It is built in a temporary directory inside EXPORT_DIR and
renamed into place once complete, so a version directory is whole or absent.
"""

import hashlib
import os
import re
import shutil
import tempfile

import tensorflow as tf

import mnist
from tutorial_support import checkpoints
from tutorial_support import errors
from tutorial_support import systems

tf1 = tf.compat.v1


def _versions(export_dir):
  # Plain ASCII decimals only: '²'.isdigit() is true, and int('²') fails.
  return [int(name) for name in os.listdir(export_dir)
          if re.fullmatch('[0-9]+', name)]


def _build_inference_graph(hidden1, hidden2):
  """Builds the serving graph in the default graph; returns its signature."""
  images = tf1.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS],
                           name='images')
  logits = mnist.inference(images, hidden1, hidden2)
  logits = tf.identity(logits, name='logits')
  probabilities = tf.nn.softmax(logits, name='probabilities')
  classes = tf.argmax(logits, axis=1, name='classes')
  return tf1.saved_model.predict_signature_def(
      inputs={'images': images},
      outputs={'logits': logits, 'probabilities': probabilities,
               'classes': classes})


def _write_saved_model(checkpoint, hidden1, hidden2, path):
  with tf.Graph().as_default():
    signature = _build_inference_graph(hidden1, hidden2)
    saver = tf1.train.Saver(tf1.global_variables())
    with tf1.Session() as sess:
      saver.restore(sess, checkpoints.tf_path(checkpoint))
      builder = tf1.saved_model.Builder(path)
      builder.add_meta_graph_and_variables(
          sess, [tf1.saved_model.tag_constants.SERVING],
          signature_def_map={'serving_default': signature},
          strip_default_attrs=True)
      builder.save()


def export_saved_model(checkpoint, hidden1, hidden2, export_dir):
  """Writes the model of a checkpoint as a new version under export_dir.

  Args:
    checkpoint: Path prefix of a checkpoint of the tutorial's network.
    hidden1: Size of its first hidden layer.
    hidden2: Size of its second hidden layer.
    export_dir: The directory of versions; created if missing.

  Returns:
    The path of the new version directory.

  Raises:
    OSError: If export_dir cannot be created or written.
  """
  os.makedirs(export_dir, exist_ok=True)
  staging = tempfile.mkdtemp(dir=export_dir, prefix='.export-')
  try:
    model_path = os.path.join(staging, 'model')
    _write_saved_model(checkpoint, hidden1, hidden2, model_path)
    os.makedirs(os.path.join(model_path, os.path.dirname(_SOURCE_FILE)))
    with open(os.path.join(model_path, _SOURCE_FILE), 'w') as f:
      f.write(_source_id(checkpoint) + '\n')
    version = max(_versions(export_dir), default=0) + 1
    while True:
      target = os.path.join(export_dir, str(version))
      try:
        # mkdir claims the number atomically; rename onto an empty directory.
        os.mkdir(target)
        systems.rename_onto_empty_directory(model_path, target)
      except FileExistsError:
        version += 1
        continue
      return target
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def export_latest(log_dir, hidden1, hidden2, export_dir):
  """Exports the latest checkpoint in log_dir as a new version; says so.

  A checkpoint already exported under export_dir is not exported again.

  Returns:
    The path of the version that holds it.
  """
  checkpoint = checkpoints.latest_checkpoint(log_dir)
  source = _source_id(checkpoint)
  for version in sorted(_versions(export_dir)) if os.path.isdir(
      export_dir) else ():
    path = os.path.join(export_dir, str(version))
    if _read_source(path) == source:
      print('%s is already exported as SavedModel %s: not exported again'
            % (os.path.basename(checkpoint), path))
      return path
  path = export_saved_model(checkpoint, hidden1, hidden2, export_dir)
  print('Exported %s as SavedModel %s' % (os.path.basename(checkpoint), path))
  return path


# Where a version says which checkpoint it came from: TensorFlow Serving
# ignores assets.extra.
_SOURCE_FILE = os.path.join('assets.extra', 'source_checkpoint.sha256')


def _source_id(checkpoint):
  """The checkpoint's identity: the SHA-256 of its .index file, which holds
  the checksum of every variable's bytes."""
  with open(checkpoint + '.index', 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _read_source(version_path):
  try:
    with open(os.path.join(version_path, _SOURCE_FILE)) as f:
      return f.read().strip()
  except OSError:
    return None


def export_after_training(stop, log_dir, max_steps, hidden1, hidden2,
                          export_dir):
  """Exports the latest checkpoint (if export_dir) unless stop was signalled.

  A stop after the last step leaves the export to the same command run
  again, which finds the training done.

  Raises:
    signals.Interrupted: If stop was signalled; its line says whether
      training had finished, and whether the export was made.
  """
  newest = checkpoints.newest_on_disk(log_dir)
  stop.raise_if_stopped(newest, errors.after_the_last_step(
      newest, max_steps, export_dir and 'not exported (run the same command '
      'to export it)'))
  if export_dir:
    path = export_latest(log_dir, hidden1, hidden2, export_dir)
    stop.raise_if_stopped(newest, errors.after_the_last_step(
        newest, max_steps, 'exported as %s' % path))


def export_after_evaluation(stop, log_dir, hidden1, hidden2, export_dir):
  """--eval_only's export (if export_dir), unless stop was signalled first.

  Raises:
    signals.Interrupted: If stop was signalled; its line names the export
      if it was made, else says that nothing was written.
  """
  stop.raise_if_stopped(None)
  if export_dir:
    path = export_latest(log_dir, hidden1, hidden2, export_dir)
    stop.raise_if_stopped(None, 'stopped after the evaluation and the export '
                          '(%s)' % path)
