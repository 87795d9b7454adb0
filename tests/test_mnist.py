"""Tests of mnist.py: the graph's names and shapes, loss, training, eval."""

import math

import numpy as np
import pytest
import tensorflow as tf

import mnist

tf1 = tf.compat.v1


@pytest.fixture
def graph():
  with tf.Graph().as_default() as g:
    yield g


def build(batch_size=5, hidden1=128, hidden2=32, learning_rate=0.1):
  images = tf1.placeholder(tf.float32, [batch_size, mnist.IMAGE_PIXELS])
  labels = tf1.placeholder(tf.int32, [batch_size])
  logits = mnist.inference(images, hidden1, hidden2)
  loss = mnist.loss(logits, labels)
  train_op = mnist.training(loss, learning_rate)
  return images, labels, logits, loss, train_op


def test_constants():
  assert (mnist.NUM_CLASSES, mnist.IMAGE_SIZE, mnist.IMAGE_PIXELS) == \
      (10, 28, 784)


def test_variables_have_the_tutorial_names_and_shapes(graph):
  build(hidden1=128, hidden2=32)
  shapes = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  assert shapes == {
      'hidden1/weights': [784, 128], 'hidden1/biases': [128],
      'hidden2/weights': [128, 32], 'hidden2/biases': [32],
      'softmax_linear/weights': [32, 10], 'softmax_linear/biases': [10],
      'global_step': [],
  }
  trainable = sorted(v.op.name for v in tf1.trainable_variables())
  assert 'global_step' not in trainable and len(trainable) == 6
  assert tf1.train.get_global_step().dtype.base_dtype == tf.int32


def test_ops_and_summary_names(graph):
  build()
  names = {op.name for op in graph.get_operations()}
  assert 'xentropy_mean' in names
  # TensorFlow 2 puts the op in a scope of its name: TensorBoard shows one box.
  assert 'xentropy/xentropy' in names or 'xentropy' in names
  summaries = tf1.get_collection(tf1.GraphKeys.SUMMARIES)
  assert [s.op.name for s in summaries] == ['loss']


def build_all(batch_size=100):
  """inference, loss, training and evaluation, as run_training builds them."""
  images, labels, logits, loss, train_op = build(batch_size=batch_size)
  mnist.evaluation(logits, labels)
  return images, labels, logits, loss, train_op


# The nodes that the tutorial's own code (its mnist.py's inference, loss,
# training and evaluation on placeholders of batch 100) adds on TensorFlow
# 2.21, with their op types: every layer's ops in its name scope, the ReLU
# too, and the gradients named after them.
LAYER_NODES = {
    '%s/weights': 'VarHandleOp', '%s/biases': 'VarHandleOp',
    '%s/MatMul': 'MatMul', '%s/add': 'AddV2',
    'gradients/%s/MatMul_grad/MatMul': 'MatMul',
    'gradients/%s/MatMul_grad/MatMul_1': 'MatMul',
    'gradients/%s/add_grad/Sum': 'Sum',
    'GradientDescent/update_%s/weights/ResourceApplyGradientDescent':
        'ResourceApplyGradientDescent',
}
HIDDEN_NODES = {'%s/Relu': 'Relu',
                'gradients/%s/Relu_grad/ReluGrad': 'ReluGrad'}
OTHER_NODES = {
    'ToInt64': 'Cast',
    'xentropy/xentropy': 'SparseSoftmaxCrossEntropyWithLogits',
    'xentropy_mean': 'Mean', 'loss': 'ScalarSummary',
    'gradients/xentropy_mean_grad/truediv': 'RealDiv',
    'gradients/xentropy/xentropy_grad/mul': 'Mul',
    'global_step': 'VarHandleOp', 'GradientDescent': 'AssignAddVariableOp',
    'in_top_k/InTopKV2': 'InTopKV2', 'Sum': 'Sum',
}
# Every name at the top of the tutorial's graph: the scopes and the loose ops.
TOP_LEVEL = {'Placeholder', 'Placeholder_1', 'hidden1', 'hidden2',
             'softmax_linear', 'ToInt64', 'xentropy', 'xentropy_mean', 'loss',
             'global_step', 'gradients', 'GradientDescent', 'in_top_k',
             'Cast', 'Const', 'Const_1', 'Sum'}


def test_the_graph_is_the_tutorials_node_by_node(graph):
  build_all()
  types = {op.name: op.type for op in graph.get_operations()}
  expected = dict(OTHER_NODES)
  for scope in ('hidden1', 'hidden2', 'softmax_linear'):
    layer = dict(LAYER_NODES, **(HIDDEN_NODES if scope != 'softmax_linear'
                                 else {}))
    expected.update({name % scope: op for name, op in layer.items()})
  assert {name: types.get(name) for name in expected} == expected
  assert {name.split('/')[0] for name in types} == TOP_LEVEL
  assert len(types) == 142  # As many as the tutorial's code adds.


def test_initial_weights_are_truncated_normal_and_biases_zero(graph):
  build(hidden1=256, hidden2=64)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    values = {v.op.name: sess.run(v) for v in tf1.global_variables()}
  for layer, fan_in in (('hidden1', 784), ('hidden2', 256),
                        ('softmax_linear', 64)):
    weights = values[layer + '/weights']
    stddev = 1.0 / math.sqrt(fan_in)
    assert np.abs(weights).max() <= 2 * stddev + 1e-6  # Truncated at 2 sigma.
    # A normal truncated at 2 sigma has 0.88 of the untruncated deviation.
    assert weights.std() == pytest.approx(0.88 * stddev, rel=0.1)
    assert not values[layer + '/biases'].any()


def test_loss_of_zero_logits_is_ln_10(graph):
  logits = tf.zeros([4, mnist.NUM_CLASSES])
  loss = mnist.loss(logits, tf.constant([0, 3, 9, 5]))
  with tf1.Session() as sess:
    assert sess.run(loss) == pytest.approx(math.log(10), rel=1e-6)


def test_evaluation_counts_correct_predictions(graph):
  logits = tf.constant(np.eye(10, dtype=np.float32)[[1, 2, 3, 4]])
  correct = mnist.evaluation(logits, tf.constant([1, 2, 0, -1]))
  with tf1.Session() as sess:
    value = sess.run(correct)
  assert value == 2
  assert correct.dtype == tf.int32


def test_training_lowers_the_loss_and_counts_steps(graph):
  images, labels, _, loss, train_op = build(batch_size=20, learning_rate=0.5)
  rng = np.random.default_rng(0)
  feed = {images: rng.standard_normal((20, 784), dtype=np.float32),
          labels: rng.integers(0, 10, 20)}
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    first = sess.run(loss, feed)
    for _ in range(200):
      sess.run(train_op, feed)
    assert sess.run(loss, feed) < first / 2
    assert sess.run(tf1.train.get_global_step()) == 200
