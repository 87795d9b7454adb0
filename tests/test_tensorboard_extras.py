"""Tests of tutorial_support.tensorboard_extras: the prediction grid, and the
real TensorBoard started on the log dir of a short run and asked its API."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from PIL import Image
import pytest

import input_data
from conftest import SMALL_TEST
from test_fully_connected_feed import numpy_logits, restore_variables
from test_fully_connected_feed import run, scalar_steps
from tutorial_support import tensorboard_extras

TENSORBOARD = os.path.join(os.path.dirname(sys.executable), 'tensorboard')


def free_port():
  with socket.socket() as sock:
    sock.bind(('127.0.0.1', 0))
    return sock.getsockname()[1]


def get_json(url):
  with urllib.request.urlopen(url, timeout=10) as response:
    return json.loads(response.read())


def wait_for(url, ready, server, deadline=120):
  """Polls url until ready(answer) holds; fails if the server dies."""
  stop = time.monotonic() + deadline
  while time.monotonic() < stop:
    assert server.poll() is None, 'tensorboard exited: %s' % (
        server.stdout.read() if server.stdout else '')
    try:
      answer = get_json(url)
      if ready(answer):
        return answer
    except (urllib.error.URLError, ConnectionError, ValueError):
      pass
    time.sleep(0.5)
  pytest.fail('tensorboard never answered %s' % url)


@pytest.fixture
def tensorboard():
  """Starts tensorboard on a log dir; always stops it at the end."""
  servers = []

  def start(log_dir):
    port = free_port()
    server = subprocess.Popen(
        [TENSORBOARD, '--logdir', log_dir, '--host', '127.0.0.1',
         '--port', str(port), '--reload_interval', '1'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    servers.append(server)
    return 'http://127.0.0.1:%d' % port, server
  yield start
  for server in servers:
    if server.poll() is None:
      os.killpg(server.pid, signal.SIGTERM)
      try:
        server.wait(timeout=20)
      except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    server.stdout.close()


def test_tensorboard_serves_the_steps_written(tmp_path, capsys, tensorboard):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 350,
             '--log_dir', log_dir)[0] == 0
  written = scalar_steps(log_dir, 'loss')
  assert written == [0, 100, 200, 300]
  url, server = tensorboard(log_dir)
  runs = wait_for(url + '/data/runs', lambda runs: len(runs) == 2, server)
  assert sorted(runs) == ['.', 'projector']
  tags = wait_for(url + '/data/plugin/scalars/tags',
                  lambda tags: 'precision/test' in tags.get('.', {}), server)
  assert {'loss', 'precision/train', 'precision/validation',
          'precision/test'} <= set(tags['.'])
  query = urllib.parse.urlencode({'run': '.', 'tag': 'loss'})
  points = get_json(url + '/data/plugin/scalars/scalars?' + query)
  assert [step for _, step, _ in points] == written
  assert all(value > 0 for _, _, value in points)
  graph_query = urllib.parse.urlencode({'run': '.'})
  with urllib.request.urlopen(url + '/data/plugin/graphs/graph?' + graph_query,
                              timeout=10) as response:
    graph = response.read().decode()
  for scope in ('hidden1/weights', 'hidden2/', 'softmax_linear/', 'xentropy',
                'GradientDescent'):
    assert scope in graph


def test_prediction_grid_marks_each_prediction():
  images = np.zeros((3, 784), np.float32)
  grid = tensorboard_extras.prediction_grid(images, np.array([1, 2, 3]),
                                              np.array([1, 7, 3]), columns=2)
  assert grid.shape == (2 * 30 * 2, 2 * 30 * 2)
  cell = grid[::2, ::2]  # Back to natural size.
  right = cell[1:8, 1:6]
  wrong = cell[1:8, 31:36]
  assert right[0, 0] == 0 and right[1:6, 1:4].max() == 255  # White on black.
  assert wrong[0, 0] == 255 and wrong[1:6, 1:4].min() == 0  # Black on white.
  np.testing.assert_array_equal(wrong[1:6, 1:4] == 0,
                                tensorboard_extras._GLYPHS[7])


def get_bytes(url, **query):
  with urllib.request.urlopen(url + '?' + urllib.parse.urlencode(query),
                              timeout=10) as response:
    return response.read()


def test_graphs_dashboard_gets_a_traced_step_before_each_save(
    tmp_path, capsys, tensorboard):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 1100,
             '--log_dir', log_dir)[0] == 0
  url, server = tensorboard(log_dir)
  info = wait_for(url + '/data/plugin/graphs/info',
                  lambda info: '.' in info, server)
  assert sorted(info['.']['tags']) == ['step1099', 'step999']
  assert all(tag['profile'] for tag in info['.']['tags'].values())
  metadata = get_bytes(url + '/data/plugin/graphs/run_metadata', run='.',
                       tag='step999').decode()
  # Per-node stats: compute time, and memory of the ops' outputs.
  assert 'node_name: "gradients/hidden1/MatMul_grad/MatMul_1"' in metadata
  assert 'all_end_rel_micros' in metadata and 'requested_bytes' in metadata


def test_projector_shows_the_last_hidden_layer_of_the_final_weights(
    small_data_dir, tmp_path, capsys, tensorboard, no_sources):
  log_dir = str(tmp_path / 'logs')
  for steps in (300, 400):  # Resumed: the Projector follows.
    assert run(capsys, '--input_data_dir', small_data_dir, '--log_dir',
               log_dir, '--max_steps', steps, '--hidden2', 12)[0] == 0
  run_dir = os.path.join(log_dir, 'projector')
  assert not [name for name in os.listdir(run_dir)
              if name.startswith(('activations-300', 'labels-300'))]
  url, server = tensorboard(log_dir)
  runs = wait_for(url + '/data/plugin/projector/runs',
                  lambda runs: 'projector' in runs, server)
  assert 'projector' in runs
  config = get_json(url + '/data/plugin/projector/info?run=projector')
  embedding, = config['embeddings']
  name = embedding['tensorName']
  assert embedding['tensorShape'] == [SMALL_TEST, 12]
  tensor = np.frombuffer(get_bytes(url + '/data/plugin/projector/tensor',
                                   run='projector', name=name), np.float32)
  data_sets = input_data.read_data_sets(small_data_dir)
  variables = restore_variables(os.path.join(log_dir, 'model.ckpt-400'))
  images = data_sets.test.images
  hidden1 = np.maximum(images @ variables['hidden1/weights']
                       + variables['hidden1/biases'], 0)
  expected = np.maximum(hidden1 @ variables['hidden2/weights']
                        + variables['hidden2/biases'], 0)
  np.testing.assert_allclose(tensor.reshape(SMALL_TEST, 12), expected,
                             rtol=1e-4, atol=1e-4)
  rows = get_bytes(url + '/data/plugin/projector/metadata', run='projector',
                   name=name).decode().splitlines()
  assert rows[0] == 'label\tprediction\tcorrect'
  predictions = numpy_logits(variables, images).argmax(axis=1)
  assert rows[1:] == ['%d\t%d\t%s' % (label, predicted, 'yes' if
                                      label == predicted else 'no')
                      for label, predicted in zip(data_sets.test.labels,
                                                  predictions)]
  sprite = Image.open(io.BytesIO(get_bytes(
      url + '/data/plugin/projector/sprite_image', run='projector',
      name=name)))
  side = int(np.ceil(np.sqrt(SMALL_TEST)))
  assert sprite.size == (28 * side, -(-SMALL_TEST // side) * 28)
  first = np.asarray(sprite)[:28, :28]
  np.testing.assert_array_equal(first, np.round(
      255 * images[0].reshape(28, 28)).astype(np.uint8))
