"""Building kernels: the on-disk cache and its one lifecycle (``cache``), the C toolchain
(``toolchain``), and rendering, compiling and importing a spec's artifacts (``loader``)."""
