"""Measures what answering the command line costs: time and peak memory.

For each program and benchmark script, runs `--help`, and for the programs a
bad flag and the refusals that need no TensorFlow (a busy log dir, a log dir
that cannot be written, a picture that is not there), as a user would, each
--repeats times, alternating them. Prints the median wall time and the
largest peak resident memory of each, beside those of `import tensorflow`
alone: what every one of them cost when the programs imported TensorFlow
first.

  python benchmarks/startup_cost.py --repeats 5
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tutorial_support import log_dirs  # pylint: disable=g-import-not-at-top,wrong-import-position


def parse_flags(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=5,
                      help='Runs of each command; the median time and the '
                      'largest memory are shown. (default: %(default)s)')
  parser.add_argument('--json', metavar='FILE',
                      help='Also write every sample to FILE. (default: none)')
  flags = parser.parse_args(argv)
  if flags.repeats < 1:
    parser.error('--repeats must be at least 1')
  return flags


def scripts():
  """The programs and benchmark scripts, relative to the repository."""
  found = ['fully_connected_feed.py', 'fully_connected_replica.py',
           'classify.py', 'input_data.py']
  for path in sorted(glob.glob(os.path.join(ROOT, 'benchmarks', '*.py'))):
    with open(path) as f:
      if "if __name__ == '__main__':" in f.read():
        found.append(os.path.relpath(path, ROOT))
  return found


def commands(scratch):
  """(name, argv, expected exit status) of every command measured."""
  busy = os.path.join(scratch, 'busy')
  unwritable = os.path.join(scratch, 'unwritable')
  os.makedirs(unwritable)
  os.chmod(unwritable, 0o555)
  listed = [('import tensorflow (the old cost)',
             ['-c', 'import tensorflow'], 0)]
  listed += [('%s --help' % script, [script, '--help'], 0)
             for script in scripts()]
  listed += [
      ('fully_connected_feed.py --max_steps x',
       ['fully_connected_feed.py', '--max_steps', 'x'], 2),
      ('fully_connected_replica.py --max_steps x',
       ['fully_connected_replica.py', '--max_steps', 'x'], 2),
      ('classify.py --top x', ['classify.py', '--top', 'x', 'a.png'], 2),
      ('fully_connected_feed.py, busy --log_dir',
       ['fully_connected_feed.py', '--fake_data', '--log_dir', busy], 1),
      ('fully_connected_replica.py --local_workers 2, busy --log_dir',
       ['fully_connected_replica.py', '--local_workers', '2', '--fake_data',
        '--log_dir', busy], 1),
      ('classify.py, a picture not there',
       ['classify.py', os.path.join(scratch, 'none.png')], 1),
  ]
  listed.append(('fully_connected_feed.py, unwritable --log_dir',
                 ['fully_connected_feed.py', '--fake_data', '--log_dir',
                  unwritable], 1))
  return listed, busy


def as_user(command):
  """command; as root, without the capabilities that override permissions,
  so that an unwritable directory is unwritable to it."""
  if os.geteuid() != 0:
    return command
  caps = '-dac_override,-dac_read_search'
  return ['setpriv', '--inh-caps=' + caps, '--bounding-set=' + caps] + command


def measure(argv, status):
  """Runs python argv once; returns (seconds, peak resident MB)."""
  start = time.perf_counter()
  command = [sys.executable] + argv
  if 'unwritable' in ' '.join(argv):
    command = as_user(command)
  process = subprocess.Popen(command, cwd=ROOT,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  _, wait_status, usage = os.wait4(process.pid, 0)
  seconds = time.perf_counter() - start
  process.returncode = os.waitstatus_to_exitcode(wait_status)
  if process.returncode != status:
    raise SystemExit('startup_cost.py: error: %s exited %d, expected %d'
                     % (' '.join(argv), process.returncode, status))
  return seconds, usage.ru_maxrss / 1024.0


def main(argv=None):
  flags = parse_flags(argv)
  samples = {}
  with tempfile.TemporaryDirectory() as scratch:
    listed, busy = commands(scratch)
    with log_dirs.hold_log_dir(busy):
      for _ in range(flags.repeats):
        for name, command, status in listed:
          samples.setdefault(name, []).append(measure(command, status))
    os.chmod(os.path.join(scratch, 'unwritable'), 0o755)
  print('%d CPUs, Python %s, median of %d runs' % (
      os.cpu_count(), sys.version.split()[0], flags.repeats))
  print('%-62s %8s %8s' % ('command', 'seconds', 'peak MB'))
  for name, runs in samples.items():
    print('%-62s %8.2f %8.0f' % (
        name, statistics.median(t for t, _ in runs), max(m for _, m in runs)))
  if flags.json:
    with open(flags.json + '.part', 'w') as f:
      json.dump(samples, f, indent=1)
    os.replace(flags.json + '.part', flags.json)
  return 0


if __name__ == '__main__':
  sys.exit(main())
