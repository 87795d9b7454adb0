"""The trained network as a function of images, for classify.py.

load() builds it once, from the latest checkpoint of a log dir (the hidden
sizes read from the checkpoint) or from a SavedModel version directory as
export.py writes them; either way, probabilities() maps a batch of MNIST
inputs to the softmax of the logits.
"""

import contextlib
import os

import tensorflow as tf

import mnist
from tutorial_support import checkpoints
from tutorial_support import errors

tf1 = tf.compat.v1


class Classifier(object):
  """A session and the two tensors that turn images into probabilities."""

  def __init__(self, sess, images, probabilities, source):
    self._sess = sess
    self._images = images
    self._probabilities = probabilities
    self.source = source

  def probabilities(self, images):
    """Returns float32 [N, 10] for images, float32 [N, 784] in [0, 1]."""
    return self._sess.run(self._probabilities, {self._images: images})


def _from_checkpoint(sess, log_dir):
  checkpoint = checkpoints.latest_checkpoint(log_dir)
  if checkpoint is None:
    raise errors.NoCheckpointError(
        '--log_dir %s holds no checkpoint (train first with '
        'fully_connected_feed.py, or give --saved_model)' % log_dir)
  hidden1, hidden2 = checkpoints.hidden_sizes(checkpoint)
  images = tf1.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS],
                           name='images')
  probabilities = tf.nn.softmax(mnist.inference(images, hidden1, hidden2))
  tf1.train.Saver(tf1.global_variables()).restore(
      sess, checkpoints.tf_path(checkpoint))
  return images, probabilities, checkpoint


def _from_saved_model(sess, directory):
  if not os.path.isdir(directory):
    raise OSError('--saved_model %s does not exist' % directory)
  if not os.path.isfile(os.path.join(directory, 'saved_model.pb')):
    raise OSError('--saved_model %s holds no saved_model.pb (give a version '
                  'directory, such as EXPORT_DIR/1)' % directory)
  # TensorFlow reads the variables by a glob pattern: `exp [1]/1` would match
  # nothing. A symbolic link of a plain name stands in for the directory.
  plain = os.path.dirname(checkpoints.tf_path(
      os.path.join(directory, 'saved_model.pb')))
  try:
    meta_graph = tf1.saved_model.loader.load(
        sess, [tf1.saved_model.tag_constants.SERVING], plain)
    signature = meta_graph.signature_def['serving_default']
    images = sess.graph.get_tensor_by_name(signature.inputs['images'].name)
    probabilities = sess.graph.get_tensor_by_name(
        signature.outputs['probabilities'].name)
  except (KeyError, RuntimeError, tf.errors.OpError) as e:
    raise OSError('--saved_model %s is not a model of export.py (%s)'
                  % (directory, str(e).strip().splitlines()[0])) from None
  return images, probabilities, directory


@contextlib.contextmanager
def load(log_dir, saved_model=None):
  """Yields a Classifier of saved_model if given, else of log_dir's latest
  checkpoint.

  Raises:
    errors.NoCheckpointError: If log_dir holds no checkpoint that restores.
    OSError: If saved_model is not a SavedModel of export.py.
  """
  with tf.Graph().as_default(), tf1.Session() as sess:
    if saved_model:
      found = _from_saved_model(sess, saved_model)
    else:
      found = _from_checkpoint(sess, log_dir)
    yield Classifier(sess, *found)
