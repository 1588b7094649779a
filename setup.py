"""Build the one C extension, tapegrad._tapegrad.

Environment switches:
  TAPEGRAD_WERROR=1  turn warnings into errors (CI)
  TAPEGRAD_DEBUG=1   -O0 -g3 and keep assert()s
  TAPEGRAD_ASAN=1    AddressSanitizer + UBSan instrumentation
  TAPEGRAD_TSAN=1    ThreadSanitizer instrumentation (tools/run_tsan.sh
                     preloads the runtime)
  TAPEGRAD_FUZZ=1    libFuzzer coverage instrumentation (clang only:
                     CC=clang LDSHARED="clang -shared"); the runtime is
                     preloaded by tools/run_fuzz.sh, never linked in
"""
import os
from glob import glob

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wshadow",
                "-Wstrict-prototypes", "-Wno-missing-field-initializers",
                # only PyInit__tapegrad is exported; the op rows' functions
                # are shared between our files, not with other libraries
                "-fvisibility=hidden",
                # sqrt never sets errno then, so loops calling it vectorise
                # (sqrtps, correctly rounded like sqrtf); nothing here
                # reads errno after a math call
                "-fno-math-errno",
                # a + b * c stays two roundings, never one fused
                # multiply-add, whatever -march: a fused rule's sums and
                # products are then bit for bit the formulas' (which run
                # as separate ops), as tests/test_cheap_tape.py checks
                "-ffp-contract=off"]
link_args = []
undef = []
if os.environ.get("TAPEGRAD_WERROR") == "1":
    compile_args.append("-Werror")
if os.environ.get("TAPEGRAD_DEBUG") == "1":
    compile_args += ["-O0", "-g3"]
    undef.append("NDEBUG")
else:
    compile_args += ["-O3"]
if os.environ.get("TAPEGRAD_ASAN") == "1":
    flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    compile_args += flags
    link_args += flags
if os.environ.get("TAPEGRAD_TSAN") == "1":
    flags = ["-fsanitize=thread", "-fno-omit-frame-pointer", "-g"]
    compile_args += flags
    link_args += flags
if os.environ.get("TAPEGRAD_FUZZ") == "1":
    # inline 8-bit edge counters, PC tables and comparison tracing for
    # libFuzzer; "-no-link" because the extension must not carry its own
    # libFuzzer: the one preloaded with ASan (run_fuzz.sh) receives them
    compile_args.append("-fsanitize=fuzzer-no-link")
    link_args.append("-fsanitize=fuzzer-no-link")

ext = Extension(
    "tapegrad._tapegrad",
    sources=sorted(glob("src/*.c")),
    depends=sorted(glob("src/*.h") + glob("src/*.def")),
    include_dirs=[np.get_include(), "src"],
    # npymath: NumPy's float16 conversions (npy_double_to_half ...)
    library_dirs=[os.path.join(os.path.dirname(np.get_include()), "lib")],
    libraries=["npymath"],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"),
        ("NPY_TARGET_VERSION", "NPY_2_0_API_VERSION"),
    ],
    undef_macros=undef,
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)



class build_ext_and_bytecode(build_ext):
    """build_ext that, building in place (an editable install, or
    `build_ext --inplace`), also byte-compiles the package's modules, as
    pip does for a regular install: where Python writes no bytecode cache
    itself (PYTHONDONTWRITEBYTECODE, set on these machines) every import
    would otherwise compile them again.  Python checks each .pyc against
    its source's mtime and size, so an edited module is never run stale."""

    def run(self):
        super().run()
        if self.inplace or getattr(self, "editable_mode", False):
            import compileall
            here = os.path.dirname(os.path.abspath(__file__))
            compileall.compile_dir(os.path.join(here, "tapegrad"), quiet=1)


setup(ext_modules=[ext], cmdclass={"build_ext": build_ext_and_bytecode})
