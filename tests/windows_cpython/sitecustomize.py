"""Makes this project's own modules see what Windows's CPython 3.11 offers.

Put this directory on PYTHONPATH and every Python process started with that
environment imports this file at start-up (site.py's sitecustomize). From
then on, an import made by a file of this repository (not of .venv, not of
the standard library, not of tests/) gets:

- ModuleNotFoundError for the Unix-only modules (fcntl, termios, resource,
  pwd, grp, pty, tty, posix);
- an `os` and a `signal` without the names that Windows's CPython lacks, and
  with the signals it has (SIGBREAK among them);
- a `ctypes` whose CDLL(None) fails as it does there (no process-wide
  library to look prctl up in);
- an os.symlink that is refused, as it is to a user without the privilege.

TensorFlow, NumPy, Pillow, portalocker and the standard library keep what
they have: each ships its own build for each system. What this cannot show
is in docs/tests.md: Windows's file semantics, its paths, its delivery of
Ctrl-C, and the Windows paths of those packages.

$SIMULATED_MNIST_SPECS, if set, names a JSON file {name: [size, sha256]}
that tutorial_support.mnist_files verifies against instead of MNIST's own,
so that a test can serve small files.
"""

import builtins
import enum
import errno
import json
import os
import signal
import sys
import types

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_NOT_OURS = tuple(os.path.join(_ROOT, name) + os.sep
                  for name in ('.venv', 'tests'))

UNIX_ONLY_MODULES = frozenset(
    ('fcntl', 'termios', 'resource', 'pwd', 'grp', 'pty', 'tty', 'posix'))

# os names that CPython 3.11 does not define on Windows (its documentation
# marks them "Availability: Unix"); os.fchmod came to Windows in 3.13.
MISSING_FROM_OS = frozenset('''
    fchmod fchown chown lchown lchmod chflags lchflags fchdir chroot
    O_NOFOLLOW O_NONBLOCK O_CLOEXEC O_DIRECTORY O_SYNC O_DSYNC O_RSYNC O_NOCTTY
    O_ASYNC O_DIRECT O_NOATIME O_PATH O_TMPFILE O_LARGEFILE O_NDELAY O_EXLOCK
    O_SHLOCK O_FSYNC
    getuid geteuid getgid getegid getgroups setgroups setuid seteuid setgid
    setegid setreuid setregid getresuid getresgid setresuid setresgid
    initgroups getgrouplist getlogin
    getpgid getpgrp setpgid setpgrp setsid getsid killpg tcgetpgrp tcsetpgrp
    fork forkpty register_at_fork wait wait3 wait4 waitid WNOHANG WUNTRACED
    WCONTINUED WEXITED WSTOPPED WNOWAIT WIFEXITED WEXITSTATUS WIFSIGNALED
    WTERMSIG WIFSTOPPED WSTOPSIG WCOREDUMP WIFCONTINUED P_PID P_PGID P_ALL
    major minor makedev mkfifo mknod uname statvfs fstatvfs sync fdatasync
    sysconf sysconf_names pathconf fpathconf pathconf_names confstr
    confstr_names sched_getaffinity sched_setaffinity sched_yield
    sched_get_priority_max sched_get_priority_min sched_param getloadavg nice
    getpriority setpriority pipe2 posix_fadvise posix_fallocate pread pwrite
    preadv pwritev readv writev sendfile openpty ttyname ctermid lockf
    F_LOCK F_TLOCK F_ULOCK F_TEST posix_spawn posix_spawnp get_blocking
    set_blocking getxattr setxattr listxattr removexattr memfd_create
    eventfd splice pidfd_open copy_file_range
    '''.split())

# The signals of Windows's CPython, with Windows's numbers.
WINDOWS_SIGNALS = {'SIGINT': 2, 'SIGILL': 4, 'SIGFPE': 8, 'SIGSEGV': 11,
                   'SIGTERM': 15, 'SIGBREAK': 21, 'SIGABRT': 22}
# The module's other names that Windows's CPython does not define.
MISSING_FROM_SIGNAL = frozenset('''
    pthread_sigmask pthread_kill sigpending sigwait sigwaitinfo sigtimedwait
    SIG_BLOCK SIG_UNBLOCK SIG_SETMASK alarm pause setitimer getitimer
    siginterrupt ITIMER_REAL ITIMER_VIRTUAL ITIMER_PROF ItimerError
    pidfd_send_signal SIGRTMIN SIGRTMAX NSIG
    '''.split())


def _from_this_project(globals_):
  path = (globals_ or {}).get('__file__')
  if not path:
    return False
  path = os.path.abspath(path)
  return path.startswith(_ROOT + os.sep) and not path.startswith(_NOT_OURS)


def _view(module, missing, extra=None):
  """A module that forwards to module, but for the names missing."""
  view = types.ModuleType(module.__name__, module.__doc__)

  def __getattr__(name):  # noqa: N807 (PEP 562's module __getattr__)
    if name in missing or (name.startswith('SIG') and
                           name not in WINDOWS_SIGNALS and
                           module is signal and not name.startswith('SIG_')):
      raise AttributeError('module %r has no attribute %r (simulated Windows)'
                           % (module.__name__, name))
    return getattr(module, name)
  view.__getattr__ = __getattr__
  view.__dict__.update(extra or {})
  return view


def _refused_symlink(*unused_args, **unused_kwargs):
  raise OSError(errno.EPERM, 'A required privilege is not held by the client')


def _windows_cdll(name, *args, **kwargs):
  if name is None:
    raise TypeError('LoadLibrary() argument 1 must be str, not None')
  import ctypes  # pylint: disable=g-import-not-at-top
  return ctypes.CDLL(name, *args, **kwargs)


_signals_enum = enum.IntEnum('Signals', WINDOWS_SIGNALS)
_VIEWS = {
    'os': lambda: _view(os, MISSING_FROM_OS, {'symlink': _refused_symlink}),
    'signal': lambda: _view(signal, MISSING_FROM_SIGNAL, dict(
        WINDOWS_SIGNALS, Signals=_signals_enum,
        **{name: _signals_enum[name] for name in WINDOWS_SIGNALS})),
    'ctypes': lambda: _view(__import__('ctypes'), (), {'CDLL': _windows_cdll}),
}
_made = {}
_real_import = builtins.__import__


def _import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
  if level == 0 and _from_this_project(globals):
    top = name.partition('.')[0]
    if top in UNIX_ONLY_MODULES:
      raise ModuleNotFoundError('No module named %r (simulated Windows)' % top,
                                name=top)
    if name in _VIEWS:
      if name not in _made:
        _made[name] = _VIEWS[name]()
      return _made[name]
  return _real_import(name, globals, locals, fromlist, level)


def _use_simulated_specs(path):
  """Makes mnist_files verify against the specs in the JSON file at path."""
  from tutorial_support import mnist_files  # pylint: disable=g-import-not-at-top
  with open(path) as f:
    specs = json.load(f)
  mnist_files.MNIST_FILES = {
      name: mnist_files.FileSpec(size, digest)
      for name, (size, digest) in specs.items()}


builtins.__import__ = _import
if os.environ.get('SIMULATED_MNIST_SPECS'):
  sys.path.insert(0, _ROOT)
  _use_simulated_specs(os.environ['SIMULATED_MNIST_SPECS'])
  sys.path.remove(_ROOT)
