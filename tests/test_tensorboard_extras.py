"""Tests of tutorial_support.tensorboard_extras: the prediction grid, and the
real TensorBoard started on the log dir of a short run and asked its API."""

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
import pytest

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
  runs = wait_for(url + '/data/runs', lambda runs: runs, server)
  assert runs == ['.']
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
