"""Builds the MNIST network, in the tutorial's three stages plus evaluation.

1. inference() - Builds the model as far as it needs to go to make
   predictions: two ReLU hidden layers and a linear softmax layer.
2. loss() - Adds to the inference graph the ops that compute the loss.
3. training() - Adds to the loss graph the ops that compute and apply the
   gradients.
evaluation() - Counts the correct predictions of a batch.

The name scopes and op names (hidden1, hidden2, softmax_linear, xentropy,
xentropy_mean) are those a checkpoint and TensorBoard show. This module knows
no files and no flags: every size and rate is an argument.
"""

import math

import tensorflow as tf

tf1 = tf.compat.v1

# The MNIST dataset has 10 classes, the digits 0 through 9.
NUM_CLASSES = 10

# MNIST images are always 28x28 pixels.
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def _fully_connected(inputs, fan_in, fan_out, scope, activation=None):
  """Adds one layer under name scope `scope`: activation(inputs @ weights +
  biases), or the sum alone without an activation.

  Everything the layer adds, its ReLU included, is inside the scope, so the
  graph's nodes are the tutorial's: hidden1/MatMul, hidden1/add and
  hidden1/Relu in the box TensorBoard draws for hidden1.
  """
  with tf.name_scope(scope):
    weights = tf1.Variable(
        tf1.truncated_normal([fan_in, fan_out],
                             stddev=1.0 / math.sqrt(float(fan_in))),
        name='weights')
    biases = tf1.Variable(tf.zeros([fan_out]), name='biases')
    outputs = tf.matmul(inputs, weights) + biases
    return activation(outputs) if activation else outputs


def inference(images, hidden1_units, hidden2_units):
  """Builds the MNIST model up to where it may be used for inference.

  Args:
    images: Images placeholder, float32 [batch_size, IMAGE_PIXELS].
    hidden1_units: Size of the first hidden layer.
    hidden2_units: Size of the second hidden layer.

  Returns:
    softmax_linear: Output tensor with the computed logits, [batch_size,
      NUM_CLASSES].
  """
  hidden1 = _fully_connected(images, IMAGE_PIXELS, hidden1_units, 'hidden1',
                             tf.nn.relu)
  hidden2 = _fully_connected(hidden1, hidden1_units, hidden2_units, 'hidden2',
                             tf.nn.relu)
  return _fully_connected(hidden2, hidden2_units, NUM_CLASSES,
                          'softmax_linear')


def loss(logits, labels):
  """Calculates the loss from the logits and the labels.

  Args:
    logits: Logits tensor, float32 [batch_size, NUM_CLASSES].
    labels: Labels tensor, int32 [batch_size], each in [0, NUM_CLASSES).

  Returns:
    loss: Loss tensor of type float32, the mean cross entropy of the batch.
  """
  # tf.to_int64 of the tutorial's day, under the name it gave the op.
  labels = tf.cast(labels, tf.int64, name='ToInt64')
  cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits, name='xentropy')
  return tf.reduce_mean(cross_entropy, name='xentropy_mean')


def training(loss, learning_rate):
  """Sets up the training ops.

  Adds a scalar summary of the loss for TensorBoard, and an op that applies
  one step of gradient descent and increments the global step.

  Args:
    loss: Loss tensor, from loss().
    learning_rate: The learning rate to use for gradient descent.

  Returns:
    train_op: The op for training, to pass to `sess.run()`.
  """
  tf1.summary.scalar('loss', loss)
  optimizer = tf1.train.GradientDescentOptimizer(learning_rate)
  # int32, as in the tutorial, so that its checkpoints restore into its graph.
  global_step = tf1.Variable(0, name='global_step', trainable=False,
                             collections=[tf1.GraphKeys.GLOBAL_VARIABLES,
                                          tf1.GraphKeys.GLOBAL_STEP])
  return optimizer.minimize(loss, global_step=global_step)


def evaluation(logits, labels):
  """Evaluates the quality of the logits at predicting the label.

  A label outside [0, NUM_CLASSES) never counts as correct, so a batch may be
  padded with label -1 to a fixed size without changing the count.

  Args:
    logits: Logits tensor, float32 [batch_size, NUM_CLASSES].
    labels: Labels tensor, int32 [batch_size].

  Returns:
    A scalar int32 tensor with the number of examples (out of batch_size)
    that were predicted correctly.
  """
  correct = tf1.nn.in_top_k(predictions=logits, targets=labels, k=1)
  return tf.reduce_sum(tf.cast(correct, tf.int32))
