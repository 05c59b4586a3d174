"""Namespace for emitted kernel modules: the loader imports each cached module as
``sigcodegen._kernels.<stem>`` (the file itself stays in the cache folder)."""
