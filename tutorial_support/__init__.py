"""The machinery around the tutorial's three files, one job a module.

The tutorial's mnist.py, input_data.py and fully_connected_feed.py stay at
the top level and read like the tutorial; what it never talks about lives
here, and the programs call it in a line or two:

  mnist_files         fetching the four IDX files from their sources
  mnist_store         verifying them by content and installing them whole
  idx                 the IDX format, read strictly
  atomic_files        files written whole (temporary name, then rename)
  flags               the command line the programs share
  command_lines       each program's command line, before TensorFlow loads
  log_dirs            one run per log dir: its lock
  errors              one-line errors and exit statuses
  signals             Ctrl-C and SIGTERM: a clean stop between steps
  startup             the quiet, fast TensorFlow import
  speed               session settings and evaluation threads
  checkpoints         restore or initialise, the fit check, save with clean-up
  tensorboard_extras  a precision run per split, histograms, the prediction
                      grid, HParams, the Projector
  export              SavedModel export
  cluster_setup       a cluster task's setup: cluster spec, waits, watchdog
  local_cluster       fully_connected_replica.py's --local_workers launcher
  confusion           --eval_only's confusion matrix, precision and recall
  picture_files       any picture read in bounded time and memory
  digit_images        MNIST's preprocessing of a picture of a digit
  classifier          a trained model loaded once, for classify.py

No module here imports a program; the programs import these.
"""
