"""Keep TensorFlow's start-up lines off the user's terminal.

`TF_CPP_MIN_LOG_LEVEL` does not silence what TensorFlow's C++ side logs before absl is initialised
("WARNING: All log messages before absl::InitializeLog() ...", "oneDNN custom operations are on ..."): those
are written straight to file descriptor 2 while `import tensorflow` runs, so a command that fails right
after loading TensorFlow would print them above its one-line error. A meta-path hook runs that one import
with descriptor 2 captured, then replays every captured line that is not such start-up chatter. Nothing is
imported until some code imports TensorFlow itself, so commands that never need it stay fast.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType

# glog-style info/warning lines ("I0000 00:00:1796043831.769927 17045 port.cc:153] ...") and absl's notice
_CHATTER = re.compile(r"^(?:[IW]\d{4} [\d:. ]+\d+ [\w.]+:\d+\] |WARNING: All log messages before absl::)")
_RECORD = re.compile(r"^(?:[IWEF]\d{4} [\d:. ]+\d+ [\w.]+:\d+\] |WARNING: All log messages before absl::)")


def is_chatter(line: str) -> bool:
    return bool(_CHATTER.match(line))


def without_chatter(lines: list[str]) -> list[str]:
    """The lines less start-up chatter records, continuation lines of a record included (glog writes a
    multi-line message as one header line and plain lines after it)."""
    kept, dropping = [], False
    for line in lines:
        if _RECORD.match(line):
            dropping = is_chatter(line)
        if not dropping:
            kept.append(line)
    return kept


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Capture descriptor 2 (C++ writes included) for the block; replay what is not start-up chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = without_chatter(capture.read().decode("utf-8", "replace").splitlines())
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with native_stderr_filtered():
            self.loader.exec_module(module)

    def __getattr__(self, name: str) -> object:  # get_source, get_resource_reader, ...: the real loader's
        return getattr(self.loader, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the first `import tensorflow`, then steps aside."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow() -> None:
    """Install the hook (once, and only if TensorFlow is not loaded yet); silence Keras' notes about
    pretrained-weight shapes, which never apply (models are built with weights=None)."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"keras(\.|$)")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
