"""Build the compiled core into ``.native/`` (what ``make install`` runs after the packages).

Compiles `events.native.COMPILED` with mypyc and the C compiler, writes the manifest with the
digest of the sources it compiled, and only then moves the build into place. Any failure leaves no
build, with a message saying the core runs as pure Python; the exit status is then 1.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from events.native import COMPILED, MANIFEST, NATIVE_DIR, ROOT, sources_digest


def build(root: Path = ROOT, native_dir: Path = NATIVE_DIR) -> int:
    """Compile `COMPILED` into ``native_dir``; on any failure leave no build (pure Python)."""
    started = time.monotonic()
    digest = sources_digest(root)
    work = native_dir.with_name(native_dir.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(native_dir, ignore_errors=True)  # a failed build must not leave an old one
    try:
        _compile(root, work)
        groups = sorted(work.glob("*__mypyc*.so"))
        if len(groups) != 1:
            raise RuntimeError(f"expected one shared library, found {len(groups)}")
        if sources_digest(root) != digest:
            raise RuntimeError("the sources changed during the build")
        group_file = groups[0].name
        (work / MANIFEST).write_text(
            json.dumps(
                {
                    "digest": digest,
                    "group": group_file.split(".", 1)[0],
                    "group_file": group_file,
                    "modules": list(COMPILED),
                },
                indent=2,
            )
            + "\n"
        )
        shutil.rmtree(work / "_build", ignore_errors=True)
        work.rename(native_dir)
    except (Exception, SystemExit) as error:  # mypyc and setuptools exit on errors: pure Python
        shutil.rmtree(work, ignore_errors=True)
        print(
            f"native build FAILED ({type(error).__name__}: {error}); the core runs as pure "
            "Python (correct, about half the speed). The compiler's output is above.",
            file=sys.stderr,
        )
        return 1
    print(
        f"native build: {len(COMPILED)} modules compiled with mypyc into {native_dir} "
        f"in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


def _compile(root: Path, out: Path) -> None:
    """mypyc, then the C compiler through setuptools, all output files under ``out``."""
    from mypyc.build import mypycify  # noqa: PLC0415 - a development tool, needed only here
    from setuptools import setup  # type: ignore[import-untyped]  # noqa: PLC0415

    temp = out / "_build"
    temp.mkdir(parents=True)
    cwd = Path.cwd()
    os.chdir(root)  # mypyc names modules by their path relative to the working directory
    try:
        extensions = mypycify(list(COMPILED), opt_level="3", target_dir=str(temp / "c"))
        os.chdir(temp)  # away from pyproject.toml, which setuptools would read
        setup(
            name="contactmon-native",
            ext_modules=extensions,
            script_args=[
                "--quiet",
                "build_ext",
                "--build-lib",
                str(out),
                "--build-temp",
                str(temp / "o"),
            ],
        )
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    raise SystemExit(build())
