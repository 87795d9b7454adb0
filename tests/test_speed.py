"""Tests of tutorial_support.speed: settings of speed, never of results."""

import os

import numpy as np
import tensorflow as tf

import fully_connected_feed
import input_data
from test_fully_connected_feed import restore_variables, run
from tutorial_support import speed

tf1 = tf.compat.v1


def _seeded_training(config, data_sets, steps=300):
  """Trains a seeded model under config; returns its losses and weights."""
  with tf.Graph().as_default():
    tf1.set_random_seed(7)
    model = fully_connected_feed.build_model(50, 32, 16, 0.1)
    with tf1.Session(config=config) as sess:
      sess.run(tf1.global_variables_initializer())
      losses = [fully_connected_feed.train_step(sess, model,
                                                data_sets.train)[0]
                for _ in range(steps)]
      return np.array(losses), sess.run(tf1.trainable_variables())


def test_speed_settings_do_not_change_what_is_learned(small_data_dir,
                                                      no_sources):
  # session_config() is a speed setting only: against TensorFlow's default
  # session, the same seed gives the same losses and weights, to rounding.
  results = []
  for config in (speed.session_config(), tf1.ConfigProto()):
    data_sets = input_data.read_data_sets(small_data_dir, seed=5)
    results.append(_seeded_training(config, data_sets))
  (fast_losses, fast_weights), (default_losses, default_weights) = results
  assert fast_losses[-1] < 0.5 * fast_losses[0]  # it did learn
  np.testing.assert_allclose(fast_losses, default_losses, rtol=1e-4)
  for fast, default in zip(fast_weights, default_weights):
    np.testing.assert_allclose(fast, default, rtol=1e-3, atol=1e-5)


def test_tracing_does_not_change_what_is_learned(tmp_path, capsys):
  final = []
  for trace_every in (0, 1):
    log_dir = str(tmp_path / str(trace_every))
    assert run(capsys, '--fake_data', '--seed', 3, '--max_steps', 30,
               '--trace_every', trace_every, '--log_dir', log_dir)[0] == 0
    final.append(restore_variables(os.path.join(log_dir, 'model.ckpt-30')))
  for name, value in final[0].items():
    np.testing.assert_array_equal(value, final[1][name], err_msg=name)
