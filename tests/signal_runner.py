"""Runs fully_connected_feed.main() again and again in one process, each run
stopped by SIGINT or SIGTERM (sometimes two) sent at a random moment.

Every save is recorded with the live values of the variables at that moment,
so the test can check that each checkpoint holds exactly what was trained.
A signal that corrupts memory ends this process (glibc aborts), which the
test sees as its exit status.

  python tests/signal_runner.py RUNS SEED WORK_DIR

Prints one JSON line per run: its exit status, log dir, and the checkpoints
saved with the digest of the live weights at each save.
"""

import hashlib
import json
import os
import random
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fully_connected_feed  # pylint: disable=wrong-import-position
from tutorial_support import signals  # pylint: disable=wrong-import-position

tf1 = fully_connected_feed.tf1


def weights_digest(values):
  """A digest of {name: array}, in name order."""
  digest = hashlib.sha256()
  for name in sorted(values):
    digest.update(name.encode())
    digest.update(values[name].tobytes())
  return digest.hexdigest()


def record_saves(saves):
  """Wraps save_checkpoint so that each save appends (path, live digest)."""
  real = fully_connected_feed.save_checkpoint

  def save_checkpoint(run, *args):
    path = real(run, *args)
    variables = tf1.global_variables()
    values = run.sess.run(variables)
    saves.append((path, weights_digest(
        {v.op.name: value for v, value in zip(variables, values)})))
    return path
  fully_connected_feed.save_checkpoint = save_checkpoint


def one_run(rng, log_dir, saves):
  """Starts a run and signals it at random; returns its exit status."""
  numbers = [rng.choice([signal.SIGINT, signal.SIGTERM])]
  if rng.random() < 0.15:
    numbers.append(rng.choice([signal.SIGINT, signal.SIGTERM]))
  delay = rng.uniform(0.0, 2.5)
  timers = [threading.Timer(delay + 0.05 * index, os.kill,
                            (os.getpid(), number))
            for index, number in enumerate(numbers)]
  del saves[:]
  for timer in timers:
    timer.start()
  try:
    status = fully_connected_feed.main(
        ['--fake_data', '--seed', '1', '--max_steps', '1000000000',
         '--log_dir', log_dir])
  except KeyboardInterrupt as e:
    # A signal that came before main() installed its own handlers.
    status = signals.interrupted_status(e)
  for timer in timers:
    try:
      timer.join()
    except KeyboardInterrupt:
      pass  # A second signal that came after main() returned.
  return status, [int(number) for number in numbers], delay


def main(argv):
  runs, seed, work_dir = int(argv[1]), int(argv[2]), argv[3]
  rng = random.Random(seed)
  saves = []
  record_saves(saves)
  # Before main() takes over SIGTERM, and between runs, it must not end us.
  signal.signal(signal.SIGTERM, signals.interrupt)
  for index in range(runs):
    log_dir = os.path.join(work_dir, 'run%d' % index)
    status, numbers, delay = one_run(rng, log_dir, saves)
    print(json.dumps({'status': status, 'log_dir': log_dir,
                      'signals': numbers, 'delay': delay,
                      'saves': list(saves)}), flush=True)


if __name__ == '__main__':
  main(sys.argv)
