"""Do the runtime image's requirement sets resolve to wheels for every platform the image is built for?

The image installs wheels only (no compiler in it), so a pin without a CPython 3.11 manylinux wheel for
x86_64 or aarch64 would fail a build, perhaps only the arm64 one and only in CI. This asks pip to resolve
each set for each platform (`pip download --only-binary=:all:`) into a scratch directory and exits 1 naming
the set and platform that failed. Debian bookworm has glibc 2.36, so every manylinux tag up to 2_36 fits.
pip evaluates environment markers (`; platform_machine == "aarch64"`) against the machine it runs on, not
the target platform, so each set is first flattened for the target: `-r` includes inlined, markers decided.

Usage: python images/check_wheels.py REQUIREMENTS.txt...  (`make check-wheels` names both sets)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

PYTHON_VERSION = "3.11"
GLIBC_MINOR = 36
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def platform_args(machine: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 4, -1)]
    tags += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    return [arg for tag in tags for arg in ("--platform", tag)]


def target_environment(machine: str) -> dict[str, str]:
    return {
        "platform_machine": machine,
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def flatten(requirements: Path, machine: str) -> list[str]:
    """The requirement lines that apply on `machine`, without markers, includes or comments."""
    lines: list[str] = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            lines += flatten(requirements.parent / line.split(maxsplit=1)[1], machine)
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(target_environment(machine)):
            requirement.marker = None
            lines.append(str(requirement))
    return lines


def resolve(requirements: Path, machine: str, into: Path) -> subprocess.CompletedProcess[str]:
    flat = into / "requirements.txt"
    flat.write_text("\n".join(flatten(requirements, machine)) + "\n")
    argv = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--abi", f"cp{PYTHON_VERSION.replace('.', '')}", *platform_args(machine),
        "--dest", str(into), "-r", str(flat),
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def main(paths: list[str]) -> int:
    failed = 0
    for path in map(Path, paths):
        for platform, machine in MACHINES.items():
            with tempfile.TemporaryDirectory(prefix="seifer-wheels-") as scratch:
                done = resolve(path, machine, Path(scratch))
                wheels = sorted(p.name for p in Path(scratch).glob("*.whl"))
                size = sum(p.stat().st_size for p in Path(scratch).glob("*.whl"))
            if done.returncode == 0:
                print(f"{path} {platform}: {len(wheels)} wheels, {size / 1e6:.0f} MB")
                continue
            failed += 1
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            print(f"{path} {platform}: FAILED: {' '.join(errors) or done.stderr.strip()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
