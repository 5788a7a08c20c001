"""Only for the native core: everything else is in pyproject.toml. The C callback
(realtime/native) is compiled by cffi at install."""

from setuptools import setup

setup(cffi_modules=["realtime/native/build.py:ffibuilder"])
