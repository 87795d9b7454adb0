"""TensorBoard extras beyond the tutorial's loss curve.

At each evaluation: the precision of each split as scalars, a histogram of
every variable, and an image of test predictions, each digit labelled with
what the model predicted (white on black if right, black on white if wrong).
"""

import numpy as np
import tensorflow as tf

import mnist

tf1 = tf.compat.v1

# A 3 x 5 pixel font of the digits, to label the images TensorBoard shows.
_GLYPHS = np.array([[[bit == '1' for bit in row] for row in glyph.split()]
                    for glyph in ('111 101 101 101 111', '010 110 010 010 111',
                                  '111 001 111 100 111', '111 001 111 001 111',
                                  '101 101 111 001 001', '111 100 111 001 111',
                                  '111 100 111 101 111', '111 001 001 001 001',
                                  '111 101 111 101 111', '111 101 111 001 111')])
GRID_COLUMNS = 4
GRID_IMAGES = 16
EVAL_SUMMARIES = 'evaluation_summaries'


def prediction_grid(images, labels, predictions, columns=GRID_COLUMNS):
  """Draws images in a grid, each with its predicted digit in its corner.

  A correct prediction is drawn white on black, a wrong one black on white.

  Args:
    images: float array [N, 784] of pixels in [0, 1].
    labels: int array [N] of true labels.
    predictions: int array [N] of predicted labels.
    columns: Images per row of the grid.

  Returns:
    A uint8 array [height, width], twice the natural size for legibility.
  """
  cell = mnist.IMAGE_SIZE + 2
  rows = -(-len(images) // columns)
  grid = np.full((rows * cell, columns * cell), 96, np.uint8)
  for index, (image, label, predicted) in enumerate(
      zip(images, labels, predictions)):
    top = index // columns * cell + 1
    left = index % columns * cell + 1
    grid[top:top + mnist.IMAGE_SIZE, left:left + mnist.IMAGE_SIZE] = np.round(
        255 * image.reshape(mnist.IMAGE_SIZE, mnist.IMAGE_SIZE))
    ink, paper = (255, 0) if predicted == label else (0, 255)
    grid[top:top + 7, left:left + 5] = paper
    grid[top + 1:top + 6, left + 1:left + 4][_GLYPHS[predicted]] = ink
  return np.kron(grid, np.ones((2, 2), np.uint8))


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


def write_evaluation_summaries(writer, sess, model, test_set, precisions,
                               step):
  """Writes the precisions, histograms and prediction grid at step.

  Args:
    writer: The FileWriter of the run.
    sess: The session holding the model's variables.
    model: The Model, with its eval_summary and grid_placeholder.
    test_set: The DataSet whose first batch the grid shows.
    precisions: A dict from split name to precision @ 1.
    step: The global step to write them at.
  """
  writer.add_summary(tf1.Summary(value=[
      tf1.Summary.Value(tag='precision/' + split, simple_value=precision)
      for split, precision in precisions.items()]), step)
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
