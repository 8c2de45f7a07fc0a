"""Builds factorlens._native, the C half of the binding, against the C library.

The library is linked statically (libfactorlens.a, position-independent code,
its symbols kept out of the extension's exports), so the installed package
needs no libfactorlens.so at run time: only the Debian libraries the library
itself uses (zlib, curl, libzip, jansson, libcrypto, OpenBLAS). The archive
comes from FACTORLENS_BUILD_DIR (a CMake build of this checkout, e.g.
../build after scripts/build release) or, without it, from a Release build
made here with CMake, with the flags the CLI is built with, so a model fitted
from Python and one trained by the CLI are the same to the bit.
"""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent  # the factorlens checkout: pip builds in the tree (pip >= 21.3)
DEPS = ["zlib", "libcurl", "libzip", "jansson", "libcrypto", "openblas"]


def library_dir():
    given = os.environ.get("FACTORLENS_BUILD_DIR")
    if given:
        d = Path(given).resolve()
        if not (d / "libfactorlens.a").exists():
            sys.exit(f"FACTORLENS_BUILD_DIR={given} holds no libfactorlens.a: build it first")
        return d
    if not (ROOT / "CMakeLists.txt").exists() or not (ROOT / "include" / "factorlens.h").exists():
        sys.exit("the binding builds from a factorlens checkout: python/ must sit in it")
    d = HERE / "build" / "libfactorlens"
    subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(d), "-DCMAKE_BUILD_TYPE=Release",
                           "-DFL_BUILD_TESTS=OFF"], stdout=subprocess.DEVNULL)
    subprocess.check_call(["cmake", "--build", str(d), "--target", "factorlens_static",
                           "-j", str(min(os.cpu_count() or 1, 2))])
    return d


def pkg_config_libs():
    out = subprocess.check_output(["pkg-config", "--libs"] + DEPS, text=True).split()
    return out + ["-lpthread", "-lm"]


class BuildWithLibrary(build_ext):
    def run(self):
        lib = library_dir()
        for ext in self.extensions:
            ext.extra_objects = [str(lib / "libfactorlens.a")]
            # setuptools rebuilds an extension only when a listed file is newer
            # than it: a changed library must relink it too.
            ext.depends = [str(lib / "libfactorlens.a"), str(ROOT / "include" / "factorlens.h")]
            ext.extra_link_args = ["-Wl,--exclude-libs,ALL"] + pkg_config_libs()
        super().run()


setup(
    ext_modules=[
        Extension(
            "factorlens._native",
            sources=[str(Path("src") / f) for f in
                     ["module.c", "errors.c", "dataset.c", "model.c", "training.c", "view.c"]],
            include_dirs=[str(ROOT / "include")],
            extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror",
                                "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
        )
    ],
    cmdclass={"build_ext": BuildWithLibrary},
)
