"""The session settings and evaluation threads that make the programs fast.

See docs/speed.md for the measurements behind each.
"""

import os

import tensorflow as tf

tf1 = tf.compat.v1

CORES = os.cpu_count() or 1

# The largest matmul of a step (multiply-adds) from which its ops are given
# every core. Measured with benchmarks/sweep.py on 2 cores, training steps
# per second at 1 and at 2 intra-op threads: 100 x 784 x 128 (10 M, the
# tutorial's default) 1,084 against 859; 500 x 784 x 128 (50 M) 397 against
# 357; 100 x 784 x 1024 (80 M) 184 against 224; 1000 x 784 x 128 (100 M)
# 222 against 244. Below it, handing small ops to a thread pool costs more
# than the second core wins back.
PARALLEL_FROM_MACS = 64e6


def intra_op_threads(batch_size=100, hidden1=128, hidden2=32):
  """The threads each op gets, by the size of the network's largest matmul."""
  largest = batch_size * max(784 * hidden1, hidden1 * hidden2)
  return CORES if largest >= PARALLEL_FROM_MACS else 1


# Threads that run evaluation batches side by side: one per core, whatever
# intra_op_threads() gives each op (measured on 2 cores, an evaluation of
# the three splits at 1024-512 units: 1.58 s on one thread of two-thread
# ops, 1.01 s on two; capped: Python's side of every run still holds the
# interpreter lock).
EVAL_THREADS = min(8, CORES)


def session_config(batch_size=100, hidden1=128, hidden2=32):
  """Returns the ConfigProto of the sessions of a network of these sizes.

  Every op runs in the thread that calls it (inter-op -1); its own work is
  split over intra_op_threads(). At the default sizes, one thread per op
  takes a step from about 1,000 to about 1,500 a second and an evaluation
  of the three splits from 0.35 to 0.25 s, against TensorFlow's defaults
  (each setting in a process of its own: a process keeps the thread pools
  of its first session; see docs/speed.md).
  """
  return tf1.ConfigProto(
      intra_op_parallelism_threads=intra_op_threads(batch_size, hidden1,
                                                    hidden2),
      inter_op_parallelism_threads=-1)
