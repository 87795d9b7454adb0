"""The session settings and evaluation threads that make the programs fast.

See the README's Speed section for the measurements behind each.
"""

import os

import tensorflow as tf

tf1 = tf.compat.v1

# Threads that run evaluation batches side by side: one per core (measured
# on 2 cores only, hence the modest cap: Python's side of every run still
# holds the interpreter lock).
EVAL_THREADS = min(8, os.cpu_count() or 1)


def session_config():
  """Returns the ConfigProto of the training and evaluation sessions.

  The model's ops are small (the largest is a 100x784 by 784x128 matmul), so
  handing them to thread pools costs more than the pools win back: on a
  2-core machine, running every op in the calling thread with one thread per
  op takes a step from about 1,000 to about 1,500 a second and an evaluation
  of the three splits from 0.35 to 0.25 s (each setting in a process of its
  own: a process keeps the thread pools of its first session; see the
  README's Speed section).
  """
  return tf1.ConfigProto(intra_op_parallelism_threads=1,
                         inter_op_parallelism_threads=-1)
